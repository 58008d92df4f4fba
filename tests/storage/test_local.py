"""LocalStorage: plain paths and file:// URLs, files and folders."""

from __future__ import annotations

import os

import pytest

from sedna_lib.exceptions import StorageError, StorageNotFoundError
from sedna_lib.storage import LocalStorage, atomic_path, strip_file_scheme


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    return root


def test_strip_file_scheme_turns_file_urls_into_paths():
    assert strip_file_scheme("file:///data/m.pb") == "/data/m.pb"
    assert strip_file_scheme("file://localhost/data/m.pb") == "/data/m.pb"
    assert strip_file_scheme("rel/m.pb") == "rel/m.pb"


def test_download_copies_a_file_given_as_file_url(tmp_path, tree):
    store = LocalStorage()

    out = store.download("file://" + str(tree / "a.txt"), str(tmp_path / "out" / "copy.txt"))

    assert out == str(tmp_path / "out" / "copy.txt")
    assert (tmp_path / "out" / "copy.txt").read_text() == "a"


def test_file_copied_into_an_existing_folder_keeps_its_name(tmp_path, tree):
    (tmp_path / "dst").mkdir()

    out = LocalStorage().upload(str(tree / "a.txt"), str(tmp_path / "dst"))

    assert out == str(tmp_path / "dst" / "a.txt")
    assert (tmp_path / "dst" / "a.txt").read_text() == "a"


def test_folder_copy_merges_into_destination(tmp_path, tree):
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("k")

    LocalStorage().upload(str(tree), str(dst))

    assert sorted(os.listdir(dst)) == ["a.txt", "keep.txt", "sub"]
    assert (dst / "sub" / "b.txt").read_text() == "b"


def test_missing_source_raises_not_found(tmp_path):
    with pytest.raises(StorageNotFoundError, match="does not exist") as info:
        LocalStorage().download(str(tmp_path / "nope"), str(tmp_path / "x"))
    assert info.value.uri == str(tmp_path / "nope")


def test_write_then_read_bytes_leaves_no_partial_files(tmp_path):
    store = LocalStorage()
    target = tmp_path / "deep" / "f.bin"

    store.write_bytes(str(target), b"\x00\x01")

    assert store.read_bytes(str(target)) == b"\x00\x01"
    assert os.listdir(tmp_path / "deep") == ["f.bin"]


def test_read_bytes_of_missing_file_raises_not_found(tmp_path):
    with pytest.raises(StorageNotFoundError, match="read"):
        LocalStorage().read_bytes(str(tmp_path / "nope"))


def test_listdir_is_sorted_and_missing_folder_raises(tmp_path, tree):
    store = LocalStorage()

    assert store.listdir(str(tree)) == ["a.txt", "sub"]
    with pytest.raises(StorageNotFoundError, match="list"):
        store.listdir(str(tmp_path / "nope"))


def test_delete_removes_folders_and_ignores_missing_paths(tmp_path, tree):
    store = LocalStorage()

    store.delete(str(tree))
    store.delete(str(tmp_path / "never-existed"))

    assert not tree.exists()


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="needs Linux /proc")
def test_delete_raises_on_a_real_error():
    with pytest.raises(StorageError, match="delete /proc/version failed"):
        LocalStorage().delete("/proc/version")


def test_exists_and_is_dir(tree):
    store = LocalStorage()

    assert store.exists(str(tree / "a.txt")) and not store.is_dir(str(tree / "a.txt"))
    assert store.is_dir("file://" + str(tree))
    assert not store.exists(str(tree / "nope"))


def test_join_ignores_leading_separators_of_later_parts():
    assert LocalStorage().join("/a", "/b", "c") == "/a/b/c"


def test_atomic_path_leaves_no_file_and_no_temporary_when_the_write_fails(tmp_path):
    target = tmp_path / "sub" / "a.bin"

    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"half")
            raise RuntimeError("boom")

    assert os.listdir(target.parent) == []


def test_a_name_near_the_file_system_limit_is_written_whole(tmp_path):
    # the hidden partial file added ~19 bytes to the name: a legal 244-byte name could not be written
    from sedna_lib.storage import LocalStorage

    target = tmp_path / ("n" * 240 + ".bin")
    store = LocalStorage()
    store.write_bytes(str(target), b"data")
    copy = tmp_path / "sub" / ("m" * 244)
    store.upload(str(target), str(copy))
    assert target.read_bytes() == b"data" and copy.read_bytes() == b"data"


def test_copying_a_folder_into_itself_is_refused_before_anything_is_written(tmp_path):
    from sedna_lib.exceptions import StorageError
    from sedna_lib.storage import LocalStorage

    folder = tmp_path / "fold"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    with pytest.raises(StorageError, match="lies inside it"):  # it recursed until a RecursionError before
        LocalStorage().upload(str(folder), str(folder / "sub" / "deeper"))
    assert sorted(p.name for p in folder.rglob("*")) == ["a.txt", "sub"]
