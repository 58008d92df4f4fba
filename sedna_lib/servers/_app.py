"""Machinery every HTTP server shares: limits, bearer token, body reading, decoding off the loop, errors.

Each server builds its app with :func:`install_error_handlers` (every failure is a JSON reply,
counted), reads bodies with :func:`read_body` (size limit, read timeout, a cap on concurrent
large bodies) and decodes them with :func:`run_off_loop` in a worker thread, so one large
request never holds up ``/healthz``. :class:`ServerLimits` carries the numbers, from
``SEDNA_MAX_REQUEST_BYTES`` and the ``SEDNA_HTTP_*`` variables. A request the ASGI server cuts
off as it stops is answered by :func:`guard_stop` alone (a JSON 503, counted).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from .._json import loads as json_loads
from ..base import check_count
from ..exceptions import (BackendError, BackendUnavailableError, ConfigError, NotFittedError, ParameterError,
                          ProtocolError)

__all__ = ["HTTPError", "RequestStats", "ServerLimits", "LargeRequestGate", "check_token", "read_body",
           "error_response", "fastapi", "install_error_handlers", "run_off_loop", "parse_json",
           "is_input_error", "ERROR_RESPONSES", "STOPPING", "guard_stop"]

logger = logging.getLogger(__name__)

_MiB = 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """The limits and timeouts of one HTTP server.

    Parameters
    ----------
    max_request_bytes : int, default=64 MiB
        Largest request body (413 beyond); ``SEDNA_MAX_REQUEST_BYTES``.
    header_timeout : float, default=10.0
        Seconds to receive a request's head on a new or idle connection; ``SEDNA_HTTP_HEADER_TIMEOUT``.
    body_timeout : float, default=60.0
        Seconds to receive one request body (408 beyond); ``SEDNA_HTTP_BODY_TIMEOUT``.
    keep_alive : float, default=30.0
        Seconds an idle keep-alive connection stays open; ``SEDNA_HTTP_KEEP_ALIVE``.
    max_connections : int, default=256
        Connections and requests in progress at once (503 beyond); ``SEDNA_HTTP_MAX_CONNECTIONS``.
    large_request_bytes : int, default=1 MiB
        A body at least this big is large; ``SEDNA_HTTP_LARGE_REQUEST_BYTES``.
    max_large_requests : int, default=4
        Large bodies read and decoded at once; others wait up to ``body_timeout`` (then 503);
        ``SEDNA_HTTP_MAX_LARGE_REQUESTS``.
    """

    max_request_bytes: int = 64 * _MiB
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive: float = 30.0
    max_connections: int = 256
    large_request_bytes: int = _MiB
    max_large_requests: int = 4

    _VARIABLES = {"max_request_bytes": "SEDNA_MAX_REQUEST_BYTES",
                  "header_timeout": "SEDNA_HTTP_HEADER_TIMEOUT",
                  "body_timeout": "SEDNA_HTTP_BODY_TIMEOUT", "keep_alive": "SEDNA_HTTP_KEEP_ALIVE",
                  "max_connections": "SEDNA_HTTP_MAX_CONNECTIONS",
                  "large_request_bytes": "SEDNA_HTTP_LARGE_REQUEST_BYTES",
                  "max_large_requests": "SEDNA_HTTP_MAX_LARGE_REQUESTS"}

    def __post_init__(self) -> None:
        """Check that every limit is positive."""
        for name, variable in self._VARIABLES.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ConfigError(f"{variable} must be a positive number, got {value!r}", variable=variable)

    @classmethod
    def from_config(cls, config: Any) -> ServerLimits:
        """Read the limits from a :class:`~sedna_lib.config.Config`.

        Parameters
        ----------
        config : Config
            The configuration.

        Returns
        -------
        ServerLimits
            The limits.

        Raises
        ------
        ConfigError
            If a value is not positive.
        """
        return cls(max_request_bytes=config.max_request_bytes, header_timeout=config.http_header_timeout,
                   body_timeout=config.http_body_timeout, keep_alive=config.http_keep_alive,
                   max_connections=config.http_max_connections,
                   large_request_bytes=config.http_large_request_bytes,
                   max_large_requests=config.http_max_large_requests)

    @classmethod
    def resolve(cls, limits: ServerLimits | None, max_request_bytes: int | None = None) -> ServerLimits:
        """Return ``limits`` (the defaults when None) with a server's own body limit, when it has one.

        Parameters
        ----------
        limits : ServerLimits or None
            What the server was given.
        max_request_bytes : int, default=None
            The server's ``max_buffer_size``-style argument; it wins over ``limits``.

        Returns
        -------
        ServerLimits
            The limits the server applies.

        Raises
        ------
        ParameterError
            If ``max_request_bytes`` is given and is not a whole number >= 1.
        """
        resolved = limits if limits is not None else cls()
        if max_request_bytes:  # int() took 2.5 bytes as 2, and 0.5 failed naming SEDNA_MAX_REQUEST_BYTES
            size = check_count("max_request_bytes", max_request_bytes)
            if size != resolved.max_request_bytes:
                resolved = resolved.replace(max_request_bytes=size)
        return resolved

    def replace(self, **changes: Any) -> ServerLimits:
        """Return a copy with some fields changed.

        Parameters
        ----------
        **changes : object
            Field values.

        Returns
        -------
        ServerLimits
            The copy.
        """
        return dataclasses.replace(self, **changes)


class LargeRequestGate:
    """Lets at most ``limits.max_large_requests`` large bodies be read and decoded at once.

    Parameters
    ----------
    limits : ServerLimits
        The server's limits.
    """

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_large_requests)

    def is_large(self, size: int) -> bool:
        """Tell whether a body of ``size`` bytes is large.

        Parameters
        ----------
        size : int
            Body size in bytes.

        Returns
        -------
        bool
            True at or above ``large_request_bytes``.
        """
        return size >= self.limits.large_request_bytes

    async def acquire(self) -> None:
        """Wait for a slot, at most ``body_timeout`` seconds.

        Raises
        ------
        HTTPError
            503 when no slot frees up in time.
        """
        # Polled on the event loop, never waited for in an executor thread: the interpreter joins the
        # loop's executor threads at exit, so a request waiting here would hold up a SIGINT'd worker.
        deadline = time.monotonic() + self.limits.body_timeout
        pause = 0.002
        while not self._slots.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise HTTPError(503, f"{self.limits.max_large_requests} large requests are already being "
                                     f"served (SEDNA_HTTP_MAX_LARGE_REQUESTS); retry later")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def release(self) -> None:
        """Free the slot taken by :meth:`acquire`."""
        self._slots.release()


def fastapi() -> Any:
    """Import FastAPI, or say which extra installs it.

    Returns
    -------
    module
        The ``fastapi`` module.

    Raises
    ------
    BackendUnavailableError
        If FastAPI is not installed.
    """
    try:
        import fastapi as _fastapi
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailableError.missing("fastapi", "sedna_lib[server]", error=exc) from exc
    return _fastapi


class HTTPError(Exception):
    """Raised inside a handler to answer ``status`` with a JSON ``{"detail": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestStats:
    """Thread-safe counters a server reports on its health endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.rejected = 0
        self.failed = 0

    def count_status(self, status: int) -> None:
        """Count one request by the status it was answered with (4xx rejected, 5xx failed).

        Parameters
        ----------
        status : int
            The HTTP status.
        """
        self.count("ok" if status < 400 else "rejected" if status < 500 else "failed")

    def count(self, outcome: str) -> None:
        """Count one request: ``ok``, ``rejected`` (4xx) or ``failed`` (5xx).

        Parameters
        ----------
        outcome : str
            The outcome.

        Raises
        ------
        ValueError
            If ``outcome`` is not one of the three.
        """
        if outcome not in ("ok", "rejected", "failed"):
            raise ValueError(f"unknown request outcome {outcome!r}; use 'ok', 'rejected' or 'failed'")
        with self._lock:
            self.requests += 1
            if outcome == "rejected":
                self.rejected += 1
            elif outcome == "failed":
                self.failed += 1

    def as_dict(self) -> dict[str, int]:
        """Return the counters.

        Returns
        -------
        dict
            ``requests``, ``rejected`` and ``failed``.
        """
        with self._lock:
            return {"requests": self.requests, "rejected": self.rejected, "failed": self.failed}


def check_token(request: Any, token: str | None) -> None:
    """Require ``Authorization: Bearer <token>`` when a token is configured.

    Parameters
    ----------
    request : starlette.requests.Request
        The request.
    token : str or None
        The shared token; None disables the check.

    Raises
    ------
    HTTPError
        401 if the header is missing or wrong.
    """
    if not token:
        return
    sent = request.headers.get("authorization", "")
    scheme, _, value = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise HTTPError(401, "missing or wrong bearer token (Authorization: Bearer <SEDNA_AUTH_TOKEN>)")


async def read_body(request: Any, limit: int, *, timeout: float | None = None,
                    gate: LargeRequestGate | None = None) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without buffering them.

    A declared ``Content-Length`` is checked before anything is read and the body is read into
    one buffer of that size (no second copy). A large body waits for a slot of ``gate``; the
    caller releases it (``gate.release()``) once the body is decoded.

    Parameters
    ----------
    request : starlette.requests.Request
        The request.
    limit : int
        Largest accepted body in bytes.
    timeout : float, default=None
        Seconds allowed for reading the whole body (408 beyond); None: no limit.
    gate : LargeRequestGate, default=None
        Caps concurrent large bodies; the slot is held when this returns a large body.

    Returns
    -------
    bytes or bytearray
        The body.

    Raises
    ------
    HTTPError
        413 if the body (declared or streamed) is larger than ``limit``; 400 if it is empty or its
        Content-Length is malformed; 408 if it is not received within ``timeout``; 503 if the
        gate has no slot in time.
    """
    declared = request.headers.get("content-length")
    size_hint = None
    if declared is not None:
        try:
            size_hint = int(declared)
        except ValueError:
            raise HTTPError(400, f"bad Content-Length {declared[:40]!r}") from None
        if size_hint < 0:
            raise HTTPError(400, f"bad Content-Length {declared[:40]!r}")
        if size_hint > limit:
            raise HTTPError(413, f"body of {declared} bytes exceeds the {limit}-byte limit "
                                 f"(SEDNA_MAX_REQUEST_BYTES)")
    held = gate is not None and size_hint is not None and gate.is_large(size_hint)
    if held:
        await gate.acquire()
    try:
        if timeout is None:
            body = await _receive(request, limit, size_hint)
        else:
            try:
                body = await asyncio.wait_for(_receive(request, limit, size_hint), timeout)
            except asyncio.TimeoutError:
                raise HTTPError(408, f"the request body was not received within {timeout:g} s "
                                     f"(SEDNA_HTTP_BODY_TIMEOUT)") from None
        if not body:
            raise HTTPError(400, "empty request body")
        if gate is not None and not held and gate.is_large(len(body)):
            # a chunked body turned out large: it takes a slot too
            await gate.acquire()
            held = True
    except BaseException:
        if held:
            gate.release()
        raise
    return body


async def _receive(request: Any, limit: int, size_hint: int | None) -> bytes | bytearray:
    """Stream the body into one buffer, checking the size as chunks arrive."""
    from starlette.requests import ClientDisconnect

    buf = bytearray(size_hint) if size_hint else bytearray()
    size = 0
    try:
        async for chunk in request.stream():
            end = size + len(chunk)
            if end > limit:
                raise HTTPError(413, f"body exceeds the {limit}-byte limit (SEDNA_MAX_REQUEST_BYTES)")
            if size_hint and end <= size_hint:
                buf[size:end] = chunk
            else:
                del buf[size:]
                buf += chunk
            size = end
    except ClientDisconnect:  # the client's doing, not a server failure (nobody is left to read the answer)
        raise HTTPError(400, f"the client went away after {size} bytes of its request body") from None
    if size_hint and size < size_hint:
        del buf[size:]
    return buf if len(buf) >= _MiB else bytes(buf)


STOPPING = ("the server is stopping and did not finish this request; send it again once the server "
            "is back (or to another replica)")
"""The detail of the 503 a request gets when the server stops before its answer is ready."""

server_stopping: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "sedna_server_stopping", default=None)
"""Set for each request by the server running it (``ThreadedServer``): its event is set once it stops.

Unset (another ASGI server, such as ``uvicorn`` run by hand), a request is cut off by the stop when
its own task is cancelled: that is how uvicorn ends the requests still running as it shuts down.
"""


