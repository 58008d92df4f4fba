"""The worker status port at its connection limit: a client that sends a request gets the 503."""

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


@pytest.mark.parametrize("size", [0, 4 << 20], ids=["head-only", "large-body"])
def test_a_request_sent_while_the_status_port_is_at_its_limit_gets_the_503_not_a_reset(size):
    with StatusServer(StatusSite("edge"), read_timeout=2.0, max_connections=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as held:  # takes the slot
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as probe:
                # the whole request is sent (a body the server never wanted included) before the
                # answer is read, as an HTTP client does
                probe.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
                              + b"x" * size)
                answer = _read_all(probe)
                time.sleep(0.02)
                # a reset that came after the reply (its request closed unread) is left pending here
                pending = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            held.close()

    assert answer.startswith(b"HTTP/1.0 503 ") and b"1 connections at a time" in answer
    assert pending == 0, errno.errorcode.get(pending, pending)


def test_a_refused_connection_is_read_a_little_then_closed_by_the_server(monkeypatch):
    from sedna_lib.observability import status

    monkeypatch.setattr(status, "_DRAIN_SECONDS", 0.3)
    with StatusServer(StatusSite("edge"), read_timeout=5.0, max_connections=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as held:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as probe:
                answer = _read_all(probe)  # the reply ends at once; the client goes on sending
                started, closed = time.monotonic(), False
                while not closed and time.monotonic() - started < 5:
                    try:
                        probe.send(b"x")  # read and dropped; once the server has closed, reset
                    except OSError:
                        closed = True
                    time.sleep(0.01)
                waited = time.monotonic() - started
            held.close()

    assert answer.startswith(b"HTTP/1.0 503 ")
    assert closed and 0.15 < waited < 1.0
