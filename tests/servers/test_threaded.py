import socket
import threading

import pytest
import requests

pytest.importorskip("fastapi")
from fastapi import FastAPI  # noqa: E402

from sedna_lib.exceptions import TransportError  # noqa: E402
from sedna_lib.servers._threaded import ThreadedServer  # noqa: E402

pytestmark = pytest.mark.integration


def _app():
    app = FastAPI()

    @app.get("/ping")
    def ping():
        return {"pong": True}

    return app


def test_port_zero_binds_a_free_port_and_stop_releases_it():
    server = ThreadedServer(_app()).start()
    try:
        assert server.port > 0 and server.is_running
        assert requests.get(server.url + "/ping", timeout=5).json() == {"pong": True}
    finally:
        server.stop()
    assert not server.is_running
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/ping", timeout=2)


def test_context_manager_and_url_for_wildcard_host():
    with ThreadedServer(_app(), host="0.0.0.0") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(server.url + "/ping", timeout=5).ok


def test_taken_port_raises_transport_error_naming_the_address_and_why():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(TransportError, match="failed to start") as caught:
            ThreadedServer(_app(), port=port).start()

    assert f"127.0.0.1:{port}: address already in use" in str(caught.value)
    assert "choose another port" in str(caught.value)


def _in_flight(url: str, path: str) -> tuple[threading.Thread, dict]:
    reply: dict = {}

    def call():
        answer = requests.post(url + path, json={"data": [1]}, timeout=60)
        reply.update(status=answer.status_code, type=answer.headers.get("content-type"), body=answer.json())

    thread = threading.Thread(target=call)
    thread.start()
    return thread, reply


def test_a_request_still_in_the_model_when_the_server_stops_is_a_counted_json_503():
    from prometheus_client import generate_latest

    from sedna_lib.servers.inference import InferenceServer

    entered, release = threading.Event(), threading.Event()

    class Slow:
        def predict(self, data, **kwargs):
            entered.set()
            release.wait(60)
            return [1]

    service = InferenceServer(Slow(), "svc")
    server = ThreadedServer(service.create_app()).start()
    thread, reply = _in_flight(server.url, "/svc/predict")
    try:
        assert entered.wait(30)
        server.stop(timeout=0.2)  # gives up on the request in the model
        thread.join(30)
    finally:
        release.set()

    assert reply["status"] == 503 and reply["type"] == "application/json"
    assert "the server is stopping" in reply["body"]["detail"]
    assert service.stats.as_dict() == {"requests": 1, "rejected": 0, "failed": 1}
    scraped = generate_latest(service.status_.metrics.registry).decode()
    assert 'sedna_http_requests_total{method="POST",route="/svc/predict",status="503"} 1.0' in scraped


def test_a_request_awaiting_in_the_app_when_the_server_stops_is_a_json_503_too():
    from sedna_lib.servers._app import RequestStats

    app, entered = FastAPI(), threading.Event()
    app.state.stats = RequestStats()

    @app.post("/wait")
    async def wait_for_ever():
        import asyncio

        entered.set()
        await asyncio.Event().wait()

    server = ThreadedServer(app).start()
    thread, reply = _in_flight(server.url, "/wait")
    assert entered.wait(30)
    server.stop(timeout=0.2)
    thread.join(30)

    assert reply["status"] == 503 and reply["type"] == "application/json"
    assert "the server is stopping" in reply["body"]["detail"]
    assert app.state.stats.as_dict() == {"requests": 1, "rejected": 0, "failed": 1}
