"""Run an ASGI app under uvicorn in a background thread: start, url, stop, context manager."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from typing import Any

from ..base import check_port
from ..exceptions import BackendUnavailableError, TransportError
from ._app import ServerLimits, guard_stop, server_stopping

__all__ = ["ThreadedServer"]

logger = logging.getLogger(__name__)


def _head_timed_protocol(header_timeout: float) -> type:
    """Return uvicorn's h11 protocol, plus a deadline for each request head.

    A connection has ``header_timeout`` seconds from being opened (and the keep-alive time plus
    ``header_timeout`` after each response) to send a complete request head; otherwise it is
    closed. Without it a client that sends nothing, or a byte at a time, holds its connection
    forever: uvicorn's keep-alive timer stops at the first byte.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimedH11Protocol(H11Protocol):
        _head_timer: Any = None

        def _busy(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is not None and not cycle.response_complete

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self._busy() and not self.transport.is_closing():
                logger.info("closing a connection that sent no complete request head within %g s "
                            "(SEDNA_HTTP_HEADER_TIMEOUT)", header_timeout)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self._busy():
                self._disarm()

        def handle_websocket_upgrade(self, event: Any) -> None:
            self._disarm()  # the websocket protocol has its own pings and timeouts
            super().handle_websocket_upgrade(event)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._busy() or self.transport.is_closing():
                self._disarm()
            else:
                self._arm(self.timeout_keep_alive + header_timeout)

    return HeadTimedH11Protocol


class _StopGuard:
    """ASGI wrapper: tells each request whether this server is stopping, and guards it.

    The request's task sees the server's event through :data:`server_stopping`; a request cut
    off by :meth:`ThreadedServer.stop` is answered by :func:`guard_stop` (a counted JSON 503,
    never a bare-text 500). An app that guards its requests itself (every server's app, through
    :class:`~sedna_lib.servers._status.RequestMetrics`) answers them there, and this one has
    nothing left to do.
    """

    def __init__(self, app: Any, stopping: threading.Event) -> None:
        self.app = app
        self.stopping = stopping

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            server_stopping.set(self.stopping)  # this request's task (and the tasks it starts) sees it
        await guard_stop(self.app, scope, receive, send)


def _bind_error(host: str, port: int) -> OSError | None:
    """Try to bind ``host:port`` as uvicorn does; return why it cannot be bound (None if it can)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return exc
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        return exc
    return None


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailableError.missing("uvicorn", "sedna_lib[server]", error=exc) from exc
    return uvicorn


class ThreadedServer:
    """A uvicorn server for ``app`` that runs in a daemon thread.

    Parameters
    ----------
    app : ASGI application
        The app to serve (FastAPI/Starlette).
    host : str, default='127.0.0.1'
        Address to bind. Deployed workers pass ``0.0.0.0`` explicitly.
    port : int, default=0
        Port to bind; 0 picks a free one (read it back from :attr:`port`).
    ssl_certfile, ssl_keyfile : str, default=None
        PEM files: serve HTTPS/WSS.
    ws_max_size : int, default=16 MiB
        Largest websocket message accepted.
    ws_per_message_deflate : bool, default=False
        Offer websocket compression (permessage-deflate). Off: the payloads are mostly float
        arrays, which deflate barely shrinks at a large CPU cost.
    log_level : str, default='warning'
        uvicorn's log level.
    startup_timeout : float, default=30.0
        Seconds :meth:`start` waits for the socket to be bound.
    limits : ServerLimits, default=None
        Header timeout, keep-alive and connection cap (defaults: ``ServerLimits()``); the body
        limits are applied by the app (:func:`~sedna_lib.servers._app.read_body`).
    fast_binary_frames : bool, default=False
        Receive large binary websocket frames straight into a buffer of their own and send binary
        messages without copying them into a frame (:mod:`sedna_lib.servers._ws_frames`); such a
        frame reaches the app as a writable ``memoryview`` instead of ``bytes``. The bytes on the
        wire and every check on them are the same.

    Examples
    --------
    A server is started with ``start()`` (or ``with``) and stopped with ``stop()``::

        with ThreadedServer(app) as server:
            requests.get(server.url + "/health")
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, ssl_certfile: str | None = None,
                 ssl_keyfile: str | None = None, ws_max_size: int = 16 * 1024 * 1024,
                 ws_per_message_deflate: bool = False,
                 log_level: str = "warning", startup_timeout: float = 30.0,
                 limits: ServerLimits | None = None, fast_binary_frames: bool = False) -> None:
        self.app = app
        self.fast_binary_frames = fast_binary_frames
        self.host = host
        self.port = port
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.ws_max_size = ws_max_size
        self.ws_per_message_deflate = ws_per_message_deflate
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.limits = limits if limits is not None else ServerLimits()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stopping = threading.Event()
        self._ended = threading.Event()  # set by the serving thread as it ends
        self._stop_lock = threading.Lock()  # one stop at a time: the one that ends the server says so

    @property
    def scheme(self) -> str:
        """``https`` when TLS is configured, else ``http``."""
        return "https" if self.ssl_certfile else "http"

    @property
    def bound(self) -> str:
        """The address the socket is bound to, ``host:port`` (``0.0.0.0:PORT``: every interface)."""
        host = self.host or "0.0.0.0"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://127.0.0.1:PORT``: reachable on this machine)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def is_running(self) -> bool:
        """Whether the serving thread is serving (started, and not ended)."""
        # The thread's own end, not Thread.is_alive(): on Python 3.11 an exception raised by a signal
        # handler while the main thread is in Thread.join marks the still-running thread as ended.
        return self._thread is not None and not self._ended.is_set()

    def _ws_protocol(self) -> dict:
        if not self.fast_binary_frames or self.ws_per_message_deflate:
            return {}
        from ._ws_frames import binary_frames_protocol

        protocol = binary_frames_protocol()  # None: uvicorn's own serves (said once, where it is decided)
        return {} if protocol is None else {"ws": protocol}

    def start(self) -> ThreadedServer:
        """Start serving in a daemon thread and wait until the socket is bound.

        Returns
        -------
        ThreadedServer
            ``self``; :attr:`port` holds the bound port.

        Raises
        ------
        ParameterError
            If :attr:`port` is not a whole number from 0 (any free port) to 65535.
        TransportError
            If the server fails to start (port taken, bad TLS files) or does not start in time.
        """
        if self.is_running:
            return self
        port = check_port("port", self.port)
        uvicorn = _uvicorn()
        limits = self.limits
        self._stopping = threading.Event()
        config = uvicorn.Config(_StopGuard(self.app, self._stopping), host=self.host, port=port,
                                log_level=self.log_level,
                                ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile,
                                ws_max_size=self.ws_max_size,
                                ws_per_message_deflate=self.ws_per_message_deflate, lifespan="off",
                                access_log=False, http=_head_timed_protocol(limits.header_timeout),
                                timeout_keep_alive=max(1, round(limits.keep_alive)),
                                limit_concurrency=limits.max_connections, **self._ws_protocol())
        server = uvicorn.Server(config)
        # older uvicorn: never touch signals off the main thread
        server.install_signal_handlers = lambda: None
        self._server = server
        self._error = None
        ended = self._ended = threading.Event()

        def run() -> None:
            try:
                asyncio.run(server.serve())
            except BaseException as exc:  # reported to the starting thread below
                self._error = exc
            finally:
                ended.set()  # the socket is closed and the loop is gone

        self._thread = threading.Thread(target=run, name=f"sedna-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not server.started:
            if ended.is_set():
                why = self._why_not_started(self._error)
                raise TransportError(f"server on {self.host}:{self.port} failed to start: {why}",
                                     url=self.url) from self._error
            if waited >= self.startup_timeout:
                self.stop()
                raise TransportError(f"server on {self.host}:{self.port} did not start within "
                                     f"{self.startup_timeout} s", url=self.url)
            deadline.wait(0.01)
            waited += 0.01
        sockets = [s for srv in getattr(server, "servers", []) for s in srv.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        if self.bound == self.url.split("://", 1)[1]:
            logger.info("serving on %s", self.url)
        else:  # every interface: the URL alone read like a bind to the loopback only
            logger.info("serving on %s (reach it at %s)", self.bound, self.url)
        return self

    def _why_not_started(self, error: BaseException | None) -> str:
        """Say why the serving thread ended before the socket was bound."""
        if not isinstance(error, SystemExit):
            return f"{type(error).__name__}: {error}" if error is not None else "the serving thread ended"
        # uvicorn logs a bind failure and exits; bind the address here to say what it met
        exc = _bind_error(self.host, self.port)
        where = f"{self.host}:{self.port}"
        if exc is None:
            return f"uvicorn exited during startup (exit code {error.code}); its log above says why"
        if exc.errno == errno.EADDRINUSE:
            return (f"{where}: address already in use (another server listens there); stop it, or choose "
                    f"another port (0 picks a free one)")
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{where}: cannot assign the requested address (no interface of this host has it)"
        if exc.errno == errno.EACCES:
            return f"{where}: permission denied (ports below 1024 need privileges)"
        return f"cannot bind {where}: {exc.strerror or exc}"

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the server and wait for its thread to end.

        Requests still running once half the timeout has passed are answered with a JSON 503
        (``{"detail": "the server is stopping ..."}``), counted like other replies. A server whose
        thread has not ended when the timeout is over (a request holding its event loop) is
        logged as such and is still :attr:`is_running`; a later ``stop()`` waits for it again.
        Calls from several threads at once wait for each other: one of them ends the server.

        Parameters
        ----------
        timeout : float, default=10.0
            Seconds to wait for open connections to close before forcing exit.

        Returns
        -------
        bool
            Whether this call ended the server (False: it was not running, another call ended
            it, or it is still running past the timeout).
        """
        with self._stop_lock:
            server, thread, ended = self._server, self._thread, self._ended
            if server is None or thread is None:
                return False
            self._stopping.set()
            server.should_exit = True
            if not ended.wait(timeout / 2):
                server.force_exit = True
                if not ended.wait(timeout / 2):
                    logger.warning("the server on %s did not stop within %g s (a request holds its event "
                                   "loop); it ends once that returns: call stop() again to wait for it",
                                   self.url, timeout)
                    return False
            self._thread = None
            return True

    def wait(self) -> None:
        """Block until the server stops (by :meth:`stop`, or the app asking it to exit).

        It waits on an event the serving thread sets as it ends, never in ``Thread.join``: a
        signal handler that raises while it waits (``KeyboardInterrupt`` on Ctrl-C) leaves the
        server serving and :meth:`stop` still stops it (on Python 3.11 an exception raised inside
        ``Thread.join`` makes Python take the still-running thread for ended).
        """
        if self._thread is not None:
            self._ended.wait()

    def __enter__(self) -> ThreadedServer:
        """Start, and return the started object, for a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        """Stop at the end of the ``with`` block."""
        self.stop()
