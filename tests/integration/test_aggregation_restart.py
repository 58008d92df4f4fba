"""Trainers and an aggregator that goes away: a restart on the same port, a server that stops, resets."""

import base64
import hashlib
import socket
import struct
import threading
import time

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import TransportError, TransportTimeout
from sedna_lib.federated_learning.client import run_client
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.transport.ws import AggregationClient

pytestmark = pytest.mark.integration
ws_sync = pytest.importorskip("websockets.sync.server")


def _server(port=0, **kwargs):
    kwargs.setdefault("done_grace", 1)
    return AggregationServer("FedAvg", host="127.0.0.1", http_port=port, context=Context(Config()),
                             **kwargs).start(block=False)


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.stop()


class _MeanModel:
    """A model of one layer that moves halfway to its data's mean each round (what FedAvg then averages)."""

    def __init__(self, during_train=None):
        self.w = [np.zeros(2)]
        self.trained = 0
        self.during_train = during_train

    def train(self, train_data, valid_data=None, **kwargs):
        self.trained += 1
        if self.during_train is not None:
            self.during_train(self.trained)
        self.w = [(self.w[0] + np.asarray(train_data, dtype=float).mean(axis=0)) / 2]
        return {"loss": 0.0}

    def get_weights(self):
        return [w.copy() for w in self.w]

    def set_weights(self, weights):
        self.w = [np.array(w, dtype=float) for w in weights]


def _restart_during(servers, client, training, **kwargs):
    """Return a hook that, during local training number ``training``, replaces the aggregator by a fresh one.

    The new server listens on the same port and starts from round 0 (its state is gone), as a
    killed and restarted aggregator does.
    """
    def hook(trained):
        if trained != training:
            return
        old = servers[-1]
        port = old.port
        old.stop()
        # the trainer's connection has ended (the stopping server closed it) before it uploads
        deadline = time.monotonic() + 5
        while (client._ws is not None and client._ws.protocol.state.name == "OPEN"
               and time.monotonic() < deadline):
            time.sleep(0.01)
        servers.append(_server(port, **kwargs))

    return hook


def test_a_trainer_whose_aggregator_restarts_while_it_trains_reconnects_and_resends_its_update(servers):
    servers.append(_server(exit_round=2, participants_count=1))
    client = AggregationClient(servers[0].url, "w0", connect_timeout=5, recv_timeout=5)
    model = _MeanModel()
    model.during_train = _restart_during(servers, client, 1, exit_round=2, participants_count=1)
    try:
        outcomes = run_client(model, client, np.ones((4, 2)))
    finally:
        client.close()
    assert [o.round_number for o in outcomes] == [1, 2] and outcomes[-1].is_last
    assert model.trained == 2
    assert [r.clients for r in servers[-1].history_] == [["w0"], ["w0"]]


def test_an_update_for_another_round_is_answered_with_the_current_model_marked_with_that_round(servers):
    server = _server(exit_round=2, participants_count=1, initial_weights=[np.full(2, 3.0)])
    servers.append(server)
    for wire in ("binary", "json"):
        with AggregationClient(server.url, f"c-{wire}", wire=wire, connect_timeout=5,
                               recv_timeout=3) as client:
            client.send_update([np.ones(2)], 1, round_number=3)  # a server that restarted is on round 1
            msg = client.recv_weights()
            assert msg.round_number == 0 and msg.exit_flag == "continue"
            assert msg.config.get("passed_over") == 3 and msg.weights[0].tolist() == [3.0, 3.0]
    assert server.history_ == [] and server.rounds_.submitted_ == []
    with AggregationClient(server.url, "c", connect_timeout=5, recv_timeout=3) as client:
        client.send_update([np.ones(2)], 1, round_number=1)
        msg = client.recv_weights()
    assert msg.round_number == 1 and "passed_over" not in msg.config


def test_an_update_for_a_round_a_fresh_server_never_had_gets_an_empty_model_to_start_from(servers):
    server = _server(exit_round=1, participants_count=1)
    servers.append(server)
    with AggregationClient(server.url, "w0", connect_timeout=5, recv_timeout=3) as client:
        client.send_update([np.ones(2)], 1, round_number=2)
        msg = client.recv_weights()
    assert (msg.round_number, msg.weights, msg.config.get("passed_over")) == (0, [], 2)


