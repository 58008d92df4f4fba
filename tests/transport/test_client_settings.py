"""HTTP clients check their timeouts, retries and breaker settings where a request first uses them."""

from __future__ import annotations

import math
import socket

import pytest

from sedna_lib.exceptions import ParameterError, TransportError
from sedna_lib.storage.http import HTTPStorage
from sedna_lib.transport._requests import check_retries, check_timeout
from sedna_lib.transport.http import InferenceClient
from sedna_lib.transport.kb import KBClient
from sedna_lib.transport.lc import LCClient
from sedna_lib.transport.multi_edge import FE

NAN = float("nan")


@pytest.fixture(scope="module")
def dead_url():
    """A 127.0.0.1 port nothing listens on (bound, then closed): connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("value, message", [
    (NAN, "timeout must be a finite number > 0, got nan"),
    (0, "timeout must be a finite number > 0, got 0"),
    ((3.0, -1), "timeout's read time must be a finite number > 0, got -1"),
    ((math.inf, 1.0), "timeout's connect time must be a finite number > 0, got inf"),
    ((1, 2, 3), r"timeout must be a number of seconds or a \(connect, read\) pair, got \(1, 2, 3\)"),
])
def test_check_timeout_names_what_is_wrong(value, message):
    with pytest.raises(ParameterError, match=f"^{message}$"):
        check_timeout(value)


def test_check_timeout_and_retries_take_what_they_should():
    assert check_timeout(2) == (2.0, 2.0) and check_timeout([0.5, "3"]) == (0.5, 3.0)
    assert check_retries("2", 0) == (2, 0.0)
    with pytest.raises(ParameterError, match="max_retries must be a whole number >= 0, got 2.5"):
        check_retries(2.5, 0.1)
    with pytest.raises(ParameterError, match="backoff must be a finite number >= 0, got nan"):
        check_retries(1, NAN)


@pytest.mark.parametrize("options, message", [
    ({"timeout": NAN}, "timeout must be a finite number > 0, got nan"),  # a bare ValueError from the socket
    ({"timeout": (1.0, -1.0)}, "timeout's read time must be"),
    ({"max_retries": 1.5}, "max_retries must be a whole number >= 0, got 1.5"),
    ({"backoff": NAN}, "backoff must be a finite number >= 0, got nan"),
])
def test_inference_client_checks_its_settings_before_sending(dead_url, options, message):
    with InferenceClient(dead_url, **options) as client, pytest.raises(ParameterError, match=message):
        client.predict([1.0, 2.0])
    assert client.available  # a misconfiguration is not the peer's failure


def test_a_nan_reset_timeout_no_longer_keeps_the_breaker_open_for_ever(dead_url):
    client = InferenceClient(dead_url, max_retries=0, reset_timeout=NAN)
    with pytest.raises(TransportError):
        client.predict([1.0])  # the breaker opens
    with pytest.raises(ParameterError, match="reset_timeout must be a finite number >= 0, got nan"):
        client.predict([1.0])  # it said "circuit open" on every call, and never tried again
    client = InferenceClient(dead_url, max_retries=0, failure_threshold=0)
    with pytest.raises(ParameterError, match="failure_threshold must be a whole number >= 1, got 0"):
        client.predict([1.0])


def test_multi_edge_kb_and_storage_clients_check_their_timeouts(dead_url):
    with pytest.raises(ParameterError, match="timeout must be a finite number > 0, got nan"):
        FE(service_name="fe", ip="127.0.0.1", port=dead_url.rsplit(":", 1)[1], timeout=NAN).check_server_status()
    with KBClient(dead_url, connect_timeout=-1.0) as kb, \
            pytest.raises(ParameterError, match="connect_timeout must be a finite number > 0, got -1.0"):
        kb.query()
    storage = HTTPStorage(read_timeout=NAN)
    with pytest.raises(ParameterError, match="read_timeout must be a finite number > 0, got nan"):
        storage.read_bytes(dead_url + "/model.bin")
    with pytest.raises(ParameterError, match="max_retries must be a whole number >= 0, got -1"):
        HTTPStorage(max_retries=-1).read_bytes(dead_url + "/model.bin")


def test_the_lc_client_never_raises_and_says_the_misconfiguration(dead_url, caplog):
    client = LCClient(dead_url, timeout=(NAN, 1.0), backoff=0.0)
    assert client.send("w1", {"name": "w1"}) is False
    assert client.failures_ == 1
    assert "misconfigured" in client.last_error_ and "timeout's connect time must be a finite number" \
        in client.last_error_
    assert "timeout's connect time" in caplog.text


def test_the_openai_client_checks_its_settings_before_claiming_a_breaker_trial(dead_url):
    from sedna_lib.transport.openai import OpenAIClient

    client = OpenAIClient(dead_url, timeout=(1.0, NAN))
    with pytest.raises(ParameterError, match="timeout's read time must be a finite number > 0, got nan"):
        next(iter(client.stream_chat([{"role": "user", "content": "hi"}])))
    with pytest.raises(ParameterError, match="timeout's read time"):
        client.chat([{"role": "user", "content": "hi"}])
    client = OpenAIClient(dead_url, max_retries=-1)
    with pytest.raises(ParameterError, match="max_retries must be a whole number >= 0, got -1"):
        next(iter(client.stream_chat([{"role": "user", "content": "hi"}])))
    assert client.breaker.state == "closed" and client.breaker.allow()  # no trial left claimed
