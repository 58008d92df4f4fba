"""The trainer's round loop shared by FederatedLearning, collaborative_training.fit and the simulation."""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..backends.arrays import split_xy
from ..base import Aggregator, check_count
from ..exceptions import AggregationError, DataError, ProtocolError, RemoteError, TransportError

__all__ = ["check_classes", "connect_to_aggregator", "count_samples", "has_prepare_update", "local_round",
           "run_client", "secure_round", "RoundOutcome"]

logger = logging.getLogger(__name__)

_WAIT_NOTICE_S = 5.0
"""Seconds a trainer waits for the aggregator before it says, once, that it is still waiting."""


def count_samples(data: Any) -> int:
    """Count training samples in the forms the backends accept.

    Parameters
    ----------
    data : object
        A datasource (``.x``), an ``(x, y)`` tuple, an array, a torch ``DataLoader`` or a
        ``tf.data.Dataset``.

    Returns
    -------
    int
        The number of samples (0 if it cannot be told).
    """
    if data is None:
        return 0
    x = getattr(data, "x", None)
    if x is not None:
        return len(x)
    if isinstance(data, tuple) and data:
        return len(data[0])
    dataset = getattr(data, "dataset", None)  # torch DataLoader
    if dataset is not None and hasattr(dataset, "__len__"):
        return len(dataset)
    if hasattr(data, "cardinality") and hasattr(data, "unbatch"):  # tf.data
        n = 0
        for batch in data:
            first = batch[0] if isinstance(batch, (tuple, list)) else batch
            n += int(first.shape[0]) if len(first.shape) else 1
        return n
    try:
        return len(data)
    except TypeError:
        return 0


@dataclass
class RoundOutcome:
    """What a trainer saw in one round.

    Attributes
    ----------
    round_number : int
        The round the server finished.
    total_sample : int
        Samples behind the global model.
    is_last : bool
        Whether the job ended.
    train_result : object
        What the backend's ``train`` returned.
    bytes_sent : int
        Upload size.
    config : dict
        The server's settings for the next round.
    started_at : float or None
        Wall-clock time (``time.time()``) at which this round's local training began.
    evaluation : dict or None
        The trainer's evaluation of the received global model on its evaluation data, when the
        server asked for one (``evaluate`` in its settings): the numeric metrics and
        ``num_samples``; it is reported to the server with the next upload.
    """

    round_number: int
    total_sample: int
    is_last: bool
    train_result: Any = None
    bytes_sent: int = 0
    config: dict = field(default_factory=dict)
    started_at: float | None = None
    evaluation: dict | None = None


def local_round(backend: Any, train_data: Any, valid_data: Any = None, train_kwargs: dict | None = None,
                config: dict | None = None) -> Any:
    """Train locally once, applying the server's round settings (``proximal_mu``).

    Parameters
    ----------
    backend : Backend
        The wrapped model.
    train_data, valid_data : object
        Local data.
    train_kwargs : dict, default=None
        Options for ``backend.train`` (epochs, batch_size, loss, optimizer, ...).
    config : dict, default=None
        The server's settings for this round.

    Returns
    -------
    object
        What ``backend.train`` returned.
    """
    kwargs = dict(train_kwargs or {})
    mu = (config or {}).get("proximal_mu")
    if mu:  # as sent: the backend checks it (float() made True a 1.0)
        kwargs.setdefault("proximal_mu", mu)
    return backend.train(train_data, valid_data, **kwargs)


def _round_kwargs(train_kwargs: dict | None, round_number: int) -> dict | None:
    """Return one round's options: a ``seed`` becomes ``seed + round_number`` (rounds differ, runs repeat)."""
    if not train_kwargs or train_kwargs.get("seed") is None:
        return train_kwargs
    # any whole number (the backend checks its own range): int() made a seed of 2.5 a 2, True a 1
    return {**train_kwargs, "seed": check_count("seed", train_kwargs["seed"], -2 ** 63) + round_number}


