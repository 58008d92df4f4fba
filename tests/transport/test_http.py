import gc
import socket
import threading
import time

import numpy as np
import pytest

from sedna_lib.exceptions import DataError, ProtocolError, RemoteError, TransportError, TransportTimeout
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.inference import InferenceServer
from sedna_lib.transport.http import CircuitBreaker, InferenceClient

pytestmark = pytest.mark.integration


def sedna_style_app():
    """A cloud worker shaped like Sedna's: pydantic body with a list `data`, served at /sedna only."""
    from typing import List, Optional

    from fastapi import FastAPI
    from pydantic import BaseModel

    class InferenceItem(BaseModel):
        data: List
        callback: Optional[str] = None

    app = FastAPI()

    @app.post("/sedna/predict")
    def predict(item: InferenceItem):
        return {"result": [sum(map(sum, item.data))]}

    return app


def port_echo_app():
    """Answers each predict with the client's source port: one port per kept-alive connection."""
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.post("/s/predict")
    async def predict(request: Request):
        return {"result": [request.client.port]}

    @app.post("/no-result/predict")
    async def no_result():
        return {"answer": 1}

    return app


@pytest.fixture(scope="module")
def port_echo_server():
    with ThreadedServer(port_echo_app()) as srv:
        yield srv


@pytest.fixture(scope="module")
def sedna_server():
    with ThreadedServer(sedna_style_app()) as srv:
        yield srv


def test_a_sedna_lib_edge_talks_to_an_original_sedna_cloud(sedna_server):
    client = InferenceClient(sedna_server.url, service_name="ji-svc", timeout=5)
    assert client.predict(np.ones((2, 2), dtype="float32")) == [4.0]  # 404 -> /sedna, 422 -> JSON
    assert client.endpoint.endswith("/sedna") and client._binary_ok is False
    assert client.inference(np.ones((1, 3)))["result"] == [3.0]


def test_sedna_lib_peers_use_the_binary_codec():
    with InferenceServer(lambda x: np.asarray(x) + 1, "s", http_port=0) as srv:
        client = InferenceClient(srv.url, service_name="s")
        result = client.predict(np.zeros((2, 3), dtype="float32"))
    assert isinstance(result, np.ndarray) and result.dtype == np.float32 and result.shape == (2, 3)


def test_refused_connection_opens_the_breaker_and_later_calls_fail_fast(closed_port):
    client = InferenceClient(f"http://127.0.0.1:{closed_port}", max_retries=1, backoff=0.01, reset_timeout=60)
    with pytest.raises(TransportError, match="cannot connect"):
        client.predict([1])
    started = time.perf_counter()
    with pytest.raises(TransportError, match="circuit open"):
        client.predict([1])
    assert time.perf_counter() - started < 0.05 and client.breaker.state == "open"


def test_a_silent_peer_costs_one_read_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        client = InferenceClient(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=(1.0, 0.3))
        started = time.perf_counter()
        with pytest.raises(TransportTimeout, match="no answer within 0.3 s"):
            client.predict([1])
        assert time.perf_counter() - started < 1.0
        with pytest.raises(TransportError, match="circuit open"):
            client.predict([1])
    finally:
        listener.close()


def serve_dripping_reply(listener, stop):
    """Answer one request with a 200 whose 400-byte body comes one byte every 50 ms (20 s in all)."""
    conn, _ = listener.accept()
    with conn:
        conn.recv(65536)
        body = b'{"result": [1]}'.ljust(400)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n")
        for i in range(len(body)):
            if stop.wait(0.05):  # the pace of the drip, not a synchronisation
                return
            try:
                conn.sendall(body[i:i + 1])
            except OSError:  # the client gave up and closed the connection
                return


def test_a_dripping_peer_costs_one_overall_timeout_not_one_per_read():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()
    server = threading.Thread(target=serve_dripping_reply, args=(listener, stop), daemon=True)
    server.start()
    try:
        client = InferenceClient(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=(0.2, 0.3))
        started = time.perf_counter()
        with pytest.raises(TransportTimeout, match="not complete within 0.5 s"):
            client.predict([1])
        elapsed = time.perf_counter() - started
        with pytest.raises(TransportError, match="circuit open"):
            client.predict([1])
    finally:
        stop.set()
        server.join(5)
        listener.close()
    assert elapsed < 1.5  # each byte came within the 0.3 s read timeout; the whole reply would take 20 s


def test_error_status_is_a_remote_error_with_the_code():
    with InferenceServer(lambda x: x, "s", http_port=0, token="t") as srv:
        with pytest.raises(RemoteError, match="401") as info:
            InferenceClient(srv.url, service_name="s").predict([1])
        assert info.value.status_code == 401
        assert InferenceClient(srv.url, service_name="s", auth_token="t").predict([1]) == [1]


def test_breaker_half_opens_after_the_pause_and_closes_on_success():
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=1.0, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 1.5
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    assert breaker.record_success() and breaker.state == "closed"


def test_a_trial_call_that_fails_on_its_own_data_gives_the_trial_back(closed_port):
    # an unsendable sample tells nothing of the peer: neither a failure (the peer is not to blame) nor a
    # success; the half-open trial it claimed used to stay claimed, and the breaker refused every call after
    client = InferenceClient(f"http://127.0.0.1:{closed_port}", service_name="s", max_retries=0)
    client.breaker.reset_timeout = 0.0
    with pytest.raises(TransportError):
        client.predict([1])  # the peer is away: the breaker opens
    assert client.breaker.state == "open"
    with pytest.raises(DataError, match="cannot be sent"):
        client.predict({"x": {1, 2}})  # the trial: a set has no JSON form
    assert client.breaker.state == "open" and client.breaker.allow()  # the trial is free again


def test_each_thread_sends_on_its_own_kept_alive_connection(port_echo_server):
    client = InferenceClient(port_echo_server.url, service_name="s")
    first, again = client.predict([0]), client.predict([0])
    other = []
    worker = threading.Thread(target=lambda: other.extend([client.predict([0]), client.predict([0])]))
    worker.start()
    worker.join(10)

    client.close()
    after_close = client.predict([0])
    client.close()

    assert first == again  # keep-alive: a thread reuses its connection
    assert other[0] == other[1] != first  # another thread has a session of its own
    assert after_close != first  # close() dropped the connections


def test_a_finished_threads_session_is_released(port_echo_server):
    client = InferenceClient(port_echo_server.url, service_name="s")
    client.predict([0])
    worker = threading.Thread(target=client.predict, args=([0],))
    worker.start()
    worker.join(10)

    gc.collect()

    assert len(client._sessions) == 1  # only the calling thread's
    client.close()


def test_route_list_and_health_are_read_through_the_client():
    with InferenceServer(lambda x: x, "s", http_port=0) as srv:
        client = InferenceClient(srv.url, service_name="s")
        infos, health = client.check_server_status(), client.health()
        client.close()

    assert {"path": "/s/predict", "name": "method"} in infos["infos"]
    assert health["status"] == "ok" and health["service"] == "s"


def test_a_reply_without_a_result_is_a_protocol_error(port_echo_server):
    client = InferenceClient(port_echo_server.url, service_name="no-result", fallback_service=None)

    with pytest.raises(ProtocolError, match="reply has no 'result' field"):
        client.predict([0])
    client.close()
