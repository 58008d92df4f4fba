import json
import threading
import time

import numpy as np
import pytest
import requests

from sedna_lib.registry import Kind, Registry
from sedna_lib.servers.inference import InferenceServer
from sedna_lib.transport import codec

pytestmark = pytest.mark.integration


class Model:
    def predict(self, data):
        return (np.asarray(data, dtype=float) * 2).tolist()


@pytest.fixture(scope="module")
def registry():
    reg = Registry(use_entry_points=False)
    reg.register(Kind.CALLBACK, "negate", lambda result: (-np.asarray(result)).tolist())
    return reg


@pytest.fixture(scope="module")
def server(registry):
    with InferenceServer(Model(), "ji-svc", http_port=0, max_buffer_size=4096, registry=registry) as srv:
        yield srv


def test_sedna_json_wire_on_service_and_sedna_paths(server):
    for path in ("/ji-svc/predict", "/sedna/predict"):
        reply = requests.post(server.url + path, json={"data": [1, 2]}, timeout=5)
        assert reply.status_code == 200 and reply.json() == {"result": [2.0, 4.0]}


def test_callback_is_applied_under_both_field_names(server):
    for field in ("callback", "post_process"):
        reply = requests.post(server.url + "/ji-svc/predict", json={"data": [1], field: "negate"}, timeout=5)
        assert reply.json() == {"result": [-2.0]}


def test_unknown_callback_answers_unchanged_not_an_error(server):
    # a callback name never fails a request: Sedna's edge sends names it registered only locally
    reply = requests.post(server.url + "/ji-svc/predict", json={"data": [1], "callback": "nope"}, timeout=5)
    assert reply.status_code == 200 and reply.json() == {"result": [2.0]}
    assert "sedna-callback-applied" not in reply.headers


def test_a_callback_that_is_not_a_name_is_a_422_naming_the_field(server):
    reply = requests.post(server.url + "/ji-svc/predict", json={"data": [1], "callback": {"f": 1}}, timeout=5)
    assert reply.status_code == 422 and "callback" in reply.json()["detail"]


@pytest.mark.parametrize("body, ctype, status", [
    (b"{not json", "application/json", 400),
    (b'{"x": 1}', "application/json", 422),
    (b'{"data": 3}', "application/json", 422),
    (b"[1, 2]", "application/json", 422),
    (b"SDNAgarbage", codec.MEDIA_TYPE, 400),
    (b"data=1", "text/plain", 415),
])
def test_malformed_bodies_get_4xx_and_the_server_keeps_serving(server, body, ctype, status):
    reply = requests.post(server.url + "/ji-svc/predict", data=body, headers={"Content-Type": ctype},
                          timeout=5)
    assert reply.status_code == status
    assert requests.post(server.url + "/ji-svc/predict", json={"data": [1]}, timeout=5).status_code == 200


def test_oversized_body_is_refused_with_413(server):
    reply = requests.post(server.url + "/ji-svc/predict", json={"data": [0.5] * 5000}, timeout=5)
    assert reply.status_code == 413 and "limit" in reply.json()["detail"]


def test_binary_request_with_a_list_result_gets_the_list_back_as_json(server):
    # only array results travel binary: the edge gets back the type the cloud's model returned
    body = codec.encode([np.arange(4, dtype="float32")], {"callback": None})
    reply = requests.post(server.url + "/ji-svc/predict", data=body,
                          headers={"Content-Type": codec.MEDIA_TYPE, "Accept": codec.MEDIA_TYPE}, timeout=5)
    assert reply.headers["content-type"] == "application/json" and reply.json() == {"result": [0, 2, 4, 6]}


def test_binary_codec_round_trip_of_an_array_result():
    with InferenceServer(lambda data: np.asarray(data) * 2, "s", http_port=0) as srv:
        body = codec.encode([np.arange(4, dtype="float32")], {"callback": None})
        reply = requests.post(srv.url + "/s/predict", data=body,
                              headers={"Content-Type": codec.MEDIA_TYPE, "Accept": codec.MEDIA_TYPE}, timeout=5)
    meta, (result,) = codec.decode(reply.content)
    assert reply.headers["content-type"] == codec.MEDIA_TYPE and result.tolist() == [0, 2, 4, 6]


def test_route_list_health_and_openapi(server):
    infos = requests.get(server.url + "/ji-svc", timeout=5).json()
    assert {"path": "/ji-svc/predict", "name": "method"} in infos["infos"]
    assert codec.MEDIA_TYPE in infos["codecs"]
    assert requests.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"
    assert "/ji-svc/predict" in requests.get(server.url + "/openapi.json", timeout=5).json()["paths"]


@pytest.mark.parametrize("result, expected", [
    (3.5, 3.5), ("text", "text"), (np.float32(2), 2.0), ({"a": 1}, {"a": 1})])
def test_non_list_results_are_wrapped_not_500(result, expected):
    with InferenceServer(lambda data: result, "s", http_port=0) as srv:
        reply = requests.post(srv.url + "/s/predict", json={"data": [0]}, timeout=5)
    assert reply.status_code == 200 and reply.json() == {"result": expected}


