"""The aggregation server with real websocket clients: Sedna's JSON protocol, binary peers, failures."""

import json
import threading
import time

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import AggregationError, ProtocolError, RemoteError, TransportError
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.transport.ws import AggregationClient

pytestmark = pytest.mark.integration
ws_sync = pytest.importorskip("websockets.sync.client")


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs):
        kwargs.setdefault("done_grace", 2)
        server = AggregationServer(kwargs.pop("aggregation", "FedAvg"), host="127.0.0.1", http_port=0,
                                   context=Context(Config()), **kwargs)
        servers.append(server.start(block=False))
        return server

    yield start
    for s in servers:
        s.stop()


def _raw(url):
    from sedna_lib.transport.ws import _connect_kwargs

    return ws_sync.connect(url, max_size=None, proxy=None, **_connect_kwargs())


def test_server_declines_websocket_compression_offered_by_a_client(serve):
    server = serve()

    with ws_sync.connect(server.url, compression="deflate", proxy=None) as ws:  # websockets' default offer
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")

    assert extensions is None


def test_sedna_json_client_gets_sedna_bytes_and_fedavg_numbers(serve):
    server = serve(exit_round=1, participants_count=2)
    a, b = _raw(server.url), _raw(server.url)
    a.send(json.dumps({"type": "subscribe", "client_id": "a"}))
    assert json.loads(a.recv(timeout=5)) == {"type": "subscribe", "client_id": "a"}
    b.send(json.dumps({"type": "subscribe", "client_id": "b"}))
    assert json.loads(a.recv(timeout=5)) == {"type": "CLIENT_JOIN", "data": "b"}
    assert json.loads(a.recv(timeout=5)) == {"type": "subscribe", "client_id": "b"}
    assert json.loads(b.recv(timeout=5)) == {"type": "subscribe", "client_id": "b"}
    assert requests.get(server.url.replace("ws", "http", 1), timeout=5).json()["clients"] == ["a", "b"]
    for ws, n, w in ((a, 1, [[1, 2], [3]]), (b, 3, [[3, 4], [5]])):
        ws.send(json.dumps({"type": "update_weight", "client": "x", "data": {"num_samples": n, "weights": w},
                            "job_name": "job"}))
    text = a.recv(timeout=5)
    msg = json.loads(text)
    assert text.startswith('{"type": "recv_weight", "client": "b", "data": {"total_sample": 4, ')
    assert msg["data"] == {"total_sample": 4, "round_number": 1, "weights": [[2.5, 3.5], [4.5]], "exit_flag": "ok"}
    a.close(), b.close()
    assert server.wait(10)


def test_binary_and_json_peers_share_rounds_with_chunked_frames(serve):
    server = serve(exit_round=2, participants_count=2)
    results = {}

    def run(i, wire):
        with AggregationClient(server.url, f"c{i}", wire=wire, connect_timeout=5, recv_timeout=10,
                               chunk_size=512) as client:
            w = [np.full((20, 20), float(i), "float32"), np.array([i], "float32")]
            for r in (1, 2):
                client.send_update(w, i + 1, round_number=r)
                msg = client.recv_weights()
                w = msg.weights
            results[i] = (client.is_binary, msg.exit_flag, float(w[0][0, 0]))

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(("binary", "json"))]
    [t.start() for t in threads]
    [t.join(20) for t in threads]
    assert results[0][0] and not results[1][0]
    assert results[0][1:] == results[1][1:] == ("ok", pytest.approx(2 / 3))
    assert [len(r.clients) for r in server.history_] == [2, 2]


def test_wrong_shape_raises_aggregation_error_naming_the_layer(serve):
    server = serve(exit_round=1, participants_count=2)
    with AggregationClient(server.url, "good", connect_timeout=5, recv_timeout=5) as good:
        good.send_update([np.zeros((2, 2)), np.zeros(2)], 1, round_number=1)
        with AggregationClient(server.url, "bad", connect_timeout=5, recv_timeout=5) as bad:
            bad.send_update([np.zeros((2, 2)), np.zeros(3)], 1, round_number=1, names=["w", "b"])
            with pytest.raises(AggregationError, match=r"layer 1 \('b'\) has shape \(3,\), expected \(2,\)"):
                bad.recv_weights()


