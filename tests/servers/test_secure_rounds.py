"""Secure rounds as a state machine: every step a member sends is checked before it is used, and a
round that cannot be unmasked starts over (its members told), never left open."""

import base64

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the secagg extra (cryptography) is missing")
pytest.importorskip("Cryptodome", reason="the secagg extra (pycryptodomex) is missing")

from sedna_lib.context import Context  # noqa: E402
from sedna_lib.exceptions import AggregationError, ParameterError, ProtocolError  # noqa: E402
from sedna_lib.registry import Kind  # noqa: E402
from sedna_lib.servers.secure_rounds import SecureRounds  # noqa: E402
from sedna_lib.transport import messages as m  # noqa: E402
from sedna_lib.transport.secagg import (  # noqa: E402
    PublicKeys,
    SecAggClient,
    encode_fixed_point,
    weighted_input,
)

S = m.SecAggStage


def _b64(raw):
    return base64.b64encode(raw).decode()


def _policy(participants=3, **kwargs):
    policy = SecureRounds(Context().registry.create(Kind.AGGREGATION, "FedAvg"), participants=participants,
                          **kwargs)
    policy.begin(None)
    return policy


class _Member:
    """One trainer's side, driven by hand against the policy."""

    def __init__(self, cid, layers=None, n=4):
        self.cid, self.me = cid, SecAggClient(cid)
        self.layers = layers if layers is not None else [np.full((2, 3), float(len(cid))), np.ones(2)]
        self.n = n

    def keys(self):
        k = self.me.advertise_keys()
        return m.SecAgg(S.KEYS, 1, {"c": _b64(k.c_public), "s": _b64(k.s_public)})

    def shares(self, roster):
        keys = {cid: PublicKeys(base64.b64decode(c), base64.b64decode(s))
                for cid, (c, s) in roster.data["keys"].items()}
        sealed = self.me.share_keys(keys, roster.data["threshold"])
        return m.SecAgg(S.SHARES, 1, {"shares": {k: _b64(v) for k, v in sealed.items()}})

    def masked(self, routed, shapes=None):
        self.me.receive_shares({u: base64.b64decode(v) for u, v in routed.data["shares"].items()})
        words = encode_fixed_point(weighted_input(self.layers, self.n), 24)
        y = self.me.masked_input(words, b"1", peers=routed.data["peers"])
        return m.SecAggMasked(1, y, shapes or [list(np.shape(a)) for a in self.layers])

    def reveal(self, unmask):
        out = self.me.unmask(unmask.data["survivors"], unmask.data["dropped"])
        return m.SecAgg(S.REVEAL, 1, {"shares": {w: [k, i, _b64(b)] for w, (k, (i, b)) in out.items()}})


def _to(offer, cid):
    return next(msg for who, msg in offer.send if who == cid)


def _through_masked(policy, members):
    """Run keys, shares and masked inputs; return the unmask offer."""
    for mb in members:
        offer = policy.step(mb.cid, mb.keys())
    rosters = {mb.cid: _to(offer, mb.cid) for mb in members}
    for mb in members:
        offer = policy.step(mb.cid, mb.shares(rosters[mb.cid]))
    routed = {mb.cid: _to(offer, mb.cid) for mb in members}
    for mb in members:
        offer = policy.step(mb.cid, mb.masked(routed[mb.cid]))
    return offer


def test_a_full_round_closes_with_the_exact_mean():
    members = [_Member(c) for c in ("a", "bb", "ccc")]
    policy = _policy()
    unmask = _through_masked(policy, members)
    for mb in members:
        offer = policy.step(mb.cid, mb.reveal(_to(unmask, mb.cid)))
    assert offer.close == "quorum"
    result = policy.close()
    assert result.weights[0].tolist() == np.full((2, 3), 2.0).tolist() and result.total_sample == 12


@pytest.mark.parametrize("tamper, match", [
    (lambda shares: shares.update(zz=["b", 1, _b64(bytes(16))]), "'zz', who did not share keys"),
    (lambda shares: shares["a"].__setitem__(0, "s"), "must be of kind 'b' \\(it sent its input\\)"),
    (lambda shares: shares["a"].__setitem__(1, 3), "holds the shares of index 2 .*, not 3"),
])
def test_a_malformed_reveal_is_refused_before_it_is_used(tamper, match):
    members = [_Member(c) for c in ("a", "bb", "ccc")]
    policy = _policy()
    unmask = _through_masked(policy, members)
    bad = members[1].reveal(_to(unmask, "bb"))
    tamper(bad.data["shares"])
    with pytest.raises(ProtocolError, match=match):
        policy.step("bb", bad)
    assert "bb" not in policy._reveals  # nothing of it kept: the member is refused and leaves


