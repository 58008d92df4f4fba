"""Secure aggregation over the server's websocket: masks cancel into exact FedAvg, a member that
leaves after sharing its keys is recovered, and the server never holds an unmasked update."""

import base64
import threading

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the secagg extra (cryptography) is missing")
pytest.importorskip("Cryptodome", reason="the secagg extra (pycryptodomex) is missing")
pytest.importorskip("websockets.sync.client")

from sedna_lib.config import Config  # noqa: E402
from sedna_lib.context import Context  # noqa: E402
from sedna_lib.exceptions import (  # noqa: E402
    AggregationError,
    ParameterError,
    ProtocolError,
    TransportTimeout,
)
from sedna_lib.federated_learning.client import secure_round  # noqa: E402
from sedna_lib.registry import Kind  # noqa: E402
from sedna_lib.servers.aggregation import AggregationServer  # noqa: E402
from sedna_lib.transport import messages as m  # noqa: E402
from sedna_lib.transport.secagg import (  # noqa: E402
    PublicKeys,
    SecAggClient,
    encode_fixed_point,
    weighted_input,
)
from sedna_lib.transport.ws import AggregationClient  # noqa: E402

pytestmark = pytest.mark.integration


def _updates(count, seed=0):
    rng = np.random.default_rng(seed)
    return {f"c{i}": ([rng.integers(-64, 64, size=(3, 4)) / 8.0, rng.integers(-64, 64, size=4) / 8.0],
                      int(rng.integers(1, 50))) for i in range(count)}


def _fedavg(updates):
    return Context().registry.create(Kind.AGGREGATION, "FedAvg").aggregate(
        [_update(layers, n) for layers, n in updates])


def _update(layers, n):
    from sedna_lib.base import ClientUpdate

    return ClientUpdate(layers, n)


@pytest.fixture
def secure_server():
    servers = []

    def start(**kwargs):
        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, done_grace=2,
                                   context=Context(Config(agg_secure_aggregation=True)), **kwargs)
        servers.append(server.start(block=False))
        return server

    yield start
    for s in servers:
        s.stop()


