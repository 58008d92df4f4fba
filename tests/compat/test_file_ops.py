"""FileOps (Sedna's sedna.common.file_ops) over the storage layer."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

import pytest

from sedna_lib.compat.file_ops import FileOps
from sedna_lib.exceptions import ConfigError, StorageError, StorageNotFoundError

BUCKET = "fileops-tests"


@pytest.fixture
def s3_env(s3_config, monkeypatch):
    """Point FileOps (which reads the environment at call time) at the test S3 endpoint."""
    monkeypatch.setenv("S3_ENDPOINT_URL", s3_config.s3_endpoint_url)
    monkeypatch.setenv("ACCESS_KEY_ID", s3_config.access_key_id)
    monkeypatch.setenv("SECRET_ACCESS_KEY", s3_config.secret_access_key)
    client = FileOps._router().s3._client()
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    return f"s3://{BUCKET}"


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Send temporary files into a folder the test can inspect."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


@pytest.mark.parametrize("parts, expected", [
    (("/a", "/b", "c"), "/a/b/c"),
    (("s3://bkt/x", "y"), "s3://bkt/x/y"),
    (("a", "b"), "a/b"),
    (("/only",), "/only"),
])
def test_join_path_matches_sedna(parts, expected):
    assert FileOps.join_path(*parts) == expected


def test_remove_path_prefix_strips_the_container_prefix_once():
    assert FileOps.remove_path_prefix("/home/data/out/m.pb", "/home/data") == "/out/m.pb"
    assert FileOps.remove_path_prefix("/home/data/out/m.pb", "/home/data/") == "/out/m.pb"
    assert FileOps.remove_path_prefix("/other/m.pb", "/home/data") == "/other/m.pb"
    assert FileOps.remove_path_prefix("/home/database/m.pb", "/home/data") == "/home/database/m.pb"
    assert FileOps.remove_path_prefix("/x", "") == "/x"


def test_is_remote_and_is_local_follow_sedna(tmp_path):
    assert FileOps.is_remote("s3://bkt/x") and FileOps.is_remote("http://host/x")
    assert not FileOps.is_remote("http://host") and not FileOps.is_remote("/data/x")
    assert FileOps.is_local("file:///anything") and FileOps.is_local(str(tmp_path))
    assert FileOps.exists("file://" + str(tmp_path)) and not FileOps.exists(str(tmp_path / "nope"))


def test_clean_folder_empties_folders_and_returns_a_list(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")

    result = FileOps.clean_folder(str(target))

    assert result == [str(target)]
    assert target.is_dir() and list(target.iterdir()) == []


def test_clean_folder_and_make_dir_never_create_local_dirs_for_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    FileOps.clean_folder(["s3://bkt/models", "http://host/x"], clean=True)
    FileOps.make_dir("s3://bkt", "models")
    FileOps.make_base_dir("s3://bkt/models/m.pb")

    assert list(tmp_path.iterdir()) == []


def test_download_understands_file_urls(tmp_path):
    (tmp_path / "m.pb").write_bytes(b"m")

    out = FileOps.download("file://" + str(tmp_path / "m.pb"), str(tmp_path / "dl" / "m.pb"))

    assert out == str(tmp_path / "dl" / "m.pb")
    assert (tmp_path / "dl" / "m.pb").read_bytes() == b"m"


def test_download_of_a_missing_source_raises_instead_of_returning_a_path(tmp_path):
    with pytest.raises(StorageNotFoundError, match="does not exist"):
        FileOps.download(str(tmp_path / "nope.pb"), str(tmp_path / "x.pb"))
    assert not (tmp_path / "x.pb").exists()


def test_download_unzip_extracts_beside_the_archive_and_refuses_escapes(tmp_path):
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tar:
        info = tarfile.TarInfo("model/w.bin")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"w"))
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.bin")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"e"))

    out = FileOps.download(str(good), str(tmp_path / "dl" / "good.tar.gz"), unzip=True)

    assert out == str(tmp_path / "dl" / "good.tar.gz")
    assert (tmp_path / "dl" / "model" / "w.bin").read_bytes() == b"w"
    with pytest.raises(StorageError, match="refusing to extract"):
        FileOps.download(str(bad), str(tmp_path / "dl2" / "bad.tar.gz"), unzip=True)
    assert not (tmp_path / "escaped.bin").exists()


def test_upload_keeps_the_source_by_default_and_deletes_it_only_when_asked(tmp_path):
    src = tmp_path / "m.pb"
    src.write_bytes(b"m")

    FileOps.upload(str(src), str(tmp_path / "a" / "m.pb"))
    kept = src.exists()
    FileOps.upload(str(src), str(tmp_path / "b" / "m.pb"), clean=True)

    assert kept and not src.exists()
    assert (tmp_path / "a" / "m.pb").read_bytes() == (tmp_path / "b" / "m.pb").read_bytes() == b"m"


def test_upload_with_clean_never_deletes_when_source_and_destination_are_the_same(tmp_path):
    src = tmp_path / "m.pb"
    src.write_bytes(b"m")

    FileOps.upload(str(src), str(src), clean=True)

    assert src.read_bytes() == b"m"


def test_upload_tar_uploads_an_archive_and_removes_it(tmp_path, private_tmp):
    src = tmp_path / "model"
    src.mkdir()
    (src / "w.bin").write_bytes(b"w")
    (tmp_path / "dst").mkdir()

    FileOps.upload(str(src), str(tmp_path / "dst"), tar=True, clean=True)

    assert src.is_dir()
    assert os.listdir(tmp_path / "dst") == ["model.tar.gz"]
    with tarfile.open(tmp_path / "dst" / "model.tar.gz") as tar:
        assert tar.getnames() == ["model", "model/w.bin"]
    assert list(private_tmp.iterdir()) == []


def test_delete_ignores_missing_paths_but_raises_real_errors(tmp_path):
    FileOps.delete(str(tmp_path / "nope"))
    FileOps.delete("")
    if os.path.exists("/proc/version"):
        with pytest.raises(StorageError, match="delete"):
            FileOps.delete("/proc/version")


def test_copy_file_into_a_folder_and_missing_source(tmp_path):
    (tmp_path / "f.txt").write_text("f")
    (tmp_path / "dst").mkdir()

    FileOps.copy_file(str(tmp_path / "f.txt"), str(tmp_path / "dst"))

    assert (tmp_path / "dst" / "f.txt").read_text() == "f"
    with pytest.raises(StorageNotFoundError, match="does not exist"):
        FileOps.copy_file(str(tmp_path / "nope"), str(tmp_path / "dst"))


def test_copy_folder_merges_new_files(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "new.txt").write_text("n")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "old.txt").write_text("o")

    FileOps.copy_folder(str(tmp_path / "src"), str(tmp_path / "dst"))

    assert sorted(os.listdir(tmp_path / "dst")) == ["new.txt", "old.txt"]


def test_pickle_helpers_round_trip_locally_and_refuse_urls(tmp_path):
    path = tmp_path / "deep" / "obj.pkl"

    FileOps.dump_pickle({"a": 1}, str(path))

    assert FileOps.load_pickle(str(path)) == {"a": 1}
    assert FileOps.load_pickle(str(tmp_path / "missing.pkl")) is None
    assert FileOps.pickle_string_to_obj(FileOps.obj_to_pickle_string([1, "x"])) == [1, "x"]
    with pytest.raises(StorageError, match="local files only"):
        FileOps.load_pickle("s3://bkt/obj.pkl")
    with pytest.raises(StorageError, match="local files only"):
        FileOps.dump_pickle({}, "s3://bkt/obj.pkl")


def test_get_file_hash_is_md5_or_empty(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")

    assert FileOps.get_file_hash(str(tmp_path / "f")) == hashlib.md5(b"abc").hexdigest()
    assert FileOps.get_file_hash(str(tmp_path / "nope")) == ""


def test_dump_and_load_through_a_local_file(tmp_path, private_tmp):
    out = FileOps.dump({"w": [1, 2]}, str(tmp_path / "obj.pkl"))

    assert out == str(tmp_path / "obj.pkl")
    assert FileOps.load(out) == {"w": [1, 2]}
    assert list(private_tmp.iterdir()) == []


class _Exploit:
    """A pickle that would create ``marker`` when unpickled (os.mkdir, a stand-in for any code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _joblib_bytes(obj):
    import joblib

    buf = io.BytesIO()
    joblib.dump(obj, buf)
    return buf.getvalue()


@pytest.fixture
def http_files(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_load_over_http_never_runs_a_pickle(http_files, tmp_path):
    folder, url = http_files
    marker = tmp_path / "pwned"
    (folder / "evil.pkl").write_bytes(_joblib_bytes(_Exploit(marker)))

    with pytest.raises(StorageError, match="not unpickled.*trust_pickle=True"):
        FileOps.load(f"{url}/evil.pkl")
    assert not marker.exists()


def test_load_over_http_gives_plain_data(http_files):
    import numpy as np

    folder, url = http_files
    (folder / "data.pkl").write_bytes(_joblib_bytes({"w": np.arange(3.0), "n": [1, (2, "x")]}))

    loaded = FileOps.load(f"{url}/data.pkl")

    assert loaded["n"] == [1, (2, "x")] and loaded["w"].tolist() == [0.0, 1.0, 2.0]


def test_s3_url_without_endpoint_raises_config_error(tmp_path):
    (tmp_path / "f").write_text("x")

    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL"):
        FileOps.upload(str(tmp_path / "f"), "s3://bkt/f")


@pytest.mark.s3
def test_s3_dump_load_and_folder_round_trip_clean_temp_files(s3_env, tmp_path, private_tmp):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"w")

    FileOps.dump({"k": 3}, f"{s3_env}/objs/o.pkl")
    loaded = FileOps.load(f"{s3_env}/objs/o.pkl")
    FileOps.upload(str(folder), f"{s3_env}/jobs/run7")
    out = FileOps.download(f"{s3_env}/jobs/run7", str(tmp_path / "back"))

    assert loaded == {"k": 3}
    assert out == str(tmp_path / "back")
    assert (tmp_path / "back" / "sub" / "w.bin").read_bytes() == b"w"
    assert list(private_tmp.iterdir()) == []
    assert folder.exists()  # the source is kept unless clean=True is passed


@pytest.mark.s3
def test_s3_delete_and_missing_key(s3_env, tmp_path):
    FileOps.dump([1], f"{s3_env}/gone.pkl")

    FileOps.delete(f"{s3_env}/gone.pkl")

    with pytest.raises(StorageNotFoundError, match="gone.pkl"):
        FileOps.download(f"{s3_env}/gone.pkl", str(tmp_path / "x"))


@pytest.mark.s3
def test_s3_load_refuses_a_pickle_that_names_code_unless_trusted(s3_env, tmp_path):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pkl"
    src.write_bytes(_joblib_bytes(_Exploit(marker)))
    FileOps.upload(str(src), f"{s3_env}/objs/evil.pkl")

    with pytest.raises(StorageError, match="fetched over the network and is not unpickled") as info:
        FileOps.load(f"{s3_env}/objs/evil.pkl")
    assert "outside the allow-list" in str(info.value) and not marker.exists()

    FileOps.load(f"{s3_env}/objs/evil.pkl", trust_pickle=True)  # the documented opt-in
    assert marker.is_dir()


@pytest.mark.s3
def test_s3_load_reads_a_skops_model_but_not_a_pickled_one(s3_env, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.backends.sklearn import SklearnBackend

    pytest.importorskip("skops")
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    backend = SklearnBackend(model, model_save_path=str(tmp_path / "m"), model_name="model.skops")
    saved = backend.save()
    FileOps.upload(saved, f"{s3_env}/models/model.skops")
    FileOps.dump(model, f"{s3_env}/models/model.pkl")

    loaded = FileOps.load(f"{s3_env}/models/model.skops")

    assert loaded.predict([[3.0]]).tolist() == [1]
    with pytest.raises(StorageError, match="skops"):
        FileOps.load(f"{s3_env}/models/model.pkl")


def test_a_pickle_that_fails_partway_leaves_the_previous_file_whole(tmp_path):
    # the file was opened in place: a pickling error halfway left it truncated
    import pickle

    path = tmp_path / "state.pkl"
    FileOps.dump_pickle({"round": 1}, str(path))
    with pytest.raises(Exception, match="lambda|pickle"):
        FileOps.dump_pickle([b"x" * 100_000, lambda: 0], str(path))
    assert pickle.loads(path.read_bytes()) == {"round": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pkl"]


def test_a_data_source_save_that_fails_partway_leaves_the_previous_file_whole(tmp_path):
    import joblib

    from sedna_lib.datasources import BaseDataSource

    path = tmp_path / "train.pkl"
    source = BaseDataSource()
    source.x, source.y = [1, 2], [0, 1]
    source.save(str(path))
    source.x = [b"x" * 100_000, lambda: 0]
    with pytest.raises(Exception, match="lambda|pickle"):
        source.save(str(path))
    assert joblib.load(path).x == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["train.pkl"]


@pytest.mark.parametrize("name, magic", [("train.pkl.gz", b"\x1f\x8b"), ("train.pkl.bz2", b"BZh"),
                                         ("train.pkl.xz", b"\xfd7zXZ")])
def test_a_data_source_saved_under_a_compressed_name_is_compressed_and_loads_back(tmp_path, name, magic):
    # joblib reads the compression from the name it writes: the temporary name lost it
    import joblib

    from sedna_lib.datasources import BaseDataSource

    source = BaseDataSource()
    source.x, source.y = [[0.5] * 1000] * 200, [0, 1] * 100
    path = tmp_path / name
    source.save(str(path))
    assert path.read_bytes()[:len(magic)] == magic
    assert joblib.load(path).y == source.y
