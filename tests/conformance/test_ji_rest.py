"""The joint-inference REST wire, as original Sedna peers speak it: golden bodies, written from the contract.

Four pairings are checked: an original edge (Sedna's ``ModelClient``) and a sedna_lib cloud; a
sedna_lib edge and an original cloud (a server held to the original's contract: a pydantic body
``{data: list, callback: str | None}`` served under ``/sedna`` only, 500 for a callback name it
does not know, 422 for a body it cannot read); and sedna_lib on both sides, with the callback
negotiation. Every expected body below is written by hand from the contract
(docs/sedna-compatibility.md, "Big-model REST").
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService, JointInference
from sedna_lib.registry import Kind, Registry
from sedna_lib.servers._threaded import ThreadedServer

pytestmark = pytest.mark.integration

# -- golden requests an original Sedna edge sends (ModelClient.inference: requests' json=, default separators)
ORIGINAL_EDGE_PLAIN = b'{"post_process": null, "data": [[1.0, 2.0]]}'
ORIGINAL_EDGE_WITH_CALLBACK = b'{"post_process": "only_at_the_edge", "data": [[1.0, 2.0]]}'
ORIGINAL_EDGE_HEADERS = {"Content-Type": "application/json", "Accept": "*/*"}
# Sedna 0.6 (the build Ianvs ships) passes its inference keywords on, mining_mode among them
SEDNA06_EDGE_WITH_CALLBACK = (b'{"post_process": "only_at_the_edge", "mining_mode": "mining-then-inference", '
                              b'"data": [[1.0, 2.0]]}')

# -- golden answers of a cloud that doubles its input ------------------------------------------------------
DOUBLED = {"result": [[2.0, 4.0]]}


class Doubler:
    """The big model: doubles its input, returned as nested lists (as a Sedna estimator returns)."""

    def predict(self, data, **kwargs):
        return (np.asarray(data, dtype=float) * 2).tolist()


class Label:
    """A big model that answers one ``int`` class label (not a list: the original server answers 500)."""

    def predict(self, data, **kwargs):
        return 3


def plus_one(result):
    """A post-processing callback that is not idempotent: applying it twice shows."""
    return (np.asarray(result, dtype=float) + 1).tolist()


def to_label(result):
    """A callback turning a result into an ``int`` label."""
    return int(np.argmax(result))


def registry_with(**callbacks) -> Registry:
    reg = Registry()
    for name, fn in callbacks.items():
        reg.register(Kind.CALLBACK, name, fn)
    return reg


def context(registry: Registry | None = None, **fields) -> Context:
    return Context(Config(service_name="ji-svc", **fields), registry=registry or Registry())


@pytest.fixture
def cloud():
    """A sedna_lib cloud: the doubler, with ``at_the_cloud`` and ``plus_one`` registered as callbacks."""
    callbacks = registry_with(at_the_cloud=plus_one, plus_one=plus_one)
    service = BigModelService(Doubler(), context=context(callbacks))
    with service.start(host="127.0.0.1", port=0, block=False):
        yield service.url


# -- an original edge -> a sedna_lib cloud -----------------------------------------------------------------

def test_original_edge_plain_request_gets_the_golden_answer(cloud):
    reply = requests.post(cloud + "/sedna/predict", data=ORIGINAL_EDGE_PLAIN, headers=ORIGINAL_EDGE_HEADERS,
                          timeout=5)

    assert reply.status_code == 200  # Sedna's http_request retries anything but 200, 5 x 3 s
    assert reply.headers["content-type"] == "application/json"
    assert json.loads(reply.content) == DOUBLED


def test_original_edge_callback_the_cloud_does_not_have_is_answered_unchanged(cloud):
    # Sedna's edge sends the name of a callback it registered locally; the original cloud ignores
    # it. A 4xx here made the original edge retry every sample for 15 s.
    replies = [requests.post(cloud + "/sedna/predict", data=ORIGINAL_EDGE_WITH_CALLBACK,
                             headers=ORIGINAL_EDGE_HEADERS, timeout=5) for _ in range(3)]

    assert [r.status_code for r in replies] == [200, 200, 200]
    assert all(json.loads(r.content) == DOUBLED for r in replies)
    assert all("sedna-callback-applied" not in r.headers for r in replies)


def test_a_sedna06_edge_body_with_its_extra_fields_gets_the_golden_answer(cloud):
    reply = requests.post(cloud + "/sedna/predict", data=SEDNA06_EDGE_WITH_CALLBACK,
                          headers=ORIGINAL_EDGE_HEADERS, timeout=5)

    assert reply.status_code == 200 and json.loads(reply.content) == DOUBLED


def test_unknown_callback_is_logged_once(cloud, caplog):
    for _ in range(3):
        requests.post(cloud + "/sedna/predict", json={"data": [1.0], "callback": "never_registered"},
                      timeout=5)

    said = [r for r in caplog.records if "never_registered" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"


def test_original_edge_callback_the_cloud_has_is_applied_there(cloud):
    body = b'{"post_process": "at_the_cloud", "data": [[1.0, 2.0]]}'

    reply = requests.post(cloud + "/sedna/predict", data=body, headers=ORIGINAL_EDGE_HEADERS, timeout=5)

    assert reply.status_code == 200 and json.loads(reply.content) == {"result": [[3.0, 5.0]]}
    assert reply.headers["sedna-callback-applied"] == "at_the_cloud"


def test_route_list_keeps_the_original_shape_and_says_callbacks_apply(cloud):
    reply = requests.get(cloud + "/sedna", timeout=5)

    info = reply.json()
    assert reply.status_code == 200 and isinstance(info["infos"], list)
    assert all(set(entry) == {"path", "name"} for entry in info["infos"])
    assert {"/sedna", "/sedna/predict"} <= {entry["path"] for entry in info["infos"]}
    assert info["callbacks"] == "apply" and reply.headers["sedna-callbacks"] == "apply"


@pytest.mark.parametrize("body, detail_part", [
    (b'{"post_process": null}', "data"),
    (b'{"data": 3}', "list"),
])
def test_unreadable_bodies_are_422_with_a_detail(cloud, body, detail_part):
    reply = requests.post(cloud + "/sedna/predict", data=body, headers=ORIGINAL_EDGE_HEADERS, timeout=5)

    assert reply.status_code == 422 and detail_part in json.dumps(reply.json()["detail"])


def test_an_int_label_stays_an_int_on_the_wire():
    with BigModelService(Label(), context=context()).start(host="127.0.0.1", port=0, block=False) as service:
        reply = requests.post(service.url + "/sedna/predict", data=ORIGINAL_EDGE_PLAIN,
                              headers=ORIGINAL_EDGE_HEADERS, timeout=5)

    assert reply.status_code == 200 and reply.content == b'{"result":3}'


# -- a sedna_lib edge -> an original cloud -----------------------------------------------------------------

class OriginalCloud:
    """A cloud held to the original server's contract, recording what it was sent."""

    def __init__(self, model_result: Any = None) -> None:
        self.bodies: list[bytes] = []
        self.statuses: list[int] = []
        self.model_result = model_result
        self.lock = threading.Lock()

    def app(self):
        from fastapi import FastAPI, Request
        from starlette.responses import JSONResponse, PlainTextResponse

        app = FastAPI()
        infos = [{"path": "/sedna", "name": "model_info"}, {"path": "/sedna/predict", "name": "predict"}]

        async def model_info():
            return {"infos": infos}

        async def predict(request: Request):
            body = await request.body()
            status, answer = self._answer(request.headers.get("content-type", ""), body)
            with self.lock:
                self.bodies.append(body)
                self.statuses.append(status)
            if status == 500:
                return PlainTextResponse("Internal Server Error", status_code=500)
            return JSONResponse(answer, status_code=status)

        predict.__annotations__["request"] = Request
        app.add_api_route("/sedna", model_info, methods=["GET"])
        app.add_api_route("/sedna/predict", predict, methods=["POST"])
        return app

    def _answer(self, ctype: str, body: bytes) -> tuple[int, Any]:
        not_a_dict = {"detail": [{"loc": ["body"], "msg": "value is not a valid dict",
                                  "type": "type_error.dict"}]}
        try:
            item = json.loads(body)
        except ValueError:
            return 422, not_a_dict
        if not isinstance(item, dict):
            return 422, not_a_dict
        if "data" not in item:
            return 422, {"detail": [{"loc": ["body", "data"], "msg": "field required",
                                     "type": "value_error.missing"}]}
        if not isinstance(item["data"], list):
            return 422, {"detail": [{"loc": ["body", "data"], "msg": "value is not a valid list",
                                     "type": "type_error.list"}]}
        if item.get("callback") is not None:
            return 500, None  # ClassFactory.get_cls fails on a name the cloud has not registered
        result = self.model_result
        if result is None:
            result = (np.asarray(item["data"]) * 2).tolist()
        if not isinstance(result, list):
            return 500, None  # the response model needs a list
        return 200, {"result": result}

    def json_bodies(self) -> list[dict]:
        out = []
        for body in self.bodies:
            try:
                out.append(json.loads(body))
            except ValueError:
                continue  # a binary-codec attempt, refused with 422
        return out