def test_malformed_frame_is_refused_and_server_keeps_serving(serve):
    server = serve(exit_round=1, participants_count=1)
    raw = _raw(server.url)
    raw.send(json.dumps({"type": "subscribe", "client_id": "m"}))
    raw.recv(timeout=5)
    raw.send(b"SDNA garbage that is not a codec message")
    assert json.loads(raw.recv(timeout=5))["type"] == "error"
    with AggregationClient(server.url, "ok", connect_timeout=5, recv_timeout=5) as client:
        client.send_update([np.ones(2)], 1, round_number=1)
        assert client.recv_weights().exit_flag == "ok"


def test_non_json_first_frame_raises_protocol_error(serve):
    server = serve()
    raw = _raw(server.url)
    raw.send("not json")
    err = json.loads(raw.recv(timeout=5))
    assert err["data"]["error"] == "ProtocolError" and "JSON" in err["data"]["message"]


def test_oversized_json_frame_closes_with_1009(serve):
    server = serve(ws_size=1024, chunk_size=1024)
    client = AggregationClient(server.url, "big", wire="json", connect_timeout=5, recv_timeout=5)
    with client:
        client.send_update([np.zeros(200_000)], 1)
        with pytest.raises(RemoteError, match="1009") as info:
            client.recv_weights()
    assert info.value.status_code == 1009


def test_wrong_token_is_refused_and_right_token_accepted(serve):
    server = serve(auth_token="s3cret")
    with pytest.raises(RemoteError, match="token"):
        AggregationClient(server.url, "x", token="nope", connect_timeout=5).connect()
    with AggregationClient(server.url, "y", token="s3cret", connect_timeout=5) as client:
        assert client.is_binary


def test_duplicate_client_id_is_refused_and_original_kept(serve):
    server = serve(exit_round=1, participants_count=1)
    with AggregationClient(server.url, "same", connect_timeout=5, recv_timeout=5) as original:
        with pytest.raises(ProtocolError, match="already connected"):
            AggregationClient(server.url, "same", connect_timeout=5).connect()
        original.send_update([np.ones(2)], 1, round_number=1)
        assert original.recv_weights().exit_flag == "ok"


def test_straggler_does_not_hang_the_round(serve):
    server = serve(exit_round=1, participants_count=2, round_timeout=0.5)
    with AggregationClient(server.url, "silent", connect_timeout=5, recv_timeout=5) as silent:
        with AggregationClient(server.url, "fast", connect_timeout=5, recv_timeout=5) as fast:
            fast.send_update([np.ones(2)], 3, round_number=1)
            msg = fast.recv_weights()
        assert msg.exit_flag == "ok" and msg.total_sample == 3
        assert silent.recv_weights().round_number == 1
    assert server.history_[0].reason == "deadline"


def test_a_contributor_that_left_is_not_waited_for(serve):
    server = serve(exit_round=2, participants_count=2, round_timeout=60)
    with AggregationClient(server.url, "stays", connect_timeout=5, recv_timeout=10) as stays:
        with AggregationClient(server.url, "leaves", connect_timeout=5, recv_timeout=5) as leaves:
            for c in (stays, leaves):
                c.send_update([np.ones(2)], 1, round_number=1)
            leaves.recv_weights()
        stays.recv_weights()
        stays.send_update([np.full(2, 4.0)], 1, round_number=2)
        msg = stays.recv_weights()
    assert msg.exit_flag == "ok" and msg.weights[0].tolist() == [4.0, 4.0]
    assert [r.reason for r in server.history_] == ["quorum", "dropout"]


def test_late_joiner_starts_from_the_current_model(serve):
    server = serve(exit_round=3, participants_count=1)
    with AggregationClient(server.url, "early", connect_timeout=5, recv_timeout=5) as early:
        early.send_update([np.full(2, 7.0)], 1, round_number=1)
        early.recv_weights()
        with AggregationClient(server.url, "late", connect_timeout=5, recv_timeout=5) as late:
            assert late.initial_.round_number == 1 and late.initial_.weights[0].tolist() == [7.0, 7.0]


def test_initial_weights_reach_a_client_joining_at_round_zero(serve):
    server = serve(exit_round=1, participants_count=1, initial_weights=[np.full(2, 3.0)])
    with AggregationClient(server.url, "first", connect_timeout=5, recv_timeout=5) as client:
        assert client.initial_.round_number == 0 and client.initial_.weights[0].tolist() == [3.0, 3.0]
        client.send_update([np.ones(2)], 1, round_number=1)
        assert client.recv_weights().round_number == 1


def test_no_model_announced_when_the_server_has_none(serve):
    server = serve(exit_round=1, participants_count=1)
    with AggregationClient(server.url, "first", connect_timeout=5, recv_timeout=5) as client:
        assert client.initial_ is None
        client.send_update([np.ones(2)], 1, round_number=1)
        assert client.recv_weights().exit_flag == "ok"


