"""Sedna 0.6's OBS connector against a real CSB-style file server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from sedna_lib.datasources.obs import OBSClientWrapper, object_key
from sedna_lib.exceptions import ParameterError, StorageError

TOKEN = "app-token-1"


class _FileServer(BaseHTTPRequestHandler):
    objects: dict[str, bytes]
    refuse_auth = False

    def log_message(self, *args):  # keep the test output clean
        pass

    def _json(self, body, status=200):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.server.calls.append((url.path, query))
        if url.path == "/rest/boto3/s3/bucket-auth":
            ok = query.get("apptoken") == TOKEN and not self.server.refuse_auth
            return self._json({"success": "true"} if ok else {"error": "bad token"}, 200 if ok else 403)
        if url.path == "/rest/boto3/s3/query/csb-file-server/all/ip-and-port":
            return self._json({"fileServerUrlList": ["10.0.0.1:9000", "10.0.0.2:9000"]})
        if url.path == "/rest/boto3/s3/list/bucket/objectkeys":
            keys = [{"objectKey": k, "size": len(v)} for k, v in self.server.objects.items()]
            return self._json({"success": "true", "objectKeys": keys})
        prefix = f"/rest/boto3/s3/hw/cn-1/{TOKEN}/bkt/"
        if url.path.startswith(prefix) and url.path[len(prefix):] in self.server.objects:
            raw = self.server.objects[url.path[len(prefix):]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            return self.wfile.write(raw)
        return self._json({"error": "no such object"}, 404)

    def do_PUT(self):  # noqa: N802
        prefix = f"/rest/boto3/s3/hw/cn-1/{TOKEN}/bkt/"
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not self.path.startswith(prefix):
            return self._json({"error": "no such bucket"}, 404)
        self.server.objects[self.path[len(prefix):]] = body
        return self._json({})


@pytest.fixture
def file_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FileServer)
    server.objects, server.calls, server.refuse_auth = {}, [], False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(server, **kw):
    return OBSClientWrapper(file_server_url=f"http://127.0.0.1:{server.server_address[1]}", vendor="hw",
                            region="cn-1", bucket_name="bkt", app_token=kw.pop("app_token", TOKEN),
                            backoff=0.0, **kw)


def test_upload_then_download_round_trips_under_a_base64_key(file_server, tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"\x00weights\xff")
    client = _client(file_server)

    remote = client.upload_file(str(tmp_path), "model.pkl", "jobs/j1/")
    name = client.download_single_object("jobs/j1/model.pkl", local_path=str(tmp_path / "out"))

    assert remote == "jobs/j1/model.pkl" and name == "model.pkl"
    assert object_key("jobs/j1/model.pkl") in file_server.objects
    assert (tmp_path / "out" / "model.pkl").read_bytes() == b"\x00weights\xff"
    assert len(client.s3_client_list) == 2 and client.back_server_url == "10.0.0.2:9000"
    auth_path, auth_query = file_server.calls[0]
    assert auth_path == "/rest/boto3/s3/bucket-auth"
    assert auth_query == {"vendor": "hw", "region": "cn-1", "bucketid": "bkt", "apptoken": TOKEN}
    assert [o["objectKey"] for o in client.list_objects("jobs/j1/")] == [object_key("jobs/j1/model.pkl")]


def test_a_refused_token_raises_instead_of_logging_success(file_server):
    with pytest.raises(StorageError, match="authorising bucket 'bkt' failed after 2 tries: 403"):
        _client(file_server, app_token="wrong", attempts=2)


def test_a_missing_object_raises_and_leaves_no_file(file_server, tmp_path):
    client = _client(file_server, attempts=1)

    with pytest.raises(StorageError, match="downloading 'nope/x.bin' failed after 1 tries: 404"):
        client.download_single_object("nope/x.bin", local_path=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_bucket_and_token_are_required():
    with pytest.raises(ParameterError, match="bucket_name"):
        OBSClientWrapper("http://127.0.0.1:9", bucket_name="", app_token="t")
    with pytest.raises(ParameterError, match="app_token"):
        OBSClientWrapper("http://127.0.0.1:9", bucket_name="b", app_token="")


def test_sedna_06_module_path():
    from sedna.datasources.obs.connector import OBSClientWrapper as Face

    assert Face is OBSClientWrapper
