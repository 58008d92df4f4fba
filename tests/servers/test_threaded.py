import socket

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


def test_taken_port_raises_transport_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(TransportError, match="failed to start"):
            ThreadedServer(_app(), port=port).start()
