"""Ports are whole numbers in range wherever a user gives one: a server's, a peer's, a broker's."""

from __future__ import annotations

import pytest

from sedna_lib.base import check_port
from sedna_lib.compat.client import ModelClient
from sedna_lib.datasources.kafka import bootstrap_servers
from sedna_lib.exceptions import ParameterError
from sedna_lib.multi_edge_inference.plugins.registered import ReID_I, VideoAnalytics
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.transport.multi_edge import FE


async def _app(scope, receive, send):  # pragma: no cover - never served
    raise AssertionError("no request expected")


@pytest.mark.parametrize("value, low", [(3.7, 0), (True, 0), (-1, 0), (65536, 0), ("http", 0), (None, 0), (0, 1)])
def test_check_port_refuses_what_int_would_have_truncated_or_bound(value, low):
    with pytest.raises(ParameterError, match=rf"^port must be a whole number from {low} to 65535.*got "):
        check_port("port", value, low)


def test_check_port_takes_integral_floats_and_text():
    assert check_port("port", "8080") == 8080 and check_port("port", 0.0) == 0 and check_port("p", 65535, 1) == 65535


@pytest.mark.parametrize("port", [3.7, True, 70000, "abc"])
def test_a_server_refuses_a_bad_port_before_binding_anything(port):
    server = ThreadedServer(_app, port=port)  # a port of 3.7 bound port 3, True bound port 1
    with pytest.raises(ParameterError, match=r"port must be a whole number from 0 to 65535 \(0: any free port\)"):
        server.start()
    assert not server.is_running


def test_peer_ports_are_checked_where_the_address_is_built():
    with pytest.raises(ParameterError, match="port must be a whole number from 1 to 65535, got 0"):
        ModelClient("ji", host="10.0.0.2", port=0)
    with pytest.raises(ParameterError, match="got 8080.5"):
        FE(service_name="fe", ip="10.0.0.3", port=8080.5).endpoint  # it was used as it was: ':8080.5'
    assert FE(service_name="fe", ip="10.0.0.3", port="6000").endpoint == "http://10.0.0.3:6000/fe"
    with pytest.raises(ParameterError, match="Kafka port must be a whole number from 1 to 65535, got '90921'"):
        bootstrap_servers("kafka-0|kafka-1", "9092|90921")
    assert bootstrap_servers("kafka-0", 9092) == ["kafka-0:9092"]


def test_multi_edge_plugins_check_the_port_they_are_given():
    with pytest.raises(ParameterError, match="got 4000.5"):
        VideoAnalytics(port=4000.5, autostart=False)  # int() made it 4000
    with pytest.raises(ParameterError, match="from 0 to 65535 .*, got -5"):
        ReID_I(ip="reid", port=-5)
