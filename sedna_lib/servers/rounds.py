"""The aggregation server's round policy: when an update counts, and when a round closes.

The server (:mod:`sedna_lib.servers.aggregation`) keeps the transport and the sessions: who is
connected, what to send to whom, the deadline timer. Everything about rounds lives in a small
strategy object it is built with:

- :class:`SynchronousRounds` (FedAvg and the other round-based aggregators): a round closes when
  ``participants`` updates arrived, when every contributor still connected has sent after some
  left (``dropout``), or at the deadline with at least ``min_clients`` updates;
- :class:`BufferedRounds` (FedBuff): every update is the client's change from the model version it
  trained from, weighted by its staleness; the aggregator steps when its buffer is full, and each
  client is answered at once so it never waits for the others.

The strategy drives the aggregator through its public methods only (``begin_round``, ``add``,
``finish``): what a round needs from an update (its layer names, its staleness) travels in the
:class:`~sedna_lib.base.ClientUpdate`, and what a round produced comes back as a :class:`RoundResult`.
"""

from __future__ import annotations

import abc
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base import Aggregator, ClientUpdate
from ..exceptions import AggregationError, ProtocolError

__all__ = ["Offer", "RoundResult", "RoundPolicy", "SynchronousRounds", "BufferedRounds", "round_policy"]

logger = logging.getLogger(__name__)


@dataclass
class Offer:
    """What the strategy made of one update.

    Attributes
    ----------
    accepted : bool
        Whether the update went into the round (False: dropped, with the reason logged).
    close : str or None
        Why the round closes now (``quorum``, ``dropout``, ``buffer``), or None.
    reply : bool
        Whether the sender is answered with the current model now, without waiting for the round.
    opened : bool
        Whether this update opened the round (the server arms the round's deadline).
    send : list of (str, object)
        Messages to deliver now, by client id (a secure round's next step).
    passed_over : int or None
        The round a dropped update was for, when it is not the server's: the sender is answered
        with the current model marked with it (``reply`` set), and trains again from that model for
        the server's round.
    """

    accepted: bool = False
    close: str | None = None
    reply: bool = False
    opened: bool = False
    send: list = field(default_factory=list)
    passed_over: int | None = None


@dataclass
class RoundResult:
    """What one closed round produced.

    Attributes
    ----------
    round_number : int
        The round (1-based).
    weights : list of numpy.ndarray
        The new global model.
    total_sample : int
        Samples behind it.
    clients : list of str
        Who contributed.
    seconds : float
        Time from the round's first update to its close.
    epsilon : float or None
        A differentially private aggregator's privacy spent so far.
    """

    round_number: int
    weights: list
    total_sample: int
    clients: list
    seconds: float
    epsilon: float | None = None


