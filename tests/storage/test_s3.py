"""S3Storage against a real S3 endpoint (moto's server on 127.0.0.1) through minio."""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import pytest
import requests

from sedna_lib.exceptions import ConfigError, StorageError, StorageNotFoundError, StoragePermissionError
from sedna_lib.storage import S3Storage, parse_endpoint

pytestmark = [pytest.mark.s3, pytest.mark.integration]

BUCKET = "storage-tests"
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def store(s3_config):
    storage = S3Storage.from_config(s3_config)
    client = storage._client()
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    return storage


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "run"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    return root


def test_endpoint_without_scheme_means_https_and_missing_endpoint_is_a_config_error():
    assert parse_endpoint("minio.local:9000") == ("minio.local:9000", True)
    assert parse_endpoint("http://127.0.0.1:9000/") == ("127.0.0.1:9000", False)
    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL is not set") as info:
        S3Storage().read_bytes("s3://bkt/key")
    assert info.value.variable == "S3_ENDPOINT_URL"
    with pytest.raises(ConfigError, match="no path"):
        parse_endpoint("http://host:9000/prefix")


def test_url_without_bucket_is_refused(store):
    with pytest.raises(StorageError, match="names no bucket"):
        store.read_bytes("s3:///key")


def test_file_round_trip_and_existing_folder_destination(store, tmp_path):
    src = tmp_path / "m.pb"
    src.write_bytes(b"model")
    (tmp_path / "dl").mkdir()

    uri = store.upload(str(src), f"s3://{BUCKET}/models/")
    out = store.download(uri, str(tmp_path / "dl"))

    assert uri == f"s3://{BUCKET}/models/m.pb"
    assert out == str(tmp_path / "dl" / "m.pb")
    assert (tmp_path / "dl" / "m.pb").read_bytes() == b"model"
    assert os.listdir(tmp_path / "dl") == ["m.pb"]


def test_folder_upload_keeps_the_destination_prefix(store, folder, tmp_path):
    uri = store.upload(str(folder), f"s3://{BUCKET}/jobs/run1")

    assert uri == f"s3://{BUCKET}/jobs/run1"
    assert store.listdir(f"s3://{BUCKET}/jobs/run1") == ["a.txt", "sub"]
    assert store.read_bytes(f"s3://{BUCKET}/jobs/run1/sub/b.txt") == b"b"
    assert store.is_dir(f"s3://{BUCKET}/jobs/run1") and store.exists(f"s3://{BUCKET}/jobs/run1")

    out = store.download(uri, str(tmp_path / "back"))

    assert out == str(tmp_path / "back")
    assert (tmp_path / "back" / "a.txt").read_text() == "a"
    assert (tmp_path / "back" / "sub" / "b.txt").read_text() == "b"


def test_folder_prefix_does_not_match_sibling_names(store, tmp_path):
    store.write_bytes(f"s3://{BUCKET}/sib/model", b"1")
    store.write_bytes(f"s3://{BUCKET}/sib/model2/x", b"2")

    out = store.download(f"s3://{BUCKET}/sib/model", str(tmp_path / "one"))

    assert open(out, "rb").read() == b"1"
    assert store.listdir(f"s3://{BUCKET}/sib") == ["model", "model2"]


