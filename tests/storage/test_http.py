"""HTTPStorage against a real http.server on 127.0.0.1."""

from __future__ import annotations

import functools
import os
import http.server
import pathlib
import socket
import threading

import pytest

from sedna_lib.exceptions import StorageError, StorageNotFoundError, StoragePermissionError
from sedna_lib.storage import HTTPStorage

pytestmark = pytest.mark.integration


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith("/private"):
            self.send_error(403, "Forbidden")
        elif self.path.startswith("/broken"):
            self.send_error(500, "Boom")
        elif self.path.startswith("/any/"):  # a server that answers whatever the name (a proxy, an API)
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"payload")
        else:
            super().do_GET()

    def log_message(self, *args):
        """Keep test output quiet."""


_ROOTS: dict = {}  # served URL -> the folder it serves


def _served_root(url):
    return _ROOTS[url]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "models").mkdir()
    (root / "models" / "m.pb").write_bytes(b"weights")
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _ROOTS[url] = root
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_writes_the_file_into_a_folder_under_its_name(web, tmp_path):
    out = HTTPStorage().download(f"{web}/models/m.pb", str(tmp_path))

    assert out == str(tmp_path / "m.pb")
    assert (tmp_path / "m.pb").read_bytes() == b"weights"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pb"]


def test_missing_url_raises_not_found_and_leaves_no_file(web, tmp_path):
    with pytest.raises(StorageNotFoundError, match="HTTP 404") as info:
        HTTPStorage().download(f"{web}/models/nope.pb", str(tmp_path / "x.pb"))

    assert info.value.uri == f"{web}/models/nope.pb"
    assert list(tmp_path.iterdir()) == []


def test_forbidden_raises_permission_error_and_server_error_raises_storage_error(web):
    store = HTTPStorage(max_retries=0)

    with pytest.raises(StoragePermissionError, match="HTTP 403"):
        store.read_bytes(f"{web}/private/key")
    with pytest.raises(StorageError, match="HTTP 500"):
        store.read_bytes(f"{web}/broken")


def test_exists_reads_status(web):
    store = HTTPStorage()

    assert store.exists(f"{web}/models/m.pb")
    assert not store.exists(f"{web}/models/nope.pb")


def test_writes_are_refused_because_http_is_read_only(tmp_path, web):
    (tmp_path / "f").write_text("x")
    store = HTTPStorage()

    with pytest.raises(StorageError, match="read-only"):
        store.upload(str(tmp_path / "f"), f"{web}/models/f")
    with pytest.raises(StorageError, match="read-only"):
        store.delete(f"{web}/models/m.pb")


def test_silent_server_times_out_instead_of_hanging():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        store = HTTPStorage(read_timeout=0.2, max_retries=0)

        with pytest.raises(StorageError, match="timed out"):
            store.read_bytes(f"http://127.0.0.1:{listener.getsockname()[1]}/x")


@pytest.mark.parametrize("name", ["..%2Fescaped.bin", "%2F..%2F..%2Fabs_escaped.bin", "..", "a%5Cb.bin"])
def test_a_url_whose_name_is_not_a_plain_file_name_never_lands_outside_the_folder(web, tmp_path, name):
    # the last segment is decoded before it names the file: '..%2Fx' wrote beside the folder, '%2Ftmp%2Fx'
    # anywhere on the disk
    folder = tmp_path / "target"
    folder.mkdir()
    with pytest.raises(StorageError, match="not a plain file name"):
        HTTPStorage().download(f"{web}/any/{name}", str(folder))
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_a_download_to_a_temporary_file_takes_any_url_name(web):
    from sedna_lib.storage import StorageRouter

    router = StorageRouter()
    path = router.download(f"{web}/any/a%2Fb.bin")  # no destination: a temporary file named after it
    try:
        assert open(path, "rb").read() == b"payload"
    finally:
        os.remove(path)


