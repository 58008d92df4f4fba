"""Every HTTP server's limits: malformed bodies are counted 4xx JSON replies, slow clients are cut off,
connections and large requests are capped, and the schema pages follow the token rule."""

import json
import socket
import struct
import threading
import time

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.exceptions import ConfigError
from sedna_lib.servers import ServerLimits
from sedna_lib.servers.inference import InferenceServer
from sedna_lib.servers.multi_edge import FEServer
from sedna_lib.transport import codec

pytestmark = pytest.mark.integration

QUICK = ServerLimits(header_timeout=0.5, body_timeout=0.5, keep_alive=1)


class Doubler:
    def predict(self, data):
        return (np.asarray(data, dtype=float) * 2).tolist()


@pytest.fixture
def server():
    with InferenceServer(Doubler(), "svc", http_port=0, max_buffer_size=1 << 20, limits=QUICK) as srv:
        yield srv


def _health(srv):
    return requests.get(srv.url + "/healthz", timeout=5).json()


def _raw(srv, data=b"", timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    if data:
        sock.sendall(data)
    return sock


def _closed_within(sock, seconds):
    """Wait for the server to close ``sock``; return the seconds it took (None: still open)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return time.monotonic() - start


def _read_reply(sock):
    """Read one whole HTTP reply (head and Content-Length body) from ``sock``, then close it."""
    sock.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536) or b"\r\n\r\n"
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), b"0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    finally:
        sock.close()
    return head + b"\r\n\r\n" + body


# -- #9: malformed bodies are 400/422 JSON replies the health counters see ---------------------------
def test_deeply_nested_json_is_a_counted_400_json_reply(server):
    body = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    reply = requests.post(server.url + "/svc/predict", data=body,
                          headers={"Content-Type": "application/json"}, timeout=10)

    assert reply.status_code == 400 and reply.headers["content-type"].startswith("application/json")
    assert "nested too deeply" in reply.json()["detail"]
    assert _health(server)["rejected"] == 1 and _health(server)["failed"] == 0


def _message(header):
    raw = json.dumps(header).encode()
    head = struct.pack("<4sB3xI", b"SDNA", 1, len(raw)) + raw
    return head + bytes(codec.pad(len(head)))


@pytest.mark.parametrize("body", [
    _message({"meta": {}, "arrays": [{"dtype": "<f4", "shape": [2**32, 2**32], "offset": 0}]}),
    _message({"meta": {}, "arrays": [{"dtype": "S0", "shape": [1000], "offset": 0}]}),
    _message({"meta": {}, "arrays": [{"dtype": "<f4", "shape": [0, 2**62], "offset": 0}]}),
    struct.pack("<4sB3xI", b"SDNA", 1, 400_000) + b"[" * 200_000 + b"]" * 200_000,
], ids=["overflowing-shape", "zero-itemsize", "huge-empty", "nested-header"])
def test_malformed_binary_bodies_are_counted_400_json_replies(server, body):
    reply = requests.post(server.url + "/svc/predict", data=body,
                          headers={"Content-Type": codec.MEDIA_TYPE}, timeout=10)

    assert reply.status_code == 400 and "malformed binary body" in reply.json()["detail"]
    health = _health(server)
    assert (health["requests"], health["rejected"], health["failed"]) == (1, 1, 0)


def test_unknown_routes_and_methods_are_counted_json_replies(server):
    missing = requests.get(server.url + "/nowhere", timeout=5)
    wrong = requests.delete(server.url + "/svc/predict", timeout=5)

    assert missing.status_code == 404 and "detail" in missing.json()
    assert wrong.status_code == 405 and "detail" in wrong.json()
    assert _health(server)["rejected"] == 2


def test_a_feature_extractor_that_cannot_read_the_objects_sent_answers_422():
    class FE:
        def get_target_features(self, targets):
            return [t.targets for t in targets]  # ints have no .targets: an AttributeError

    from sedna_lib.transport.objects import dumps

    with FEServer(FE(), "feature_extraction", port=0, limits=QUICK) as fe:
        reply = requests.post(fe.url + "/feature_extraction/get_target_features", data=dumps([1, 2]),
                              timeout=5)
        health = requests.get(fe.url + "/healthz", timeout=5).json()

    assert reply.status_code == 422 and "AttributeError" in reply.json()["detail"]
    assert health["rejected"] == 1 and health["failed"] == 0


# -- #11: header and body read timeouts, connection cap ----------------------------------------------
def test_a_silent_connection_is_closed_after_the_header_timeout(server):
    took = _closed_within(_raw(server), 5)

    assert took is not None and took < 3


def test_a_request_head_trickled_byte_by_byte_is_cut_off(server):
    sock = _raw(server)
    start = time.monotonic()
    closed = False
    for byte in b"POST /svc/predict HTTP/1.1\r\nHost: x\r\n":
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        time.sleep(0.05)
        if time.monotonic() - start > 4:
            break
    took = None if closed else _closed_within(sock, 3)

    assert closed or took is not None
    assert time.monotonic() - start < 4


def test_an_idle_keep_alive_connection_is_closed(server):
    sock = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    assert b"200 OK" in sock.recv(65536)

    assert _closed_within(sock, 5) is not None


def test_a_stalled_body_gets_408_and_the_server_keeps_serving(server):
    sock = _raw(server, b"POST /svc/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100\r\n\r\n{\"data\"")
    reply = _read_reply(sock)

    assert reply.startswith(b"HTTP/1.1 408") and b"SEDNA_HTTP_BODY_TIMEOUT" in reply
    assert _health(server)["rejected"] == 1


def test_connections_beyond_the_cap_get_503_and_serving_resumes():
    limits = ServerLimits(max_connections=2, header_timeout=30)
    with InferenceServer(Doubler(), "svc", http_port=0, limits=limits) as srv:
        idle = [_raw(srv) for _ in range(2)]
        try:
            over = requests.get(srv.url + "/healthz", timeout=5)
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 5
        while (after := requests.get(srv.url + "/healthz", timeout=5)).status_code == 503:
            assert time.monotonic() < deadline

    assert over.status_code == 503
    assert after.status_code == 200


# -- #10: large requests are capped; the loop keeps answering ---------------------------------------
def test_large_requests_beyond_the_cap_wait_then_get_503_while_healthz_answers():
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def predict(self, data):
            entered.set()
            release.wait(10)
            return [len(data)]

    limits = ServerLimits(large_request_bytes=1024, max_large_requests=1, body_timeout=0.5)
    big = json.dumps({"data": list(range(2000))}).encode()
    with InferenceServer(Slow(), "svc", http_port=0, limits=limits) as srv:
        first = {}
        worker = threading.Thread(target=lambda: first.update(reply=requests.post(
            srv.url + "/svc/predict", data=big, headers={"Content-Type": "application/json"}, timeout=10)))
        worker.start()
        assert entered.wait(5)
        try:
            second = requests.post(srv.url + "/svc/predict", data=big,
                                   headers={"Content-Type": "application/json"}, timeout=10)
            health = requests.get(srv.url + "/healthz", timeout=2)
        finally:
            release.set()
            worker.join(10)
        third = requests.post(srv.url + "/svc/predict", data=big,
                              headers={"Content-Type": "application/json"}, timeout=10)

    assert second.status_code == 503 and "SEDNA_HTTP_MAX_LARGE_REQUESTS" in second.json()["detail"]
    assert health.status_code == 200
    assert first["reply"].status_code == 200 and third.status_code == 200


# -- configuration -----------------------------------------------------------------------------------
def test_limits_come_from_the_config():
    cfg = Config(max_request_bytes=1000, http_header_timeout=2.5, http_body_timeout=7.0, http_keep_alive=3.0,
                 http_max_connections=9, http_large_request_bytes=100, http_max_large_requests=2)

    limits = ServerLimits.from_config(cfg)

    assert limits == ServerLimits(max_request_bytes=1000, header_timeout=2.5, body_timeout=7.0,
                                  keep_alive=3.0, max_connections=9, large_request_bytes=100,
                                  max_large_requests=2)


@pytest.mark.parametrize("field, variable", [("http_header_timeout", "SEDNA_HTTP_HEADER_TIMEOUT"),
                                             ("http_max_connections", "SEDNA_HTTP_MAX_CONNECTIONS")])
def test_a_limit_that_is_not_positive_is_a_config_error_naming_the_variable(field, variable):
    with pytest.raises(ConfigError, match=variable):
        ServerLimits.from_config(Config(**{field: 0}))


# -- the aggregation server's HTTP side ----------------------------------------------------------------
@pytest.mark.parametrize("body", [b'{"client_id": []}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe",
                                  b'{"client_id": "x"}' + b" " * (128 * 1024)],
                         ids=["unhashable-id", "nested", "not-utf8", "too-big"])
def test_aggregation_client_queries_that_name_no_client_are_counted_4xx_json(body):
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    with AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config())) as server:
        base = server.url.replace("ws", "http", 1)
        reply = requests.get(base, data=body, timeout=10)
        listing = requests.get(base, timeout=5)

    assert reply.status_code in (400, 413) and "detail" in reply.json()
    assert listing.status_code == 200 and listing.json()["clients"] == []
    assert server.http_stats_.as_dict()["rejected"] == 1


# -- large JSON bodies are parsed without holding up the other threads ---------------------------------
def _large_json():
    rng = np.random.default_rng(0)
    return json.dumps({"data": rng.random((3000, 400)).round(6).tolist(), "ids": list(range(50_000)),
                       "nested": [{"a": [1.5, -2, 3e-7]}] * 10, "nan": float("nan")}).encode()


def test_a_large_json_body_parses_to_what_json_loads_gives():
    from sedna_lib.servers._app import parse_json

    body = _large_json()
    parsed, plain = parse_json(body), json.loads(body)

    assert len(body) > 1 << 20
    assert parsed["data"] == plain["data"] and parsed["ids"] == plain["ids"]
    assert parsed["nested"] == plain["nested"] and np.isnan(parsed["nan"])
    assert all(type(v) is int for v in parsed["ids"][:100]) and type(parsed["data"][0][0]) is float


def _longest_wait_while(parse, body):
    """Run ``parse(body)`` in a thread; return (longest this thread waited for a turn, whole parse time)."""
    finished = threading.Event()
    worker = threading.Thread(target=lambda: (parse(body), finished.set()))
    start = last = time.perf_counter()
    worker.start()
    longest = 0.0
    while not finished.is_set():  # each turn needs the interpreter lock the parser holds
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
        time.sleep(0)
    worker.join()
    return longest, time.perf_counter() - start


def test_other_threads_keep_running_while_a_large_json_body_is_parsed():
    from sedna_lib.servers._app import parse_json

    longest, whole = _longest_wait_while(parse_json, _large_json())

    assert longest < whole / 3, (longest, whole)


def test_the_knowledge_base_cuts_off_a_silent_connection_too(tmp_path):
    from sedna_lib.servers.knowledge_base import KBServer

    kb = KBServer("127.0.0.1", 0, save_dir=str(tmp_path), db_url="sqlite:///kb.sqlite3", limits=QUICK)
    threaded = kb.run_in_thread()
    try:
        sock = socket.create_connection(("127.0.0.1", threaded.port), timeout=5)
        took = _closed_within(sock, 5)
    finally:
        threaded.stop()

    assert took is not None and took < 3


@pytest.fixture
def kb_server(tmp_path):
    from sedna_lib.servers.knowledge_base import KBServer

    limits = QUICK.replace(large_request_bytes=1024, max_large_requests=1)
    kb = KBServer("127.0.0.1", 0, save_dir=str(tmp_path), db_url="sqlite:///kb.sqlite3", max_bytes=64 * 1024,
                  limits=limits)
    threaded = kb.run_in_thread()
    try:
        yield threaded
    finally:
        threaded.stop()


def _kb_upload(srv, data, name="m.bin"):
    return requests.post(srv.url + "/knowledgebase/file/upload", files={"file": (name, data)}, timeout=10)


@pytest.mark.parametrize("path", ["/knowledgebase/file/upload", "/knowledgebase/update",
                                  "/knowledgebase/update/status"])
def test_the_knowledge_base_answers_a_stalled_body_with_408_and_keeps_serving(kb_server, path):
    sock = _raw(kb_server, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 100\r\n\r\n{\"st".encode())
    started = time.monotonic()
    reply = _read_reply(sock)

    assert reply.startswith(b"HTTP/1.1 408") and b"SEDNA_HTTP_BODY_TIMEOUT" in reply
    assert time.monotonic() - started < 5
    assert _kb_upload(kb_server, b"after").status_code == 200


def test_the_knowledge_base_refuses_a_streamed_oversize_body_with_413_and_keeps_serving(kb_server):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    reply = requests.post(kb_server.url + "/knowledgebase/update/status", data=chunks(), timeout=10)

    assert reply.status_code == 413 and "SEDNA_MAX_REQUEST_BYTES" in reply.json()["detail"]
    assert _kb_upload(kb_server, b"after").status_code == 200


def test_the_knowledge_base_frees_its_large_request_slot_after_each_request(kb_server):
    big = b"w" * 4096  # large (>= 1024 bytes) with one slot: a slot that leaked would make the second 503

    replies = [_kb_upload(kb_server, big, name=f"m{i}.bin").status_code for i in range(3)]
    bad = requests.post(kb_server.url + "/knowledgebase/update/status", data=b"[" + b" " * 4096 + b"]",
                        timeout=10)
    after = _kb_upload(kb_server, big, name="last.bin")

    assert replies == [200, 200, 200] and bad.status_code == 400
    assert after.status_code == 200
