"""StorageRouter: dispatch by scheme, temporary destinations, cross-storage copies."""

from __future__ import annotations

import os

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, StorageError, StorageNotFoundError
from sedna_lib.storage import HTTPStorage, LocalStorage, S3Storage, StorageRouter

BUCKET = "router-tests"


@pytest.fixture(scope="module")
def router(s3_config):
    r = StorageRouter.from_config(s3_config)
    client = r.s3._client()
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    return r


def test_scheme_picks_the_storage():
    r = StorageRouter()

    assert isinstance(r.storage_for("/a/b"), LocalStorage)
    assert isinstance(r.storage_for("file:///a/b"), LocalStorage)
    assert isinstance(r.storage_for("s3://bkt/a"), S3Storage)
    assert isinstance(r.storage_for("HTTPS://host/a"), HTTPStorage)
    assert r.is_remote("s3://bkt/a") and r.is_remote("http://h/x")
    assert not r.is_remote("file:///x") and not r.is_remote("C:\\data\\x")


@pytest.mark.parametrize("uri, message", [("gs://bkt/x", "gs:// .* not supported"),
                                          ("hdfs://nn/x", "unsupported URL scheme hdfs://")])
def test_unsupported_schemes_raise_storage_error(uri, message):
    with pytest.raises(StorageError, match=message):
        StorageRouter().exists(uri)


def test_s3_without_endpoint_raises_config_error_naming_the_variable():
    r = StorageRouter.from_config(Config())

    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL") as info:
        r.exists("s3://bkt/model.pb")
    assert info.value.variable == "S3_ENDPOINT_URL"


def test_context_storage_is_a_router_built_from_its_config(s3_config):
    ctx = Context(config=s3_config)

    assert isinstance(ctx.storage, StorageRouter)
    assert ctx.storage is ctx.storage
    assert ctx.storage.s3.endpoint_url == s3_config.s3_endpoint_url


def test_download_without_destination_makes_a_temp_file_keeping_the_name(tmp_path):
    src = tmp_path / "model.h5"
    src.write_bytes(b"m")

    out = StorageRouter().download(str(src))
    try:
        assert out.endswith("-model.h5") and out != str(src)
        assert open(out, "rb").read() == b"m"
    finally:
        os.remove(out)


@pytest.mark.s3
def test_s3_folder_download_without_destination_makes_a_temp_folder(router, tmp_path):
    router.write_bytes(f"s3://{BUCKET}/kb/index.pkl", b"i")
    router.write_bytes(f"s3://{BUCKET}/kb/tasks/t0.pkl", b"t")

    out = router.download(f"s3://{BUCKET}/kb")
    try:
        assert sorted(os.listdir(out)) == ["index.pkl", "tasks"]
    finally:
        router.delete(out)
    assert not os.path.exists(out)


@pytest.mark.s3
def test_missing_source_leaves_no_temp_file(router, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    with pytest.raises(StorageNotFoundError):
        router.download(f"s3://{BUCKET}/missing.bin")

    assert list(tmp_path.iterdir()) == []


@pytest.mark.s3
def test_upload_from_one_remote_to_another_stages_locally_and_cleans_up(router, tmp_path, monkeypatch):
    router.write_bytes(f"s3://{BUCKET}/a/x.bin", b"x")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    out = router.upload(f"s3://{BUCKET}/a/x.bin", f"s3://{BUCKET}/b/x.bin")

    assert out == f"s3://{BUCKET}/b/x.bin"
    assert router.read_bytes(out) == b"x"
    assert list(tmp_path.iterdir()) == []


def test_download_to_a_remote_destination_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")

    with pytest.raises(StorageError, match="must be a local path"):
        StorageRouter().download(str(tmp_path / "f"), "s3://bkt/f")


def test_join_follows_the_storage_style():
    r = StorageRouter()

    assert r.join("s3://bkt/x", "/y", "z.pb") == "s3://bkt/x/y/z.pb"
    assert r.join("/a", "/b", "c") == "/a/b/c"