def has_prepare_update(aggregator: Any) -> bool:
    """Tell whether an aggregator transforms the client's update before it is sent (DP clipping, noise).

    Parameters
    ----------
    aggregator : Aggregator
        The client's copy of the algorithm.

    Returns
    -------
    bool
        True when it overrides :meth:`~sedna_lib.base.Aggregator.prepare_update`.
    """
    return (isinstance(aggregator, Aggregator)
            and type(aggregator).prepare_update is not Aggregator.prepare_update)


def _evaluate(backend: Any, data: Any, round_number: int, train_kwargs: dict | None) -> dict | None:
    """Evaluate the global model the backend holds; None when there is no evaluation data."""
    if data is None:
        return None
    kwargs = {k: v for k, v in (train_kwargs or {}).items() if k in ("loss", "batch_size")}
    metrics = backend.evaluate(data, **kwargs)
    numeric = {str(k): float(v) for k, v in (metrics.items() if isinstance(metrics, dict) else ())
               if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
    return {"round": int(round_number), "num_samples": count_samples(data), "metrics": numeric}


def _metrics_kw(extra: dict) -> dict:
    return {"metrics": extra} if extra else {}


def _send_evaluation(client: Any, report: dict) -> None:
    """Send the last round's evaluation to a sedna_lib server (a Sedna server would relay it to everyone)."""
    from ..transport import messages as m

    if client.server_protocol_ != m.PROTOCOL:
        return
    client.send_message(m.Evaluation(report["round"], report["num_samples"], report["metrics"]))


_PASSED_OVER = "passed_over"
"""Key of a model's settings by which a server says that the trainer's update named another round.

Its value is the round the update named; the model, its round and its other settings are the
server's current ones: the trainer trains again from them for the server's next round.
"""


def _passed_over(msg: Any, current: int) -> bool:
    """Tell whether ``msg`` answers the update for round ``current + 1`` with the server's model."""
    return (not msg.is_last and isinstance(msg.config, dict)
            and msg.config.get(_PASSED_OVER) == current + 1)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: Any) -> bytes:
    return base64.b64decode(str(text).encode("ascii"), validate=True)


def connect_to_aggregator(client: Any) -> None:
    """Connect ``client`` to the aggregator; say once (WARNING) when it is not reachable after a few seconds.

    Connecting retries until ``CONNECT_TIMEOUT`` (300 s by default), since the aggregator may
    start after the trainers; without a word, a trainer whose aggregator is not there would look
    hung for that long.
    """
    import threading

    try:
        timeout = float(client.connect_timeout)
    except (TypeError, ValueError):
        timeout = 0.0  # connect() refuses the setting, naming it
    notice = None
    if timeout > _WAIT_NOTICE_S:
        def say() -> None:
            if not client.is_connected:
                logger.warning("waiting for the aggregator at %s: not reachable yet; giving up after %s s "
                               "(CONNECT_TIMEOUT)", client.url, f"{timeout:g}")

        notice = threading.Timer(_WAIT_NOTICE_S, say)
        notice.daemon = True
        notice.start()
    try:
        client.connect()
    finally:
        if notice is not None:
            notice.cancel()


