"""Metrics catalogue, the health contract and the status page, on real servers on 127.0.0.1."""

from __future__ import annotations

import json
import re

import pytest
import requests

from sedna_lib.exceptions import ParameterError, TransportError
from sedna_lib.observability.health import Health
from sedna_lib.observability.metrics import CATALOGUE, Metrics
from sedna_lib.observability.status import StatusServer, StatusSite


def scrape(url: str) -> dict[str, float]:
    """Return every sample of a /metrics page as ``{'name{labels}': value}``."""
    reply = requests.get(url + "/metrics", timeout=5)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in reply.text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


# -- the catalogue -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", CATALOGUE.values(), ids=list(CATALOGUE))
def test_metric_names_follow_prometheus_conventions(spec):
    assert re.fullmatch(r"sedna_[a-z][a-z0-9_]*", spec.name)
    assert spec.kind in ("counter", "gauge", "histogram")
    assert spec.name.endswith("_total") == (spec.kind == "counter")
    if "duration" in spec.name or "time" in spec.name:
        assert spec.name.endswith("_seconds")
    if "bytes" in spec.name:
        assert spec.name.endswith(("_bytes", "_bytes_total"))
    assert spec.help.endswith(".") and spec.exported_by
    assert "le" not in spec.labels and "quantile" not in spec.labels


def test_unknown_or_mistyped_metric_is_a_parameter_error():
    metrics = Metrics(service="t")

    with pytest.raises(ParameterError, match="unknown metric 'sedna_nope_total'; declare it in"):
        metrics.counter("sedna_nope_total")
    with pytest.raises(ParameterError, match="'sedna_fl_round' is a gauge, not a counter"):
        metrics.counter("sedna_fl_round")


def test_two_servers_in_one_process_keep_their_own_numbers():
    a, b = Metrics(service="a"), Metrics(service="b")
    a.counter("sedna_fl_rounds_total").inc(3)

    assert a.value("sedna_fl_rounds_total") == 3
    assert b.value("sedna_fl_rounds_total") is None
    assert a.counter("sedna_fl_rounds_total") is a.counter("sedna_fl_rounds_total")


# -- the health contract -------------------------------------------------------------------------

def test_readiness_lists_every_check_and_keeps_the_body_shape():
    def broken():
        raise ConnectionError("cloud refused")

    health = Health("edge", checks={"model": lambda: True, "cloud": broken, "queue": lambda: False},
                    extra=lambda: {"requests": 7, "status": "not overridden"})
    alive_status, alive = health.alive()
    ready_status, ready = health.ready()

    assert alive_status == 200 and ready_status == 503
    assert set(alive) == set(ready) == {"status", "service", "version", "uptime_seconds", "checks",
                                        "requests"}
    assert alive["status"] == "ok" and alive["checks"] == {} and alive["requests"] == 7
    assert ready["status"] == "unavailable"
    assert ready["checks"] == {"model": {"ok": True, "detail": "ok"},
                               "cloud": {"ok": False, "detail": "ConnectionError: cloud refused"},
                               "queue": {"ok": False, "detail": "not ready"}}


# -- the worker's status server (standard library) ----------------------------------------------

@pytest.fixture
def worker_site():
    site = StatusSite("edge", details={"listens on": "127.0.0.1"})
    site.add_chart("offload", "Offload ratio", "samples", "ratio")
    yield site


def test_a_nan_point_leaves_the_series_strict_json(worker_site):
    # a diverged loss is NaN: written as a NaN token it made the page's JSON.parse fail, and no chart drew
    for x, y in ((1, 0.5), (2, float("nan")), (3, float("inf")), (4, 0.25)):
        worker_site.record("offload", "offload ratio", x, y)
    with StatusServer(worker_site) as server:
        text = requests.get(server.url + "/status/series", timeout=5).text

    def strict(token):
        raise ValueError(f"{token} is not JSON")

    (chart,) = json.loads(text, parse_constant=strict)["charts"]
    assert chart["series"]["offload ratio"] == [[1, 0.5], [4, 0.25]]


def test_worker_status_server_answers_the_common_routes_and_numbers_move(worker_site):
    with StatusServer(worker_site) as server:
        before = scrape(server.url)
        worker_site.metrics.counter("sedna_ji_samples_total").labels(answered_by="edge").inc(5)
        worker_site.record("offload", "offload ratio", 5, 0.2)
        after = scrape(server.url)
        page = requests.get(server.url + "/", timeout=5)
        series = requests.get(server.url + "/status/series", timeout=5).json()
        ready = requests.get(server.url + "/readyz", timeout=5)
        script = requests.get(server.url + "/status/assets/status.js", timeout=5)
        escape = requests.get(server.url + "/status/assets/..%2F__init__.py", timeout=5)
        missing = requests.get(server.url + "/nope", timeout=5)
        post = requests.post(server.url + "/metrics", data=b"x", timeout=5)

    assert 'sedna_ji_samples_total{answered_by="edge"}' not in before
    assert after['sedna_ji_samples_total{answered_by="edge"}'] == 5
    assert after['sedna_up{service="edge"}'] == 1
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>sedna_lib edge</h1>" in page.text and "<td>127.0.0.1</td>" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere
    assert series["charts"][0]["series"] == {"offload ratio": [[5, 0.2]]}
    assert ready.status_code == 200 and ready.json()["service"] == "edge"
    assert script.status_code == 200 and "parseMetrics" in script.text
    assert escape.status_code == 404 and "no asset" in escape.json()["detail"]
    assert missing.status_code == 404 and "this worker serves" in missing.json()["detail"]
    assert post.status_code == 405