def _run_members(url, updates, results, ids):
    # connected first (the slow part on a busy machine), so that their keys arrive together
    clients = {cid: AggregationClient(url, cid, connect_timeout=10, recv_timeout=20).connect() for cid in ids}

    def member(cid):
        layers, n = updates[cid]
        with clients[cid] as client:
            settings = client.initial_.config["secure_aggregation"]
            results[cid] = secure_round(client, layers, n, 1, settings)[0]

    threads = [threading.Thread(target=member, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    return threads


def test_secure_rounds_give_exact_fedavg_and_the_server_holds_only_masked_inputs(secure_server):
    updates = _updates(3)
    server = secure_server(exit_round=1, participants_count=3)
    results = {}

    for t in _run_members(server.url, updates, results, sorted(updates)):
        t.join(30)

    expected = _fedavg(updates.values())
    assert sorted(results) == ["c0", "c1", "c2"]
    for msg in results.values():
        assert msg.is_last and msg.total_sample == sum(n for _, n in updates.values())
        assert all(np.array_equal(g, e) for g, e in zip(msg.weights, expected))
    assert server.history_[0].clients == ["c0", "c1", "c2"] and server.history_[0].reason == "quorum"
    held = server.rounds_.inputs_
    assert sorted(held) == ["c0", "c1", "c2"]
    for cid, (layers, n) in updates.items():
        clear = encode_fixed_point(weighted_input(layers, n), 24)
        assert np.count_nonzero(held[cid] == clear) <= 1  # masked: no word in the clear (1 by chance at most)
    summed = sum(held.values())  # the pairwise masks cancel, the self masks do not
    assert not np.array_equal(summed, sum(encode_fixed_point(weighted_input(ls, n), 24)
                                          for ls, n in updates.values()))


def test_a_member_that_leaves_after_sharing_its_keys_is_recovered_from_the_shares(secure_server):
    updates = _updates(3, seed=1)
    server = secure_server(exit_round=1, participants_count=3)
    results = {}
    threads = _run_members(server.url, updates, results, ["c0", "c1"])
    with AggregationClient(server.url, "c2", connect_timeout=10, recv_timeout=20) as leaver:
        me = SecAggClient("c2")
        keys = me.advertise_keys()
        b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
        leaver.send_message(m.SecAgg(m.SecAggStage.KEYS, 1,
                                     {"c": b64(keys.c_public), "s": b64(keys.s_public)}))
        roster = leaver.recv_message()
        while not isinstance(roster, m.SecAgg):
            roster = leaver.recv_message()
        assert roster.stage == m.SecAggStage.ROSTER and roster.data["threshold"] == 2
        peers = {cid: PublicKeys(base64.b64decode(c), base64.b64decode(s)) for cid, (c, s)
                 in roster.data["keys"].items()}
        sealed = me.share_keys(peers, roster.data["threshold"])
        shares = {k: b64(v) for k, v in sealed.items()}
        leaver.send_message(m.SecAgg(m.SecAggStage.SHARES, 1, {"shares": shares}))
        routed = leaver.recv_message()
        assert routed.stage == m.SecAggStage.ROUTED and routed.data["peers"] == ["c0", "c1", "c2"]
    for t in threads:  # c2 left before its masked input: c0 and c1 reveal its mask key's shares
        t.join(30)

    expected = _fedavg([updates["c0"], updates["c1"]])
    assert sorted(results) == ["c0", "c1"]
    for msg in results.values():
        assert all(np.array_equal(g, e) for g, e in zip(msg.weights, expected))
    assert server.history_[0].clients == ["c0", "c1"] and server.history_[0].reason == "dropout"
    assert sorted(server.rounds_.inputs_) == ["c0", "c1"]


def test_a_plain_upload_to_a_secure_server_is_refused_and_never_aggregated(secure_server):
    server = secure_server(exit_round=1, participants_count=2)
    with AggregationClient(server.url, "plain", connect_timeout=10, recv_timeout=10) as client:
        assert client.initial_.config == {"secure_aggregation": {"fractional_bits": 24}}
        client.send_update([np.ones(3)], 1, round_number=1)
        with pytest.raises(ProtocolError, match="aggregates securely"):
            client.recv_weights()

    assert server.round_ == 0 and server.rounds_.inputs_ == {} and server.rounds_.submitted_ == []


def test_a_configured_threshold_is_never_lowered_and_never_above_the_participants(secure_server):
    with pytest.raises(ParameterError, match="between 0"):
        too_high = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, participants_count=2,
                                     secure_aggregation=True, secure_threshold=3, context=Context(Config()))
        too_high.start(block=False)
    server = secure_server(exit_round=1, participants_count=3, secure_threshold=3, round_timeout=0.5)
    silent = _keys_only(server.url, "c2")
    lone = AggregationClient(server.url, "c0", connect_timeout=10, recv_timeout=3).connect()
    keys = SecAggClient("c0").advertise_keys()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    lone.send_message(m.SecAgg(m.SecAggStage.KEYS, 1, {"c": b64(keys.c_public), "s": b64(keys.s_public)}))

    seen = []
    with pytest.raises(TransportTimeout):  # two keys, threshold 3: no roster, whatever the deadlines
        while True:
            seen.append(lone.recv_message(timeout=2.0))
    assert not any(isinstance(msg, m.SecAgg) for msg in seen)
    assert server.rounds_.cohort_ == [] and sorted(server.rounds_.submitted_) == ["c0", "c2"]
    lone.close(), silent.close()


def test_secure_aggregation_needs_a_linear_aggregator():
    server = AggregationServer("Median", host="127.0.0.1", http_port=0, secure_aggregation=True,
                               context=Context(Config()))

    with pytest.raises(ParameterError, match="linear aggregator"):
        server.start(block=False)
    server.stop()


def _keys_only(url, cid):
    """A member that sends its keys and then goes silent (connected, never answering)."""
    client = AggregationClient(url, cid, connect_timeout=10, recv_timeout=20).connect()
    keys = SecAggClient(cid).advertise_keys()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    client.send_message(m.SecAgg(m.SecAggStage.KEYS, 1, {"c": b64(keys.c_public), "s": b64(keys.s_public)}))
    return client


def test_a_silent_member_is_dropped_at_the_step_deadline_and_the_round_still_ends(secure_server):
    updates = _updates(3, seed=2)
    server = secure_server(exit_round=1, participants_count=3, round_timeout=2.0)
    results = {}
    threads = _run_members(server.url, updates, results, ["c0", "c1"])
    silent = _keys_only(server.url, "c2")

    for t in threads:
        t.join(30)
    silent.close()

    expected = _fedavg([updates["c0"], updates["c1"]])
    assert sorted(results) == ["c0", "c1"]
    assert all(np.array_equal(g, e) for g, e in zip(results["c0"].weights, expected))
    assert server.history_[0].clients == ["c0", "c1"]


def test_too_few_members_left_is_an_aggregation_error_and_the_server_keeps_serving(secure_server):
    server = secure_server(exit_round=1, participants_count=3, secure_threshold=3, round_timeout=2.0)
    updates = _updates(3, seed=3)
    errors = {}
    clients = {cid: AggregationClient(server.url, cid, connect_timeout=10, recv_timeout=20).connect()
               for cid in ("c0", "c1")}

    def member(cid):
        layers, n = updates[cid]
        with clients[cid] as client:
            try:
                secure_round(client, layers, n, 1, client.initial_.config["secure_aggregation"])
            except AggregationError as exc:
                errors[cid] = str(exc)

    threads = [threading.Thread(target=member, args=(cid,)) for cid in ("c0", "c1")]
    for t in threads:
        t.start()
    silent = _keys_only(server.url, "c2")
    for t in threads:
        t.join(30)
    silent.close()

    assert sorted(errors) == ["c0", "c1"]
    assert "fewer than the threshold 3" in errors["c0"] and "starts over" in errors["c0"]
    assert server.round_ == 0 and not server.done_ and server.rounds_.submitted_ == []
    results = {}  # the round starts over: three members finish it
    for t in _run_members(server.url, updates, results, ["c0", "c1", "c2"]):
        t.join(30)
    assert sorted(results) == ["c0", "c1", "c2"] and server.round_ == 1


_ZERO_KEY = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize("data, stage, match", [
    ({"c": "not base64!", "s": "AAAA"}, "keys", "keys 'c' is not valid base64"),
    ({"c": base64.b64encode(b"short").decode(), "s": "AAAA"}, "keys", "must be 32 bytes"),
    ({"c": _ZERO_KEY, "s": _ZERO_KEY}, "keys", "keys 'c' is not a usable X25519 public key"),
    ({"keys": {}}, "roster", "cannot send the 'roster' step"),
])
def test_a_malformed_step_is_refused_with_4400_and_the_server_goes_on(secure_server, data, stage, match):
    server = secure_server(exit_round=1, participants_count=2)
    with AggregationClient(server.url, "bad", connect_timeout=10, recv_timeout=10) as client:
        client.send_message(m.SecAgg(m.SecAggStage(stage), 1, data))
        with pytest.raises(ProtocolError, match=match):
            client.recv_message()

    results = {}
    for t in _run_members(server.url, _updates(2), results, ["c0", "c1"]):
        t.join(30)
    assert results["c0"].is_last and server.round_ == 1 and server.history_[0].clients == ["c0", "c1"]


def test_a_secure_server_for_one_participant_refuses_to_start():
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, participants_count=1,
                               context=Context(Config(agg_secure_aggregation=True)))
    with pytest.raises(ParameterError, match="a round needs 2 participants or more"):
        server.start(block=False)
    server.stop()