def check_classes(backend: Any, data: Any, who: str) -> None:
    """Refuse labels that lack classes the fitted (received) classifier knows, or add new ones.

    A warm-started scikit-learn fit on other classes reshapes the model (a shard of digits 0-4 gives
    five rows of weights for ten), and the round's updates could not be averaged. A deployed trainer
    checks its shard against the global model before its first training; ``simulate`` checks each
    client's data before any training.

    Parameters
    ----------
    backend : Backend
        The trainer's backend (only a scikit-learn classifier with ``classes_`` is checked).
    data : object
        The local training data.
    who : str
        Names the data's owner in the message.

    Raises
    ------
    DataError
        Naming ``who`` and the classes its labels lack or add.
    """
    model = getattr(backend, "estimator", None) if getattr(backend, "framework", "") == "sklearn" else None
    known = getattr(model, "classes_", None)
    _, y = split_xy(data)
    if known is None or y is None:
        return
    try:
        present = set(np.unique(np.asarray(y)).tolist())
        known = np.asarray(known).tolist()
    except (TypeError, ValueError):
        return
    missing = [c for c in known if c not in present]
    if missing:
        raise DataError(f"{who}: {type(model).__name__} cannot go on training from its weights on labels "
                        f"without the classes {missing} it already knows; in federated learning every "
                        f"client's labels must cover the model's classes (a scikit-learn fit on fewer "
                        f"classes changes the weights' shapes): give each client samples of every class")
    extra = sorted(present - set(known), key=str)
    if extra:
        raise DataError(f"{who}: {type(model).__name__} knows the classes {known}, and these labels add "
                        f"{extra}; fit the starting model on every class the clients hold")


def _check_cohort(me: str, members: Any, what: str) -> None:
    """Refuse a step whose members leave this trainer's input alone in the sum (or leave it out).

    The server's own rule, checked again on the trainer's side: a sum of one input is that input,
    so a round with fewer than two members would hand the trainer's update over.

    Raises
    ------
    AggregationError
        If ``me`` is not among ``members``, or they are fewer than two.
    """
    from ..transport.secagg import MIN_MEMBERS

    if me not in members or len(members) < MIN_MEMBERS:
        raise AggregationError(f"the server's secure-aggregation {what} ({sorted(members)}) would reveal "
                               f"this trainer's update: a round needs {MIN_MEMBERS} members at least, this "
                               "one among them; its input is not sent")