def test_reconnect_with_session_takes_the_id_back(serve):
    server = serve(exit_round=1, participants_count=1)
    client = AggregationClient(server.url, "r", connect_timeout=5, recv_timeout=5).connect()
    client._ws.close()  # the connection drops under the client
    client.reconnect()
    client.send_update([np.ones(1)], 1, round_number=1)
    assert client.recv_weights().exit_flag == "ok"
    client.close()


def test_wrong_aggregation_path_is_refused(serve):
    server = serve()
    with pytest.raises(TransportError, match="aggregates with 'FedAvg'"):
        AggregationClient(server.url.replace("FedAvg", "FedProx"), "p", connect_timeout=5).connect()


def test_no_aggregation_given_serves_the_contexts_aggregation_algorithm():
    ctx = Context(Config(aggregation_algorithm="FedAvgM", aggregation_parameters={"server_momentum": 0.5}))

    with AggregationServer(None, host="127.0.0.1", http_port=0, context=ctx, done_grace=1) as server, \
            AggregationServer(host="127.0.0.1", http_port=0, context=ctx, done_grace=1) as default:
        urls = (server.url, default.url)
        kinds = (type(server.aggregator_).__name__, type(default.aggregator_).__name__)

    assert urls[0].endswith("/FedAvgM") and urls[1].endswith("/FedAvgM")
    assert kinds == ("FedAvgM", "FedAvgM") and server.aggregator_.server_momentum == 0.5


def test_layer_names_travel_with_the_update_and_the_aggregator_is_not_written_to(serve):
    server = serve(exit_round=1, participants_count=1)
    with AggregationClient(server.url, "n", connect_timeout=5, recv_timeout=5) as client:
        client.send_update([np.ones((2, 2)), np.ones(2)], 1, round_number=1,
                           names=["dense/kernel", "dense/bias"])
        assert client.recv_weights().exit_flag == "ok"

    assert getattr(server.aggregator_, "names_", None) is None


def test_non_finite_update_is_refused_with_4400_naming_the_layer_and_the_round_goes_on(serve):
    server = serve(exit_round=1, participants_count=2, min_clients=1)
    with AggregationClient(server.url, "bad", connect_timeout=5, recv_timeout=5) as bad:
        bad.send_update([np.ones((2, 2), "float32"), np.array([1.0, np.nan], "float32")], 1, round_number=1,
                        names=["dense/kernel", "dense/bias"])
        with pytest.raises(AggregationError, match=r"layer 1 \('dense/bias'\) has 1 non-finite"):
            bad.recv_weights()
    raw = _raw(server.url)  # a Sedna peer: Python's json writes NaN as a bare literal
    raw.send(json.dumps({"type": "subscribe", "client_id": "orig"}))
    raw.recv(timeout=5)
    raw.send('{"type": "update_weight", "client": "orig", "data": {"num_samples": 1, '
             '"weights": [[[1.0, Infinity], [1.0, 1.0]], [1.0, 1.0]]}, "job_name": ""}')
    err = json.loads(raw.recv(timeout=5))
    assert err["data"]["code"] == 4400 and "layer 0 ('dense/kernel') has 1 non-finite" in err["data"]["message"]
    with pytest.raises(Exception):
        raw.recv(timeout=5)
    assert raw.close_code == 4400
    with AggregationClient(server.url, "g1", connect_timeout=5, recv_timeout=5) as g1, \
            AggregationClient(server.url, "g2", connect_timeout=5, recv_timeout=5) as g2:
        g1.send_update([np.ones((2, 2)), np.ones(2)], 1, round_number=1)
        g2.send_update([np.full((2, 2), 3.0), np.full(2, 3.0)], 1, round_number=1)
        msg = g1.recv_weights()
    assert [w.tolist() for w in msg.weights] == [[[2.0, 2.0], [2.0, 2.0]], [2.0, 2.0]]
    assert server.history_[0].clients == ["g1", "g2"]