def test_a_member_revealing_a_share_it_does_not_hold_is_refused_and_the_round_ends_without_it(
        secure_server):
    updates = _updates(3, seed=4)
    server = secure_server(exit_round=1, participants_count=3)
    results, refused = {}, {}
    threads = _run_members(server.url, updates, results, ["c0", "c1"])
    with AggregationClient(server.url, "c2", connect_timeout=10, recv_timeout=20) as cheat:
        layers, n = updates["c2"]
        me = SecAggClient("c2")
        keys = me.advertise_keys()
        b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
        cheat.send_message(m.SecAgg(m.SecAggStage.KEYS, 1,
                                    {"c": b64(keys.c_public), "s": b64(keys.s_public)}))
        try:
            while True:
                msg = cheat.recv_message()
                if not isinstance(msg, m.SecAgg):
                    continue
                if msg.stage == m.SecAggStage.ROSTER:
                    peers = {cid: PublicKeys(base64.b64decode(c), base64.b64decode(s))
                             for cid, (c, s) in msg.data["keys"].items()}
                    sealed = me.share_keys(peers, msg.data["threshold"])
                    cheat.send_message(m.SecAgg(m.SecAggStage.SHARES, 1,
                                                {"shares": {k: b64(v) for k, v in sealed.items()}}))
                elif msg.stage == m.SecAggStage.ROUTED:
                    me.receive_shares({u: base64.b64decode(v) for u, v in msg.data["shares"].items()})
                    words = encode_fixed_point(weighted_input(layers, n), 24, summands=3)
                    cheat.send_message(m.SecAggMasked(1, me.masked_input(words, b"1", msg.data["peers"]),
                                                      [list(np.shape(a)) for a in layers]))
                elif msg.stage == m.SecAggStage.UNMASK:
                    reveal = me.unmask(msg.data["survivors"], msg.data["dropped"])
                    # the index of c0's shares, not of its own
                    shares = {w: [k, 1, b64(b)] for w, (k, (_, b)) in reveal.items()}
                    cheat.send_message(m.SecAgg(m.SecAggStage.REVEAL, 1, {"shares": shares}))
        except ProtocolError as exc:
            refused["c2"] = str(exc)
    for t in threads:
        t.join(30)

    assert "holds the shares of index 3" in refused["c2"]
    # c2's input arrived: c0 and c1 reveal its self-mask seed, and the round is the mean of all three
    expected = _fedavg(updates.values())
    assert sorted(results) == ["c0", "c1"]
    assert all(np.array_equal(g, e) for g, e in zip(results["c0"].weights, expected))