class RoundPolicy(abc.ABC):
    """When an update counts and when a round closes; the aggregation server's strategy object.

    Parameters
    ----------
    aggregator : Aggregator
        The algorithm, driven through ``begin_round``/``add``/``finish`` only.
    participants : int, default=1
        Updates that close a round at once.
    min_clients : int, default=1
        Fewest updates a round aggregates once its deadline passed.

    Attributes
    ----------
    round_ : int
        Rounds closed.
    submitted_ : list of str
        Contributors of the open round, in arrival order.
    participated_ : set of str
        Everyone who contributed in some round.
    departed_ : set of str
        Contributors that disconnected and have not come back.
    """

    answers_sender: bool = False
    """Whether a round that closes on an update answers only its sender (the others are still training)."""

    uses_deadline: bool = True
    """Whether the server arms a deadline when a round opens."""

    def __init__(self, aggregator: Aggregator, *, participants: int = 1, min_clients: int = 1) -> None:
        self.aggregator = aggregator
        self.participants = participants
        self.min_clients = min_clients
        self.round_ = 0
        self.submitted_: list[str] = []
        self.participated_: set[str] = set()
        self.departed_: set[str] = set()
        self._started: float | None = None

    def begin(self, global_weights: list | None) -> None:
        """Open the next round from the current global model.

        Parameters
        ----------
        global_weights : list of numpy.ndarray or None
            The model the round starts from (None before any).
        """
        self.aggregator.begin_round(global_weights)

    def abandon(self, global_weights: list | None) -> None:
        """Drop the open round, which could not be aggregated: it starts over from ``global_weights``.

        Parameters
        ----------
        global_weights : list of numpy.ndarray or None
            The model the round started from.
        """
        self.submitted_ = []
        self._started = None
        self.begin(global_weights)

    @abc.abstractmethod
    def offer(self, update: ClientUpdate, round_number: int | None, global_weights: list | None) -> Offer:
        """Take one client's upload.

        Parameters
        ----------
        update : ClientUpdate
            The upload (``client_id`` set; ``names`` when the client sent layer names).
        round_number : int or None
            The round the client trained for (``None``: the current one).
        global_weights : list of numpy.ndarray or None
            The server's current global model.

        Returns
        -------
        Offer
            What happened to it.

        Raises
        ------
        AggregationError
            If the update cannot be aggregated (the server refuses its sender).
        """

    def step(self, client_id: str, message: Any) -> Offer:
        """Take a protocol message other than an upload (a secure round's steps).

        Parameters
        ----------
        client_id : str
            The sender.
        message : object
            The decoded message (:class:`~sedna_lib.transport.messages.SecAgg` or
            :class:`~sedna_lib.transport.messages.SecAggMasked`).

        Returns
        -------
        Offer
            What happened, and what to send.

        Raises
        ------
        ProtocolError
            If this policy takes no such message.
        """
        raise ProtocolError(f"this server does not aggregate securely; a {type(message).__name__} message "
                            "has no place here (set AGG_SECURE_AGGREGATION on the server to use secure "
                            "aggregation)")

    def client_settings(self) -> dict:
        """Return the settings this policy adds to what clients get with each model (none by default).

        Returns
        -------
        dict
            JSON-able settings.
        """
        return {}

    def _accepted(self, client_id: str) -> bool:
        """Record a contribution; return whether it opened the round."""
        self.submitted_.append(client_id)
        self.participated_.add(client_id)
        if self._started is None:
            self._started = time.monotonic()
            return True
        return False

    def complete(self) -> str | None:
        """Why the open round can close now (``quorum``/``dropout``), or None to keep waiting.

        Returns
        -------
        str or None
            The reason.
        """
        if not self.submitted_:
            return None
        if len(self.submitted_) >= self.participants:
            return "quorum"
        gone = len(self.departed_.difference(self.submitted_))
        if len(self.submitted_) >= self.min_clients and len(self.submitted_) + gone >= self.participants:
            return "dropout"
        return None

    def leave(self, client_id: str) -> Offer:
        """Note that a client disconnected.

        Parameters
        ----------
        client_id : str
            Who left.

        Returns
        -------
        Offer
            ``close`` set when the open round closes now (a contributor left and the others are all in).
        """
        if client_id not in self.participated_:
            return Offer()
        self.departed_.add(client_id)  # no longer waited for; counted again when it comes back
        return Offer(close=self.complete())

    def rejoin(self, client_id: str) -> None:
        """Note that a client (re)connected: it is waited for again.

        Parameters
        ----------
        client_id : str
            Who joined.
        """
        self.departed_.discard(client_id)

    def deadline(self) -> Offer:
        """Tell what to do now that the open round's deadline passed.

        Returns
        -------
        Offer
            ``close='deadline'`` when at least ``min_clients`` updates arrived; nothing to do
            otherwise (the server waits another period).
        """
        if self.submitted_ and len(self.submitted_) >= self.min_clients:
            return Offer(close="deadline")
        return Offer()

    def close(self) -> RoundResult:
        """Aggregate the open round.

        Returns
        -------
        RoundResult
            The new model and who made it.

        Raises
        ------
        AggregationError
            If the aggregator has nothing usable.
        """
        weights = self.aggregator.finish()
        self.round_ += 1
        seconds = time.monotonic() - (self._started or time.monotonic())
        result = RoundResult(self.round_, weights, int(getattr(self.aggregator, "total_samples_", 0)),
                             list(self.submitted_), seconds, getattr(self.aggregator, "epsilon_", None))
        self.submitted_ = []
        self._started = None
        return result