def test_a_first_update_refused_without_a_template_leaves_the_round_to_the_good_ones(serve):
    # with no initial model, a refused NaN update of another shape fixed the round's layer shapes: every good
    # trainer after it was refused "layer 0 has shape (2,), expected (3,)"
    server = serve(exit_round=1, participants_count=2)
    with AggregationClient(server.url, "bad", connect_timeout=5, recv_timeout=5) as bad:
        bad.send_update([np.array([np.nan, 1.0, 2.0], "float64")], 1, round_number=1)
        with pytest.raises(AggregationError, match="non-finite"):
            bad.recv_weights()
    with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=5) as a, \
            AggregationClient(server.url, "b", connect_timeout=5, recv_timeout=5) as b:
        a.send_update([np.ones(2, "float32")], 1, round_number=1)
        b.send_update([np.full(2, 3.0, "float32")], 1, round_number=1)
        msg = a.recv_weights()
    assert [w.tolist() for w in msg.weights] == [[2.0, 2.0]] and msg.weights[0].dtype == np.float32


@pytest.mark.parametrize("metrics", [
    {"accuracy": 10 ** 400},  # valid JSON no float holds: an OverflowError lost the aggregated round
    {"federated_eval": {"round": 1, "num_samples": float("inf"), "metrics": {"accuracy": 0.5}}},
    {"federated_eval": {"round": 1, "num_samples": 10 ** 400, "metrics": {}}},
])
def test_numbers_no_float_holds_in_a_trainers_metrics_never_cost_a_round(serve, metrics):
    server = serve(exit_round=2, participants_count=2)
    with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=8) as a, \
            AggregationClient(server.url, "b", connect_timeout=5, recv_timeout=8) as b:
        for rnd in (1, 2):
            a.send_update([np.ones(2)], 1, round_number=rnd)
            b.send_update([np.ones(2)], 1, round_number=rnd, metrics=metrics)
            assert a.recv_weights().round_number == rnd and b.recv_weights().round_number == rnd
    assert [sorted(r.clients) for r in server.history_] == [["a", "b"], ["a", "b"]]


def _non_reader(url, client_id):
    """Join with a tiny receive buffer, then never read (a hung trainer, a dead network path)."""
    import base64
    import os
    import socket

    hostport, path = url[len("ws://"):].split("/", 1)
    host, port = hostport.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    payload = json.dumps({"type": "subscribe", "client_id": client_id, "protocol": "sedna_lib/1",
                          "wire": "binary", "nonce": "n"}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


def test_a_peer_that_stops_reading_is_dropped_and_the_rounds_go_on(serve, caplog):
    # the model's broadcast waited for ever on a peer whose socket never drains, holding the round: every
    # later round, the deadline and new joins froze
    server = serve(exit_round=3, participants_count=2, min_clients=1, round_timeout=3, read_timeout=2)
    stuck = _non_reader(server.url, "stuck")
    model = np.ones(1 << 20, "float32")  # 4 MiB: more than the socket buffers take
    try:
        with caplog.at_level("WARNING"), \
                AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=20) as a, \
                AggregationClient(server.url, "b", connect_timeout=5, recv_timeout=20) as b:
            for rnd in (1, 2, 3):
                a.send_update([model], 1, round_number=rnd)
                b.send_update([model], 1, round_number=rnd)
                assert a.recv_weights().round_number == rnd and b.recv_weights().round_number == rnd
            with AggregationClient(server.url, "late", connect_timeout=5, recv_timeout=5):
                pass  # a join is not held up either
    finally:
        stuck.close()
    assert "stuck" not in server.peers_ and [sorted(r.clients) for r in server.history_] == [["a", "b"]] * 3
    assert any("client stuck took nothing sent to it" in r.getMessage() for r in caplog.records)


def test_a_second_connection_with_an_id_is_refused_while_the_first_is_being_welcomed(serve):
    # the id was registered only after the others had been told of the join: a send that took long let a
    # second connection with the same id through, both acknowledged
    server = serve(exit_round=2, participants_count=1, round_timeout=30, read_timeout=30)
    slow = _non_reader(server.url, "slow")
    try:
        with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=20) as a:
            a.send_update([np.ones(1 << 20, "float32")], 1, round_number=1)  # its broadcast waits on "slow"
            first, second = _raw(server.url), _raw(server.url)
            for conn in (first, second):
                conn.send(json.dumps({"type": "subscribe", "client_id": "Z", "protocol": "sedna_lib/1",
                                      "wire": "binary", "nonce": "n"}))
            time.sleep(0.5)  # both are being welcomed: telling "slow" of each join waits on its broadcast
            slow.close()  # the slow peer goes: the sends go on
            answers = []
            for conn in (first, second):
                try:
                    answers.append(json.loads(conn.recv(timeout=10)))
                except Exception:
                    answers.append(None)
    finally:
        first.close()
        second.close()
    kinds = sorted(str((x or {}).get("type")) for x in answers)
    assert kinds == ["error", "subscribe"], answers
    assert [x for x in answers if x and x["type"] == "error"][0]["data"]["code"] == 4409