def test_big_file_goes_up_as_multipart(s3_endpoint, store, tmp_path):
    data = np.random.default_rng(0).bytes(11 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    small_parts = S3Storage(endpoint_url=s3_endpoint, access_key="k", secret_key="s", part_size=PART)

    small_parts.upload(str(src), f"s3://{BUCKET}/big/big.bin")
    etag = store._client().stat_object(BUCKET, "big/big.bin").etag
    out = store.download(f"s3://{BUCKET}/big/big.bin", str(tmp_path / "copy.bin"))

    assert etag.endswith("-3")  # three parts: 5 + 5 + 1 MiB
    assert open(out, "rb").read() == data


def test_missing_key_and_missing_bucket_raise_not_found(store, tmp_path):
    with pytest.raises(StorageNotFoundError, match="NoSuchKey") as info:
        store.read_bytes(f"s3://{BUCKET}/no/such/key")
    assert info.value.uri == f"s3://{BUCKET}/no/such/key"
    with pytest.raises(StorageNotFoundError, match="no object or folder"):
        store.download(f"s3://{BUCKET}/no/such/key", str(tmp_path / "x"))
    with pytest.raises(StorageNotFoundError, match="NoSuchBucket"):
        store.upload(__file__, "s3://no-such-bucket/x.py")
    assert not store.exists("s3://no-such-bucket/x") and not store.exists(f"s3://{BUCKET}/no/such/key")


def test_delete_removes_object_and_folder_and_ignores_missing(store, folder):
    store.upload(str(folder), f"s3://{BUCKET}/trash")

    store.delete(f"s3://{BUCKET}/trash")
    store.delete(f"s3://{BUCKET}/trash")
    store.delete("s3://no-such-bucket/trash")

    assert not store.exists(f"s3://{BUCKET}/trash")
    with pytest.raises(StorageError, match="whole bucket"):
        store.delete(f"s3://{BUCKET}")


def test_unknown_access_key_raises_permission_error(s3_endpoint):
    # moto accepts any key until authentication is switched on (then it knows no key at all).
    previous = requests.post(f"{s3_endpoint}/moto-api/reset-auth", data=b"0", timeout=5).json()
    try:
        stranger = S3Storage(endpoint_url=s3_endpoint, access_key="AKIAUNKNOWN", secret_key="nope")
        with pytest.raises(StoragePermissionError, match="InvalidAccessKeyId.*ACCESS_KEY_ID"):
            stranger.read_bytes(f"s3://{BUCKET}/anything")
    finally:
        requests.post(f"{s3_endpoint}/moto-api/reset-auth",
                      data=previous["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"].encode(), timeout=5)


@pytest.fixture
def moto_auth(s3_endpoint):
    """Switch moto's authentication on (it then knows no key at all) for one test."""
    previous = requests.post(f"{s3_endpoint}/moto-api/reset-auth", data=b"0", timeout=5).json()
    try:
        yield s3_endpoint
    finally:
        requests.post(f"{s3_endpoint}/moto-api/reset-auth",
                      data=previous["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"].encode(), timeout=5)


def test_refused_credentials_fail_at_once_and_say_they_were_refused(moto_auth, tmp_path):
    src = tmp_path / "m.pt"
    src.write_bytes(b"model")
    stranger = S3Storage(endpoint_url=moto_auth, access_key="AKIAUNKNOWN", secret_key="nope", max_retries=2)

    started = time.monotonic()
    with pytest.raises(StoragePermissionError, match="InvalidAccessKeyId") as info:
        stranger.upload(str(src), f"s3://{BUCKET}/denied/m.pt")

    assert time.monotonic() - started < 2.0  # one request: a refusal is not retried
    assert "the server refused ACCESS_KEY_ID and SECRET_ACCESS_KEY (both are set)" in str(info.value)
    assert "unset" not in str(info.value)


def test_a_refusal_without_credentials_says_they_are_unset(moto_auth):
    # moto answers an unsigned request with a server error, not a 403: take the S3 error of a real
    # refusal and pass it through the error translation of a storage that has no credentials
    from minio.error import S3Error

    stranger = S3Storage(endpoint_url=moto_auth, access_key="AKIAUNKNOWN", secret_key="nope")
    with pytest.raises(StoragePermissionError) as refused:
        stranger.read_bytes(f"s3://{BUCKET}/anything")
    denial = refused.value.__cause__
    assert isinstance(denial, S3Error) and denial.code == "InvalidAccessKeyId"
    anonymous = S3Storage(endpoint_url=moto_auth)

    with pytest.raises(StoragePermissionError, match="InvalidAccessKeyId") as info:
        with anonymous._errors("upload", f"s3://{BUCKET}/m.pt"):
            raise denial

    assert "ACCESS_KEY_ID and SECRET_ACCESS_KEY are unset" in str(info.value)
    assert "refused ACCESS_KEY_ID" not in str(info.value)


@pytest.mark.parametrize(("keys", "unset"), [({"access_key": "key"}, "SECRET_ACCESS_KEY"),
                                             ({"secret_key": "secret"}, "ACCESS_KEY_ID")])
def test_half_a_key_pair_names_the_unset_variable(s3_endpoint, keys, unset):
    with pytest.raises(ConfigError, match=f"{unset} is unset") as info:
        S3Storage(endpoint_url=s3_endpoint, **keys).upload(__file__, f"s3://{BUCKET}/half.py")
    assert info.value.variable == unset


def test_unreachable_endpoint_fails_fast_with_storage_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    store = S3Storage(endpoint_url=f"http://127.0.0.1:{port}", max_retries=1, connect_timeout=1.0)

    with pytest.raises(StorageError, match="cannot reach the S3 endpoint"):
        store.read_bytes("s3://bkt/key")


def test_a_file_that_grows_while_it_is_uploaded_is_refused_not_stored_cut_short(s3_endpoint, store, tmp_path):
    # minio reads the size, then that many bytes: a file still being written was stored cut short, silently
    import threading

    src = tmp_path / "growing.bin"
    src.write_bytes(b"\0" * (6 * 1024 * 1024))
    slow = S3Storage(endpoint_url=s3_endpoint, access_key="k", secret_key="s", part_size=PART)
    stop = threading.Event()

    def writer():
        with open(src, "ab") as fh:
            while not stop.wait(0.01):
                fh.write(b"\1" * 65536)
                fh.flush()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(StorageError, match="changed while it was uploaded"):
            slow.upload(str(src), f"s3://{BUCKET}/grow/growing.bin")
    finally:
        stop.set()
        thread.join()
    assert not store.exists(f"s3://{BUCKET}/grow/growing.bin")
