"""HTTP client of the big-model inference service: keep-alive, timeouts, bounded retries, a circuit breaker.

Speaks Sedna's JSON wire (``POST /{service}/predict`` with ``{"data": [...], "callback": ...}``
answered by ``{"result": [...]}``), and the binary codec of :mod:`sedna_lib.transport.codec` for
numpy payloads, chosen by Content-Type. With ``wire='auto'`` (the default) an array goes out
binary; a peer that does not understand it (an original Sedna server answers 415 or 422) is
asked again in JSON, and JSON is kept for that peer from then on.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
import weakref
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from .._json import json_safe
from .._json import loads as json_loads
from ..base import check_count, check_number
from ..config import redact_text, redact_uri
from ..exceptions import ConfigError, DataError, ProtocolError, RemoteError, TransportError, TransportTimeout
from . import codec
from ._requests import check_retries, check_timeout

__all__ = ["CircuitBreaker", "CloudReply", "InferenceClient", "WireFormat", "JSON_MEDIA_TYPE", "to_jsonable"]

logger = logging.getLogger(__name__)

JSON_MEDIA_TYPE = "application/json"
_RETRY_STATUSES = {502, 503, 504}
_AWAY_STATUSES = frozenset(_RETRY_STATUSES)  # answers that open the breaker: the peer is away or overloaded
_FALLBACK_STATUSES = {415, 422}
_ACCEPT_BOTH = f"{codec.MEDIA_TYPE}, {JSON_MEDIA_TYPE};q=0.9"  # the codec preferred, JSON understood
# what a sedna_lib big-model server says on every reply (servers.inference; transport sits below servers)
_CALLBACKS_HEADER = "sedna-callbacks"
_CALLBACK_APPLIED_HEADER = "sedna-callback-applied"


class CloudReply(NamedTuple):
    """A big-model answer and what the peer did with the callback name.

    Attributes
    ----------
    result : object
        The ``result`` of the reply.
    callback_applied : bool
        Whether the peer applied the callback named in the request (False when none was sent).
    """

    result: Any
    callback_applied: bool = False


class WireFormat(str, enum.Enum):
    """How request payloads are encoded."""

    AUTO = "auto"
    JSON = "json"
    BINARY = "binary"


def to_jsonable(value: Any) -> Any:
    """Convert numpy arrays and scalars (also nested in lists, tuples, dicts and dataclasses) to JSON types.

    Parameters
    ----------
    value : object
        The value.

    Returns
    -------
    object
        The same value made of dict, list, str, int, float, bool and None.

    Raises
    ------
    TypeError
        If a part of it has no JSON form.

    Examples
    --------
    >>> to_jsonable({"a": np.arange(2), "b": (np.float32(0.5), "x")})
    {'a': [0, 1], 'b': [0.5, 'x']}
    """
    return json_safe(value, strict=True)


def is_binary_array(value: Any) -> bool:
    """Tell whether ``value`` is a numpy array the binary codec can carry."""
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufc"


class CircuitBreaker:
    """Stop calling a peer that keeps failing, and try it again after a pause.

    Closed: calls go through. After ``failure_threshold`` consecutive failures it opens: calls
    are refused at once for ``reset_timeout`` seconds. Then one trial call is let through
    (half-open); its success closes the breaker, its failure opens it again.

    Parameters
    ----------
    failure_threshold : int, default=1
        Consecutive failures that open the breaker.
    reset_timeout : float, default=5.0
        Seconds the breaker stays open before a trial call.
    clock : callable, default=time.monotonic
        Time source (for tests).

    Examples
    --------
    >>> now = [0.0]
    >>> breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, clock=lambda: now[0])
    >>> breaker.record_failure(); breaker.state, breaker.allow()
    ('open', False)
    >>> now[0] = 6.0; breaker.allow(), breaker.state
    (True, 'half-open')
    """

    def __init__(self, *, failure_threshold: int = 1, reset_timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """``'closed'``, ``'open'`` or ``'half-open'``."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._trial else "open"

    def allow(self) -> bool:
        """Tell whether a call may be made now (and, when half-open, claim the one trial).

        Returns
        -------
        bool
            True if the caller should make the call.
        """
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial:
                return False
            # a NaN reset_timeout compared false for ever: the breaker never let a trial through
            if self.clock() - self._opened_at >= check_number("reset_timeout", self.reset_timeout, 0):
                self._trial = True
                return True
            return False

    def record_success(self) -> bool:
        """Note a successful call; close the breaker.

        Returns
        -------
        bool
            True if the breaker was open or half-open before (the peer is back).
        """
        with self._lock:
            was_open = self._opened_at is not None
            self._failures, self._opened_at, self._trial = 0, None, False
        return was_open

    def release(self) -> None:
        """Give back a claimed trial whose call told nothing of the peer (the breaker stays as it was)."""
        with self._lock:
            self._trial = False

    def record_failure(self) -> None:
        """Note a failed call; open the breaker after ``failure_threshold`` in a row."""
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= check_count("failure_threshold", self.failure_threshold):
                self._opened_at = self.clock()
            self._trial = False


