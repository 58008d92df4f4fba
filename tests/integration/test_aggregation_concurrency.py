"""The aggregation server under concurrency: trainers leaving as a round closes, start and stop at once."""

import socket
import threading
import time

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.transport.ws import AggregationClient

pytestmark = pytest.mark.integration


def _server(**kwargs):
    kwargs.setdefault("done_grace", 1)
    return AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config()), **kwargs)


def _wait_for(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)
    return True


def _serving_threads():
    return {t for t in threading.enumerate() if t.name.startswith("sedna-server-") and t.is_alive()}


def _refused(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("attempt", range(3))
def test_a_contributor_leaving_as_its_update_closes_the_round_is_not_waited_for(attempt):
    # the leaver's update closes round 1 and its connection ends with it: the round's model cannot reach
    # it, and it must count as gone (round 2 closes by dropout, not at its deadline)
    server = _server(exit_round=2, participants_count=3, round_timeout=3).start(block=False)
    try:
        with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=10) as a, \
                AggregationClient(server.url, "b", connect_timeout=5, recv_timeout=10) as b:
            for c in (a, b):
                c.send_update([np.full(2, 1.0)], 1, round_number=1)
            assert _wait_for(lambda: len(server.rounds_.submitted_) == 2)
            leaver = AggregationClient(server.url, "leaves", connect_timeout=5, recv_timeout=5)
            leaver.send_update([np.full(2, 4.0)], 1, round_number=1)
            leaver.close()
            assert a.recv_weights().weights[0].tolist() == [2.0, 2.0]
            b.recv_weights()
            started = time.monotonic()
            for c in (a, b):
                c.send_update([np.full(2, 3.0)], 1, round_number=2)
            msg = a.recv_weights()
            took = time.monotonic() - started
    finally:
        server.stop()
    assert msg.exit_flag == "ok" and msg.weights[0].tolist() == [3.0, 3.0]
    assert [r.reason for r in server.history_] == ["quorum", "dropout"]
    assert took < 2


def test_concurrent_starts_leave_one_server_that_stop_stops():
    before = _serving_threads()
    for _ in range(5):
        server = _server(exit_round=1)
        gate = threading.Barrier(3)
        errors = []

        def start():
            gate.wait()
            try:
                server.start(block=False)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert not errors
        port = server.port
        server.stop()
        assert _refused(port)
        assert _wait_for(lambda: not (_serving_threads() - before), timeout=3), \
            "a second server kept serving after stop()"


def test_stop_during_start_leaves_nothing_running():
    caught = 0
    for _ in range(10):
        server = _server(exit_round=1)
        errors = []

        def start():
            try:
                server.start(block=False)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        starting = threading.Thread(target=start)
        starting.start()
        # the server object exists (it has a port attribute) but may not be bound yet: stop now
        _wait_for(lambda: server.port is not None or not starting.is_alive(), timeout=5)
        caught += server.port == 0
        server.stop()
        starting.join(10)
        assert not errors, "stop() made the start() in progress fail"
        assert server.port not in (None, 0)
        ok = _refused(server.port)
        if not ok:
            server.stop()
        assert ok, "stop() during start() left the server serving"
        if caught >= 2:
            break
    if not caught:  # every start bound its port before the stop came: the race was not met here
        pytest.skip("stop() never met a start() in progress in 10 tries on this machine")
