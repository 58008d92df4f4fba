"""Typed federated-learning messages and their two encodings: Sedna's JSON text and sedna_lib's binary frames.

JSON (text frames) is what Sedna's ``AggregationServer``/``AggregationClient`` speak; weights
are nested lists. Binary frames are :mod:`sedna_lib.transport.codec` messages whose ``meta``
holds the same fields and whose arrays are the layers; a message larger than the chunk size
travels as ``chunk`` frames that the receiver reassembles (no message cap below 2 GiB).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple, Union

import numpy as np

from ..exceptions import ProtocolError
from . import codec
from ._numbers import is_int, whole

__all__ = [
    "MessageType", "Subscribe", "ClientJoin", "UpdateWeight", "RecvWeight", "ErrorMessage", "Message",
    "SecAggStage", "SecAgg", "SecAggMasked", "Evaluation",
    "to_json", "from_json", "to_binary", "from_binary", "to_frames", "iter_frames", "encode_frames",
    "Reassembler", "bound_session", "decoded", "outcome",
    "DEFAULT_CHUNK_SIZE", "MAX_MESSAGE_BYTES", "PROTOCOL",
]

PROTOCOL = "sedna_lib/1"
"""Tag a sedna_lib peer adds to ``subscribe`` (client) and to the server's acknowledgement."""

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
"""Binary messages above this size are split into ``chunk`` frames."""

MAX_MESSAGE_BYTES = 2 ** 31
"""Largest reassembled message accepted by default (2 GiB)."""


class MessageType(str, enum.Enum):
    """Message types on the aggregation websocket (Sedna's strings)."""

    SUBSCRIBE = "subscribe"
    CLIENT_JOIN = "CLIENT_JOIN"
    UPDATE_WEIGHT = "update_weight"
    RECV_WEIGHT = "recv_weight"
    ERROR = "error"
    CHUNK = "chunk"
    SECAGG = "secagg"
    SECAGG_MASKED = "secagg_masked"
    EVALUATION = "evaluation"


class SecAggStage(str, enum.Enum):
    """The steps of a secure-aggregation round on the websocket (sedna_lib peers only), in order."""

    KEYS = "keys"
    """Client to server: its two public keys for the round (``{"c": b64, "s": b64}``)."""
    ROSTER = "roster"
    """Server to the round's cohort: every member's keys and the threshold (``{"keys", "threshold"}``)."""
    SHARES = "shares"
    """Client to server: its sealed shares, one per other member (``{"shares": {id: b64}}``)."""
    ROUTED = "routed"
    """Server to each member: the shares sealed for it, and who shared (``{"shares", "peers"}``)."""
    UNMASK = "unmask"
    """Server to the survivors: who sent a masked input and who dropped (``{"survivors", "dropped"}``)."""
    REVEAL = "reveal"
    """Client to server: the shares that remove the masks (``{"shares": {id: [kind, index, b64]}}``)."""


@dataclass
class Subscribe:
    """A client announces itself; the server echoes it back as the connection's acknowledgement.

    A Sedna server relays every message to every client, the sender included, so a client
    sees its own ``subscribe`` come back unchanged. Only a sedna_lib server's acknowledgement
    carries ``server`` (a field clients never send) and ``ack`` (the client's ``nonce``, moved
    to a field of its own): :meth:`is_ack_for` tells the two apart.

    Attributes
    ----------
    client_id : str
        The client's id (Sedna's ``WORKER_NAME``).
    protocol : str or None
        ``PROTOCOL`` from a sedna_lib peer; absent from Sedna peers.
    wire : {'json', 'binary'}
        How the peer wants weights encoded.
    session : str or None
        Secret that lets a reconnecting client take over its own id.
    round_number : int or None
        In the server's acknowledgement: the current round (a model follows).
    nonce : str or None
        From a sedna_lib client: a fresh random value per connection attempt.
    server : str or None
        In a sedna_lib server's acknowledgement only: ``PROTOCOL``.
    ack : str or None
        In a sedna_lib server's acknowledgement only: the ``nonce`` the client sent.
    """

    client_id: str
    protocol: str | None = None
    wire: str = "json"
    session: str | None = None
    round_number: int | None = None
    nonce: str | None = None
    server: str | None = None
    ack: str | None = None

    def is_ack_for(self, nonce: str | None) -> bool:
        """Whether this is a sedna_lib server's answer to a subscribe that sent ``nonce``.

        Parameters
        ----------
        nonce : str or None
            The nonce the client sent.

        Returns
        -------
        bool
            True only when ``server`` is ``PROTOCOL`` and ``ack`` equals ``nonce``; a relayed
            copy of the client's own subscribe (``nonce`` but no ``ack``) is never one.

        Examples
        --------
        >>> Subscribe("a", protocol=PROTOCOL, nonce="n1").is_ack_for("n1")
        False
        >>> Subscribe("a", protocol=PROTOCOL, server=PROTOCOL, ack="n1").is_ack_for("n1")
        True
        """
        import hmac

        return (bool(nonce) and self.server == PROTOCOL and isinstance(self.ack, str)
                and hmac.compare_digest(self.ack.encode(), str(nonce).encode()))