def test_a_trainer_ahead_of_a_restarted_aggregator_trains_again_for_its_round(servers):
    servers.append(_server(exit_round=3, participants_count=1))
    client = AggregationClient(servers[0].url, "w0", connect_timeout=5, recv_timeout=5)
    model = _MeanModel()
    model.during_train = _restart_during(servers, client, 2, exit_round=2, participants_count=1)
    try:
        outcomes = run_client(model, client, np.ones((4, 2)))
    finally:
        client.close()
    # round 1 on the first server; its round 2 was passed over by the new one, which ran its own two
    assert [o.round_number for o in outcomes] == [1, 1, 2] and outcomes[-1].is_last
    assert model.trained == 4
    assert len(servers[-1].history_) == 2


def test_stopping_the_server_tells_the_trainers_why_in_the_close_frame(servers):
    server = _server(exit_round=2, participants_count=2)
    with AggregationClient(server.url, "w0", connect_timeout=5, recv_timeout=5) as client:
        client.send_update([np.ones(2)], 1, round_number=1)
        server.stop()
        with pytest.raises(TransportError,
                           match=r"closed \(1012\): the aggregator is stopping \(round 0 of 2\)"):
            client.recv_weights()


def test_a_close_frame_without_a_reason_says_so():
    """An original (Sedna) aggregator echoes the subscribe, then closes with a code and no reason."""
    def handler(ws):
        ws.send(ws.recv())
        ws.close(1001)

    with ws_sync.serve(handler, "127.0.0.1", 0) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.socket.getsockname()[1]
        with AggregationClient(f"ws://127.0.0.1:{port}/FedAvg", "w0", connect_timeout=5, recv_timeout=5) as c:
            with pytest.raises(TransportError, match=r"closed \(1001\): \(no reason given\)$"):
                c.recv_weights()
        srv.shutdown()


def _listener(serve_one):
    """Listen on a free port; ``serve_one(conn)`` handles each connection; return (port, count, stop)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.1)
    count, stopping = [0], threading.Event()

    def loop():
        while not stopping.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            count[0] += 1
            serve_one(conn)

    threading.Thread(target=loop, daemon=True).start()

    def stop():
        stopping.set()
        srv.close()

    return srv.getsockname()[1], count, stop


def _reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_a_server_that_resets_connections_is_retried_until_connect_timeout():
    port, count, stop = _listener(_reset)
    url = f"ws://127.0.0.1:{port}/FedAvg"
    try:
        # one try each: the reset comes before the opening handshake is sent (websockets' ConnectionClosed),
        # while it is sent, or after; each time the server is said unreachable
        for _ in range(30):
            time.sleep(0.02)  # the server waits for the next connection (it resets it sooner)
            with pytest.raises(TransportTimeout, match="could not reach the aggregator"):
                AggregationClient(url, "w0", connect_timeout=0).connect()
        tried = count[0]
        started = time.monotonic()
        with pytest.raises(TransportTimeout, match="could not reach the aggregator"):
            AggregationClient(url, "w0", connect_timeout=0.3).connect()
        assert time.monotonic() - started < 3
    finally:
        stop()
    assert tried >= 30 and count[0] >= tried + 3


def _accept_then_drop(conn):
    """Complete the websocket opening handshake, then drop the connection before the subscribe is answered."""
    conn.settimeout(2)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            break
        head += chunk
    key = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")), b"")
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    _reset(conn)


def test_a_connection_lost_before_the_subscribe_is_answered_is_retried_until_connect_timeout():
    port, count, stop = _listener(_accept_then_drop)
    try:
        started = time.monotonic()
        with pytest.raises(TransportTimeout, match="could not reach the aggregator"):
            AggregationClient(f"ws://127.0.0.1:{port}/FedAvg", "w0", connect_timeout=0.5).connect()
        assert 0.3 < time.monotonic() - started < 3
    finally:
        stop()
    assert count[0] >= 2


def test_a_trainer_connecting_while_the_server_stops_is_told_so_and_keeps_trying(servers):
    server = _server(exit_round=1, participants_count=1)
    servers.append(server)
    with AggregationClient(server.url, "w0", connect_timeout=5, recv_timeout=5):
        server._say_stopping(2.0)  # what stop() does first, before the listener closes
    with pytest.raises(TransportTimeout, match=r"closed \(1012\): the aggregator is stopping"):
        AggregationClient(server.url, "w1", connect_timeout=0.3).connect()
