"""The trainer's side of the aggregation websocket: connect, subscribe, send updates, receive models.

Speaks Sedna's JSON protocol to any server, and binary chunked frames to a sedna_lib server
(detected from its acknowledgement: a server-only field plus the client's nonce; a Sedna
server's relay of the client's own subscribe can never pass for it). Every wait is bounded;
pings keep idle connections alive (heartbeats); a lost connection is re-opened with a session
secret so the server lets the client take its own id back.
"""

from __future__ import annotations

import functools
import logging
import secrets
import ssl as _ssl
import threading
import time
import weakref
from typing import Any

import numpy as np

from ..config import redact_uri
from ..exceptions import (
    AggregationError,
    BackendUnavailableError,
    ParameterError,
    ProtocolError,
    RemoteError,
    TransportError,
    TransportTimeout,
)
from . import messages as m

__all__ = ["AggregationClient"]

logger = logging.getLogger(__name__)

_ERRORS = {"AggregationError": AggregationError, "ProtocolError": ProtocolError}
_TRY_LATER = 1013  # close code of a server at its connection cap


def _websockets() -> Any:
    try:
        import websockets.exceptions
        import websockets.sync.client
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailableError.missing("websockets", "sedna_lib[server]", error=exc) from exc
    return websockets


def _connect_kwargs() -> dict:
    """``legacy=True`` where the websockets version wants it, to hold a connection outside a ``with``."""
    import inspect

    sync_connect = _websockets().sync.client.connect
    return {"legacy": True} if "legacy" in inspect.signature(sync_connect).parameters else {}


_MASK_AT = 64 * 1024
"""Binary frames of this many bytes or more are written by :class:`_MaskedSender` (smaller: by websockets)."""


class _MaskedSender:
    """Writes a connection's large binary frames with the payload masked once, straight after the header.

    websockets masks a frame's payload into a new ``bytes`` and copies it behind the header into a
    third buffer before the socket gets it: two passes over every byte and two fresh allocations of
    the frame's size (page faults, in a trainer whose memory turns over every round). Here the
    header and the masked payload are written in one pass into one buffer, kept for the connection's
    next frames (freeing it after each message gave back nearly all of the gain), and handed to the
    connection's own writer inside its send lock (``send_context``): frames, pings and closes keep
    their order, and the state checks and errors are websockets' own (a
    closed connection raises ``ConnectionClosed``, as from ``send``). The bytes on the wire are the
    frame ``send`` writes, with another random masking key.

    Parameters
    ----------
    conn : websockets.sync.client.ClientConnection
        The connection.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.buf = np.empty(0, dtype=np.uint8)

    @staticmethod
    def fits(conn: Any) -> bool:
        """Return whether ``conn`` has the websockets internals this writer uses (and no extension)."""
        proto = getattr(conn, "protocol", None)
        return (callable(getattr(conn, "send_context", None)) and hasattr(conn, "send_in_progress")
                and isinstance(getattr(proto, "writes", None), list)
                and hasattr(proto, "expect_continuation_frame") and not getattr(proto, "extensions", None))

    def send(self, data: Any) -> None:
        """Send ``data`` (bytes-like) as one final binary frame."""
        from ._wsframes import frame_header, mask_into

        view = memoryview(data).cast("B")
        n = view.nbytes
        conn = self.conn
        with conn.send_context():
            proto = conn.protocol
            if conn.send_in_progress or proto.expect_continuation_frame:
                proto.send_binary(data)  # websockets refuses these its own way
                return
            key = secrets.token_bytes(4)
            head = frame_header(n, key)
            if self.buf.size < 16 + n:
                self.buf = np.empty(16 + n, dtype=np.uint8)
            buf = self.buf  # the payload 8-byte aligned at 16, the header just before it
            buf[16 - len(head):16] = np.frombuffer(head, dtype=np.uint8)
            mask_into(view, key, buf[16:16 + n])
            proto.writes.append(memoryview(buf)[16 - len(head):16 + n])  # sent as the context exits


class _Link:
    """A client's current connection, shared with its finalizer (which must not hold the client)."""

    __slots__ = ("ws",)

    def __init__(self) -> None:
        self.ws: Any = None