def test_a_big_model_service_loads_a_model_url_over_http_and_refuses_a_remote_pickle(
        web, tmp_path, monkeypatch):
    """A remote MODEL_URL is fetched through the storage layer (it was said not to exist, unasked)."""
    monkeypatch.chdir(tmp_path)  # a downloaded model lands in ./models
    import shutil

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.backends import set_backend
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.exceptions import SednaError
    from sedna_lib.joint_inference import BigModelService

    pytest.importorskip("skops")
    x, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    backend = set_backend(LogisticRegression().fit(x, y), Config())
    saved = backend.save(str(tmp_path / "knn.skops"))
    folder = pathlib.Path(_served_root(web))
    shutil.copy(saved, folder / "models" / "knn.skops")
    (folder / "models" / "knn.pkl").write_bytes(b"\x80\x04N.")  # a pickle: never loaded from the network

    ctx = Context(Config(model_url=f"{web}/models/knn.skops"))
    service = BigModelService(LogisticRegression(), context=ctx)
    service.start(host="127.0.0.1", port=0, block=False)
    try:
        assert list(service.estimator.predict(np.array([[3.0]]))) == [1]
    finally:
        service.stop()

    ctx = Context(Config(model_url=f"{web}/models/knn.pkl"))
    with pytest.raises(SednaError) as refused:
        BigModelService(LogisticRegression(), context=ctx).start(host="127.0.0.1", port=0, block=False)
    assert "does not exist" not in str(refused.value)
    assert "pickle" in str(refused.value).lower()


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 404 (or 403 under /private) and remembers what each request carried."""

    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        self.send_error(403 if self.path.startswith("/private") else 404)

    def log_message(self, *args):
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


SECRETS = ("hunter2", "SIGSECRET", "AMZSECRET", "TOKSECRET")


def _told(exc):
    """Everything a log line of ``exc`` shows: its message, its uri and its traceback (causes included)."""
    import traceback

    return f"{exc} {exc.uri} " + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def test_an_error_shows_no_password_or_query_value_of_the_url_but_the_request_carries_them(
        recorder, tmp_path):
    _Recorder.seen.clear()
    url = (f"http://u:hunter2@127.0.0.1:{recorder}/m.bin?sig=SIGSECRET&X-Amz-Signature=AMZSECRET"
           f"&token=TOKSECRET")

    with pytest.raises(StorageNotFoundError, match="HTTP 404") as info:
        HTTPStorage(max_retries=0).download(url, str(tmp_path))

    told = _told(info.value)
    assert not [s for s in SECRETS if s in told], told
    assert info.value.uri == (f"http://u:***@127.0.0.1:{recorder}/m.bin?sig=***&X-Amz-Signature=***"
                              f"&token=***")
    assert f"download {info.value.uri} failed" in str(info.value)
    assert _Recorder.seen[0][0] == "/m.bin?sig=SIGSECRET&X-Amz-Signature=AMZSECRET&token=TOKSECRET"
    assert _Recorder.seen[0][1] is not None and _Recorder.seen[0][1].startswith("Basic ")  # u:hunter2 sent


def test_read_bytes_and_exists_errors_hide_the_urls_secrets(recorder):
    store = HTTPStorage(max_retries=0)
    read = f"http://u:hunter2@127.0.0.1:{recorder}/private/k?token=TOKSECRET"
    probed = f"http://u:hunter2@127.0.0.1:{recorder}/private/k?sig=SIGSECRET"

    with pytest.raises(StoragePermissionError, match="HTTP 403") as refused:
        store.read_bytes(read)  # a traceback shows this line: the secrets stay out of it
    with pytest.raises(StoragePermissionError) as checked:
        store.exists(probed)

    for exc in (refused.value, checked.value):
        told = _told(exc)
        assert not [s for s in SECRETS if s in told], told
        assert "/private/k?" in str(exc)


@pytest.mark.parametrize("url", ["http://u:hunter2@127.0.0.1:{port}/m.bin",
                                 "http://127.0.0.1:{port}/m.bin?X-Amz-Signature=AMZSECRET&token=TOKSECRET",
                                 "http://TOKSECRET@127.0.0.1:{port}/m.bin"])
def test_a_refused_connection_hides_the_urls_secrets_also_in_the_http_librarys_text(url, tmp_path):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    with pytest.raises(StorageError) as info:
        HTTPStorage(max_retries=0, connect_timeout=2).download(url.format(port=port), str(tmp_path))

    told = _told(info.value)
    assert not [s for s in SECRETS if s in told], told
    assert f"127.0.0.1:{port}/m.bin" in str(info.value)


def test_a_url_without_secrets_is_shown_as_given(recorder, tmp_path):
    url = f"http://127.0.0.1:{recorder}/models/m.bin"

    with pytest.raises(StorageNotFoundError) as info:
        HTTPStorage(max_retries=0).download(url, str(tmp_path))

    assert info.value.uri == url and url in str(info.value)