def test_worker_status_server_on_a_taken_port_names_the_variable(worker_site):
    with StatusServer(worker_site) as first:
        with pytest.raises(TransportError, match="choose another SEDNA_METRICS_PORT"):
            StatusServer(worker_site, port=first.port).start()


# -- a FastAPI server with the common face -------------------------------------------------------

@pytest.fixture
def fastapi_server():
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from sedna_lib.servers._status import mount_status
    from sedna_lib.servers._threaded import ThreadedServer

    app = FastAPI(title="probe")

    @app.get("/items/{item}")
    def item(item: int):
        return {"item": item}

    @app.get("/healthz")
    def old_health():
        return {"old": True}

    site = StatusSite("probe", health=Health("probe", checks={"model": lambda: True}))
    mount_status(app, site)
    with ThreadedServer(app) as server:
        yield server, site


def test_requests_are_counted_by_route_template_and_status(fastapi_server):
    server, _ = fastapi_server
    before = scrape(server.url)
    for i in range(3):
        requests.get(f"{server.url}/items/{i}", timeout=5)
    requests.get(f"{server.url}/items/abc", timeout=5)  # 422
    requests.get(f"{server.url}/no/such/path", timeout=5)  # 404
    after = scrape(server.url)

    ok = 'sedna_http_requests_total{method="GET",route="/items/{item}",status="200"}'
    bad = 'sedna_http_requests_total{method="GET",route="/items/{item}",status="422"}'
    assert before.get(ok, 0) == 0
    assert after[ok] == 3 and after[bad] == 1
    assert after['sedna_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    assert after['sedna_http_request_duration_seconds_count{method="GET",route="/items/{item}"}'] == 4
    assert not any("/items/0" in key for key in after)  # raw paths never become labels


def test_fastapi_server_answers_the_health_contract_instead_of_its_old_route(fastapi_server):
    server, _ = fastapi_server

    alive = requests.get(server.url + "/healthz", timeout=5)
    ready = requests.get(server.url + "/readyz", timeout=5)

    assert alive.status_code == 200 and "old" not in alive.json()
    assert alive.json()["service"] == "probe"
    assert ready.json()["checks"] == {"model": {"ok": True, "detail": "ok"}}
    assert scrape(server.url)['sedna_ready{service="probe"}'] == 1


def test_api_docs_load_every_asset_from_the_server_itself(fastapi_server):
    pytest.importorskip("fastapi_offline")
    server, _ = fastapi_server

    for page in ("/docs", "/redoc"):
        text = requests.get(server.url + page, timeout=5).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/docs/assets/"), (page, asset)
            reply = requests.get(server.url + asset, timeout=5)
            # the file itself, not a page about it (fastapi-offline's favicon is 412 bytes in 1.7.0)
            assert reply.status_code == 200 and len(reply.content) > 200, asset
            assert not reply.content.lstrip().startswith((b"<!DOCTYPE", b"<html", b"{")), asset
        assert "cdn" not in text.lower() and "fonts.googleapis" not in text
    assert requests.get(server.url + "/docs/assets/evil.js", timeout=5).status_code == 404
    assert "/items/{item}" in requests.get(server.url + "/openapi.json", timeout=5).json()["paths"]


def test_status_page_links_the_api_docs(fastapi_server):
    server, _ = fastapi_server

    page = requests.get(server.url + "/", timeout=5).text

    assert '<a href="docs">API (Swagger UI)</a>' in page
    assert json.loads(requests.get(server.url + "/status/series", timeout=5).text) == {"charts": []}


def test_an_unknown_method_is_counted_as_other_so_labels_stay_bounded(fastapi_server):
    server, _ = fastapi_server
    for method in ("FOO", "XYZZY-1", "get2"):
        requests.request(method, f"{server.url}/items/1", timeout=5)
    requests.delete(f"{server.url}/items/1", timeout=5)  # a standard method keeps its name
    after = scrape(server.url)

    methods = {re.search(r'method="([^"]*)"', key)[1] for key in after
               if key.startswith("sedna_http_requests_")}
    assert {"DELETE", "OTHER"} <= methods <= {"GET", "DELETE", "OTHER"}
    assert after['sedna_http_requests_total{method="OTHER",route="/items/{item}",status="405"}'] == 3


def test_worker_status_server_answers_head_like_get_without_a_body(worker_site):
    with StatusServer(worker_site) as server:
        got = requests.get(server.url + "/status/assets/status.js", timeout=5)
        head = requests.head(server.url + "/status/assets/status.js", timeout=5)
        missing = requests.head(server.url + "/nope", timeout=5)

    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == got.headers["content-type"]
    assert missing.status_code == 404 and missing.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"])
def test_worker_status_server_answers_other_methods_405_with_allow(worker_site, method):
    with StatusServer(worker_site) as server:
        reply = requests.request(method, server.url + "/metrics", data=b"x" * 100, timeout=5)
        after = requests.get(server.url + "/healthz", timeout=5)

    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET, HEAD"
    assert f"method {method} is not allowed" in reply.json()["detail"]
    assert after.status_code == 200


def _idle(url):
    import socket

    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def test_worker_status_server_closes_silent_connections_and_bounds_its_threads(worker_site):
    with StatusServer(worker_site, read_timeout=0.5, max_connections=2) as server:
        silent = [_idle(server.url), _idle(server.url)]  # each holds a handler thread, sending nothing
        probe = _idle(server.url)  # one more: refused at once, not queued behind them
        refused = probe.recv(4096)
        probe.close()
        # the silent ones are closed by the server once read_timeout has passed (recv sees the end)
        ended = [sock.recv(4096) for sock in silent]
        for sock in silent:
            sock.close()
        after = requests.get(server.url + "/healthz", timeout=5)

    assert refused.startswith(b"HTTP/1.0 503 ") and b"2 connections at a time" in refused
    assert ended == [b"", b""]
    assert after.status_code == 200


def test_worker_status_server_closes_connections_that_trickle_their_request_head(worker_site):
    # each read was bounded, not the head: a header line every 0.2 s held both slots for ever,
    # and the health probe was answered 503 "busy" all along
    import time

    with StatusServer(worker_site, read_timeout=0.6, max_connections=2) as server:
        slow = [_idle(server.url), _idle(server.url)]
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        ended, deadline = set(), time.monotonic() + 5
        while len(ended) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            for k, sock in enumerate(slow):
                try:
                    sock.sendall(b"X-a: b\r\n")
                except OSError:  # the server closed it
                    ended.add(k)
        after = requests.get(server.url + "/healthz", timeout=5)
        for sock in slow:
            sock.close()

    assert ended == {0, 1}
    assert after.status_code == 200


def test_worker_status_server_is_quiet_when_a_client_hangs_up_mid_reply(capsys):
    import logging
    import socket
    import struct
    import threading

    site = StatusSite("edge", details={"big": "x" * (16 << 20)})  # a page larger than the socket buffers
    gone = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record):
            if "went away" in record.getMessage():
                gone.set()

    status_logger = logging.getLogger("sedna_lib.observability.status")
    watch, level = Watch(logging.DEBUG), status_logger.level
    status_logger.addHandler(watch)
    status_logger.setLevel(logging.DEBUG)
    try:
        with StatusServer(site) as server:
            sock = _idle(server.url)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert sock.recv(16).startswith(b"HTTP/1.0 200")  # the reply has begun
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # reset: the rest of the page has nowhere to go
            assert gone.wait(30), "the server did not notice the client leave"
            after = requests.get(server.url + "/healthz", timeout=5)
    finally:
        status_logger.removeHandler(watch)
        status_logger.setLevel(level)

    assert after.status_code == 200
    err = capsys.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