class SynchronousRounds(RoundPolicy):
    """Rounds of models: each client sends the model it trained for the current round.

    A client's second update in a round is dropped (the round's model reaches it when the round
    closes). An update for another round (a server that restarted and starts over from round 1, a
    client that fell behind) is dropped too, and its sender is answered at once with the current
    model (``passed_over``): it trains again from it for the server's round, instead of waiting for
    a round that will never close on its update.
    """

    def offer(self, update: ClientUpdate, round_number: int | None, global_weights: list | None) -> Offer:
        """Add the update to the round; see :meth:`RoundPolicy.offer`."""
        who = update.client_id
        if round_number is not None and round_number != self.round_ + 1:
            logger.warning("%s sent its update for round %s, but the server is on round %d: it is answered "
                           "with the current model to train again from", who, round_number, self.round_ + 1)
            return Offer(False, reply=True, passed_over=int(round_number))
        if who in self.submitted_:
            logger.info("dropping a second update from %s in round %d", who, self.round_ + 1)
            return Offer(False)
        self.aggregator.add(update)
        opened = self._accepted(who)
        return Offer(True, close=self.complete(), opened=opened)


class BufferedRounds(RoundPolicy):
    """Buffered asynchronous aggregation (FedBuff): changes applied whenever the buffer fills.

    The client trained from model version ``round_number - 1``; its change from that version is
    added with its staleness (``metrics['staleness']``), and the client is answered at once with
    the current model so that it trains again. Versions older than ``max(4, 2 * participants)``
    steps are not kept: an update from one of them is dropped.
    """

    answers_sender = True
    uses_deadline = False

    def __init__(self, aggregator: Aggregator, *, participants: int = 1, min_clients: int = 1) -> None:
        super().__init__(aggregator, participants=participants, min_clients=min_clients)
        self._versions: dict[int, list] = {}

    def offer(self, update: ClientUpdate, round_number: int | None, global_weights: list | None) -> Offer:
        """Add the client's change with its staleness; see :meth:`RoundPolicy.offer`."""
        who = update.client_id
        if not self._versions:
            if global_weights is None:
                raise AggregationError(f"{type(self.aggregator).__name__} is asynchronous: clients send "
                                       "their change from the model they started from, so the server "
                                       "needs an initial model (initial_weights)")
            self._versions[self.round_] = global_weights
        start = self.round_ if round_number is None else int(round_number) - 1
        reference = self._versions.get(start)
        if reference is None:
            logger.info("dropping %s's update from model version %d (now %d; versions before %d are not "
                        "kept)", who, start, self.round_, min(self._versions))
            return Offer(False, reply=True)
        weights = [np.asarray(w) for w in (update.weights or [])]
        if len(weights) != len(reference):
            raise AggregationError(f"update from {who!r} has {len(weights)} layers but the model has "
                                   f"{len(reference)}")
        delta = []
        for i, (w, r) in enumerate(zip(weights, reference)):
            if np.shape(w) != np.shape(r):
                raise AggregationError(f"update from {who!r}: layer {i} has shape {np.shape(w)}, expected "
                                       f"{np.shape(r)}")
            delta.append(np.asarray(w, dtype=np.float64) - np.asarray(r, dtype=np.float64))
        metrics = dict(update.metrics) if isinstance(update.metrics, dict) else {}
        metrics["staleness"] = self.round_ - start
        self.aggregator.add(update._replace(weights=delta, metrics=metrics))
        opened = self._accepted(who)
        full = bool(getattr(self.aggregator, "full", False))
        return Offer(True, close="buffer" if full else None, reply=not full, opened=opened)

    def complete(self) -> str | None:
        """Return None: a buffer closes when it is full, never because a client left."""
        return None

    def deadline(self) -> Offer:
        """Do nothing: buffers have no deadline."""
        return Offer()

    def close(self) -> RoundResult:
        """Apply the buffer and keep the new model version; see :meth:`RoundPolicy.close`."""
        result = super().close()
        self._versions[self.round_] = result.weights
        keep = max(4, 2 * self.participants)  # staleness beyond this is dropped
        for old in [v for v in self._versions if v < self.round_ - keep]:
            del self._versions[old]
        return result


def round_policy(aggregator: Aggregator, *, participants: int = 1, min_clients: int = 1) -> RoundPolicy:
    """Return the round policy an aggregator calls for.

    Parameters
    ----------
    aggregator : Aggregator
        The algorithm; an ``asynchronous`` one gets :class:`BufferedRounds`, any other
        :class:`SynchronousRounds`.
    participants : int, default=1
        Updates that close a round.
    min_clients : int, default=1
        Fewest updates a round aggregates at its deadline.

    Returns
    -------
    RoundPolicy
        A new policy (its round is not begun yet: call :meth:`RoundPolicy.begin`).
    """
    kind = BufferedRounds if getattr(aggregator, "asynchronous", False) else SynchronousRounds
    return kind(aggregator, participants=participants, min_clients=min_clients)
