"""A stopped and dropped server lets its model (or store) go; a served app keeps its server alive.

Each server is served on 127.0.0.1 (a free port), answers real requests, is stopped and dropped;
after a garbage collection, weak references to the server and what it served are dead.
"""

import gc
import os
import weakref

import pytest
import requests

pytest.importorskip("fastapi")

from sedna_lib.llm import NGramLanguageModel  # noqa: E402
from sedna_lib.servers._threaded import ThreadedServer  # noqa: E402
from sedna_lib.servers.inference import InferenceServer  # noqa: E402
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app  # noqa: E402
from sedna_lib.servers.multi_edge import FEServer  # noqa: E402
from sedna_lib.transport.objects import MEDIA_TYPE, dumps, loads  # noqa: E402

pytestmark = pytest.mark.integration


class _Adder:
    """A model answering ``[sum(data)]``."""

    def predict(self, data):
        return [float(sum(data))]


class _Features:
    """A feature-extraction component: keeps what it is given, answers features."""

    def __init__(self):
        self.seen = []

    def put(self, data):
        self.seen.append(data)

    def update_operational_mode(self, data):
        return None

    def get_target_features(self, data):
        return {"features": [len(self.seen)]}


def _gone(*refs):
    gc.collect()
    return [ref() is None for ref in refs]


def test_inference_server_lets_its_model_go_once_stopped_and_dropped():
    model = NGramLanguageModel(order=2, name="tiny").fit(["the cat sat", "the dog ran"])
    server = InferenceServer(model, "lm", http_port=0)
    with server:
        assert requests.get(server.url + "/lm", timeout=10).status_code == 200
        assert requests.get(server.url + "/v1/models", timeout=10).json()["data"][0]["id"] == "tiny"
        reply = requests.post(server.url + "/v1/chat/completions", timeout=10, json={
            "messages": [{"role": "user", "content": "the"}], "max_tokens": 2, "temperature": 0})
        assert reply.status_code == 200, reply.text
    refs = weakref.ref(server), weakref.ref(model)
    del server, model, reply
    assert _gone(*refs) == [True, True]


def test_multi_edge_server_lets_its_component_go_once_stopped_and_dropped():
    component = _Features()
    server = FEServer(component, "fe", port=0)
    with server:
        assert requests.get(server.url + "/fe/status", timeout=10).json() == "OK"
        reply = requests.post(server.url + "/fe/get_target_features", data=dumps([1, 2]),
                              headers={"Content-Type": MEDIA_TYPE}, timeout=10)
        assert reply.status_code == 200 and loads(reply.content) == {"features": [0]}
    refs = weakref.ref(server), weakref.ref(component)
    del server, component, reply
    assert _gone(*refs) == [True, True]


def test_knowledge_base_app_lets_its_store_go_once_stopped_and_dropped(tmp_path):
    store = KnowledgeBaseStore(str(tmp_path), os.path.join(tmp_path, "kb.sqlite3"))
    served = ThreadedServer(create_app(store), host="127.0.0.1", port=0).start()
    try:
        reply = requests.post(served.url + "/knowledgebase/file/upload", timeout=10,
                              files={"file": ("model.bin", b"weights")})
        assert reply.status_code == 200, reply.text
        assert requests.post(served.url + "/knowledgebase/query", timeout=10).status_code == 200
    finally:
        assert served.stop()
        store.close()
    ref = weakref.ref(store)
    del store, served, reply
    assert _gone(ref) == [True]


def test_a_served_app_keeps_its_dropped_server_answering():
    model = _Adder()
    server = InferenceServer(model, "adder", token="secret")
    app = server.create_app()
    refs = weakref.ref(server), weakref.ref(model)
    del server, model
    assert _gone(*refs) == [False, False]  # the app holds its server and model
    served = ThreadedServer(app, host="127.0.0.1", port=0).start()
    try:
        auth = {"Authorization": "Bearer secret"}
        assert requests.get(served.url + "/adder", timeout=10).status_code == 401
        infos = requests.get(served.url + "/adder", headers=auth, timeout=10).json()["infos"]
        assert {"path": "/adder/predict", "name": "method"} in infos
        assert requests.get(served.url + "/v1/models", headers=auth, timeout=10).json()["object"] == "list"
        reply = requests.post(served.url + "/adder/predict", json={"data": [1, 2, 3]}, headers=auth,
                              timeout=10)
        assert reply.status_code == 200 and reply.json() == {"result": [6.0]}
    finally:
        assert served.stop()
    del app, served
    assert _gone(*refs) == [True, True]