_DROPPED_CLOSE_TIMEOUT = 2.0
"""Seconds the close of a client's connection waits for the server's reply when the client was dropped."""


def _close_dropped(link: _Link, url: str) -> None:
    """Close the connection of a client garbage-collected without :meth:`AggregationClient.close`."""
    ws, link.ws = link.ws, None
    if ws is None:
        return
    logger.debug("an AggregationClient of %s was dropped without close(); closing its connection", url)
    try:
        ws.close_timeout = min(_DROPPED_CLOSE_TIMEOUT, ws.close_timeout or _DROPPED_CLOSE_TIMEOUT)
        ws.close()
    except Exception as exc:  # a finalizer must not raise; the connection is gone either way
        logger.debug("closing the dropped connection to %s failed: %s", url, exc)


def _wait(timeout: Any) -> float | None:
    """Return a receive timeout checked (None or '': none); a NaN one gave up at once."""
    if timeout is None or timeout == "":
        return None
    from ..base import check_number

    return check_number("timeout", timeout, 0, low_open=True)


def _digits(value: Any, default: float, name: str, low_open: bool = True) -> float:
    """Return seconds from a setting (None or '': ``default``), checked (garbage was the default)."""
    if value is None or value == "":
        return default
    from ..base import check_number

    return check_number(name, value, 0, low_open=low_open)


