"""Safe tar extraction: nothing may land outside the target folder."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from sedna_lib.exceptions import StorageError, StorageNotFoundError
from sedna_lib.storage import make_tar, safe_extract


def _tar_with(path, member: tarfile.TarInfo, data: bytes = b"x"):
    with tarfile.open(path, "w:gz") as tar:
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return str(path)


def test_make_tar_then_safe_extract_round_trips(tmp_path):
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "w.bin").write_bytes(b"w")
    archive = make_tar(str(src), str(tmp_path / "model.tar.gz"))

    out = safe_extract(archive, str(tmp_path / "out"))

    assert (tmp_path / "out" / "model" / "sub" / "w.bin").read_bytes() == b"w"
    assert out == os.path.realpath(tmp_path / "out")


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_members_escaping_the_target_are_refused(tmp_path, name):
    archive = _tar_with(tmp_path / "bad.tar.gz", tarfile.TarInfo(name))

    with pytest.raises(StorageError, match="refusing to extract"):
        safe_extract(archive, str(tmp_path / "out"))

    assert not (tmp_path / "evil.txt").exists()
    assert os.listdir(tmp_path / "out") == []


def test_symlink_pointing_outside_is_refused(tmp_path):
    link = tarfile.TarInfo("innocent")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc/passwd"
    archive = _tar_with(tmp_path / "link.tar", link)

    with pytest.raises(StorageError, match="points outside"):
        safe_extract(archive, str(tmp_path / "out"))


def test_missing_archive_raises_not_found(tmp_path):
    with pytest.raises(StorageNotFoundError, match="does not exist"):
        safe_extract(str(tmp_path / "nope.tar.gz"))


def _tar_of(path, *members):
    with tarfile.open(path, "w") as tar:
        for info in members:
            data = b"x" if info.isfile() else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return str(path)


def _link(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("members, match", [
    # each link checked on the disk alone looks inside; together `x` is the folder above the target
    ([_link("y", "."), _link("x", "y/.."), tarfile.TarInfo("x/evil.txt")], "goes through the link 'y'"),
    ([_link("s", "."), tarfile.TarInfo("s/s/f")], "goes through the link 's'"),
    ([tarfile.TarInfo(".")], "has no name of its own"),  # a file named '.' (an IsADirectoryError before)
])
def test_links_of_the_archive_are_followed_before_anything_is_written(tmp_path, members, match):
    archive = _tar_of(tmp_path / "trick.tar", *members)
    out = tmp_path / "out" / "deeper"
    with pytest.raises(StorageError, match=match):
        safe_extract(archive, str(out))
    assert os.listdir(out) == [] and sorted(os.listdir(tmp_path)) == ["out", "trick.tar"]