@pytest.fixture
def original_cloud():
    cloud = OriginalCloud()
    with ThreadedServer(cloud.app()) as server:
        yield cloud, server.url


def edge(url: str, tmp_path, registry: Registry | None = None, miner: Any = "CloudOnly") -> JointInference:
    return JointInference(lambda: _EdgeModel(), miner, context=context(registry), cloud=url + "/ji-svc",
                          offload_dir=str(tmp_path), report=False)


class _EdgeModel:
    def predict(self, data, **kwargs):
        return np.asarray(data, dtype=float).tolist()


def test_sedna_lib_edge_sends_the_original_cloud_exactly_what_it_accepts(original_cloud, tmp_path):
    cloud, url = original_cloud
    ji = edge(url, tmp_path)

    with ji:
        results = [ji.inference(np.array([[1.0, 2.0]])) for _ in range(2)]

    assert [r.cloud for r in results] == [[[2.0, 4.0]], [[2.0, 4.0]]]
    assert cloud.json_bodies() == [{"data": [[1.0, 2.0]]}] * 2  # no callback field, no extra field
    assert 500 not in cloud.statuses and cloud.statuses[-1] == 200


def test_sedna_lib_edge_never_sends_a_callback_name_to_an_original_cloud(original_cloud, tmp_path):
    cloud, url = original_cloud
    ji = edge(url, tmp_path, registry_with(plus_one=plus_one))

    with ji:
        result = ji.inference(np.array([[1.0, 2.0]]), post_process="plus_one")

    assert cloud.json_bodies() == [{"data": [[1.0, 2.0]]}] and 500 not in cloud.statuses
    assert result.cloud == [[3.0, 5.0]] and result.result == [[3.0, 5.0]]  # applied once, at the edge
    assert ji.stats["cloud_ok"] == 1 and ji.pending_offloads == 0