def _cut_off_by_stop() -> bool:
    """Tell whether the ``CancelledError`` being handled is the server stopping under the request."""
    stopping = server_stopping.get()
    if stopping is not None:  # the server says itself whether it is stopping
        return stopping.is_set()
    cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
    # the request's own task was cancelled (not merely a future it awaited): the ASGI server did it
    return cancelling is None or cancelling() > 0


def _stats_of(scope: Any, app: Any) -> RequestStats | None:
    """Return the :class:`RequestStats` of the app serving ``scope`` (``app.state.stats``), if any."""
    for owner in (scope.get("app"), app):
        stats = getattr(getattr(owner, "state", None), "stats", None)
        if isinstance(stats, RequestStats):
            return stats
    return None


async def guard_stop(app: Any, scope: Any, receive: Any, send: Any) -> None:
    """Serve one request with ``app``; answer a JSON 503 if the stopping server cuts it off first.

    This is the one place where such a request is answered: a request the server cancels as it
    stops (waiting on a worker thread in :func:`run_off_loop`, its body still arriving, an await
    of the app) before any of its answer was sent gets ``503`` ``{"detail": STOPPING}``, counted
    in the app's ``state.stats`` when it has them, instead of the ASGI server's bare-text 500.
    Whatever wraps the call sees that 503 go out (and no exception); guards nested around the
    same request leave the answer to the innermost one.

    Parameters
    ----------
    app : ASGI application
        The app, or the rest of a middleware stack.
    scope, receive, send
        The ASGI call; any other than ``http`` is passed on as it is.

    Raises
    ------
    asyncio.CancelledError
        When part of the answer was already sent, or the cancellation is not the server stopping.
    """
    if scope["type"] != "http":
        await app(scope, receive, send)
        return
    started = False

    async def watch(message: Any) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, watch)
    except asyncio.CancelledError:
        if started or not _cut_off_by_stop():
            raise
        stats = _stats_of(scope, app)
        if stats is not None:
            stats.count_status(503)
        await error_response(503, STOPPING)(scope, receive, send)