@pytest.mark.parametrize("kwargs, match", [
    ({"read_timeout": 0}, "read_timeout"), ({"read_timeout": float("nan")}, "read_timeout"),
    ({"max_connections": 0}, "max_connections"), ({"max_connections": 2.5}, "max_connections"),
])
def test_worker_status_server_refuses_bad_limits(worker_site, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        StatusServer(worker_site, **kwargs)


def test_a_request_is_counted_before_the_last_part_of_its_answer_goes_out():
    """A client holding its whole answer finds the request in the metrics (it was counted after)."""
    import asyncio

    from sedna_lib.servers._status import RequestMetrics

    site = StatusSite("probe")

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})

    seen = []

    async def send(message):
        if message["type"] == "http.response.body":
            seen.append((message.get("more_body", False), _http_counts(site)))

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(RequestMetrics(app, site)(
        {"type": "http", "method": "POST", "path": "/x", "headers": []}, receive, send))
    assert seen == [(True, []), (False, [("unmatched", "POST", "201", 1.0)])]
    assert _http_counts(site) == [("unmatched", "POST", "201", 1.0)]  # once, not again at the end


def _http_counts(site):
    return [(sample.labels["route"], sample.labels["method"], sample.labels["status"], sample.value)
            for family in site.metrics.registry.collect() if family.name == "sedna_http_requests"
            for sample in family.samples if sample.name == "sedna_http_requests_total"]
