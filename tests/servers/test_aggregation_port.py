"""AggregationServer.port: the bound port once started, None before (nothing is bound yet)."""

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ParameterError
from sedna_lib.servers.aggregation import AggregationServer


@pytest.mark.parametrize("http_port", [None, 0, 8080, 2.5, True, "abc"], ids=repr)
def test_port_is_none_before_start_whatever_was_configured(http_port):
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=http_port)

    assert server.port is None  # int() made 2.5 a 2 and True a 1, and raised a bare ValueError on "abc"


def test_a_bad_port_is_still_refused_at_start():
    with pytest.raises(ParameterError, match="http_port"):
        AggregationServer("FedAvg", host="127.0.0.1", http_port=2.5,
                          context=Context(Config())).start(block=False)


def test_port_is_the_bound_one_once_started():
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, done_grace=1,
                               context=Context(Config())).start(block=False)
    try:
        assert server.port > 0 and server.url.startswith(f"ws://127.0.0.1:{server.port}/")
    finally:
        server.stop()
    assert server.port > 0  # still says where it was bound