@dataclass
class ClientJoin:
    """The server tells connected clients that ``client_id`` joined."""

    client_id: str


@dataclass
class UpdateWeight:
    """A client's trained weights for a round.

    Attributes
    ----------
    client : str
        Sender id.
    weights : list of numpy.ndarray
        The layers.
    num_samples : int
        Training samples behind them.
    job_name : str
        The job (Sedna sends it).
    round_number : int or None
        The round the client trained for (sedna_lib peers; stale updates are dropped).
    metrics : dict
        Optional training metrics.
    names : list of str or None
        Optional layer names (for error messages).
    """

    client: str
    weights: list
    num_samples: int
    job_name: str = ""
    round_number: int | None = None
    metrics: dict = field(default_factory=dict)
    names: list | None = None


@dataclass
class RecvWeight:
    """The server's aggregated model for a round.

    Attributes
    ----------
    weights : list of numpy.ndarray
        The new global model.
    total_sample : int
        Samples behind it.
    round_number : int
        The round just finished (1-based).
    exit_flag : {'continue', 'ok'}
        ``ok`` ends the job.
    client : str
        The last uploader (Sedna fills it in).
    job_name : str
        The job.
    config : dict
        Settings for the next local round (e.g. ``proximal_mu``).
    """

    weights: list
    total_sample: int
    round_number: int
    exit_flag: str = "continue"
    client: str = ""
    job_name: str = ""
    config: dict = field(default_factory=dict)

    @property
    def is_last(self) -> bool:
        """Whether the job ends with this round."""
        return self.exit_flag == "ok"


@dataclass
class ErrorMessage:
    """The server refused something; the connection may close after it.

    Attributes
    ----------
    message : str
        What was wrong and how to fix it.
    error : str
        The error class name (``AggregationError``, ``ProtocolError``, ...).
    code : int
        The websocket close code that follows (4400 bad request, 4401 auth, 4409 duplicate id).
    """

    message: str
    error: str = "ProtocolError"
    code: int = 4400


@dataclass
class SecAgg:
    """One step of a secure-aggregation round (a JSON text frame).

    Attributes
    ----------
    stage : SecAggStage
        The step.
    round_number : int
        The round it belongs to (1-based).
    data : dict
        The step's content (see :class:`SecAggStage`); bytes travel as base64 strings.
    """

    stage: SecAggStage
    round_number: int
    data: dict = field(default_factory=dict)


@dataclass
class SecAggMasked:
    """A client's masked input for a secure round (a binary message: one uint64 array).

    Attributes
    ----------
    round_number : int
        The round.
    masked : numpy.ndarray of uint64
        ``[n * w, n]`` in fixed point plus the client's masks, modulo 2^64.
    shapes : list of list of int
        The model's layer shapes (to rebuild the layers from the sum).
    dtypes : list of str or None
        The layers' dtypes (``"<f4"``, ``"<i8"``): the unmasked mean goes back into them (None: float64).
    """

    round_number: int
    masked: np.ndarray
    shapes: list
    dtypes: list | None = None

    @property
    def weights(self) -> list:
        """The arrays the binary encoding carries (the masked vector)."""
        return [self.masked]


@dataclass
class Evaluation:
    """A trainer's evaluation of a round's global model, sent on its own (sedna_lib peers only).

    Reports of earlier rounds travel in an upload's metrics (``federated_eval``); the last
    round's model has no upload after it, so its report is sent this way before the trainer leaves.

    Attributes
    ----------
    round_number : int
        The round whose model was evaluated.
    num_samples : int
        Evaluation samples.
    metrics : dict
        Numeric metrics (``accuracy``, ``loss``, ...).
    """

    round_number: int
    num_samples: int
    metrics: dict = field(default_factory=dict)


