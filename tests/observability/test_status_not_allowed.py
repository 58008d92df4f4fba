"""The worker status port answers a method it does not serve 405, even to a client sending a large body."""

import errno
import socket
import time

import pytest

from sedna_lib.observability.status import StatusServer, StatusSite

pytestmark = pytest.mark.integration


def _read_all(sock):
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


@pytest.fixture(scope="module")
def server():
    with StatusServer(StatusSite("edge"), read_timeout=2.0) as running:
        yield running


@pytest.mark.parametrize(("method", "size"), [("POST", 0), ("POST", 2 << 20), ("PUT", 8 << 20)],
                         ids=["POST-no-body", "POST-2MB", "PUT-8MB"])
def test_a_method_not_allowed_gets_the_405_not_a_reset(server, method, size):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as probe:
        # the whole request is sent (the body the server does not want included) before the answer is
        # read, as an HTTP client does
        head = b"%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (method.encode(), size)
        probe.sendall(head + b"x" * size)
        answer = _read_all(probe)
        time.sleep(0.02)
        # a reset that came after the reply (the request closed unread) is left pending here
        pending = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)

    assert answer.startswith(b"HTTP/1.0 405 ") and b"\r\nAllow: GET, HEAD\r\n" in answer
    assert answer.endswith(b'this port answers GET, HEAD (/, /metrics, /healthz, /readyz)"}')
    assert pending == 0, errno.errorcode.get(pending, pending)


def test_a_client_that_keeps_sending_after_its_405_is_closed_by_the_server(monkeypatch):
    from sedna_lib.observability import status

    monkeypatch.setattr(status, "_DRAIN_SECONDS", 0.3)
    with StatusServer(StatusSite("edge"), read_timeout=5.0) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as probe:
            probe.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
            answer = _read_all(probe)  # the reply ends at once; the client goes on sending
            started, closed = time.monotonic(), False
            while not closed and time.monotonic() - started < 5:
                try:
                    probe.send(b"x")  # read and dropped; once the server has closed, reset
                except OSError:
                    closed = True
                time.sleep(0.01)
            waited = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.0 405 ")
    assert closed and 0.15 < waited < 1.0