def error_response(status: int, message: str) -> Any:
    """Build the JSON error reply ``{"detail": message}``.

    Parameters
    ----------
    status : int
        HTTP status.
    message : str
        What was wrong and how to fix it.

    Returns
    -------
    starlette.responses.JSONResponse
        The reply.
    """
    from starlette.responses import JSONResponse

    return JSONResponse({"detail": message}, status_code=status)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": {
        "type": "object", "required": ["detail"], "properties": {"detail": {}}}}}}
    for status, text in [
        (400, "Malformed body: not JSON, nested too deeply, a malformed binary message, or a bad "
              "Content-Length"),
        (401, "Missing or wrong bearer token (when the server has one)"),
        (404, "No such route"),
        (405, "Method not allowed on this route"),
        (408, "The body was not received within SEDNA_HTTP_BODY_TIMEOUT"),
        (413, "Body larger than SEDNA_MAX_REQUEST_BYTES"),
        (415, "Unsupported Content-Type or body format"),
        (422, "Well-formed body whose content the service (or its model) cannot take; the reason is given"),
        (500, "A fault of the server or its model"),
        (501, "The component behind this route does not implement it"),
        (502, "A downstream service this request needs failed"),
        (503, "Too many connections or large requests at once, or the server is stopping; retry later"),
    ]
}
"""OpenAPI ``responses`` entries of the error replies (``{"detail": ...}``), by status."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI ``responses`` entries for ``statuses``.

    Parameters
    ----------
    *statuses : int
        HTTP statuses, each a key of :data:`ERROR_RESPONSES`.

    Returns
    -------
    dict
        ``{status: {"description", "content"}}``.
    """
    return {status: ERROR_RESPONSES[status] for status in statuses}