Message = Union[Subscribe, ClientJoin, UpdateWeight, RecvWeight, ErrorMessage, SecAgg, SecAggMasked,
                Evaluation]


def _float_lists(weights: list) -> list:
    return [np.asarray(w).tolist() for w in weights]


def to_json(msg: Message) -> str:
    """Encode a message as Sedna's JSON text frame.

    Parameters
    ----------
    msg : Message
        The message.

    Returns
    -------
    str
        JSON text with ``json.dumps`` default separators, as Sedna writes it.
    """
    if isinstance(msg, Subscribe):
        d: dict[str, Any] = {"type": "subscribe", "client_id": msg.client_id}
        if msg.protocol:
            d.update(protocol=msg.protocol, wire=msg.wire)
            for key in ("nonce", "server", "ack", "session", "round_number"):
                value = getattr(msg, key)
                if value is not None:
                    d[key] = value
        return json.dumps(d)
    if isinstance(msg, ClientJoin):
        return json.dumps({"type": "CLIENT_JOIN", "data": msg.client_id})
    if isinstance(msg, UpdateWeight):
        d = {"type": "update_weight", "client": msg.client,
             "data": {"num_samples": int(msg.num_samples), "weights": _float_lists(msg.weights)},
             "job_name": msg.job_name}
        if msg.round_number is not None:
            d["round_number"] = msg.round_number
        return json.dumps(d)
    if isinstance(msg, RecvWeight):
        data = {"total_sample": int(msg.total_sample), "round_number": int(msg.round_number),
                "weights": _float_lists(msg.weights), "exit_flag": msg.exit_flag}
        if msg.config:
            data["config"] = msg.config
        return json.dumps({"type": "recv_weight", "client": msg.client, "data": data,
                           "job_name": msg.job_name, "round_number": int(msg.round_number)})
    if isinstance(msg, ErrorMessage):
        data = {"message": msg.message, "error": msg.error, "code": msg.code}
        return json.dumps({"type": "error", "data": data})
    if isinstance(msg, Evaluation):
        return json.dumps({"type": "evaluation", "round_number": int(msg.round_number),
                           "data": {"num_samples": int(msg.num_samples), "metrics": msg.metrics}})
    if isinstance(msg, SecAgg):
        return json.dumps({"type": "secagg", "stage": SecAggStage(msg.stage).value,
                           "round_number": int(msg.round_number), "data": msg.data})
    raise TypeError(f"not a message: {type(msg).__name__}")


def _require(d: dict, key: str, kind: str) -> Any:
    if key not in d:
        raise ProtocolError(f"{kind} message is missing {key!r}")
    return d[key]


def _int(value: Any, what: str) -> int:
    """Return a whole number a peer sent (or its text, as Sedna's peers may write it): 2.5 is none."""
    out = whole(value)
    if out is None and isinstance(value, str):
        try:
            out = int(value)
        except ValueError:
            out = None
    if out is None:
        raise ProtocolError(f"{what} must be an integer, got {_short(value)}")
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _obj(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(value).__name__}")
    return dict(value)