def test_a_round_that_cannot_be_unmasked_is_started_over_and_the_server_keeps_serving(secure_server):
    server = secure_server(exit_round=1, participants_count=2)
    zero = {cid: (layers, 0) for cid, (layers, _) in _updates(2, seed=5).items()}  # no samples at all
    errors = {}
    clients = {cid: AggregationClient(server.url, cid, connect_timeout=10, recv_timeout=20).connect()
               for cid in ("c0", "c1")}

    def member(cid):
        with clients[cid] as client:
            try:
                secure_round(client, zero[cid][0], 0, 1, client.initial_.config["secure_aggregation"])
            except AggregationError as exc:
                errors[cid] = str(exc)

    threads = [threading.Thread(target=member, args=(cid,)) for cid in ("c0", "c1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(errors) == ["c0", "c1"]
    assert "sample counts add up to 0" in errors["c0"] and "starts over" in errors["c0"]
    assert server.round_ == 0 and not server.done_

    updates, results = _updates(2, seed=6), {}
    for t in _run_members(server.url, updates, results, ["c0", "c1"]):
        t.join(30)
    assert sorted(results) == ["c0", "c1"] and server.round_ == 1


def test_a_secure_round_gives_the_layers_back_in_their_own_dtypes(secure_server):
    # the unmasked mean is float64: without the layers' dtypes every layer came back float64 and an integer
    # counter (a torch num_batches_tracked) as a fraction, which the trainers then truncated
    raw = _updates(3)
    updates = {cid: ([layers[0].astype(np.float32), np.array(3 + i, dtype=np.int64)], n)
               for i, (cid, (layers, n)) in enumerate(sorted(raw.items()))}
    server = secure_server(exit_round=1, participants_count=3)
    results = {}
    for t in _run_members(server.url, updates, results, sorted(updates)):
        t.join(30)

    expected = _fedavg(updates.values())  # the plain round: float32 kept, the counter rounded
    assert [e.dtype for e in expected] == [np.float32, np.int64]
    for msg in results.values():
        assert [w.dtype for w in msg.weights] == [np.float32, np.int64]
        assert all(np.array_equal(g, e) for g, e in zip(msg.weights, expected))


def test_a_trainer_refuses_a_roster_that_would_leave_its_input_alone_in_the_sum():
    # the server's rule, checked again by the trainer: against a server that opens a round for one member
    # (an older or a misbehaving one), the trainer sends no shares and no input
    from sedna_lib.servers.secure_rounds import SecureRounds

    class OneMemberRounds(SecureRounds):
        def _on_keys(self, cid, data):
            offer = super()._on_keys(cid, data)
            return offer if offer.send else self._roster()  # a roster of the first trainer alone

    class LoneServer(AggregationServer):
        def _round_policy(self):
            return OneMemberRounds(self.aggregator_, participants=2)

    server = LoneServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=1, participants_count=2,
                        context=Context(Config(agg_secure_aggregation=True))).start(block=False)
    try:
        layers, n = _updates(1)["c0"]
        with AggregationClient(server.url, "c0", connect_timeout=10, recv_timeout=10) as client:
            with pytest.raises(AggregationError, match=r"roster \(\['c0'\]\) would reveal this trainer's update"):
                secure_round(client, layers, n, 1, client.initial_.config["secure_aggregation"])
        assert server.rounds_._shares == {} and server.rounds_._masked == {}  # nothing of it was sent
    finally:
        server.stop()