def test_a_second_start_keeps_the_rounds_and_the_port(serve):
    server = serve(exit_round=2, participants_count=1)
    with AggregationClient(server.url, "t", connect_timeout=5, recv_timeout=5) as client:
        client.send_update([np.full(2, 3.0)], 1, round_number=1)
        assert client.recv_weights().round_number == 1
        port = server.port

        assert server.start(block=False) is server  # serving already: nothing is set up again

        assert server.port == port and server.round_ == 1 and len(server.history_) == 1
        client.send_update([np.full(2, 5.0)], 1, round_number=2)
        msg = client.recv_weights()
    assert msg.exit_flag == "ok" and msg.weights[0].tolist() == [5.0, 5.0]


def test_an_aggregator_that_fails_at_the_end_of_a_round_starts_it_over_and_says_why(serve, caplog):
    from sedna_lib.algorithms.aggregation.fedavg import FedAvg

    class FailsOnce(FedAvg):  # a custom aggregator with a bug that shows once
        failures = 1

        def finish(self):
            if self.failures:
                self.failures -= 1
                raise RuntimeError("a bug in a custom aggregator")
            return super().finish()

    server = serve(aggregation=FailsOnce(), exit_round=1, participants_count=1)
    with AggregationClient(server.url, "t", connect_timeout=5, recv_timeout=5) as client:
        client.send_update([np.full(2, 3.0)], 1, round_number=1)
        with pytest.raises(AggregationError, match=r"round 1 could not be aggregated \(RuntimeError: a bug in "
                                                   r"a custom aggregator\); it starts over"):
            client.recv_weights()
        assert server.round_ == 0 and server.rounds_.submitted_ == []
        client.send_update([np.full(2, 4.0)], 1, round_number=1)  # the round starts over and closes
        msg = client.recv_weights()
    assert msg.exit_flag == "ok" and msg.weights[0].tolist() == [4.0, 4.0]
    logged = [r for r in caplog.records if "could not be aggregated" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None  # said once, with its traceback


def test_a_client_dropped_without_close_closes_its_connection_when_collected(serve):
    import gc

    server = serve()
    client = AggregationClient(server.url, "dropped", connect_timeout=5, recv_timeout=5).connect()
    connection = client._ws  # the websocket connection, with its socket and reader thread
    del client
    gc.collect()

    assert connection.wait_closed(10)  # a bound for a leak, not a timing: the close already ran
    assert connection.close_code == 1000  # closed by this side, with the closing handshake


def test_a_closed_client_leaves_nothing_for_its_finalizer(serve):
    import gc

    server = serve()
    with AggregationClient(server.url, "closed", connect_timeout=5, recv_timeout=5) as client:
        connection = client._ws
    assert connection.wait_closed(10) and not client.is_connected
    del client
    gc.collect()  # the finalizer finds no connection to close

    assert connection.close_code == 1000


def test_an_upload_is_let_go_once_it_is_folded_in(serve):
    # the peer's loop held its last message until the next frame came: in the next round every trainer's
    # previous upload stayed alive beside the one being received, a model copy per trainer
    import gc
    import weakref

    from sedna_lib.algorithms.aggregation.fedavg import FedAvg

    seen = []

    class Watching(FedAvg):
        def add(self, update):
            seen.append(weakref.ref(update.weights[0]))  # the layer as decoded from the received frames
            super().add(update)

    server = serve(aggregation=Watching(), exit_round=2, participants_count=1)
    with AggregationClient(server.url, "t", connect_timeout=5, recv_timeout=10) as client:
        client.send_update([np.ones(1_000_000)], 1, round_number=1)  # 8 MB, in chunks
        assert client.recv_weights().round_number == 1
        deadline = time.monotonic() + 5
        while seen[0]() is not None and time.monotonic() < deadline:  # the server's loop moves on
            gc.collect()
            time.sleep(0.02)
        assert seen[0]() is None


@pytest.mark.parametrize("kwargs, match", [
    ({"exit_round": 0}, "exit_round must be a whole number >= 1, got 0"),
    ({"exit_round": 2.5}, "exit_round must be a whole number >= 1, got 2.5"),
    ({"participants_count": 0}, "participants_count must be a whole number >= 1, got 0"),
    ({"participants_count": True}, "participants_count must be a whole number >= 1, got True"),
    ({"min_clients": 0}, "min_clients must be a whole number >= 1, got 0"),
    ({"min_clients": 3, "participants_count": 2}, "min_clients .* 3 is more than the 2 participants"),
    ({"round_timeout": float("nan")}, "round_timeout must be a finite number > 0, got nan"),
    ({"round_timeout": -1}, "round_timeout must be a finite number > 0, got -1"),
    ({"read_timeout": 0}, "read_timeout must be a finite number > 0, got 0"),
    ({"handshake_timeout": float("inf")}, "handshake_timeout must be a finite number > 0, got inf"),
    ({"max_message_bytes": 0}, "max_message_bytes must be a whole number >= 1, got 0"),
    ({"max_connections": -1}, "max_connections must be a whole number >= 1, got -1"),
    ({"evaluate_every": -2}, "evaluate_every must be a whole number >= 0, got -2"),
    ({"chunk_size": 0}, "chunk_size must be a whole number >= 1, got 0"),
    ({"done_grace": float("nan")}, "done_grace must be a finite number >= 0, got nan"),
    ({"http_port": 70000}, r"http_port must be a whole number from 0 to 65535 \(0: any .*, got 70000"),
])
def test_server_settings_out_of_range_are_refused_at_start_not_clamped(kwargs, match):
    # a round deadline of NaN never fired, 0 participants became 1 and 2.5 rounds became 2, silently
    from sedna_lib.exceptions import ParameterError

    server = AggregationServer("FedAvg", host="127.0.0.1", **{"http_port": 0, **kwargs},
                               context=Context(Config()))
    with pytest.raises(ParameterError, match=match):
        server.start(block=False)
    assert not server._server  # nothing was bound


def test_server_settings_from_the_environment_out_of_range_name_the_variable():
    from sedna_lib.exceptions import ConfigError

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0,
                               context=Context(Config(agg_round_timeout=-5.0, agg_min_clients=1)))
    with pytest.raises(ConfigError, match="AGG_ROUND_TIMEOUT must be a finite number > 0, got -5.0"):
        server.start(block=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"chunk_size": 0}, "chunk_size must be a whole number >= 1, got 0"),
    ({"chunk_size": -1}, "chunk_size must be a whole number >= 1, got -1"),
    ({"recv_timeout": float("nan")}, "recv_timeout must be a finite number > 0, got nan"),
    ({"recv_timeout": -1}, "recv_timeout must be a finite number > 0, got -1"),
    ({"connect_timeout": float("nan")}, "connect_timeout must be a finite number >= 0, got nan"),
    ({"max_message_bytes": 0}, "max_message_bytes must be a whole number >= 1, got 0"),
    ({"wire": "carrier-pigeon"}, "wire must be 'binary' .* or 'json'"),
])
def test_client_settings_out_of_range_are_refused_before_connecting(serve, kwargs, match):
    # a chunk size of 0 was a ZeroDivisionError at the first upload, a NaN receive timeout a timeout
    # "within 0.0 s", an unknown wire silently the binary one
    from sedna_lib.exceptions import ParameterError

    server = serve()
    client = AggregationClient(server.url, "c", **{"connect_timeout": 5, **kwargs})
    with pytest.raises(ParameterError, match=match):
        client.connect()
    assert not client.is_connected


def test_a_server_held_past_the_stop_timeout_is_not_said_stopped_and_a_later_stop_ends_it(serve, caplog):
    from sedna_lib.algorithms.aggregation.fedavg import FedAvg

    entered, release = threading.Event(), threading.Event()

    class Holding(FedAvg):  # a custom aggregator that holds the server's event loop
        def add(self, update):
            entered.set()
            release.wait(30)
            super().add(update)

    server = serve(aggregation=Holding(), exit_round=1, participants_count=1)
    client = AggregationClient(server.url, "t", connect_timeout=5, recv_timeout=10).connect()
    try:
        client.send_update([np.ones(2)], 1, round_number=1)
        assert entered.wait(10)
        with caplog.at_level("INFO"):
            server.stop(timeout=0.2)
            assert server._server.is_running
            assert "stopped" not in " ".join(r.getMessage() for r in caplog.records
                                            if r.name == "sedna_lib.servers.aggregation")
    finally:
        release.set()
    with caplog.at_level("INFO"):
        server.stop()
    assert not server._server.is_running
    said = [r.getMessage() for r in caplog.records if r.name == "sedna_lib.servers.aggregation"]
    assert sum("stopped" in m for m in said) == 1  # said once, when it was true
    client.close()