def test_an_edge_callback_name_not_registered_anywhere_never_fails(original_cloud, tmp_path, caplog):
    cloud, url = original_cloud
    ji = edge(url, tmp_path)

    with ji:
        results = [ji.inference(np.array([[1.0, 2.0]]), post_process="nowhere") for _ in range(2)]

    assert [r.result for r in results] == [[[2.0, 4.0]]] * 2  # unchanged
    assert len([r for r in caplog.records if "nowhere" in r.getMessage()]) == 1


# -- sedna_lib on both sides: the callback negotiation -------------------------------------------------

def test_a_callback_both_sides_have_is_sent_and_applied_once_at_the_cloud(cloud, tmp_path):
    ji = edge(cloud, tmp_path, registry_with(plus_one=plus_one))

    with ji:
        results = [ji.inference(np.array([[1.0, 2.0]]), post_process="plus_one") for _ in range(2)]

    assert [r.cloud for r in results] == [[[3.0, 5.0]]] * 2  # plus_one once, not twice


def test_a_callback_only_the_edge_has_is_applied_once_at_the_edge(cloud, tmp_path):
    ji = edge(cloud, tmp_path, registry_with(only_here=plus_one))

    with ji:
        result = ji.inference(np.array([[1.0, 2.0]]), post_process="only_here")

    assert result.cloud == [[3.0, 5.0]]


def test_result_types_are_kept_across_the_wire(tmp_path):
    class Typed:
        def predict(self, data, **kwargs):
            kind = np.asarray(data).ravel()[0]
            return {0: 3, 1: [1, 2], 2: np.array([4, 5], dtype=np.int64), 3: "cat"}[int(kind)]

    with BigModelService(Typed(), context=context()).start(host="127.0.0.1", port=0, block=False) as service:
        ji = edge(service.url, tmp_path)
        with ji:
            answers = [ji.inference(np.array([float(k)])).cloud for k in range(4)]
            label = ji.inference(np.array([0.0, 7.0, 1.0]), post_process=to_label).result

    assert answers[0] == 3 and type(answers[0]) is int
    assert answers[1] == [1, 2] and all(type(v) is int for v in answers[1])
    assert isinstance(answers[2], np.ndarray) and answers[2].dtype == np.int64
    assert answers[3] == "cat"
    assert type(label) is int