def _failed(offer, members):
    """The round was abandoned: every member still there is told why, nothing closes."""
    assert offer.close is None
    errors = dict(offer.send)
    assert sorted(errors) == sorted(members)
    assert all(isinstance(e, m.ErrorMessage) and e.error == "AggregationError" for e in errors.values())
    return next(iter(errors.values())).message


def test_a_wrong_share_fails_the_round_cleanly_and_it_starts_over():
    members = [_Member(c) for c in ("a", "bb", "ccc")]
    policy = _policy()
    unmask = _through_masked(policy, members)
    for mb in members:
        reveal = mb.reveal(_to(unmask, mb.cid))
        if mb.cid == "bb":  # well formed, but not the share it holds
            reveal.data["shares"]["a"][2] = _b64(bytes(16))
        offer = policy.step(mb.cid, reveal)
    message = _failed(offer, ["a", "bb", "ccc"])
    assert "the revealed shares of 'a' disagree" in message and "starts over" in message
    assert policy.cohort_ == [] and policy.submitted_ == []  # back at the keys step
    unmask = _through_masked(policy, members)  # and the next try finishes
    for mb in members:
        offer = policy.step(mb.cid, mb.reveal(_to(unmask, mb.cid)))
    assert offer.close == "quorum" and policy.close().total_sample == 12


def test_a_round_whose_samples_add_up_to_zero_fails_cleanly():
    members = [_Member(c, n=0) for c in ("a", "bb", "ccc")]
    policy = _policy()
    unmask = _through_masked(policy, members)
    for mb in members:
        offer = policy.step(mb.cid, mb.reveal(_to(unmask, mb.cid)))
    assert "sample counts add up to 0" in _failed(offer, ["a", "bb", "ccc"])


def test_layer_shapes_so_large_their_product_overflows_are_refused():
    members = [_Member(c) for c in ("a", "bb")]
    policy = _policy(participants=2)
    for mb in members:
        offer = policy.step(mb.cid, mb.keys())
    for mb in members:
        routed = policy.step(mb.cid, mb.shares(_to(offer, mb.cid)))
    # 2^32 * 2^32 words wrapped around to 0 in int64, and one word "fit" them
    with pytest.raises(ProtocolError, match="does not fit the shapes"):
        policy.step("a", m.SecAggMasked(1, np.zeros(1, dtype=np.uint64), [[2 ** 32, 2 ** 32]]))
    assert routed.send and "a" not in policy._masked


def test_the_global_model_fixes_the_layer_shapes_not_the_first_input():
    members = [_Member(c) for c in ("a", "bb")]
    policy = _policy(participants=2)
    policy.begin([np.zeros((2, 3)), np.zeros(2)])
    for mb in members:
        offer = policy.step(mb.cid, mb.keys())
    for mb in members:
        routed = policy.step(mb.cid, mb.shares(_to(offer, mb.cid)))
    # the same number of words, other shapes: the first input no longer decides for everyone
    with pytest.raises(AggregationError, match=r"shapes \[\[3, 2\], \[2\]\], expected \[\[2, 3\], \[2\]\]"):
        policy.step("a", members[0].masked(_to(routed, "a"), shapes=[[3, 2], [2]]))


def test_a_low_order_key_is_refused_at_the_keys_step():
    policy = _policy()
    real = _Member("a").keys()
    with pytest.raises(ProtocolError, match="keys 's' is not a usable X25519 public key"):
        policy.step("a", m.SecAgg(S.KEYS, 1, {"c": real.data["c"], "s": _b64(bytes(32))}))
    assert policy.submitted_ == []


def test_a_round_never_goes_on_with_one_member():
    with pytest.raises(ParameterError, match="a round needs 2 participants or more"):
        _policy(participants=1)
    # threshold 1 and min_clients 1 asked for: one member's keys at the deadline still open nothing
    policy = _policy(participants=3, threshold=1, min_clients=1)
    a, b = _Member("a"), _Member("bb")
    policy.step("a", a.keys())
    assert policy.deadline().send == [] and policy.cohort_ == []
    offer = policy.step("bb", b.keys())
    offer = policy.deadline()
    assert policy.cohort_ == ["a", "bb"] and policy.threshold_ == 1
    routed = None
    for mb in (a, b):
        routed = policy.step(mb.cid, mb.shares(_to(offer, mb.cid)))
    policy.step("a", a.masked(_to(routed, "a")))
    # b never sends its input: one survivor's sum would be its update, so the round starts over
    offer = policy.deadline()
    assert "fewer than the two a secure sum needs" in _failed(offer, ["a"])  # bb was dropped
