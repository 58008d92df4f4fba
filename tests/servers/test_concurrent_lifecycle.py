"""Servers started and stopped from several threads at once, and KB downloads while the file is replaced.

Two ``start(block=False)`` calls on one object leave one server (a second start changes nothing),
and a ``stop()`` racing a ``start()`` leaves none that a later ``stop()`` cannot stop. A download
of a knowledge-base file that another client re-uploads at the same time returns one whole
version of it.
"""

import gc
import threading

import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.inference import InferenceServer
from sedna_lib.servers.knowledge_base import KBServer

ROUNDS = 3  # a race of two starts left a second server running in four rounds of five or more


class Cloud:
    def predict(self, data, **kwargs):
        return [1.0]


def _servers() -> list:
    # type(), not isinstance(): a dead weak proxy among the objects raises on isinstance()
    return [o for o in gc.get_objects() if issubclass(type(o), ThreadedServer) and o.is_running]


def _running() -> set:
    return {id(o) for o in _servers()}


def _together(*calls) -> list:
    """Run ``calls`` in threads released at once; return the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list = []

    def go(call):
        barrier.wait()
        try:
            call()
        except Exception as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


class _Service:
    """BigModelService with the start/stop/port of the servers."""

    def __init__(self):
        self.service = BigModelService(Cloud(), context=Context(Config(service_name="svc")))

    def start(self, block):
        self.service.start(host="127.0.0.1", port=0, block=block)

    def stop(self):
        self.service.stop()

    @property
    def url(self):
        return self.service.url


MAKERS = {
    "inference": lambda tmp_path: InferenceServer(Cloud(), "svc", http_port=0),
    "big-model": lambda tmp_path: _Service(),
    "kb": lambda tmp_path: KBServer(host="127.0.0.1", http_port=0, save_dir=str(tmp_path)),
}


@pytest.fixture(params=sorted(MAKERS))
def make(request, tmp_path):
    before = _running()
    yield lambda: MAKERS[request.param](tmp_path)
    for server in [o for o in _servers() if id(o) not in before]:
        server.stop()  # what a failing test left behind


@pytest.mark.parametrize("race_stop", [False, True], ids=["start-start", "start-stop"])
def test_concurrent_start_leaves_one_server_that_stop_stops(make, race_stop):
    before = _running()
    for _ in range(ROUNDS):
        server = make()
        second = server.stop if race_stop else (lambda: server.start(block=False))
        assert _together(lambda: server.start(block=False), second) == []
        if not race_stop:
            assert len(_running() - before) == 1  # one server; the second start changed nothing
            url = server.url
            server.start(block=False)
            assert server.url == url and len(_running() - before) == 1
        server.stop()
        assert _running() - before == set(), "a server is left running that stop() cannot stop"


def test_download_during_reupload_is_one_whole_version(tmp_path):
    old, new = b"a" * 50000, b"b" * 55000
    with KBServer(host="127.0.0.1", http_port=0, save_dir=str(tmp_path)) as kb, requests.Session() as http:
        upload = kb.url + "/knowledgebase/file/upload"
        assert requests.post(upload, files={"file": ("f.bin", old)}, timeout=10).status_code == 200
        done = threading.Event()

        def reupload():
            with requests.Session() as session:
                i = 0
                while not done.is_set():
                    session.post(upload, files={"file": ("f.bin", (old, new)[i % 2])}, timeout=10)
                    i += 1

        thread = threading.Thread(target=reupload)
        thread.start()
        broken = []
        try:
            for _ in range(50):
                try:
                    reply = http.get(kb.url + "/knowledgebase/file/download", params={"files": "f.bin"},
                                     timeout=10)
                except requests.RequestException as exc:
                    broken.append(repr(exc))
                    continue
                if reply.content not in (old, new):
                    broken.append(len(reply.content))
        finally:
            done.set()
            thread.join(30)
        assert broken == []


def test_download_headers_range_and_missing(tmp_path):
    data = bytes(range(256)) * 300
    with KBServer(host="127.0.0.1", http_port=0, save_dir=str(tmp_path)) as kb:
        requests.post(kb.url + "/knowledgebase/file/upload", files={"file": ("m.bin", data)}, timeout=10)
        url = kb.url + "/knowledgebase/file/download"
        reply = requests.get(url, params={"files": "m.bin", "name": "model.bin"}, timeout=10)
        assert reply.status_code == 200 and reply.content == data
        assert reply.headers["content-type"] == "application/octet-stream"
        assert reply.headers["content-disposition"] == 'attachment; filename="model.bin"'
        assert reply.headers["content-length"] == str(len(data))
        assert reply.headers["etag"] and reply.headers["last-modified"]
        part = requests.get(url, params={"files": "m.bin"}, headers={"Range": "bytes=100-299"}, timeout=10)
        if reply.headers.get("accept-ranges") == "bytes":
            assert part.status_code == 206 and part.content == data[100:300]
            assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"
        else:
            assert part.status_code == 200 and part.content == data
        assert requests.get(url, params={"files": "none.bin"}, timeout=10).status_code == 404
        assert requests.get(url, params={"files": "index.source.json"}, timeout=10).status_code == 404