class AggregationClient:
    """A trainer's connection to the aggregation server.

    Nothing connects in the constructor; :meth:`connect` (or the first send) does. :meth:`close`
    (or the end of a ``with`` block) closes the connection; a client dropped without it has its
    connection (socket and threads) closed when it is garbage-collected.

    Parameters
    ----------
    url : str
        ``ws://host:port/<aggregation>`` (or ``wss://``).
    client_id : str, default=''
        This trainer's id (``WORKER_NAME``); the server makes one up when empty.
    token : str, default=None
        Shared token sent as ``Authorization: Bearer``.
    ssl_context : ssl.SSLContext, default=None
        For ``wss://``; ``ca_file`` builds one.
    ca_file : str, default=None
        CA bundle that verifies the server's certificate.
    wire : {'binary', 'json'}, default='binary'
        Weight encoding with a sedna_lib server (Sedna servers always get JSON).
    connect_timeout : float, default=300.0
        Seconds :meth:`connect` keeps retrying (the aggregator may start after the trainers).
    recv_timeout : float, default=None
        Seconds :meth:`recv_weights` waits for a model (None: forever, relying on heartbeats and
        the server's round deadline).
    ping_interval : float, default=5.0
        Heartbeat period (websocket pings).
    ping_timeout : float, default=60.0
        Seconds without a pong before the connection counts as dead.
    chunk_size : int, default=4 MiB
        Largest binary frame sent.
    max_message_bytes : int, default=2 GiB
        Largest message accepted.
    job_name : str, default=''
        Sent with each update (Sedna's ``job_name``).
    fast_receive : bool, default=True
        On a plain ``ws://`` connection, receive binary frames from the socket straight into the
        message's reassembly buffer (one copy) instead of through websockets' frame parser; text
        and control frames, and anything the parser must judge, go through it either way.
    fast_send : bool, default=True
        Write a binary frame of 64 KiB or more as its header and its payload masked once, into a
        buffer kept for the next frames (up to ``chunk_size``), instead of through websockets'
        framing (two more copies and two allocations per frame); the frame on the wire is the same.

    Attributes
    ----------
    server_protocol_ : str or None
        ``sedna_lib/1`` when the server is a sedna_lib one, None for a Sedna server.
    initial_ : RecvWeight or None
        The current global model a sedna_lib server sent on (re)joining, if any.
    """

    def __init__(self, url: str, client_id: str = "", *, token: str | None = None,
                 ssl_context: _ssl.SSLContext | None = None, ca_file: str | None = None, wire: str = "binary",
                 connect_timeout: float = 300.0, recv_timeout: float | None = None, ping_interval: Any = 5.0,
                 ping_timeout: Any = 60.0, chunk_size: int = m.DEFAULT_CHUNK_SIZE,
                 max_message_bytes: int = m.MAX_MESSAGE_BYTES, job_name: str = "",
                 fast_receive: bool = True, fast_send: bool = True) -> None:
        self.url = url
        self.client_id = client_id
        self.token = token
        self.ssl_context = ssl_context
        self.ca_file = ca_file
        self.wire = wire
        self.connect_timeout = connect_timeout
        self.recv_timeout = recv_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.chunk_size = chunk_size
        self.max_message_bytes = max_message_bytes
        self.job_name = job_name
        self.fast_receive = fast_receive
        self.fast_send = fast_send
        self._link = _Link()  # self._ws: the connection, also closed if the client is dropped unclosed
        self._finalizer = weakref.finalize(self, _close_dropped, self._link, url)
        self._sender: _MaskedSender | None = None
        self._session: str | None = None
        self._lock = threading.Lock()
        self.server_protocol_: str | None = None
        self.initial_: m.RecvWeight | None = None

    # -- connection ---------------------------------------------------------------------------
    @property
    def _ws(self) -> Any:
        return self._link.ws

    @_ws.setter
    def _ws(self, ws: Any) -> None:
        self._link.ws = ws

    @property
    def is_connected(self) -> bool:
        """Whether a connection is open."""
        return self._ws is not None

    @property
    def is_binary(self) -> bool:
        """Whether weights travel as binary frames on this connection."""
        return self.server_protocol_ == m.PROTOCOL and self.wire == "binary"

    @property
    def shown_url(self) -> str:
        """The URL as messages and logs show it: its password and query values hidden."""
        return redact_uri(self.url)

    def _ssl(self) -> _ssl.SSLContext | None:
        if self.ssl_context is not None:
            return self.ssl_context
        if self.url.startswith("wss://"):
            return _ssl.create_default_context(cafile=self.ca_file)
        return None

    def connect(self) -> AggregationClient:
        """Open the connection and subscribe, retrying until ``connect_timeout``.

        Returns
        -------
        AggregationClient
            ``self``.

        Raises
        ------
        ParameterError
            If a setting is out of range (checked before anything is opened).
        TransportTimeout
            If the server is not reachable within ``connect_timeout``: a refused or reset
            connection, and one lost before the server answered the subscribe (a server
            stopping or restarting), are retried until then.
        RemoteError
            If the server refuses the client (wrong token, duplicate id, wrong aggregation); a
            server at its connection cap (1013) is retried until ``connect_timeout``.
        """
        self._check_settings()
        deadline = time.monotonic() + _digits(self.connect_timeout, 300.0, "connect_timeout", False)
        delay = 0.05
        while True:
            try:
                return self._connect_once(deadline)
            except RemoteError as exc:
                if exc.status_code != _TRY_LATER or time.monotonic() + delay >= deadline:
                    raise
                logger.info("the aggregator is full (%s); retrying", exc)
                self.close()
            except (TransportTimeout, ProtocolError):
                self.close()
                raise
            except TransportError as exc:
                # the connection was lost between the opening handshake and the server's answer to the
                # subscribe (a server stopping or restarting): tried again like an unreachable server
                self.close()
                if time.monotonic() + delay >= deadline:
                    raise TransportTimeout(f"could not reach the aggregator at {self.shown_url} within "
                                           f"{self.connect_timeout} s: {exc}", url=self.shown_url) from exc
                logger.info("lost the aggregator while subscribing (%s); retrying", exc)
            time.sleep(delay)  # bounded backoff: the server asked to try again later, or went away
            delay = min(delay * 2, 2.0)

    def _check_settings(self) -> None:
        """Check the settings before anything is opened (the constructor only stores them).

        Raises
        ------
        ParameterError
            If a timeout is not a finite number (``recv_timeout``, ``ping_interval`` and
            ``ping_timeout`` > 0, ``connect_timeout`` >= 0), a
            size is not a whole number >= 1, or ``wire`` is neither ``binary`` nor ``json``.
        """
        from ..base import check_count, check_number

        _digits(self.connect_timeout, 300.0, "connect_timeout", False)
        _digits(self.ping_interval, 5.0, "ping_interval")
        _digits(self.ping_timeout, 60.0, "ping_timeout")
        if self.recv_timeout is not None and self.recv_timeout != "":
            check_number("recv_timeout", self.recv_timeout, 0, low_open=True)
        check_count("chunk_size", self.chunk_size, 1)
        check_count("max_message_bytes", self.max_message_bytes, 1)
        if self.wire not in ("binary", "json"):
            raise ParameterError(f"wire must be 'binary' (sedna_lib's codec) or 'json' (Sedna's JSON "
                                 f"frames), got {self.wire!r}")

    def _connect_once(self, deadline: float) -> AggregationClient:
        websockets = _websockets()
        delay, last = 0.05, None
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        extra = _connect_kwargs()
        if self.fast_receive:
            from ._ws_recv import fast_connection_class

            cls = fast_connection_class()
            if cls is not None:
                extra["create_connection"] = functools.partial(cls, max_bytes=self.max_message_bytes)
        while True:
            try:
                ws = websockets.sync.client.connect(
                    self.url, additional_headers=headers, ssl=self._ssl(), max_size=None, compression=None,
                    open_timeout=max(1.0, min(10.0, deadline - time.monotonic())), proxy=None,
                    ping_interval=_digits(self.ping_interval, 5.0, "ping_interval"),
                    ping_timeout=_digits(self.ping_timeout, 60.0, "ping_timeout"), **extra)
                break
            except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake,
                    websockets.exceptions.ConnectionClosed) as exc:
                # ConnectionClosed: the connection was reset before the opening handshake was sent
                last = exc
            if time.monotonic() + delay >= deadline:
                raise TransportTimeout(f"could not reach the aggregator at {self.shown_url} within "
                                       f"{self.connect_timeout} s: {last}", url=self.shown_url) from last
            time.sleep(delay)  # bounded backoff between connection attempts
            delay = min(delay * 2, 2.0)
        self._ws = ws
        self._sender = _MaskedSender(ws) if self.fast_send and _MaskedSender.fits(ws) else None
        nonce = secrets.token_hex(16)
        session = self._session
        if session is None and self.token and self.client_id:
            session = m.bound_session(self.token, self.client_id)  # a restarted worker takes its id back
        sub = m.Subscribe(self.client_id, protocol=m.PROTOCOL, wire=self.wire, session=session, nonce=nonce)
        self._send_raw(m.to_json(sub))
        self.initial_ = None
        while True:
            msg = self._recv_message(timeout=max(5.0, deadline - time.monotonic()))
            if not isinstance(msg, m.Subscribe):
                continue
            if msg.is_ack_for(nonce):
                break  # a sedna_lib server answered this very subscribe
            if msg.server is None and (msg.nonce == nonce or msg.client_id == self.client_id
                                       or not self.client_id):
                break  # a Sedna server relayed this client's own subscribe back: speak Sedna's JSON
        self.server_protocol_ = m.PROTOCOL if msg.is_ack_for(nonce) else None
        if self.server_protocol_ == m.PROTOCOL:
            self.client_id = msg.client_id
            self._session = msg.session
            if msg.round_number is not None:  # the server sends its current model next (initial at round 0)
                initial = self._recv_message(timeout=max(5.0, deadline - time.monotonic()))
                if isinstance(initial, m.RecvWeight):
                    self.initial_ = initial
        logger.info("connected to %s as %s (%s)", self.shown_url, self.client_id,
                    "binary" if self.is_binary else "json")
        return self

    def reconnect(self) -> AggregationClient:
        """Drop the connection and open a new one under the same id (and session).

        Returns
        -------
        AggregationClient
            ``self``.
        """
        self.close()
        return self.connect()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    def __enter__(self) -> AggregationClient:
        """Connect (unless connected already)."""
        return self.connect() if self._ws is None else self

    def __exit__(self, *exc_info: Any) -> None:
        """Close the connection."""
        self.close()

    # -- raw I/O ------------------------------------------------------------------------------
    def _translate(self, exc: BaseException) -> TransportError:
        websockets = _websockets()
        if isinstance(exc, websockets.exceptions.ConnectionClosed):
            rcvd = exc.rcvd
            code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "connection lost")
            reason = reason or "(no reason given)"
            if code >= 4000 or code in (1003, 1008, 1009, _TRY_LATER):
                return RemoteError(f"the aggregator closed the connection ({code}): {reason}",
                                   url=self.shown_url, status_code=code)
            return TransportError(f"connection to {self.shown_url} closed ({code}): {reason}",
                                  url=self.shown_url)
        return TransportError(f"websocket I/O with {self.shown_url} failed: {exc}", url=self.shown_url)

    def _send_raw(self, data: str | bytes) -> None:
        websockets = _websockets()
        if self._ws is None:
            self.connect()
        try:
            with self._lock:
                sender = self._sender
                if sender is not None and not isinstance(data, str) and memoryview(data).nbytes >= _MASK_AT:
                    sender.send(data)
                else:
                    self._ws.send(data)
        except (websockets.exceptions.ConnectionClosed, OSError) as exc:
            self._ws = None
            raise self._translate(exc) from exc

    def _send_frames(self, msg: Any) -> int:
        """Send a weights message as binary frames; return the bytes sent."""
        sent = 0
        for frame in m.encode_frames(msg, self.chunk_size):  # one copy of the weights, then framed
            self._send_raw(frame)
            sent += len(frame)
        return sent

    def _recv_message(self, timeout: float | None = None) -> Any:
        websockets = _websockets()
        if self._ws is None:
            raise TransportError(f"not connected to {self.shown_url}; call connect()", url=self.shown_url)
        reassembler = m.Reassembler(self.max_message_bytes)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                frame = self._ws.recv(timeout=left)
            except TimeoutError:
                raise TransportTimeout(f"no message from {self.shown_url} within {timeout} s",
                                       url=self.shown_url) from None
            except ProtocolError:  # a binary message refused as it arrived: the connection stays
                raise
            except (websockets.exceptions.ConnectionClosed, OSError) as exc:
                self._ws = None
                raise self._translate(exc) from exc
            if isinstance(frame, memoryview):  # a whole message, reassembled and checked as it arrived
                return m.from_binary(frame)
            if isinstance(frame, bytes):
                payload = reassembler.feed(frame)
                if payload is None:
                    continue
                return m.from_binary(payload)
            msg = m.from_json(frame)
            if isinstance(msg, m.ErrorMessage):
                cls = _ERRORS.get(msg.error)
                if cls is not None:
                    raise cls(f"the aggregator refused: {msg.message}")
                raise RemoteError(f"the aggregator refused: {msg.message}", url=self.shown_url,
                                  status_code=msg.code)
            return msg

    # -- federated API ------------------------------------------------------------------------
    def send_update(self, weights: list, num_samples: int, *, round_number: int | None = None,
                    metrics: dict | None = None, names: list | None = None) -> int:
        """Upload this round's weights.

        Parameters
        ----------
        weights : list of numpy.ndarray
            The trained layers.
        num_samples : int
            Training samples behind them.
        round_number : int, default=None
            The round trained for (a sedna_lib server drops stale updates).
        metrics : dict, default=None
            Training metrics.
        names : list of str, default=None
            Layer names (used in the server's error messages).

        Returns
        -------
        int
            Bytes sent.

        Raises
        ------
        ParameterError
            If ``num_samples`` is not a whole number >= 0 (``int()`` sent 2.5 as 2 and ``True`` as 1).
        TransportError
            If the connection is lost.
        """
        from ..base import check_count

        num_samples = check_count("num_samples", num_samples, 0)
        if self._ws is None:
            self.connect()
        round_number = round_number if self.server_protocol_ == m.PROTOCOL else None
        msg = m.UpdateWeight(self.client_id, [np.asarray(w) for w in weights], num_samples,
                             self.job_name, round_number, metrics or {}, names)
        if self.is_binary:
            return self._send_frames(msg)
        text = m.to_json(msg)
        self._send_raw(text)
        return len(text)

    def recv_weights(self, timeout: float | None = None) -> m.RecvWeight:
        """Wait for the next aggregated model, skipping join notices and echoes.

        Parameters
        ----------
        timeout : float, default=None
            Seconds to wait (default: ``recv_timeout``).

        Returns
        -------
        RecvWeight
            The model, its round and whether the job ends.

        Raises
        ------
        ParameterError
            If the timeout is not a finite number > 0 (a NaN one gave up at once).
        TransportTimeout
            If nothing arrives in time.
        AggregationError, ProtocolError, RemoteError
            If the server refused this client's update.
        """
        timeout = _wait(self.recv_timeout if timeout is None else timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            msg = self._recv_message(left)
            if isinstance(msg, m.RecvWeight):
                return msg

    def send_message(self, msg: m.SecAgg | m.SecAggMasked | m.Evaluation) -> int:
        """Send a sedna_lib-only message: a secure-aggregation step, or a last-round evaluation.

        Parameters
        ----------
        msg : SecAgg, SecAggMasked or Evaluation
            A JSON message, or the masked input (binary frames, chunked like weights).

        Returns
        -------
        int
            Bytes sent.

        Raises
        ------
        TransportError
            If the connection is lost.
        """
        if isinstance(msg, m.SecAggMasked):
            return self._send_frames(msg)
        text = m.to_json(msg)
        self._send_raw(text)
        return len(text)

    def recv_message(self, timeout: float | None = None) -> Any:
        """Wait for the next message of any kind (a model, a secure-aggregation step, a notice).

        Parameters
        ----------
        timeout : float, default=None
            Seconds to wait (default: ``recv_timeout``).

        Returns
        -------
        Message or dict
            The decoded message.

        Raises
        ------
        ParameterError
            If the timeout is not a finite number > 0.
        TransportTimeout
            If nothing arrives in time.
        AggregationError, ProtocolError, RemoteError
            If the server refused this client.
        """
        return self._recv_message(_wait(self.recv_timeout if timeout is None else timeout))

    # -- Sedna's AggregationClient methods ------------------------------------------------------
    def send(self, data: Any, msg_type: str = "message", job_name: str = "") -> None:
        """Send a message as Sedna's client does: ``{"type", "client", "data", "job_name"}``.

        Parameters
        ----------
        data : object
            For ``update_weight``: ``{"num_samples": n, "weights": layers}``.
        msg_type : str, default='message'
            The message type.
        job_name : str, default=''
            The job.
        """
        if msg_type == "update_weight" and isinstance(data, dict):
            self.job_name = job_name or self.job_name
            self.send_update(data["weights"], data["num_samples"])
            return
        import json

        self._send_raw(json.dumps({"type": msg_type, "client": self.client_id, "data": data,
                                   "job_name": job_name}))

    def recv(self, wait_data_type: str | None = None) -> Any:
        """Receive one message as Sedna's client does (a dict; None if its type differs).

        Parameters
        ----------
        wait_data_type : str, default=None
            Return None unless the message has this type.

        Returns
        -------
        dict or None
            ``{"type", "data": {...}}`` (weights as numpy arrays), or None.
        """
        msg = self._recv_message(self.recv_timeout)
        if isinstance(msg, m.RecvWeight):
            d = {"type": "recv_weight", "client": msg.client, "job_name": msg.job_name,
                 "round_number": msg.round_number,
                 "data": {"total_sample": msg.total_sample, "round_number": msg.round_number,
                          "weights": msg.weights, "exit_flag": msg.exit_flag}}
        elif isinstance(msg, m.Subscribe):
            d = {"type": "subscribe", "client_id": msg.client_id}
        elif isinstance(msg, m.ClientJoin):
            d = {"type": "CLIENT_JOIN", "data": msg.client_id}
        else:
            d = msg if isinstance(msg, dict) else {"type": type(msg).__name__}
        if wait_data_type is not None and d.get("type") != wait_data_type:
            return None
        return d