class InferenceClient:
    """Client of a big-model inference service (``BigModelService`` or Sedna's ``InferenceServer``).

    Parameters
    ----------
    url : str
        Base URL, ``http://host:port``.
    service_name : str, default='sedna'
        First path segment (the service name); requests go to ``{url}/{service_name}/predict``.
    fallback_service : str, default='sedna'
        Segment tried when the service answers 404 (an original Sedna cloud worker serves
        ``/sedna`` whatever the service's name); the one that works is kept.
    timeout : float or (float, float), default=(3.0, 10.0)
        Connect and read timeouts in seconds; a single number is used for both. The read
        timeout bounds each wait for data; the whole reply must also arrive within
        ``connect + read`` seconds of the attempt's start (see Notes).
    max_retries : int, default=2
        Retries after a refused connection or a 502/503/504 (never after a timeout).
    backoff : float, default=0.05
        First retry delay in seconds, doubled at each retry.
    wire : {'auto', 'json', 'binary'}, default='auto'
        Payload encoding; 'auto' sends arrays binary and falls back to JSON for peers that
        refuse it.
    auth_token : str, default=None
        Sent as ``Authorization: Bearer <token>``.
    failure_threshold : int, default=1
        Consecutive failures that open the circuit breaker.
    reset_timeout : float, default=5.0
        Seconds before a trial call to a peer whose breaker is open.
    verify : bool or str, default=True
        TLS verification (a CA bundle path, or False).

    Attributes
    ----------
    breaker : CircuitBreaker
        The circuit breaker.
    applies_callbacks : bool or None
        Whether the peer said it applies callback names (a sedna_lib server's ``Sedna-Callbacks:
        apply`` reply header); None until a reply was seen. A callback name is sent only to a peer
        that said so: an original Sedna server answers 500 to a name it has not registered.

    Notes
    -----
    A client may be shared between threads (the inference thread and the offload-queue drain of
    a joint-inference job, or a server's request threads): each thread sends through a
    keep-alive ``requests.Session`` of its own, released when the thread ends, and all of them
    share the circuit breaker and what was learned of the peer (its path, its codec).

    A peer that drips its reply (each byte within the read timeout) is cut off once the reply
    is not complete ``connect + read`` seconds after the attempt started; the check runs
    between reads, so an attempt lasts at most about ``connect + 2 * read`` seconds. The
    status line and headers are read by requests before the check can run: a peer that drips
    its headers is bounded only by the per-read timeout.

    Examples
    --------
    >>> client = InferenceClient("http://127.0.0.1:5000", service_name="ji-svc")
    >>> client.endpoint
    'http://127.0.0.1:5000/ji-svc'
    """

    def __init__(self, url: str, *, service_name: str = "sedna", fallback_service: str | None = "sedna",
                 timeout: float | tuple[float, float] = (3.0, 10.0), max_retries: int = 2,
                 backoff: float = 0.05, wire: str = "auto", auth_token: str | None = None,
                 failure_threshold: int = 1, reset_timeout: float = 5.0, verify: bool | str = True) -> None:
        self.url = url.rstrip("/")
        self.service_name = service_name or "sedna"
        self.fallback_service = fallback_service
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.wire = wire
        self.auth_token = auth_token
        self.verify = verify
        self.breaker = CircuitBreaker(failure_threshold=failure_threshold, reset_timeout=reset_timeout)
        self._local = threading.local()  # one keep-alive session per calling thread
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()  # the live ones, for close()
        self._lock = threading.Lock()
        self._service_in_use = self.service_name
        self._binary_ok = True
        self._binary_confirmed = False
        self.applies_callbacks: bool | None = None

    @classmethod
    def from_config(cls, config: Any, *, url: str | None = None, service_name: str | None = None,
                    **overrides: Any) -> InferenceClient:
        """Build a client from a :class:`~sedna_lib.config.Config` (``BIG_MODEL_IP/PORT``, timeouts, token).

        Parameters
        ----------
        config : Config
            The configuration.
        url : str, default=None
            Base URL (``http://host:port``); from ``BIG_MODEL_IP``/``BIG_MODEL_PORT`` (https
            when ``SEDNA_TLS_CA`` is set) if omitted.
        service_name : str, default=None
            Path segment; ``JOB_NAME`` or ``SERVICE_NAME`` (else ``sedna``) if omitted.
        **overrides : object
            Other constructor arguments.

        Returns
        -------
        InferenceClient
            The client.
        """
        params: dict[str, Any] = dict(
            service_name=service_name or config.job_or_service_name or "sedna",
            timeout=(config.connect_timeout_s, config.request_timeout), max_retries=config.max_retries,
            auth_token=config.auth_token, verify=config.tls_ca or True)
        params.update(overrides)
        if url is None:
            host = config.big_model_ip
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"
            url = f"{'https' if config.tls_ca else 'http'}://{host}:{config.big_model_port}"
        return cls(url, **params)

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """``{url}/{service}``: the service root, as Sedna's ``ModelClient.endpoint``."""
        return f"{self.url}/{self._service_in_use}"

    def _timeouts(self) -> tuple[float, float]:
        return check_timeout(self.timeout)

    def _get_session(self) -> Any:
        """Return the calling thread's session (requests' sessions are not documented as thread-safe)."""
        holder = getattr(self._local, "holder", None)
        if holder is None:
            import requests

            session = requests.Session()
            session.verify = self.verify
            if self.auth_token:
                session.headers["Authorization"] = f"Bearer {self.auth_token}"
            holder = _SessionHolder(session)
            weakref.finalize(holder, session.close)  # the thread ended (or close() ran): drop its connections
            with self._lock:
                self._sessions.add(session)
            self._local.holder = holder
        return holder.session

    def close(self) -> None:
        """Close the keep-alive connections of every thread; a later call opens new ones."""
        with self._lock:
            sessions = list(self._sessions)
            self._sessions = weakref.WeakSet()
            self._local = threading.local()
        for session in sessions:
            session.close()

    def __enter__(self) -> InferenceClient:
        """Return the client, for a ``with`` block."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close the connections at the end of the ``with`` block."""
        self.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> _Reply:
        """One request with bounded retries; requests' errors become sedna_lib's.

        requests' read timeout bounds each wait on the socket, so a peer that drips its reply
        would never trip it: each attempt must also have the whole reply by ``connect + read``
        seconds after it started, checked between reads of the body.

        The request goes to ``url`` as given; the errors show it redacted (password and query
        values as ``***``), and requests' exception, whose text may repeat the URL's query, is
        told redacted and not chained.
        """
        import requests

        shown = redact_uri(url)
        connect, read = self._timeouts()
        max_retries, backoff = check_retries(self.max_retries, self.backoff)
        session = self._get_session()
        attempt = 0
        while True:
            deadline = time.monotonic() + connect + read
            try:
                response = session.request(method, url, timeout=(connect, read), stream=True, **kwargs)
            except requests.exceptions.ConnectTimeout:
                raise TransportTimeout(f"{method} {shown}: no connection within {connect} s",
                                       url=shown) from None
            except requests.exceptions.ReadTimeout:
                raise TransportTimeout(f"{method} {shown}: no answer within {read} s", url=shown) from None
            except requests.exceptions.ConnectionError as exc:
                if attempt < max_retries:
                    time.sleep(backoff * 2 ** attempt)  # bounded backoff between retries
                    attempt += 1
                    continue
                raise TransportError(f"{method} {shown}: cannot connect ({exc.__class__.__name__}: "
                                     f"{redact_text(str(exc), url)})", url=shown) from None
            except requests.exceptions.RequestException as exc:
                raise TransportError(f"{method} {shown} failed: {redact_text(str(exc), url)}",
                                     url=shown) from None
            reply = _read_reply(response, f"{method} {shown}", deadline, connect + read, read)
            if reply.status_code in _RETRY_STATUSES and attempt < max_retries:
                time.sleep(backoff * 2 ** attempt)
                attempt += 1
                continue
            return reply

    def _guarded(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` through the circuit breaker."""
        if not self.breaker.allow():
            shown = redact_uri(self.endpoint)
            raise TransportError(f"{shown} is unavailable (circuit open after failures; "
                                 f"next try in at most {self.breaker.reset_timeout} s)", url=shown)
        try:
            result = call()
        except DataError:  # about the data sent, not the peer: neither a failure nor a success
            self.breaker.release()
            raise
        except (TransportTimeout, ProtocolError):
            self.breaker.record_failure()
            raise
        except RemoteError as exc:
            if exc.status_code in _AWAY_STATUSES:  # a gateway says the peer is away or overloaded
                self.breaker.record_failure()
            else:  # the peer answered: it is there; the error is about this request (or the deployment)
                self.breaker.record_success()
            raise
        except TransportError:
            self.breaker.record_failure()
            raise
        except BaseException:  # anything else tells nothing of the peer; a trial must not stay claimed
            self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    @property
    def available(self) -> bool:
        """Whether the circuit breaker is closed (the last call succeeded or none failed)."""
        return self.breaker.state == "closed"

    # -- API ---------------------------------------------------------------------------------
    def check_server_status(self) -> dict[str, Any]:
        """``GET {endpoint}``: the service's route list (Sedna's ``ModelClient.check_server_status``).

        Returns
        -------
        dict
            The decoded JSON (``{"infos": [...]}``).

        Raises
        ------
        TransportError
            If the service cannot be reached; ``RemoteError`` on an error status.
        """
        return self._get_json(self.endpoint)

    def predict(self, data: Any, *, callback: str | None = None, **fields: Any) -> Any:
        """Send one request to ``{endpoint}/predict`` and return the ``result``.

        Parameters
        ----------
        data : numpy.ndarray or JSON-able
            The payload; numeric arrays travel binary unless ``wire='json'``.
        callback : str, default=None
            Name of a ``post_process_callback`` registered on the server, applied there.
        **fields : object
            Extra JSON fields (sent in the binary header too).

        Returns
        -------
        object
            The result: an array when it came back binary, else the decoded JSON value.

        Raises
        ------
        TransportTimeout
            If the peer does not connect or answer in time.
        TransportError
            If it cannot be reached, or its circuit breaker is open.
        RemoteError
            If it answers with an error status (``status_code`` is set).
        ProtocolError
            If the answer is malformed.
        """
        return self._guarded(lambda: self._predict(data, callback, fields)).result

    def predict_reply(self, data: Any, *, callback: str | None = None, **fields: Any) -> CloudReply:
        """Like :meth:`predict`, and also tell whether the peer applied the callback.

        The callback name is sent only to a peer that says it applies callbacks (learned from its
        replies; asked once with ``GET {endpoint}`` when not known yet). A peer that did not
        apply it (an original Sedna server, or a sedna_lib one without that callback) leaves the
        result as its model gave it, and ``callback_applied`` is False: the caller applies it.

        Parameters
        ----------
        data : numpy.ndarray or JSON-able
            The payload.
        callback : str, default=None
            Name of a ``post_process_callback``.
        **fields : object
            Extra JSON fields.

        Returns
        -------
        CloudReply
            The result, and whether the callback was applied by the peer.

        Raises
        ------
        TransportTimeout
            If the peer does not connect or answer in time.
        TransportError
            If it cannot be reached, or its circuit breaker is open.
        RemoteError
            If it answers with an error status.
        ProtocolError
            If the answer is malformed.
        """
        return self._guarded(lambda: self._predict(data, callback, fields))

    def inference(self, x: Any, **kwargs: Any) -> dict[str, Any]:
        """Sedna's ``ModelClient.inference``: post ``x`` and return the reply ``{"result": ...}``.

        Parameters
        ----------
        x : object
            The payload.
        **kwargs : object
            Extra fields; ``post_process``/``callback`` name a server-side callback.

        Returns
        -------
        dict
            ``{"result": result}``.
        """
        callback = kwargs.pop("callback", None)
        post_process = kwargs.pop("post_process", None)
        callback = callback or post_process
        if callback is not None and not isinstance(callback, str):
            callback = None  # a callable cannot travel; Sedna's client failed here
        return {"result": self.predict(x, callback=callback, **kwargs)}

    def health(self) -> dict[str, Any]:
        """``GET {url}/healthz`` of a sedna_lib server.

        Returns
        -------
        dict
            The server's health document.
        """
        return self._get_json(f"{self.url}/healthz")

    def _get_json(self, url: str) -> Any:
        """``GET url`` through the circuit breaker; the decoded JSON reply."""
        def call() -> Any:
            response = self._send("GET", url)
            self._learn(response)
            _raise_for_status(response, url)
            return _json_body(response, url)

        return self._guarded(call)

    def _learn(self, response: _Reply) -> None:
        """Note what a reply says of the peer: a sedna_lib server applies callbacks and reads the codec."""
        if response.headers.get(_CALLBACKS_HEADER, "").strip().lower() == "apply":
            self.applies_callbacks = True
            self._binary_confirmed = True  # it reads the codec: a 422 from it is about the sample
        elif response.status_code < 500:
            self.applies_callbacks = False

    def _encode(self, data: Any, callback: str | None, fields: dict[str, Any],
                binary: bool) -> tuple[bytes, dict[str, str]]:
        named = {"callback": callback} if callback else {}  # only a peer that applies callbacks gets a name
        # the sample's fault, not the cloud's: a DataError, which the circuit breaker does not count
        try:
            if binary:
                meta = {**to_jsonable(fields), **named, "data": "array"}
                return codec.encode([data], meta), {"Content-Type": codec.MEDIA_TYPE, "Accept": _ACCEPT_BOTH}
            body = {**to_jsonable(fields), "data": to_jsonable(data), **named}
        except (TypeError, ValueError) as exc:
            raise DataError(f"the sample cannot be sent to {redact_uri(self.endpoint)}: {exc}") from None
        try:
            text = json.dumps(body, separators=(",", ":"))
        except (TypeError, ValueError) as exc:  # bytes or dates inside an array, a cycle, ...
            raise DataError(f"the sample cannot be sent to {redact_uri(self.endpoint)} as JSON: {exc}; "
                            f"send a numeric array, or lists of numbers and strings") from None
        accept = JSON_MEDIA_TYPE if self.wire == WireFormat.JSON else _ACCEPT_BOTH
        headers = {"Content-Type": JSON_MEDIA_TYPE, "Accept": accept}
        return text.encode(), headers

    def _predict(self, data: Any, callback: str | None, fields: dict[str, Any]) -> CloudReply:
        if callback and self.applies_callbacks is None:
            self._learn(self._send("GET", self.endpoint))  # ask once whether the peer applies callbacks
        if not self.applies_callbacks:
            callback = None
        wire = _check_wire(self.wire)
        binary = wire == WireFormat.BINARY or (
            wire == WireFormat.AUTO and self._binary_ok and is_binary_array(data))
        if wire == WireFormat.BINARY and not is_binary_array(data):
            raise DataError(f"wire='binary' needs a numeric numpy array, got {type(data).__name__}")
        body, headers = self._encode(data, callback, fields, binary)
        url = f"{self.endpoint}/predict"
        response = self._send("POST", url, data=body, headers=headers)
        fallback = self.fallback_service
        if response.status_code == 404 and fallback and self._service_in_use != fallback:
            logger.info("%s answered 404; trying /%s (an original Sedna cloud worker)", redact_uri(url),
                        fallback)
            self._service_in_use = fallback
            url = f"{self.endpoint}/predict"
            response = self._send("POST", url, data=body, headers=headers)
        self._learn(response)
        if binary and wire == WireFormat.AUTO and not self._binary_confirmed and (
                response.status_code in _FALLBACK_STATUSES or response.status_code >= 500):
            # a peer that never answered a binary request (an original Sedna server answers 422, or
            # fails with 500 on a body it cannot read as JSON) is asked again in JSON
            logger.info("%s refused the binary codec (%s); trying JSON", redact_uri(url),
                        response.status_code)
            body, headers = self._encode(data, callback, fields, False)
            response = self._send("POST", url, data=body, headers=headers)
            if response.status_code < 400:
                self._binary_ok = False
        elif binary and response.status_code < 400:
            self._binary_confirmed = True
        _raise_for_status(response, url)
        applied = bool(callback) and response.headers.get(_CALLBACK_APPLIED_HEADER) == callback
        return CloudReply(_result_of(response, url), applied)


class _Reply(NamedTuple):
    """A reply read in full: what the callers read of a ``requests.Response``."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """Decode the body as JSON (ValueError if it is not)."""
        return json_loads(self.content)


_READ_SIZE = 1 << 16


def _read_reply(response: Any, what: str, deadline: float, budget: float, read: float) -> _Reply:
    """Read a streamed response's body by the deadline; the connection is dropped on failure.

    Each read returns what the socket has (at most ``_READ_SIZE`` bytes), so a dripping peer is
    caught at its first byte after the deadline; a read that waits may overrun the deadline by
    at most ``read`` seconds (requests' own per-read timeout).
    """
    from urllib3.exceptions import DecodeError, HTTPError, ReadTimeoutError

    url = redact_uri(response.url)  # requests keeps the userinfo in it
    chunks: list[bytes] = []
    try:
        while True:
            if time.monotonic() > deadline:
                raise TransportTimeout(f"{what}: the reply was not complete within {budget} s "
                                       f"(the peer sends too slowly)", url=url)
            try:
                chunk = response.raw.read1(_READ_SIZE, decode_content=True)
            except ReadTimeoutError as exc:
                raise TransportTimeout(f"{what}: no data for {read} s in the reply", url=url) from exc
            except DecodeError as exc:
                raise ProtocolError(f"{what}: the reply cannot be decoded: {exc}", url=url) from exc
            except HTTPError as exc:
                raise TransportError(f"{what}: the reply broke off: {exc}", url=url) from exc
            if not chunk:
                return _Reply(response.status_code, response.headers, b"".join(chunks))
            chunks.append(chunk)
    except BaseException:
        response.close()  # half read: the connection cannot be used again
        raise


class _SessionHolder:
    """A thread's session; a finaliser closes it when the thread's local storage lets go of it."""

    __slots__ = ("session", "__weakref__")

    def __init__(self, session: Any) -> None:
        self.session = session


def _result_of(response: _Reply, url: str) -> Any:
    """Return the ``result`` of a predict reply, in the binary codec or JSON (by its Content-Type)."""
    shown = redact_uri(url)
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == codec.MEDIA_TYPE:
        try:
            meta, arrays = codec.decode(response.content, copy=False)
        except ProtocolError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise ProtocolError(f"{shown}: binary reply cannot be decoded: {exc}", url=shown) from None
        if isinstance(meta, dict) and meta.get("result") == "array" and len(arrays) == 1:
            return arrays[0]
        if isinstance(meta, dict) and "result" in meta:
            return meta["result"]
        raise ProtocolError(f"{shown}: binary reply without a result", url=shown)
    reply = _json_body(response, url)
    if not isinstance(reply, dict) or "result" not in reply:
        raise ProtocolError(f"{shown}: reply has no 'result' field: {str(reply)[:200]}", url=shown)
    return reply["result"]


def _raise_for_status(response: Any, url: str) -> None:
    """Raise the RemoteError of an error status; the message shows ``url`` and the peer's text redacted."""
    if response.status_code < 400:
        return
    try:
        reply = response.json()
    except ValueError:
        reply = None
    detail = reply.get("detail", response.text) if isinstance(reply, dict) else response.text
    shown = redact_uri(url)
    raise RemoteError(f"{shown} answered {response.status_code}: {redact_text(str(detail)[:500], url)}",
                      url=shown, status_code=response.status_code)


def _json_body(response: Any, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        shown = redact_uri(url)
        raise ProtocolError(f"{shown}: reply is not JSON: {redact_text(repr(response.text[:200]), url)}",
                            url=shown) from None


def _check_wire(value: str) -> WireFormat:
    try:
        return WireFormat(value)
    except ValueError:
        raise ConfigError(f"wire must be one of auto, json, binary; got {value!r}") from None
