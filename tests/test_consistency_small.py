"""Servers say their port alike, check it alike; a rate-limited log keeps a bounded number of keys."""

from __future__ import annotations

import io
import logging

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, ParameterError
from sedna_lib.observability.logs import RateLimitedLog
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.servers.inference import InferenceServer

PORT_MESSAGE = r"must be a whole number from 0 to 65535 \(0: any free port\), got "


# -- InferenceServer.port ---------------------------------------------------------------------
@pytest.mark.parametrize("http_port", [0, 8080, 2.5], ids=repr)
def test_inference_port_is_none_before_start_whatever_was_configured(http_port):
    server = InferenceServer(lambda x: x, "echo", http_port=http_port)

    assert server.port is None  # 8080 was said before anything was bound, 0 before it was resolved


def test_inference_port_is_the_bound_one_once_started_and_after_stop():
    with InferenceServer(lambda x: x, "echo", http_port=0) as server:
        assert server.port > 0 and server.url.endswith(f":{server.port}")
    assert server.port > 0  # still says where it was bound


# -- AggregationServer's port check ------------------------------------------------------------
@pytest.mark.parametrize("http_port", [70000, -1, 2.5, True], ids=repr)
def test_aggregation_port_is_checked_as_every_server_checks_it(http_port):
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=http_port, context=Context(Config()))

    with pytest.raises(ParameterError, match="^http_port " + PORT_MESSAGE + repr(http_port)):
        server.start(block=False)
    assert server.port is None  # nothing was bound


def test_aggregation_port_from_the_environment_names_the_variable():
    server = AggregationServer("FedAvg", host="127.0.0.1", context=Context(Config(agg_bind_port=70000)))

    with pytest.raises(ConfigError, match="^AGG_BIND_PORT " + PORT_MESSAGE + "70000") as caught:
        server.start(block=False)
    assert caught.value.variable == "AGG_BIND_PORT" and server.port is None


# -- RateLimitedLog's keys ---------------------------------------------------------------------
@pytest.fixture
def lines():
    stream = io.StringIO()
    logger = logging.getLogger("sedna_lib.tests.consistency_small")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_rate_limited_log_keeps_only_the_most_recent_keys_and_says_a_dropped_count(lines):
    logger, stream = lines
    now = [0.0]
    limiter = RateLimitedLog(logger, interval=10.0, clock=lambda: now[0])  # 256 keys kept
    limiter.add("kept", "kept x{count}")
    limiter.add("old", "old x{count}")
    limiter.add("old", "old x{count}", n=3)  # counted, not said yet
    for i in range(1000):  # an error's text as the key: each one new
        limiter.add(("url", f"reason {i}"), "reason x{count}")
        limiter.add("kept", "kept x{count}")  # a key in use stays

    assert len(limiter._last) <= 256 and len(limiter._pending) <= 256
    said = stream.getvalue().splitlines()
    assert "old x3" in said  # said in one line as it was dropped, never lost
    assert said.count("kept x1") == 1  # still within its interval: counted, not said again
    assert limiter.pending("kept") == 1000
    now[0] = 10.0
    limiter.add("kept", "kept x{count}")
    assert stream.getvalue().splitlines()[-1] == "kept x1001"


def test_rate_limited_log_counts_a_dropped_key_waiting_for_its_first_line(lines):
    logger, stream = lines
    limiter = RateLimitedLog(logger, interval=10.0, clock=lambda: 0.0, say_first=False, max_keys=1)
    limiter.add("a", "a x{count}", n=2)
    limiter.add("b", "b x{count}")
    limiter.flush()

    assert stream.getvalue().splitlines() == ["a x2", "b x1"]


def test_rate_limited_log_refuses_a_bad_bound(lines):
    limiter = RateLimitedLog(lines[0], max_keys=0)

    with pytest.raises(ParameterError, match="max_keys must be a whole number >= 1, got 0"):
        limiter.add("a", "a")