def secure_round(client: Any, weights: list, num_samples: int, round_number: int,
                 settings: dict, evaluation: dict | None = None) -> tuple[Any, int]:
    """Upload one round's model through secure aggregation: the server only ever sees it masked.

    Runs this trainer's side of the steps (:class:`~sedna_lib.transport.messages.SecAggStage`):
    advertise keys, share them, send the masked input ``[n * w, n]``, reveal the shares the
    server needs to remove the masks; a dropped member's masks are removed from the others' shares.

    Parameters
    ----------
    client : AggregationClient
        The connection to a server running secure rounds.
    weights : list of numpy.ndarray
        The trained model.
    num_samples : int
        Training samples behind it.
    round_number : int
        The round it was trained for.
    settings : dict
        The server's ``secure_aggregation`` settings (``fractional_bits``).
    evaluation : dict, default=None
        This trainer's evaluation of the previous round's model (federated evaluation), sent
        with its keys; no other metric leaves the trainer in a secure round.

    Returns
    -------
    msg : RecvWeight
        The round's aggregated model.
    sent : int
        Bytes this trainer sent in the round.

    Raises
    ------
    ProtocolError
        If a step from the server is malformed.
    AggregationError
        If the server could not unmask the round (too many members dropped out), or a share
        does not open.
    TransportError
        If the connection is lost.
    """
    from ..transport import messages as m
    from ..transport._numbers import whole
    from ..transport.secagg import PublicKeys, SecAggClient, encode_fixed_point, weighted_input

    stage, r = m.SecAggStage, int(round_number)
    me = SecAggClient(client.client_id)
    keys = me.advertise_keys()
    first = {"c": _b64(keys.c_public), "s": _b64(keys.s_public)}
    if evaluation is not None:
        first["federated_eval"] = evaluation
    sent = client.send_message(m.SecAgg(stage.KEYS, r, first))
    while True:
        msg = client.recv_message()
        if isinstance(msg, m.RecvWeight):
            return msg, sent
        if not isinstance(msg, m.SecAgg) or msg.round_number != r:
            continue
        try:
            if msg.stage == stage.ROSTER:
                roster = {str(cid): PublicKeys(_unb64(c), _unb64(s))
                          for cid, (c, s) in msg.data["keys"].items()}
                _check_cohort(client.client_id, roster, "roster")
                threshold = whole(msg.data["threshold"])
                if threshold is None:  # int() took 2.5 as 2 and True as 1
                    raise ValueError(f"threshold must be a whole number, got {msg.data['threshold']!r:.40}")
                sealed = {k: _b64(v) for k, v in me.share_keys(roster, threshold).items()}
                sent += client.send_message(m.SecAgg(stage.SHARES, r, {"shares": sealed}))
            elif msg.stage == stage.ROUTED:
                me.receive_shares({str(u): _unb64(v) for u, v in msg.data["shares"].items()})
                peers = [str(p) for p in msg.data["peers"]]
                _check_cohort(client.client_id, peers, "peers who shared")
                # room for the sum of every peer's input: a value too large fails here, not as a wrapped sum
                words = encode_fixed_point(weighted_input(weights, num_samples),
                                           settings.get("fractional_bits", 24), summands=len(peers))
                masked = me.masked_input(words, str(r).encode(), peers=peers)
                sent += client.send_message(m.SecAggMasked(r, masked, [list(np.shape(w)) for w in weights],
                                                           [np.asarray(w).dtype.str for w in weights]))
            elif msg.stage == stage.UNMASK:
                _check_cohort(client.client_id, [str(p) for p in msg.data["survivors"]], "survivors")
                reveal = me.unmask(msg.data["survivors"], msg.data["dropped"])
                shares = {who: [kind, index, _b64(share)] for who, (kind, (index, share)) in reveal.items()}
                sent += client.send_message(m.SecAgg(stage.REVEAL, r, {"shares": shares}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProtocolError(f"malformed secure-aggregation step {msg.stage.value!r} from the server: "
                                f"{type(exc).__name__}: {exc}") from None


def run_client(backend: Any, client: Any, train_data: Any, valid_data: Any = None, *,
               train_kwargs: dict | None = None, aggregator: Aggregator | None = None,
               on_round: Callable[[RoundOutcome], None] | None = None,
               reconnects: int = 3, eval_data: Any = None) -> list[RoundOutcome]:
    """Run the federated rounds of one trainer until the server says the job is done.

    A connection lost while training, uploading or waiting is re-opened (the aggregator may be
    restarting: each re-opening retries until the client's ``connect_timeout``) and the update is
    resent. A server on another round than the update's (one that restarted from round 1) answers
    with its current model: the trainer takes that model and round and trains again for the
    server's round.

    Parameters
    ----------
    backend : Backend
        The wrapped model (``train``, ``get_weights``, ``set_weights``).
    client : AggregationClient
        The connection (connected here if needed).
    train_data, valid_data : object
        Local data; never leaves the trainer.
    train_kwargs : dict, default=None
        Options for ``backend.train``; a ``seed`` is offset by the round number each round.
    aggregator : Aggregator, default=None
        The client's copy of the algorithm: its ``client_config`` applies before the server's.
    on_round : callable, default=None
        Called with each :class:`RoundOutcome`.
    reconnects : int, default=3
        Times a lost connection is re-opened in one round (the update is resent) before giving up.
    eval_data : object, default=None
        Data the trainer evaluates the global model on when the server asks (federated
        evaluation; ``valid_data`` when None). Nothing is evaluated without either.

    Returns
    -------
    list of RoundOutcome
        One entry per round.

    Raises
    ------
    ParameterError
        If ``train_kwargs`` holds a ``seed`` that is not a whole number (2.5, ``True``).
    TransportError
        If the connection is lost more than ``reconnects`` times in a round, or cannot be re-opened
        within ``connect_timeout`` (:class:`~sedna_lib.exceptions.TransportTimeout`).
    RemoteError, AggregationError
        If the server refuses this trainer or its update.
    DataError
        If the local labels (a scikit-learn classifier's) lack classes the model it starts the
        first round from knows, or add new ones; checked before any local training.
    """
    if not client.is_connected:
        client.connect()
    config = dict(aggregator.client_config()) if aggregator is not None else {}
    current = 0
    initial = client.initial_
    outcomes: list[RoundOutcome] = []
    if initial is not None:
        if initial.weights:
            backend.set_weights([w if w.flags.writeable else np.array(w) for w in initial.weights])
        current = initial.round_number
        config.update(initial.config)
        if initial.is_last:
            return outcomes
    check_classes(backend, train_data, f"trainer {client.client_id!r}")
    num_samples = count_samples(train_data)
    prepares = aggregator is not None and has_prepare_update(aggregator)
    extra: dict = {}
    eval_data = valid_data if eval_data is None else eval_data
    pending: dict | None = None  # an evaluation to report with the next upload
    while True:
        round_kwargs = _round_kwargs(train_kwargs, current + 1)
        started_at = time.time()
        extra = {}
        reference = [np.array(w, copy=True) for w in backend.get_weights()] if prepares else None
        result = local_round(backend, train_data, valid_data, round_kwargs, config)
        weights = backend.get_weights()
        if prepares:
            weights, extra = aggregator.prepare_update(weights, reference, config)
            del reference
        if pending is not None:
            extra = {**extra, "federated_eval": pending}
        secure = config.get("secure_aggregation")
        sent, uploaded = 0, False
        left = reconnects
        while True:
            try:
                if secure:  # a secure round lost on the way starts over with fresh keys
                    msg, sent = secure_round(client, weights, num_samples, current + 1, secure, pending)
                else:
                    if not uploaded:  # the upload, and its resending after a lost connection
                        sent = client.send_update(weights, num_samples, round_number=current + 1,
                                                  **_metrics_kw(extra))
                        uploaded = True
                    msg = client.recv_weights()
                break
            except RemoteError:
                raise
            except TransportError as exc:
                if left <= 0:
                    raise
                left -= 1
                logger.warning("lost the aggregator (%s); reconnecting", exc)
                client.reconnect()  # retried until CONNECT_TIMEOUT (the aggregator may be restarting)
                caught_up = client.initial_
                if caught_up is not None and caught_up.round_number >= current + 1:
                    msg = caught_up
                    break
                uploaded = False
        if _passed_over(msg, current):
            # the server is on another round than this trainer (it restarted, or this trainer fell
            # behind): its model and round replace this trainer's, and the round is trained again
            logger.warning("the aggregator did not take this trainer's update for round %d: it is on round "
                           "%d; training again from its model for that round", current + 1,
                           msg.round_number + 1)
            if msg.weights:
                backend.set_weights([w if w.flags.writeable else np.array(w) for w in msg.weights])
            current = msg.round_number
            config = dict(aggregator.client_config()) if aggregator is not None else {}
            config.update({k: v for k, v in msg.config.items() if k != _PASSED_OVER})
            del msg, weights
            continue
        if msg.weights:
            # a reassembled (chunked) model is decoded into its own writable buffer: no copy needed
            backend.set_weights([w if w.flags.writeable else np.array(w) for w in msg.weights])
        current = msg.round_number
        config = dict(aggregator.client_config()) if aggregator is not None else {}
        config.update(msg.config)
        pending = (_evaluate(backend, eval_data, msg.round_number, train_kwargs) if config.get("evaluate")
                   else None)
        outcome = RoundOutcome(msg.round_number, msg.total_sample, msg.is_last, result, sent, config,
                               started_at, pending)
        # the received message (a view of the whole download) and the uploaded weights are
        # model-sized: let them go before the next local training instead of holding them through it
        del msg, weights
        outcomes.append(outcome)
        if on_round is not None:
            on_round(outcome)
        if outcome.is_last:
            if pending is not None:  # no upload follows the last round: its evaluation goes on its own
                _send_evaluation(client, pending)
            return outcomes