def _parse_float(text: str) -> float:
    return float(text)


def _parse_int(text: str) -> int:
    return int(text)


def parse_json(body: bytes | bytearray, what: str = "body") -> Any:
    """Parse JSON from a peer; every failure, deep nesting included, is a :class:`ProtocolError`.

    A body of 1 MiB or more is parsed so that other threads keep running during the parse (the
    parser hands each number to Python), so a large request does not hold up the event loop.

    Parameters
    ----------
    body : bytes-like
        The JSON text.
    what : str, default='body'
        What is parsed, for the message.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    ProtocolError
        If ``body`` is not UTF-8 JSON or nests too deeply to parse.
    """
    # A large body: the parser calls back into Python for every number, which lets other threads (the
    # event loop answering /healthz) run between numbers instead of waiting for the whole parse; the
    # values are the ones json.loads gives.
    numbers = {} if len(body) < _MiB else {"parse_float": _parse_float, "parse_int": _parse_int}
    try:
        return json_loads(body, **numbers)
    except (ValueError, UnicodeDecodeError) as exc:  # nesting past the parser's limit included
        raise ProtocolError(f"{what} is not valid JSON: {exc}") from None


async def run_off_loop(func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in a worker thread, so that the event loop keeps answering.

    Parameters
    ----------
    func : callable
        What to run (decoding, the model, encoding).
    *args : object
        Its arguments.

    Returns
    -------
    object
        What ``func`` returned.

    Raises
    ------
    asyncio.CancelledError
        When the server stops before ``func`` returns and cancels the request; the request is
        then answered by :func:`guard_stop` (a counted JSON 503).
    """
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args)


# a model's own complaint about its input: the client sent something the model cannot take
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)  # a JSON int past float range
# frameworks that say "shape mismatch" with a RuntimeError (torch) or their own error types
_SHAPE_WORDS = re.compile(r"shape|size mismatch|dimension|must match the size|expected input|"
                          r"incompatible|mat1 and mat2", re.I)


def is_input_error(exc: BaseException, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Tell whether a model's exception says its input was wrong (answer 422) rather than a fault (500).

    Parameters
    ----------
    exc : BaseException
        What the model raised.
    also : tuple of exception types, default=()
        More types that mean a wrong input for this service (e.g. ``AttributeError`` where the
        input is an object whose attributes the model reads).

    Returns
    -------
    bool
        True for ``ValueError``, ``TypeError``, ``KeyError``, ``IndexError``, ``also``, and a
        ``RuntimeError`` that speaks of shapes or sizes (torch's mismatch).
    """
    if isinstance(exc, _SERVER_FAULTS):  # ValueErrors, but about how the service is built, not the input
        return False
    if isinstance(exc, _INPUT_ERRORS + also):
        return True
    return isinstance(exc, RuntimeError) and bool(_SHAPE_WORDS.search(str(exc)))


# a misdeclared stage (an estimator without predict), a wrong setting, a model not trained: the server's
# fault whatever the request, so a 500 and a 'failed' count, not a 422 the client can do nothing about
_SERVER_FAULTS = (ParameterError, ConfigError, NotFittedError, BackendError)


def install_error_handlers(app: Any, stats: RequestStats) -> None:
    """Make every failure a counted JSON reply ``{"detail": ...}``, never a bare text 500.

    Routing and validation errors (404, 405, 422) and :class:`HTTPError` are counted as
    rejected; a :class:`ProtocolError` escaping a handler is a 400; anything else a 500 (logged,
    counted as failed). The server keeps serving.

    Parameters
    ----------
    app : fastapi.FastAPI or starlette.applications.Starlette
        The application.
    stats : RequestStats
        Where outcomes are counted (kept as ``app.state.stats``).
    """
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.state.stats = stats  # where a stopping server counts the 503s it answers too

    async def on_http_exception(request: Any, exc: Any) -> Any:
        stats.count_status(exc.status_code)
        response = error_response(exc.status_code, str(exc.detail))
        for key, value in (getattr(exc, "headers", None) or {}).items():
            response.headers[key] = value
        return response

    async def on_http_error(request: Any, exc: HTTPError) -> Any:
        stats.count_status(exc.status)
        return error_response(exc.status, exc.message)

    async def on_protocol_error(request: Any, exc: ProtocolError) -> Any:
        stats.count("rejected")
        return error_response(400, f"malformed request: {exc}")

    async def on_validation_error(request: Any, exc: Any) -> Any:
        stats.count("rejected")
        from starlette.responses import JSONResponse

        return JSONResponse({"detail": _jsonable_errors(exc)}, status_code=422)

    async def on_unexpected(request: Any, exc: Exception) -> Any:
        logger.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc,
                     exc_info=exc)
        stats.count("failed")
        return error_response(500, f"the server failed: {type(exc).__name__}")

    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(HTTPError, on_http_error)
    app.add_exception_handler(ProtocolError, on_protocol_error)
    try:
        from fastapi.exceptions import RequestValidationError
    except ImportError:  # pragma: no cover - a plain Starlette app
        pass
    else:
        app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)


