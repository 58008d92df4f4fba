"""A server's app run by plain uvicorn (no ThreadedServer around it): a request cut off by uvicorn's
shutdown is answered and counted as the JSON 503 a stopping ThreadedServer gives, never a 500."""

import json
import socket
import threading

import pytest
import requests

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

pytestmark = pytest.mark.integration


class _Serving:
    """``uvicorn.Server`` on 127.0.0.1, a free port, in a thread of its own."""

    def __init__(self, app, **config):
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off",
                                access_log=False, **config)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        pause = threading.Event()
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn did not start"
            pause.wait(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def in_app(self):
        """Wait until a request is running in the app."""
        pause = threading.Event()
        for _ in range(3000):
            if self.server.server_state.tasks:
                return
            pause.wait(0.01)
        raise AssertionError("no request reached the app")

    def stop(self, how):
        """Shut uvicorn down as a user does: Ctrl-C with a graceful timeout, or a second Ctrl-C."""
        self.server.should_exit = True
        if how == "force-exit":
            self.server.force_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def _inference(release):
    from sedna_lib.servers.inference import InferenceServer

    class Slow:
        def predict(self, data, **kwargs):
            release.wait(30)
            return [1]

    service = InferenceServer(Slow(), "svc")
    return service, service.create_app()


def _counted(service, path):
    from prometheus_client import generate_latest

    scraped = generate_latest(service.status_.metrics.registry).decode()
    return [line for line in scraped.splitlines()
            if line.startswith("sedna_http_requests_total{") and f'route="{path}"' in line]


# graceful-timeout: uvicorn cancels the requests still running once timeout_graceful_shutdown is over;
# force-exit: uvicorn returns at once and the requests' tasks are cancelled as its event loop ends
STOPS = {"graceful-timeout": {"timeout_graceful_shutdown": 0.1}, "force-exit": {}}


@pytest.mark.parametrize("how", list(STOPS))
def test_a_request_in_the_model_when_uvicorn_shuts_down_is_a_counted_json_503(how):
    release = threading.Event()
    service, app = _inference(release)
    serving = _Serving(app, **STOPS[how])
    reply = {}

    def call():
        answer = requests.post(serving.url + "/svc/predict", json={"data": [1]}, timeout=30)
        reply.update(status=answer.status_code, type=answer.headers.get("content-type"), body=answer.text)

    client = threading.Thread(target=call)
    client.start()
    try:
        serving.in_app()
        serving.stop(how)
        client.join(30)
    finally:
        release.set()

    assert reply["status"] == 503 and reply["type"] == "application/json"
    assert "the server is stopping" in json.loads(reply["body"])["detail"]
    assert service.stats.as_dict() == {"requests": 1, "rejected": 0, "failed": 1}
    assert _counted(service, "/svc/predict") == [
        'sedna_http_requests_total{method="POST",route="/svc/predict",status="503"} 1.0']


@pytest.mark.parametrize("how", list(STOPS))
def test_a_request_whose_body_is_still_arriving_when_uvicorn_shuts_down_is_a_counted_json_503(how):
    service, app = _inference(threading.Event())
    serving = _Serving(app, **STOPS[how])
    with socket.create_connection(("127.0.0.1", serving.port), timeout=30) as sock:
        sock.sendall(b"POST /svc/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"data\": [1")  # the rest of the body never comes
        serving.in_app()
        serving.stop(how)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"application/json" in head
    assert "the server is stopping" in json.loads(body)["detail"]
    assert service.stats.as_dict() == {"requests": 1, "rejected": 0, "failed": 1}
    assert _counted(service, "/svc/predict") == [
        'sedna_http_requests_total{method="POST",route="/svc/predict",status="503"} 1.0']


@pytest.mark.skipif(not hasattr(__import__("asyncio").Task, "cancelling"), reason="Task.cancelling: 3.11+")
def test_a_cancelled_await_of_the_app_itself_is_a_counted_500_not_a_stop():
    import asyncio

    from fastapi import FastAPI

    from sedna_lib.observability.status import StatusSite
    from sedna_lib.servers._status import mount_status

    app, site = FastAPI(), StatusSite("probe")

    @app.get("/broken")
    async def broken():
        future = asyncio.get_running_loop().create_future()
        future.cancel()  # the app's own doing: its task goes on, the server is not stopping
        await future

    mount_status(app, site)
    serving = _Serving(app)
    try:
        answer = requests.get(serving.url + "/broken", timeout=30)
    finally:
        serving.stop("force-exit")

    from prometheus_client import generate_latest

    scraped = generate_latest(site.metrics.registry).decode()
    assert answer.status_code == 500
    assert 'sedna_http_requests_total{method="GET",route="/broken",status="500"} 1.0' in scraped