def test_model_failure_is_a_500_and_the_server_keeps_serving():
    calls = []

    def flaky(data):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return [1]

    with InferenceServer(flaky, "s", http_port=0) as srv:
        first = requests.post(srv.url + "/s/predict", json={"data": [0]}, timeout=5)
        second = requests.post(srv.url + "/s/predict", json={"data": [0]}, timeout=5)
        health = requests.get(srv.url + "/healthz", timeout=5).json()
    assert first.status_code == 500 and "RuntimeError: boom" in first.json()["detail"]
    assert second.json() == {"result": [1]} and health["failed"] == 1


def test_token_is_required_when_set():
    with InferenceServer(Model(), "s", http_port=0, token="s3cret") as srv:
        missing = requests.post(srv.url + "/s/predict", json={"data": [1]}, timeout=5)
        wrong = requests.post(srv.url + "/s/predict", json={"data": [1]},
                              headers={"Authorization": "Bearer x"}, timeout=5)
        good = requests.post(srv.url + "/s/predict", json={"data": [1]},
                             headers={"Authorization": "Bearer s3cret"}, timeout=5)
        health = requests.get(srv.url + "/healthz", timeout=5)
    assert missing.status_code == 401 and wrong.status_code == 401
    assert good.status_code == 200 and health.status_code == 200


def test_requests_are_served_concurrently():
    barrier = threading.Barrier(4, timeout=10)

    def model(data):
        barrier.wait()  # returns only once 4 requests are inside the model at the same time
        return data

    with InferenceServer(model, "s", http_port=0) as srv:
        replies = []

        def post():
            replies.append(requests.post(srv.url + "/s/predict", json={"data": [1]}, timeout=10).status_code)

        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
    assert replies == [200] * 4


def test_a_sedna_style_client_body_is_understood(server):
    # Sedna's ModelClient posts json.dumps({**kwargs, "data": x}) with post_process
    body = json.dumps({"post_process": "negate", "data": [[1.0, 2.0]]})
    reply = requests.post(server.url + "/sedna/predict", data=body, timeout=5)
    assert reply.json() == {"result": [[-2.0, -4.0]]}


def test_a_torch_shape_mismatch_is_a_422_with_the_reason():
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(4, 2)

    def model(data):
        with torch.no_grad():
            return net(torch.as_tensor(data, dtype=torch.float32)).tolist()

    with InferenceServer(model, "s", http_port=0) as srv:
        bad = requests.post(srv.url + "/s/predict", json={"data": [[1.0, 2.0]]}, timeout=5)
        good = requests.post(srv.url + "/s/predict", json={"data": [[1.0, 2.0, 3.0, 4.0]]}, timeout=5)
    assert bad.status_code == 422 and "mat1 and mat2" in bad.json()["detail"]
    assert good.status_code == 200 and len(good.json()["result"][0]) == 2


def test_nan_and_infinities_in_a_result_are_answered_not_a_500(server):
    # the model's answer to NaN input is NaN; JSON replies carry it as Python's json writes it, and a
    # number past float range (1e999) reads as an infinity
    inf = float("inf")
    for body, expected in ((b'{"data": [1, NaN]}', [2.0, float("nan")]),
                           (b'{"data": [1, Infinity, -Infinity, 1e999]}', [2.0, inf, -inf, inf])):
        reply = requests.post(server.url + "/ji-svc/predict", data=body, timeout=5,
                              headers={"Content-Type": "application/json"})
        assert reply.status_code == 200, reply.text
        got = json.loads(reply.content)["result"]
        assert np.array_equal(got, expected, equal_nan=True)
    body = codec.encode([np.array([np.nan])], {"data": "array"})
    binary = requests.post(server.url + "/ji-svc/predict", data=body, timeout=5,
                           headers={"Content-Type": codec.MEDIA_TYPE, "Accept": "application/json"})
    assert binary.status_code == 200 and np.isnan(json.loads(binary.content)["result"][0])


def test_an_integer_past_float_range_is_a_422_not_a_500(server):
    reply = requests.post(server.url + "/ji-svc/predict", data=b'{"data": [1' + b"0" * 400 + b"]}",
                          headers={"Content-Type": "application/json"}, timeout=5)
    assert reply.status_code == 422 and "OverflowError" in reply.json()["detail"]


def test_a_client_that_hangs_up_mid_body_is_not_a_server_failure(server, caplog):
    import socket
    from urllib.parse import urlparse

    before = requests.get(server.url + "/healthz", timeout=5).json()
    address = urlparse(server.url)
    with caplog.at_level("ERROR"), socket.create_connection((address.hostname, address.port), 5) as sock:
        sock.sendall(b"POST /ji-svc/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"data\": [1,")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = requests.get(server.url + "/healthz", timeout=5).json()
        if after["requests"] > before["requests"]:  # the hung-up request has been counted
            break
        time.sleep(0.05)
    assert after["failed"] == before["failed"] and after["rejected"] == before["rejected"] + 1
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