def _jsonable_errors(exc: Any) -> Any:
    errors = exc.errors() if hasattr(exc, "errors") else str(exc)
    try:
        json.dumps(errors)
    except (TypeError, ValueError):
        return str(errors)
    return errors


def install_docs_auth(app: Any, token: str | None) -> None:
    """Require the bearer token for the app's schema and documentation pages when it has one.

    ``/openapi.json``, ``/docs`` and ``/redoc`` follow the rule of the data routes on every
    server: open when no token is configured, 401 without it otherwise. ``/healthz`` stays open.

    Parameters
    ----------
    app : fastapi.FastAPI
        The application.
    token : str or None
        The server's token.
    """
    if not token:
        return
    paths = {p for p in (getattr(app, "openapi_url", None), getattr(app, "docs_url", None),
                         getattr(app, "redoc_url", None)) if p}
    docs_url = getattr(app, "docs_url", None)
    if docs_url:
        paths.add(docs_url.rstrip("/") + "/oauth2-redirect")
    app.add_middleware(_DocsAuth, token=token, paths=frozenset(paths))


class _DocsAuth:
    """ASGI middleware: the token guards the schema and documentation paths."""

    def __init__(self, app: Any, token: str, paths: frozenset[str]) -> None:
        self.app = app
        self.token = token
        self.paths = paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") in self.paths:
            from starlette.requests import Request

            try:
                check_token(Request(scope), self.token)
            except HTTPError as exc:
                await error_response(exc.status, exc.message)(scope, receive, send)
                return
        await self.app(scope, receive, send)
