"""Secure aggregation over the server's websocket: the server learns only the sum of a round's updates.

:class:`SecureRounds` is the aggregation server's third round policy (after
:class:`~sedna_lib.servers.rounds.SynchronousRounds` and
:class:`~sedna_lib.servers.rounds.BufferedRounds`). A round runs the four steps of Bonawitz et al.
(CCS 2017) with the primitives of :mod:`sedna_lib.transport.secagg`, each step a websocket message
(:class:`~sedna_lib.transport.messages.SecAggStage`):

1. each trainer, once trained, sends its two public keys (``keys``); when ``participants`` have
   (or at the deadline, with at least ``min_clients``), they are the round's cohort and get
   everyone's keys and the threshold ``t`` (``roster``);
2. each member sends its sealed Shamir shares (``shares``); the server routes to each member the
   shares sealed for it, and tells who shared (``routed``);
3. each member sends its input ``[n * w, n]`` in fixed point plus its masks, modulo 2^64
   (``secagg_masked``, a binary message);
4. the server tells the survivors who sent an input and who dropped out (``unmask``); they reveal
   the shares that remove the survivors' self masks and the dropped members' pairwise masks
   (``reveal``), and the server obtains the sum, divides out ``sum n``, and hands the mean to the
   aggregator as the round's one update.

The server holds masked inputs only (:attr:`SecureRounds.inputs_`); a member that leaves after
sharing its keys is recovered from the others' shares. If fewer than ``t`` members are left at a
step, the round cannot be unmasked: the members still there are told so (an ``AggregationError``
on their side) and the round starts over from the same model.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from typing import Any

import numpy as np

from ..base import Aggregator, ClientUpdate, cast_to_layer, check_count
from ..exceptions import AggregationError, ParameterError, ProtocolError
from ..transport import messages as m
from ..transport.secagg import (MIN_MEMBERS, PublicKeys, SecAggServer, check_fractional_bits,
                                check_public_key, decode_fixed_point, split_layers)
from .rounds import Offer, RoundPolicy, RoundResult

__all__ = ["SecureRounds"]

logger = logging.getLogger(__name__)

_KEY_BYTES = 32
_S = m.SecAggStage
# the server's own steps: waiting for keys, shares, masked inputs, reveals
_KEYS, _SHARES, _MASKED, _REVEAL = "keys", "shares", "masked input", "reveal"


def _b64(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a base64 string, got {type(value).__name__}")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProtocolError(f"{what} is not valid base64") from None
    if size is not None and len(raw) != size:
        raise ProtocolError(f"{what} must be {size} bytes, got {len(raw)}")
    return raw


class SecureRounds(RoundPolicy):
    """Synchronous rounds through secure aggregation (pairwise masks, Shamir shares for dropouts).

    Parameters
    ----------
    aggregator : Aggregator
        A ``linear`` aggregator (FedAvg, FedAvgM, FedProx, FedAdam, ...): it receives the
        round's sample-weighted mean as its only update.
    participants : int, default=2
        Members a round's cohort waits for: two at least (the sum of one input is that input).
    min_clients : int, default=2
        Fewest members a round starts with at its deadline (never fewer than two).
    threshold : int, default=0
        ``t``: shares that rebuild a secret, and members needed at the end of a round; 0 means a
        majority of the cohort (``n // 2 + 1``).
    fractional_bits : int, default=24
        Fixed-point precision of the inputs.

    Attributes
    ----------
    inputs_ : dict of str to numpy.ndarray
        The masked inputs the last round received, by client: all the server ever holds of an
        update (uint64, modulo 2^64).
    cohort_ : list of str
        The open round's members (those whose keys went out in the roster).
    threshold_ : int
        The open round's ``t``.

    Raises
    ------
    ParameterError
        If the aggregator is not linear, ``participants`` is below two, the threshold is negative or
        above ``participants``, ``fractional_bits`` is not in [0, 62], or a count is not a whole
        number (2.5, ``True``, NaN).

    Notes
    -----
    A configured threshold is never lowered: a round starts only with at least ``threshold`` members.
    A round never goes on with fewer than two members at any step: the sum of one member's input
    is that input, so such a round starts over instead.
    """

    def __init__(self, aggregator: Aggregator, *, participants: int = 2, min_clients: int = 2,
                 threshold: int = 0, fractional_bits: int = 24) -> None:
        if not getattr(aggregator, "linear", False):
            raise ParameterError("secure aggregation reveals only the sample-weighted mean, so it needs a "
                                 f"linear aggregator (FedAvg, FedAvgM, FedProx, FedAdam, ...); "
                                 f"{type(aggregator).__name__} is not")
        # whole numbers, checked: a bare int() took 2.5 participants as 2 and a threshold of True as 1
        participants = check_count("participants", participants, 0)
        min_clients = check_count("min_clients", min_clients, 0)
        threshold = check_count("threshold", threshold, 0)
        if not 0 <= threshold <= max(participants, 1):
            raise ParameterError("the secure-aggregation threshold must be between 0 (a majority) and the "
                                 f"participants per round ({participants}), got {threshold}")
        if participants < MIN_MEMBERS:
            raise ParameterError(f"secure aggregation hides each update in the sum of {MIN_MEMBERS} at "
                                 f"least, so a round needs {MIN_MEMBERS} participants or more "
                                 f"(participants_count, PARTICIPANTS_COUNT); got {participants}")
        super().__init__(aggregator, participants=participants,
                         min_clients=max(min_clients, MIN_MEMBERS))
        self.threshold = threshold
        self.fractional_bits = check_fractional_bits(fractional_bits)
        self.inputs_: dict[str, np.ndarray] = {}

    # -- round state ---------------------------------------------------------------------------
    def begin(self, global_weights: list | None) -> None:
        """Open the next round: wait for keys; see :meth:`RoundPolicy.begin`."""
        super().begin(global_weights)
        self._global = global_weights
        self._restart()

    def _restart(self) -> None:
        self._stage = _KEYS
        self._keys: dict[str, tuple[str, str]] = {}
        self.cohort_: list[str] = []
        self.threshold_ = 0
        self._shares: dict[str, dict[str, str]] = {}
        self._shared: list[str] = []
        self._masked: dict[str, np.ndarray] = {}
        self._shapes: list | None = None
        self._dtypes: list | None = None
        self._reveals: dict[str, dict] = {}
        self._result: tuple[list, float] | None = None
        self._gone: set[str] = set()
        self.submitted_ = []
        self._started = None

    def client_settings(self) -> dict:
        """Tell trainers to run their rounds through secure aggregation (and its fixed-point precision)."""
        return {"secure_aggregation": {"fractional_bits": self.fractional_bits}}

    def offer(self, update: ClientUpdate, round_number: int | None, global_weights: list | None) -> Offer:
        """Refuse a plain upload: in secure rounds the server must never hold an unmasked update.

        Raises
        ------
        ProtocolError
            Always.
        """
        raise ProtocolError("this server aggregates securely (AGG_SECURE_AGGREGATION): an update must go "
                            "through the secure-aggregation steps, never as plain weights; use a sedna_lib "
                            "trainer, which follows the server's settings")

    # -- the steps -----------------------------------------------------------------------------
    def step(self, client_id: str, message: Any) -> Offer:
        """Take one step of a client; see :meth:`RoundPolicy.step`.

        Raises
        ------
        ProtocolError
            If the message is malformed.
        """
        r = self.round_ + 1
        if message.round_number != r:
            logger.info("dropping %s's secure-aggregation message for round %s (the server is on round %d)",
                        client_id, message.round_number, r)
            return Offer()
        if isinstance(message, m.SecAggMasked):
            return self._on_masked(client_id, message)
        if not isinstance(message, m.SecAgg):
            return super().step(client_id, message)
        handler = {_S.KEYS: self._on_keys, _S.SHARES: self._on_shares, _S.REVEAL: self._on_reveal}.get(
            message.stage)
        if handler is None:
            raise ProtocolError(f"a client cannot send the {message.stage.value!r} step; it sends keys, "
                                "shares, its masked input and reveal")
        return handler(client_id, message.data)

    def _late(self, client_id: str, what: str) -> Offer:
        logger.info("dropping %s's %s: round %d is past that step (it gets the round's model)", client_id,
                    what, self.round_ + 1)
        return Offer()

    def _on_keys(self, cid: str, data: dict) -> Offer:
        if self._stage != _KEYS or cid in self._keys:
            return self._late(cid, "keys")
        c, s = data.get("c"), data.get("s")
        check_public_key(_b64(c, "keys 'c'", _KEY_BYTES), "keys 'c'")
        check_public_key(_b64(s, "keys 's'", _KEY_BYTES), "keys 's'")
        self._keys[cid] = (c, s)
        opened = self._accepted(cid)
        if len(self._keys) >= self.participants or (self.complete() is not None and self._enough_keys()):
            offer = self._roster()
            offer.opened = opened
            return offer
        return Offer(True, opened=opened)

    def _enough_keys(self) -> bool:
        """Whether the keys in can start a round: at least the configured threshold (and two)."""
        return len(self._keys) >= max(self.threshold, MIN_MEMBERS)

    def _floor(self) -> int:
        """Members a step needs to go on: the round's threshold, and two at least."""
        return max(self.threshold_, MIN_MEMBERS)

    def _roster(self) -> Offer:
        self.cohort_ = sorted(self._keys)
        n = len(self.cohort_)
        self.threshold_ = self.threshold or n // 2 + 1
        self._stage = _SHARES
        keys = {cid: list(self._keys[cid]) for cid in self.cohort_}
        msg = m.SecAgg(_S.ROSTER, self.round_ + 1, {"keys": keys, "threshold": self.threshold_})
        logger.info("round %d: secure aggregation with %d members, threshold %d", self.round_ + 1, n,
                    self.threshold_)
        return Offer(True, send=[(cid, msg) for cid in self.cohort_])

    def _on_shares(self, cid: str, data: dict) -> Offer:
        if self._stage != _SHARES or cid not in self.cohort_ or cid in self._shares:
            return self._late(cid, "shares")
        shares = data.get("shares")
        if not isinstance(shares, dict) or set(shares) - set(self.cohort_) or cid in shares:
            raise ProtocolError("shares must be an object naming other members of the round's cohort")
        for to, sealed in shares.items():
            _b64(sealed, f"the share for {to!r}")
        self._shares[cid] = dict(shares)
        return self._advance()

    def _on_masked(self, cid: str, msg: m.SecAggMasked) -> Offer:
        if self._stage != _MASKED or cid not in self._shared or cid in self._masked:
            return self._late(cid, "masked input")
        shapes = [tuple(int(d) for d in s) for s in msg.shapes]
        size = sum(math.prod(s) for s in shapes) + 1  # Python ints: huge shapes cannot wrap around
        if msg.masked.size != size:
            raise ProtocolError(f"a masked input of {msg.masked.size} words does not fit the shapes "
                                f"{msg.shapes} ({size} words)")
        if self._shapes is None:  # the global model's layers, when the server has one; else the first input's
            self._shapes = [tuple(np.shape(w)) for w in self._global] if self._global else shapes
        if shapes != self._shapes:
            raise AggregationError(f"masked input from {cid!r} has layer shapes {msg.shapes}, expected "
                                   f"{[list(s) for s in self._shapes]}")
        if msg.dtypes is not None:  # the widest each layer is sent in (float32 and float64 peers: float64)
            self._dtypes = [np.promote_types(a, b) for a, b in zip(self._dtypes, msg.dtypes)] \
                if self._dtypes is not None else [np.dtype(d) for d in msg.dtypes]
        self._masked[cid] = np.array(msg.masked, dtype=np.uint64)  # its own copy, out of the frame buffer
        return self._advance()

    def _on_reveal(self, cid: str, data: dict) -> Offer:
        if self._stage != _REVEAL or cid not in self._masked or cid in self._reveals:
            return self._late(cid, "reveal")
        shares = data.get("shares")
        if not isinstance(shares, dict):
            raise ProtocolError("reveal 'shares' must be an object of [kind, index, base64] by member")
        # each member holds the share at its own position in the cohort, of survivors' self-mask seeds
        # ('b') and of dropped members' mask keys ('s'): anything else is refused before it is used
        own = self.cohort_.index(cid) + 1
        reveal = {}
        for who, item in shares.items():
            if (not isinstance(item, list) or len(item) != 3 or item[0] not in ("b", "s")
                    or not isinstance(item[1], int) or isinstance(item[1], bool)):
                raise ProtocolError(f"the revealed share of {who!r} must be [kind ('b' or 's'), index, "
                                    "base64]")
            if who not in self._shared:
                raise ProtocolError(f"a share revealed for {who!r}, who did not share keys in round "
                                    f"{self.round_ + 1}")
            kind = "b" if who in self._masked else "s"
            if item[0] != kind:
                raise ProtocolError(f"the share revealed for {who!r} must be of kind {kind!r} ("
                                    f"{'it sent its input' if kind == 'b' else 'it dropped out'})")
            if item[1] != own:
                raise ProtocolError(f"{cid!r} holds the shares of index {own} (its place in the cohort), not "
                                    f"{item[1]}")
            reveal[who] = (item[0], (item[1], _b64(item[2], f"the revealed share of {who!r}", 16)))
        self._reveals[cid] = reveal
        return self._advance()

    # -- moving on -----------------------------------------------------------------------------
    def _advance(self) -> Offer:
        """Move to the next step when every member still there has done this one."""
        if self._stage == _SHARES:
            waiting = set(self.cohort_) - set(self._shares) - self._gone
            if waiting:
                return Offer(True)
            return self._route()
        if self._stage == _MASKED:
            if set(self._shared) - set(self._masked) - self._gone:
                return Offer(True)
            return self._unmask()
        if self._stage == _REVEAL:
            if set(self._masked) - set(self._reveals) - self._gone:
                return Offer(True)
            if len(self._reveals) < self._floor():
                return self._fail(f"only {len(self._reveals)} members answered the unmasking step")
            try:  # unmasked here, so that a round that cannot be is started over, never left open
                self._result = self._unmasked_mean()
            except AggregationError as exc:
                return self._fail(f"the round's sum could not be unmasked ({exc})", short=False)
            dropped = len(self._shared) - len(self._masked)
            return Offer(True, close="dropout" if dropped else "quorum")
        return Offer(True)

    def _route(self) -> Offer:
        self._shared = sorted(self._shares)
        if len(self._shared) < self._floor():
            return self._fail(f"only {len(self._shared)} members shared their keys")
        self._stage = _MASKED
        send = []
        for v in self._shared:
            if v in self._gone:
                continue
            sealed = {u: self._shares[u][v] for u in self._shared if v in self._shares[u]}
            send.append((v, m.SecAgg(_S.ROUTED, self.round_ + 1, {"shares": sealed, "peers": self._shared})))
        return Offer(True, send=send)

    def _unmask(self) -> Offer:
        survivors = sorted(self._masked)
        if len(survivors) < self._floor():
            return self._fail(f"only {len(survivors)} members sent their masked input")
        dropped = sorted(set(self._shared) - set(survivors))
        self._stage = _REVEAL
        msg = m.SecAgg(_S.UNMASK, self.round_ + 1, {"survivors": survivors, "dropped": dropped})
        return Offer(True, send=[(cid, msg) for cid in survivors if cid not in self._gone])

    def _fail(self, why: str, short: bool = True) -> Offer:
        if short:
            floor = (f"the threshold {self.threshold_}" if self.threshold_ >= MIN_MEMBERS
                     else "the two a secure sum needs")
            message = (f"{why}, fewer than {floor}: round {self.round_ + 1} cannot be unmasked; it starts "
                       "over from the same model (more trainers, or a lower AGG_SECURE_THRESHOLD, let it "
                       "finish)")
        else:
            message = f"{why}: round {self.round_ + 1} starts over from the same model"
        logger.warning("secure aggregation: %s", message)
        members = [cid for cid in self.cohort_ if cid not in self._gone]
        self.begin(self._global)
        error = m.ErrorMessage(message, "AggregationError", 4400)
        return Offer(True, send=[(cid, error) for cid in members])

    def leave(self, client_id: str) -> Offer:
        """Drop a member that left from the round (its masks are removed from the others' shares)."""
        if client_id in self.participated_:
            self.departed_.add(client_id)
        if self._stage == _KEYS:
            if client_id in self._keys:  # not in a cohort yet: forget it
                del self._keys[client_id]
                self.submitted_.remove(client_id)
            if self._keys and self.complete() is not None and self._enough_keys():
                return self._roster()
            return Offer()
        if client_id not in self.cohort_:
            return Offer()
        self._gone.add(client_id)
        return self._advance()

    def rejoin(self, client_id: str) -> None:
        """Wait for a returning client from the next round on (mid-round it stays dropped)."""
        self.departed_.discard(client_id)

    def deadline(self) -> Offer:
        """Start the round with the keys there, or drop the members that did not answer a step.

        Returns
        -------
        Offer
            The next step's messages, the round's close, or nothing (still fewer keys than
            ``min_clients`` or the threshold).
        """
        if self._stage == _KEYS:
            if len(self._keys) >= self.min_clients and self._enough_keys():
                return self._roster()
            return Offer()
        waiting = {_SHARES: set(self.cohort_) - set(self._shares),
                   _MASKED: set(self._shared) - set(self._masked),
                   _REVEAL: set(self._masked) - set(self._reveals)}[self._stage]
        if waiting:
            logger.warning("round %d deadline at step %s: going on without %s", self.round_ + 1,
                           self._stage, sorted(waiting))
        self._gone |= waiting
        return self._advance()

    def _unmasked_mean(self) -> tuple[list, float]:
        """Remove the masks and return the round's sample-weighted mean and sample total.

        Raises
        ------
        AggregationError
            If a secret cannot be rebuilt from the revealed shares, or the survivors' sample
            counts add up to 0 (or beyond what the fixed point holds).
        """
        r = self.round_ + 1
        keys = {u: PublicKeys(base64.b64decode(self._keys[u][0]), base64.b64decode(self._keys[u][1]))
                for u in self._shared}
        total = SecAggServer(self.threshold_).unmasked_sum(self._masked, keys, list(self._reveals.values()),
                                                           str(r).encode())
        layers, n = split_layers(decode_fixed_point(total, self.fractional_bits), self._shapes or [])
        if self._dtypes is not None:  # the mean in the layers' own dtypes (integer counters rounded)
            layers = [cast_to_layer(a, d) for a, d in zip(layers, self._dtypes)]
        return layers, n

    def close(self) -> RoundResult:
        """Aggregate the round's mean (unmasked as the last reveal came in); see :meth:`RoundPolicy.close`."""
        layers, n = self._result if self._result is not None else self._unmasked_mean()
        self._result = None
        self.aggregator.add(ClientUpdate(layers, n, "secure-sum"))
        self.inputs_ = dict(self._masked)
        self.submitted_ = sorted(self._masked)
        return super().close()
