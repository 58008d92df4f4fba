"""The federated-learning websocket as original Sedna peers speak it: golden frames, both directions.

Three pairings are checked: an original trainer (raw JSON frames, as Sedna's
``AggregationClient`` writes them) against a sedna_lib server; a sedna_lib trainer against a
server held to the original's contract (docs/sedna-compatibility.md, "Federated learning
websocket": every message relayed to every client, the sender's own ``subscribe`` included;
FedAvg in float64, client by client in upload order; text frames only); and mixed rounds with
both kinds of trainer on either server. Every expected frame below is written by hand from the
contract.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.transport import messages as m
from sedna_lib.transport.ws import AggregationClient

pytestmark = pytest.mark.integration
ws_sync = pytest.importorskip("websockets.sync.client")
ws_server = pytest.importorskip("websockets.sync.server")

# -- golden frames an original trainer sends (json.dumps defaults) ----------------------------------
ORIGINAL_SUBSCRIBE_A = '{"type": "subscribe", "client_id": "a"}'
ORIGINAL_UPDATE_A = ('{"type": "update_weight", "client": "a", "data": {"num_samples": 1, '
                     '"weights": [[1.0, 2.0], [3.0]]}, "job_name": "job"}')

# -- golden frames a sedna_lib server sends an original trainer -------------------------------------
ECHO_A = '{"type": "subscribe", "client_id": "a"}'
JOIN_B = '{"type": "CLIENT_JOIN", "data": "b"}'
ECHO_B = '{"type": "subscribe", "client_id": "b"}'
# clients a (n=1, [[1, 2], [3]]) and b (n=3, [[3, 4], [5]]): FedAvg [[2.5, 3.5], [4.5]] over 4 samples
RECV_ROUND_1 = ('{"type": "recv_weight", "client": "b", "data": {"total_sample": 4, "round_number": 1, '
                '"weights": [[2.5, 3.5], [4.5]], "exit_flag": "ok"}, "job_name": "job", "round_number": 1}')


def _raw(url):
    from sedna_lib.transport.ws import _connect_kwargs

    return ws_sync.connect(url, max_size=None, proxy=None, **_connect_kwargs())


class OriginalContractServer:
    """An aggregation server held to the original's wire contract (section 8.2), for the echo checks.

    Every message goes to every connected client, the sender included; ``update_weight`` is kept
    until ``participants`` clients have one, then the triggering message is turned into the
    round's ``recv_weight`` and sent to all. Binary frames are outside the contract: they are
    recorded (the original fails on them) and the connection closes.
    """

    def __init__(self, participants: int, exit_round: int) -> None:
        self.participants = participants
        self.exit_round = exit_round
        self.round = 0
        self.clients: dict = {}
        self.pending: dict = {}
        self.received: list = []
        self.lock = threading.Lock()
        self._server = ws_server.serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/FedAvg"

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    @staticmethod
    def _fedavg(updates):
        total = sum(n for n, _ in updates)
        out = []
        for i in range(len(updates[0][1])):
            row = np.zeros(np.array(updates[0][1][i]).shape)
            for n, w in updates:
                row += np.array(w[i]) * n / total
            out.append(row.tolist())
        return total, out

    def _send_all(self, msg: dict) -> None:
        for ws in list(self.clients.values()):
            ws.send(json.dumps(msg))

    def _handle(self, ws) -> None:
        cid = None
        try:
            for frame in ws:
                self.received.append(frame)
                if isinstance(frame, bytes):
                    return  # the original cannot decode a binary frame
                msg = json.loads(frame)
                with self.lock:
                    if msg.get("type") == "subscribe":
                        cid = msg.get("client_id") or "generated"
                        self._send_all({"type": "CLIENT_JOIN", "data": cid})
                        self.clients[cid] = ws
                    if msg.get("type") == "update_weight" and msg.get("data"):
                        self.pending[cid] = (int(msg["data"]["num_samples"]), msg["data"]["weights"])
                        if len(self.pending) < self.participants:
                            continue
                        self.round += 1
                        total, weights = self._fedavg(list(self.pending.values()))
                        msg["type"] = "recv_weight"
                        msg["round_number"] = self.round
                        msg["data"] = {"total_sample": total, "round_number": self.round, "weights": weights,
                                       "exit_flag": "ok" if self.round >= self.exit_round else "continue"}
                        self.pending.clear()
                    self._send_all(msg)
        finally:
            with self.lock:
                if cid is not None:
                    self.clients.pop(cid, None)


@pytest.fixture
def original_server():
    servers = []

    def start(**kwargs):
        server = OriginalContractServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def sedna_lib_server():
    servers = []

    def start(**kwargs):
        kwargs.setdefault("done_grace", 2)
        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config()),
                                   **kwargs)
        servers.append(server.start(block=False))
        return server

    yield start
    for s in servers:
        s.stop()


# -- the echo: a relayed copy of one's own subscribe never passes for a sedna_lib server ------------
def test_sedna_lib_subscribe_frame_carries_protocol_and_a_fresh_nonce(original_server):
    server = original_server(participants=1, exit_round=1)
    client = AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=5)
    with client:
        pass
    first = json.loads(server.received[0])
    assert set(first) == {"type", "client_id", "protocol", "wire", "nonce"}
    assert first["type"] == "subscribe" and first["client_id"] == "a"
    assert first["protocol"] == "sedna_lib/1" and first["wire"] == "binary"
    assert len(first["nonce"]) == 32 and "server" not in first and "ack" not in first


def test_own_subscribe_relayed_back_is_read_as_an_original_server(original_server):
    server = original_server(participants=1, exit_round=1)
    with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=5) as client:
        assert client.server_protocol_ is None and not client.is_binary
        client.send_update([np.array([1.0, 2.0], "float32")], 2, round_number=1)
        msg = client.recv_weights()
    assert msg.exit_flag == "ok" and msg.weights[0].tolist() == [1.0, 2.0]
    assert all(isinstance(f, str) for f in server.received)  # no binary frame reached the original
    assert json.loads(server.received[1]) == {"type": "update_weight", "client": "a",
                                              "data": {"num_samples": 2, "weights": [[1.0, 2.0]]},
                                              "job_name": ""}


def test_a_subscribe_with_protocol_but_without_the_servers_ack_is_not_a_handshake():
    nonce = "0123456789abcdef0123456789abcdef"
    relayed = m.from_json(json.dumps({"type": "subscribe", "client_id": "a", "protocol": "sedna_lib/1",
                                      "wire": "binary", "nonce": nonce}))
    forged = m.from_json(json.dumps({"type": "subscribe", "client_id": "a", "protocol": "sedna_lib/1",
                                     "server": "sedna_lib/1", "ack": "someone else's nonce"}))
    real = m.from_json(json.dumps({"type": "subscribe", "client_id": "a", "protocol": "sedna_lib/1",
                                   "wire": "binary", "server": "sedna_lib/1", "ack": nonce}))
    assert not relayed.is_ack_for(nonce) and not forged.is_ack_for(nonce) and real.is_ack_for(nonce)


def test_sedna_lib_server_acknowledges_with_server_field_and_the_nonce(sedna_lib_server):
    server = sedna_lib_server()
    raw = _raw(server.url)
    raw.send('{"type": "subscribe", "client_id": "a", "protocol": "sedna_lib/1", "wire": "binary", '
             '"nonce": "n-0001"}')
    text = raw.recv(timeout=5)
    ack = json.loads(text)
    session = ack.pop("session")
    assert text.startswith('{"type": "subscribe", "client_id": "a", "protocol": "sedna_lib/1", '
                           '"wire": "binary", "server": "sedna_lib/1", "ack": "n-0001", "session": ')
    assert ack == {"type": "subscribe", "client_id": "a", "protocol": "sedna_lib/1", "wire": "binary",
                   "server": "sedna_lib/1", "ack": "n-0001"}
    assert len(session) == 32
    raw.close()


def test_sedna_lib_client_goes_binary_with_a_sedna_lib_server(sedna_lib_server):
    server = sedna_lib_server()
    with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=5) as client:
        assert client.server_protocol_ == "sedna_lib/1" and client.is_binary


# -- an original trainer against a sedna_lib server: golden frames server -> client -----------------
def test_original_trainers_get_the_originals_frames_from_a_sedna_lib_server(sedna_lib_server):
    server = sedna_lib_server(exit_round=1, participants_count=2)
    a, b = _raw(server.url), _raw(server.url)
    a.send(ORIGINAL_SUBSCRIBE_A)
    assert a.recv(timeout=5) == ECHO_A
    b.send('{"type": "subscribe", "client_id": "b"}')
    assert [a.recv(timeout=5), a.recv(timeout=5)] == [JOIN_B, ECHO_B]
    assert b.recv(timeout=5) == ECHO_B
    a.send(ORIGINAL_UPDATE_A)
    b.send('{"type": "update_weight", "client": "b", "data": {"num_samples": 3, '
           '"weights": [[3.0, 4.0], [5.0]]}, "job_name": "job"}')
    assert a.recv(timeout=5) == RECV_ROUND_1
    assert b.recv(timeout=5) == RECV_ROUND_1
    a.close(), b.close()
    assert server.wait(10)


# -- mixed rounds, either server: exact FedAvg ------------------------------------------------------
def _original_trainer(url, cid, n, weights, rounds, out):
    ws = _raw(url)
    ws.send(json.dumps({"type": "subscribe", "client_id": cid}))
    ws.recv(timeout=10)  # the reply connect() waits for (any message)
    for _ in range(rounds):
        ws.send(json.dumps({"type": "update_weight", "client": cid,
                            "data": {"num_samples": n, "weights": weights}, "job_name": "job"}))
        while True:
            msg = json.loads(ws.recv(timeout=10))
            if msg.get("type") == "recv_weight":
                break
        weights = msg["data"]["weights"]
    out[cid] = weights
    ws.close()


def _sedna_lib_trainer(url, cid, n, weights, rounds, out):
    with AggregationClient(url, cid, connect_timeout=10, recv_timeout=10) as client:
        w = [np.asarray(x, dtype="float32") for x in weights]
        for r in range(1, rounds + 1):
            client.send_update(w, n, round_number=r)
            w = client.recv_weights().weights
        out[cid] = ([x.tolist() for x in w], client.is_binary)


def _fedavg64(updates):
    total = sum(n for n, _ in updates)
    return [sum(np.asarray(w[i], dtype=np.float64) * n for n, w in updates) / total
            for i in range(len(updates[0][1]))]


@pytest.mark.parametrize("kind", ["original", "sedna_lib"])
def test_mixed_trainers_complete_with_exact_fedavg_on_either_server(kind, original_server, sedna_lib_server):
    server = (original_server(participants=3, exit_round=1) if kind == "original"
              else sedna_lib_server(exit_round=1, participants_count=3))
    # values exact in float32 so both wires carry the same numbers
    ups = {"o1": (1, [[0.5, 1.25], [2.0]]), "o2": (2, [[-1.0, 4.0], [0.25]]),
           "s1": (5, [[3.0, -0.75], [8.0]])}
    out: dict = {}
    threads = [threading.Thread(target=_original_trainer, args=(server.url, c, n, w, 1, out))
               for c, (n, w) in ups.items() if c.startswith("o")]
    threads.append(threading.Thread(target=_sedna_lib_trainer, args=(server.url, "s1", *ups["s1"], 1, out)))
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    expected = [x.tolist() for x in _fedavg64(list(ups.values()))]
    assert out["o1"] == out["o2"] == expected
    got, binary = out["s1"]
    assert binary is (kind == "sedna_lib")
    np.testing.assert_allclose(np.concatenate([np.ravel(x) for x in got]),
                               np.concatenate([np.ravel(x) for x in expected]), rtol=1e-7)
    if kind == "original":
        assert all(isinstance(f, str) for f in server.received)