def _names(value: Any) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(n, str) or n is None for n in value):
        raise ProtocolError(f"names must be a list of layer names (strings), got {_short(value)}")
    return list(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def from_json(text: str | bytes | dict) -> Message | dict:
    """Decode a JSON text frame.

    Parameters
    ----------
    text : str, bytes or dict
        The frame (or an already-parsed object).

    Returns
    -------
    Message or dict
        A typed message; an unknown ``type`` comes back as the raw dict.

    Raises
    ------
    ProtocolError
        If the frame is not a JSON object or a known message lacks a field.
    """
    if isinstance(text, dict):
        d = text
    else:
        try:
            d = json.loads(text)
        except RecursionError:
            raise ProtocolError("frame is not usable JSON: nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(d, dict):
        raise ProtocolError(f"frame must be a JSON object, got {type(d).__name__}")
    kind = d.get("type")
    if kind == "subscribe":
        return Subscribe(client_id=str(d.get("client_id") or ""), protocol=_opt_str(d.get("protocol")),
                         wire=str(d.get("wire") or "json"), session=_opt_str(d.get("session")),
                         round_number=None if d.get("round_number") is None
                         else _int(d.get("round_number"), "round_number"),
                         nonce=_opt_str(d.get("nonce")), server=_opt_str(d.get("server")),
                         ack=_opt_str(d.get("ack")))
    if kind == "CLIENT_JOIN":
        return ClientJoin(str(d.get("data") or ""))
    if kind == "update_weight":
        data = _require(d, "data", kind)
        if not isinstance(data, dict):
            raise ProtocolError("update_weight 'data' must be an object with num_samples and weights")
        weights = _require(data, "weights", kind)
        if not isinstance(weights, list):
            raise ProtocolError("update_weight weights must be a list of layers, got "
                                f"{type(weights).__name__}")
        rn = d.get("round_number")
        return UpdateWeight(client=str(d.get("client") or ""), weights=weights,
                            num_samples=_int(_require(data, "num_samples", kind), "num_samples"),
                            job_name=str(d.get("job_name") or ""),
                            round_number=None if rn is None else _int(rn, "round_number"))
    if kind == "recv_weight":
        data = _obj(_require(d, "data", kind), "recv_weight 'data'")
        weights = _require(data, "weights", kind)
        if not isinstance(weights, list):
            raise ProtocolError(f"recv_weight weights must be a list of layers, got {type(weights).__name__}")
        try:
            layers = [np.asarray(w) for w in weights]
        except (ValueError, TypeError, RecursionError) as exc:
            raise ProtocolError(f"recv_weight weights are not numeric layers: {_short(exc)}") from None
        return RecvWeight(weights=layers,
                          total_sample=_int(data.get("total_sample", 0), "total_sample"),
                          round_number=_int(data.get("round_number", d.get("round_number", 0)),
                                            "round_number"),
                          exit_flag=str(data.get("exit_flag", "continue")), client=str(d.get("client") or ""),
                          job_name=str(d.get("job_name") or ""), config=_obj(data.get("config"), "config"))
    if kind == "evaluation":
        data = _obj(_require(d, "data", kind), "evaluation 'data'")
        return Evaluation(_int(_require(d, "round_number", kind), "round_number"),
                          _int(_require(data, "num_samples", kind), "num_samples"),
                          _obj(data.get("metrics"), "metrics"))
    if kind == "secagg":
        stage = d.get("stage")
        try:
            stage = SecAggStage(stage)
        except ValueError:
            raise ProtocolError(f"secagg stage must be one of {[s.value for s in SecAggStage]}, got "
                                f"{_short(stage)}") from None
        return SecAgg(stage, _int(_require(d, "round_number", kind), "round_number"),
                      _obj(d.get("data"), "secagg 'data'"))
    if kind == "error":
        data = _obj(d.get("data"), "error 'data'")
        return ErrorMessage(str(data.get("message", "")), str(data.get("error", "RemoteError")),
                            _int(data.get("code", 4400), "code"))
    return d


def _binary_meta(msg: UpdateWeight | RecvWeight | SecAggMasked) -> dict:
    if isinstance(msg, UpdateWeight):
        return {"type": "update_weight", "client": msg.client, "num_samples": int(msg.num_samples),
                "job_name": msg.job_name, "round_number": msg.round_number, "metrics": msg.metrics,
                "names": msg.names}
    if isinstance(msg, RecvWeight):
        return {"type": "recv_weight", "client": msg.client, "total_sample": int(msg.total_sample),
                "round_number": int(msg.round_number), "exit_flag": msg.exit_flag, "job_name": msg.job_name,
                "config": msg.config}
    if isinstance(msg, SecAggMasked):
        meta = {"type": "secagg_masked", "round_number": int(msg.round_number),
                "shapes": [[int(d) for d in shape] for shape in msg.shapes]}
        if msg.dtypes is not None:
            meta["dtypes"] = [str(d) for d in msg.dtypes]
        return meta
    raise TypeError(f"only weight messages travel as binary, got {type(msg).__name__}")


def _layer_dtypes(value: Any, count: int) -> list | None:
    """Check a secure input's optional ``dtypes``: one numeric numpy dtype string per layer."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != count or not all(isinstance(d, str) for d in value):
        raise ProtocolError(f"secagg_masked 'dtypes' must be a list of {count} dtype strings, "
                            f"got {_short(value)}")
    try:
        dtypes = [np.dtype(d) for d in value]
    except TypeError:
        raise ProtocolError(f"secagg_masked 'dtypes' holds an unknown dtype: {_short(value)}") from None
    if any(d.kind not in "biuf" for d in dtypes):
        raise ProtocolError(f"secagg_masked 'dtypes' must be numeric (bool, int, float), got {_short(value)}")
    return [d.str for d in dtypes]


def to_binary(msg: UpdateWeight | RecvWeight | SecAggMasked) -> bytes:
    """Encode a weights message as one binary codec message (not yet chunked).

    Parameters
    ----------
    msg : UpdateWeight, RecvWeight or SecAggMasked
        The message.

    Returns
    -------
    bytes
        The encoded message.
    """
    return codec.encode(msg.weights, _binary_meta(msg))


def from_binary(data: bytes | bytearray | memoryview) -> UpdateWeight | RecvWeight | SecAggMasked:
    """Decode a (reassembled) binary weights message; arrays are zero-copy read-only views.

    Parameters
    ----------
    data : bytes-like
        The message.

    Returns
    -------
    UpdateWeight, RecvWeight or SecAggMasked
        The message.

    Raises
    ------
    ProtocolError
        If the bytes are malformed or the type is not a weights message.
    """
    meta, arrays = codec.decode(data)
    if not isinstance(meta, dict):
        raise ProtocolError("binary message meta must be an object")
    kind = meta.get("type")
    if kind == "update_weight":
        rn = meta.get("round_number")
        return UpdateWeight(client=str(meta.get("client") or ""), weights=arrays,
                            num_samples=_int(meta.get("num_samples"), "num_samples"),
                            job_name=str(meta.get("job_name") or ""),
                            round_number=None if rn is None else _int(rn, "round_number"),
                            metrics=_obj(meta.get("metrics"), "metrics"), names=_names(meta.get("names")))
    if kind == "recv_weight":
        return RecvWeight(weights=arrays, total_sample=_int(meta.get("total_sample", 0), "total_sample"),
                          round_number=_int(meta.get("round_number", 0), "round_number"),
                          exit_flag=str(meta.get("exit_flag", "continue")),
                          client=str(meta.get("client") or ""),
                          job_name=str(meta.get("job_name") or ""), config=_obj(meta.get("config"), "config"))
    if kind == "secagg_masked":
        shapes = meta.get("shapes")
        if (len(arrays) != 1 or arrays[0].dtype != np.uint64 or arrays[0].ndim != 1
                or not isinstance(shapes, list)
                or not all(isinstance(s, list) and all(is_int(d) and d >= 0 for d in s)
                           for s in shapes)):
            raise ProtocolError("secagg_masked carries one 1-d uint64 array and 'shapes', a list of lists of "
                                "non-negative ints")
        return SecAggMasked(_int(meta.get("round_number"), "round_number"), arrays[0], shapes,
                            _layer_dtypes(meta.get("dtypes"), len(shapes)))
    raise ProtocolError(f"binary frame of unexpected type {kind!r}; expected update_weight, recv_weight or "
                        "secagg_masked")


_ids = itertools.count(1)


def to_frames(payload: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """Split an encoded message into websocket frames (itself when small enough).

    Parameters
    ----------
    payload : bytes
        A :func:`to_binary` message.
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
        Largest piece per frame.

    Returns
    -------
    list of bytes
        The frames: ``[payload]``, or ``chunk`` codec messages carrying consecutive pieces.
    """
    return list(iter_frames(payload, chunk_size))


def iter_frames(payload: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the frames of :func:`to_frames` one at a time (one chunk in memory while sending).

    Parameters
    ----------
    payload : bytes
        A :func:`to_binary` message.
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
        Largest piece per frame.

    Yields
    ------
    bytes
        The frames, in order.
    """
    if len(payload) <= chunk_size:
        yield payload
        return
    view = memoryview(payload)
    count = -(-len(payload) // chunk_size)
    msg_id = f"{os.getpid()}-{next(_ids)}"
    for i in range(count):
        yield codec.encode([np.frombuffer(view[i * chunk_size:(i + 1) * chunk_size], dtype=np.uint8)],
                           {"type": "chunk", "id": msg_id, "index": i, "count": count, "size": len(payload)})


def encode_frames(msg: UpdateWeight | RecvWeight | SecAggMasked,
                  chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[memoryview]:
    """Encode a weights message straight into its websocket frames, copying each array once.

    The frames are consecutive slices of one buffer; reassembled, they give exactly the bytes
    of :func:`to_binary` (a message that fits in ``chunk_size`` is a single frame), so a server
    can send the same frames to every peer.

    Parameters
    ----------
    msg : UpdateWeight or RecvWeight
        The message.
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
        Largest piece of the message per frame.

    Returns
    -------
    list of memoryview
        The frames, in order (read-only views).
    """
    head, arrays = codec.plan(msg.weights, _binary_meta(msg))
    size = len(head) + sum(a.nbytes + codec.pad(a.nbytes) for a in arrays)
    if size <= chunk_size:
        heads, pieces = [b""], [size]
    else:
        count = -(-size // chunk_size)
        msg_id = f"{os.getpid()}-{next(_ids)}"
        pieces = [min(chunk_size, size - i * chunk_size) for i in range(count)]
        heads = [codec.bytes_head({"type": "chunk", "id": msg_id, "index": i, "count": count, "size": size},
                                  n) for i, n in enumerate(pieces)]
    lengths = [len(h) + n + (codec.pad(n) if h else 0) for h, n in zip(heads, pieces)]
    buf = np.zeros(sum(lengths), dtype=np.uint8)  # padding stays zero
    views, slots, start = [], [], 0
    for h, n, length in zip(heads, pieces, lengths):
        buf[start:start + len(h)] = np.frombuffer(h, dtype=np.uint8)
        slots.append(buf[start + len(h):start + len(h) + n])
        views.append((start, start + length))
        start += length
    writer = _SlotWriter(slots)
    writer.write(np.frombuffer(head, dtype=np.uint8))
    for a in arrays:
        if a.nbytes:
            writer.write(a.reshape(-1).view(np.uint8))
        writer.skip(codec.pad(a.nbytes))
    out = memoryview(buf).toreadonly()
    return [out[lo:hi] for lo, hi in views]


class _SlotWriter:
    """Write a byte stream across consecutive slots (the frames' payload regions, all but the last equal)."""

    def __init__(self, slots: list[np.ndarray]) -> None:
        self.slots = slots
        self._step = len(slots[0])
        self._pos = 0

    def write(self, data: np.ndarray) -> None:
        done = 0
        while done < len(data):
            k, offset = divmod(self._pos, self._step)
            slot = self.slots[k]
            take = min(len(data) - done, len(slot) - offset)
            slot[offset:offset + take] = data[done:done + take]
            done += take
            self._pos += take

    def skip(self, n: int) -> None:
        self._pos += n


def bound_session(token: str, client_id: str) -> str:
    """Return the session secret of ``client_id`` on a server whose token is ``token``.

    With a token configured, ids are bound to it: the session that lets a connection take over
    a connected id is ``HMAC-SHA256(token, client_id)``, so only a holder of the token can claim
    a worker's id (a restarted worker takes its id back at once), and without the token no
    connection gets as far as choosing an id.

    Parameters
    ----------
    token : str
        The shared token (``SEDNA_AUTH_TOKEN``).
    client_id : str
        The worker's id.

    Returns
    -------
    str
        Hex digest.
    """
    key, msg = str(token).encode(), f"sedna_lib/session/{client_id}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
                 UnicodeDecodeError)
"""What a malformed frame can raise while it is decoded (each becomes a :class:`ProtocolError`)."""


def decoded(decode: Any, *args: Any) -> Any:
    """Run one decoding step; anything a malformed frame makes it raise becomes a :class:`ProtocolError`.

    A server answers a :class:`ProtocolError` with a refusal (close code 4400), never a crash.

    Parameters
    ----------
    decode : callable
        The step (``from_json``, ``from_binary``, ``Reassembler.feed``, ...).
    *args : object
        What it decodes.

    Returns
    -------
    object
        The step's result.

    Raises
    ------
    ProtocolError
        If the step raised it, or one of :data:`DECODE_ERRORS`.
    """
    try:
        return decode(*args)
    except DECODE_ERRORS as exc:
        raise ProtocolError(f"malformed frame: {type(exc).__name__}: {str(exc)[:200]}") from None


def outcome(decode: Any, *args: Any) -> Any:
    """Run one decoding step as :func:`decoded` does, the refusal returned instead of raised.

    For a receiver that hands what became of a frame on to where it is answered (the aggregation
    server's websocket protocol to its app, the app to its refusal).

    Returns
    -------
    object
        What the step returned, or the :class:`ProtocolError` that refused the frame.
    """
    try:
        return decoded(decode, *args)
    except ProtocolError as exc:
        return exc


_INITIAL_RESERVE = 1 << 20
"""Bytes a chunked message may reserve before more of it has arrived (then it grows with its data)."""


class Placement(NamedTuple):
    """The rest of a chunk frame, after its first bytes (:meth:`Reassembler.place`).

    Attributes
    ----------
    rest : numpy.ndarray
        The reassembly buffer's slice its remaining chunk bytes go into.
    offset : int
        The frame offset of ``rest``'s first byte (a masked frame's key phase).
    before : int
        Frame bytes to read past before ``rest``.
    after : int
        Frame bytes to read past after ``rest`` (alignment padding).
    """

    rest: np.ndarray
    offset: int
    before: int
    after: int


class Reassembler:
    """Rebuild a message from its binary frames, refusing anything larger than ``max_bytes``.

    A chunk header declares the message's size and chunk count; both are checked against the
    limit and against the first chunk's length before anything is allocated, and the buffer is
    reserved for the first chunks (1 MiB, or four times the first chunk: a model of up to four chunks
    is written once, in place), then grown with the data (never more than four times what arrived):
    a header claiming 2 GiB reserves nothing like 2 GiB.

    Parameters
    ----------
    max_bytes : int, default=MAX_MESSAGE_BYTES
        Largest message accepted.

    Examples
    --------
    >>> frames = to_frames(b"x" * 10 + codec.encode([], {}), chunk_size=8)
    >>> r = Reassembler()
    >>> [r.feed(f) is None for f in frames][-1]
    False
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buf: np.ndarray | None = None
        self._id: str | None = None
        self._next = 0
        self._count = 0
        self._size = 0
        self._pos = 0
        self._end = 0

    @property
    def pending(self) -> bool:
        """Whether a chunked message is partly received."""
        return self._buf is not None

    def feed(self, frame: bytes | memoryview) -> bytes | memoryview | None:
        """Take one binary frame; return the whole message once complete, else None.

        Parameters
        ----------
        frame : bytes
            A binary websocket frame.

        Returns
        -------
        bytes, memoryview or None
            The complete message (a chunked one reassembled into one writable buffer, so the
            arrays decoded from it are writable), or None while chunks are missing.

        Raises
        ------
        ProtocolError
            If the frame is malformed, out of order, or the message is too large.
        """
        if not codec.is_encoded(frame):
            raise ProtocolError("binary frame is not a sedna_lib codec message (bad magic bytes)")
        if not self._is_chunk(frame):
            if self._buf is not None:
                raise ProtocolError("a new message started before the previous chunked one finished")
            if len(frame) > self.max_bytes:
                raise ProtocolError(f"message of {len(frame)} bytes exceeds the limit of {self.max_bytes} "
                                    "bytes")
            return frame
        meta, arrays = codec.decode(frame)
        dest = self.reserve(meta, [a.nbytes for a in arrays])
        dest[:] = arrays[0].reshape(-1).view(np.uint8)
        return self.advance()

    def place(self, start: Any, length: int) -> Placement | None:
        """Plan where a frame's bytes go from its first bytes: a chunk's into the reassembly buffer.

        For a receiver that reads a large frame's first bytes, then the rest straight into place
        (the trainer's websocket reader and the aggregation server's protocol). A chunk's head is
        checked and its bytes reserved as :meth:`reserve` does, and those already in ``start``
        copied into place; the receiver then reads past ``before`` bytes, receives ``rest``,
        reads past ``after`` bytes (alignment padding) and calls :meth:`advance`.

        Parameters
        ----------
        start : bytes-like
            The frame's first bytes (a chunk's head must lie within them).
        length : int
            The whole frame's length.

        Returns
        -------
        Placement or None
            What is left to receive, and where; None when the frame is not a chunk whose head
            lies in ``start`` (receive it whole and :meth:`feed` it).

        Raises
        ------
        ProtocolError
            If the chunk is out of order, too large or does not add up (as :meth:`reserve`).
        """
        if not (codec.is_encoded(start) and self._is_chunk(start)):
            return None
        try:
            meta, specs = codec.read_head(start, length)
        except ProtocolError:
            return None  # a head longer than ``start``, or a malformed one: received whole and judged
        sizes = [math.prod(shape) * dtype.itemsize for _spec, (dtype, shape, _offset) in specs]
        dest, at = self.reserve(meta, sizes), specs[0][1][2]
        inside = max(0, min(len(start) - at, len(dest)))
        dest[:inside] = np.frombuffer(start, dtype=np.uint8)[at:at + inside]
        return Placement(dest[inside:], at + inside, max(0, at - len(start)),
                         length - max(len(start), at + len(dest)))

    def reserve(self, meta: Any, sizes: list) -> np.ndarray:
        """Check a chunk's header against the message so far; return where its bytes go.

        The two halves of :meth:`feed` for a chunk, for a receiver that writes the chunk's bytes
        itself (the trainer's websocket reader receives them from the socket straight into the
        returned slice); :meth:`advance` then counts the chunk in.

        Parameters
        ----------
        meta : dict
            The chunk's codec meta (``id``, ``index``, ``count``, ``size``).
        sizes : list of int
            Byte sizes of the arrays the chunk carries (exactly one).

        Returns
        -------
        numpy.ndarray
            A ``uint8`` slice of the reassembly buffer, as long as the chunk's bytes.

        Raises
        ------
        ProtocolError
            If the chunk is malformed, out of order or the message too large.
        """
        try:
            msg_id = str(meta["id"])
            index, count, size = (whole(meta[key]) for key in ("index", "count", "size"))
        except (KeyError, TypeError):
            raise ProtocolError(f"malformed chunk header {_short(meta)}") from None
        if index is None or count is None or size is None:  # 0.5 was chunk 0, True chunk 1
            raise ProtocolError(f"malformed chunk header {_short(meta)}: index, count and size must be "
                                "whole numbers")
        if len(sizes) != 1:
            raise ProtocolError("a chunk frame carries exactly one byte array")
        nbytes = int(sizes[0])
        if index == 0:
            if self._buf is not None:
                raise ProtocolError("a new chunked message started before the previous one finished")
            self._start(msg_id, count, size, nbytes)
        if self._buf is None or msg_id != self._id or index != self._next or count != self._count:
            self._buf = None
            raise ProtocolError(f"chunk {index}/{count} of message {_short(msg_id)} arrived out of order")
        end = self._pos + nbytes
        if end > self._size:
            self._buf = None
            raise ProtocolError(f"chunks of message {_short(msg_id)} exceed its declared size {self._size}")
        if end > len(self._buf):  # grow with the data actually received (amortised: at most one extra copy)
            grown = np.empty(min(self._size, max(end, 2 * len(self._buf))), dtype=np.uint8)
            grown[:self._pos] = self._buf[:self._pos]
            self._buf = grown
        self._end = end
        return self._buf[self._pos:end]

    def advance(self) -> memoryview | None:
        """Count in the chunk :meth:`reserve` placed; return the whole message once complete, else None.

        Returns
        -------
        memoryview or None
            The complete message (writable), or None while chunks are missing.

        Raises
        ------
        ProtocolError
            If the last chunk leaves the message short of its declared size.
        """
        self._pos, self._next = self._end, self._next + 1
        if self._next < self._count:
            return None
        buf, self._buf = self._buf, None
        if self._pos != self._size:
            raise ProtocolError(f"message {_short(self._id)} ended after {self._pos} of {self._size} bytes")
        return memoryview(buf)

    def drop(self) -> None:
        """Forget a partly received message (its chunks stop arriving with a refusal)."""
        self._buf = None

    def _start(self, msg_id: str, count: int, size: int, first: int) -> None:
        """Check a chunked message's declared sizes, then reserve room for what arrived (not the claim)."""
        if size <= 0 or size > self.max_bytes:
            raise ProtocolError(f"message of {size} bytes exceeds the limit of {self.max_bytes} bytes "
                                "(AGG_MAX_MESSAGE_BYTES)" if size > 0
                                else f"chunk header declares size {size}")
        # every chunk but the last is as long as the first: count and size must agree with it
        if count < 1 or first <= 0 or (count - 1) * first >= size or count * first < size:
            raise ProtocolError(f"chunk header does not add up: {count} chunks of {first} bytes cannot "
                                f"make a message of {size} bytes")
        # room for the first four chunks only, grown as the rest arrive: a header's claim reserves nothing
        self._buf = np.empty(min(size, max(4 * first, _INITIAL_RESERVE)), dtype=np.uint8)
        self._id, self._next, self._count, self._size, self._pos = msg_id, 0, count, size, 0

    @staticmethod
    def _is_chunk(frame: bytes) -> bool:
        # cheap peek at the JSON header without decoding arrays
        return b'"type":"chunk"' in bytes(frame[:200])
