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


def _counted_app():
    """An app with the status routes and request metrics; its routes say when a request is in them."""
    import asyncio

    from fastapi import Request

    from sedna_lib.observability.status import StatusSite
    from sedna_lib.servers._app import RequestStats
    from sedna_lib.servers._status import mount_status

    app, entered = FastAPI(), threading.Event()
    app.state.stats = RequestStats()

    @app.post("/wait")
    async def wait_for_ever():
        entered.set()
        await asyncio.Event().wait()

    @app.post("/upload")
    async def upload(request: Request):
        entered.set()
        return {"size": len(await request.body())}

    site = StatusSite("probe")
    mount_status(app, site)
    return app, site, entered


def _counted(site, path):
    from prometheus_client import generate_latest

    scraped = generate_latest(site.metrics.registry).decode()
    return [line for line in scraped.splitlines()
            if line.startswith("sedna_http_requests_total{") and f'route="{path}"' in line]


def test_a_request_cancelled_in_the_app_by_the_stop_is_counted_under_the_503_it_was_answered():
    app, site, entered = _counted_app()
    server = ThreadedServer(app).start()
    thread, reply = _in_flight(server.url, "/wait")
    assert entered.wait(30)
    server.stop(timeout=0.2)
    thread.join(30)

    assert reply["status"] == 503
    assert _counted(site, "/wait") == [
        'sedna_http_requests_total{method="POST",route="/wait",status="503"} 1.0']


def test_a_request_whose_body_is_still_arriving_when_the_server_stops_is_counted_as_a_503():
    import json

    app, site, entered = _counted_app()
    server = ThreadedServer(app).start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n[1, 2")  # 995 bytes of the body never come
        assert entered.wait(30)
        server.stop(timeout=0.2)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"application/json" in head
    assert "the server is stopping" in json.loads(body)["detail"]
    assert _counted(site, "/upload") == [
        'sedna_http_requests_total{method="POST",route="/upload",status="503"} 1.0']
    assert app.state.stats.as_dict() == {"requests": 1, "rejected": 0, "failed": 1}


class _Model:
    def predict(self, data, **kwargs):
        return [1]


def _inference_app():
    from sedna_lib.servers.inference import InferenceServer

    service = InferenceServer(_Model(), "svc")
    return service, service.create_app(), "/svc/predict"


def _multi_edge_app():
    from sedna_lib.servers.multi_edge import DetectionServer

    service = DetectionServer(_Model(), "svc")
    return service, service.build_app(), "/svc/video_analytics"


@pytest.mark.parametrize("build", [_inference_app, _multi_edge_app], ids=["inference", "multi-edge"])
def test_a_server_request_whose_body_is_still_arriving_at_the_stop_is_a_counted_503(build):
    import json

    service, app, path = build()
    server = ThreadedServer(app).start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 1000\r\n\r\n{{\"data\": [1".encode())
        in_app = threading.Event()
        while not server._server.server_state.tasks:  # the request's head is read: it runs in the app
            in_app.wait(0.01)
        server.stop(timeout=0.2)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and "the server is stopping" in json.loads(body)["detail"]
    assert service.stats.as_dict() == {"requests": 1, "rejected": 0, "failed": 1}
    assert _counted(service.status_, path) == [
        f'sedna_http_requests_total{{method="POST",route="{path}",status="503"}} 1.0']


def test_a_server_whose_loop_is_held_past_the_stop_timeout_is_still_running_and_a_later_stop_ends_it(caplog):
    app, entered, release = FastAPI(), threading.Event(), threading.Event()

    @app.post("/hold")
    async def hold():  # holds the event loop itself: nothing can end the server until it returns
        entered.set()
        release.wait(60)
        return {}

    server = ThreadedServer(app).start()
    thread, reply = _in_flight(server.url, "/hold")
    try:
        assert entered.wait(30)
        with caplog.at_level("WARNING", logger="sedna_lib.servers._threaded"):
            server.stop(timeout=0.2)
        assert server.is_running
        assert f"the server on {server.url} did not stop within 0.2 s" in caplog.text
    finally:
        release.set()
    server.stop()
    thread.join(30)

    assert not server.is_running
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/ping", timeout=2)


def test_stop_from_many_threads_at_once_ends_the_server_once_and_it_says_so_once(caplog):
    from sedna_lib.servers.inference import InferenceServer

    server = InferenceServer(lambda data: data, "s", http_port=0).start(block=False)
    barrier, results = threading.Barrier(6), []

    def stop():
        barrier.wait()
        results.append(server._server.stop())

    with caplog.at_level("INFO", logger="sedna_lib.servers.inference"):
        threads = [threading.Thread(target=stop) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        server.stop()  # and the server's own stop after them: nothing left to say
    assert sorted(results) == [False] * 5 + [True]  # one call ended it
    assert not server._server.is_running


@pytest.mark.parametrize("kind", ["inference", "aggregation"])
def test_a_server_stopped_from_many_threads_at_once_says_stopped_once(kind, caplog):
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer
    from sedna_lib.servers.inference import InferenceServer

    if kind == "inference":
        server = InferenceServer(lambda data: data, "s", http_port=0).start(block=False)
    else:
        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config()))
        server.start(block=False)
    barrier = threading.Barrier(6)

    def stop():
        barrier.wait()
        server.stop()

    with caplog.at_level("INFO", logger=f"sedna_lib.servers.{kind}"):
        threads = [threading.Thread(target=stop) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    said = [r.getMessage() for r in caplog.records if r.name == f"sedna_lib.servers.{kind}"]
    assert sum("stopped" in m for m in said) == 1
