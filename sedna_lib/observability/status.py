"""The status page of a server or worker, and the routes that go with it, served without any CDN.

:class:`StatusSite` answers ``GET /`` (an HTML page with live counters and small charts),
``/metrics``, ``/healthz``, ``/readyz``, ``/status/series`` (the charts' points, JSON) and
``/status/assets/...`` (the page's script and style, shipped in this package). A FastAPI server
mounts it with :func:`sedna_lib.servers.mount_status`; a worker without a web framework serves
it with :class:`StatusServer` (standard library only) on ``SEDNA_METRICS_PORT``.
"""

from __future__ import annotations

import collections
import html
import http.server
import json
import logging
import math
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..base import check_count, check_number
from ..exceptions import TransportError
from .health import Health
from .metrics import Metrics

__all__ = ["Chart", "StatusSite", "StatusServer", "Reply", "WorkerStatus"]

logger = logging.getLogger(__name__)

_ASSETS = {"status.js": "text/javascript; charset=utf-8", "status.css": "text/css; charset=utf-8"}


@dataclass
class Chart:
    """A small line chart of the status page: named series of ``(x, y)`` points, the newest kept.

    Parameters
    ----------
    title : str
        Shown above the chart.
    x_label, y_label : str
        Axis names.
    max_points : int, default=500
        Points kept per series (the oldest are dropped first).
    """

    title: str
    x_label: str
    y_label: str
    max_points: int = 500
    series: dict[str, collections.deque] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """One answer of :meth:`StatusSite.handle`: status, media type and body."""

    status: int
    content_type: str
    body: bytes


class StatusSite:
    """Everything a status page needs: the metrics, the health checks and the charts of one service.

    Parameters
    ----------
    service : str
        The service's short name (``big-model``, ``aggregation``, ``kb``, ...).
    title : str, default=None
        The page's heading; ``sedna_lib <service>`` when None.
    metrics : Metrics, default=None
        The service's metrics (a new :class:`Metrics` when None).
    health : Health, default=None
        The service's health (a new :class:`Health` without checks when None).
    details : dict of str to str, default=None
        Facts shown under the heading (where it listens, auth on/off, limits).
    links : dict of str to str, default=None
        More links shown on the page (``{"API (Swagger UI)": "docs"}``).

    Attributes
    ----------
    charts : dict of str to Chart
        The page's charts by key (add with :meth:`add_chart`, fill with :meth:`record`).

    Examples
    --------
    >>> site = StatusSite("aggregation")
    >>> site.add_chart("accuracy", "Accuracy per round", "round", "accuracy")
    >>> site.record("accuracy", "accuracy", 1, 0.82)
    >>> json.loads(site.handle("/status/series").body)["charts"][0]["series"]
    {'accuracy': [[1, 0.82]]}
    >>> site.handle("/readyz").status, site.handle("/nope") is None
    (200, True)
    """

    def __init__(self, service: str, *, title: str | None = None, metrics: Metrics | None = None,
                 health: Health | None = None, details: dict[str, str] | None = None,
                 links: dict[str, str] | None = None) -> None:
        self.service = service
        self.title = title or f"sedna_lib {service}"
        self.metrics = metrics if metrics is not None else Metrics(service=service)
        self.health = health if health is not None else Health(service)
        self.details = dict(details or {})
        self.links = dict(links or {})
        self.charts: dict[str, Chart] = {}
        self._lock = threading.Lock()
        # readiness as a metric, computed at each scrape from the same checks as /readyz
        self.metrics.gauge("sedna_ready").labels(service=self.metrics.service).set_function(
            lambda: 1.0 if self.health.is_ready() else 0.0)

    # -- charts ------------------------------------------------------------------------------
    def add_chart(self, key: str, title: str, x_label: str, y_label: str, *, max_points: int = 500) -> None:
        """Declare a chart (once; a second call with the same key keeps the first).

        Parameters
        ----------
        key : str
            The chart's key for :meth:`record`.
        title, x_label, y_label : str
            What the page shows.
        max_points : int, default=500
            Points kept per series.
        """
        with self._lock:
            self.charts.setdefault(key, Chart(title, x_label, y_label, max_points))

    def record(self, key: str, series: str, x: float, y: float) -> None:
        """Add a point to a chart's series.

        Parameters
        ----------
        key : str
            A chart declared with :meth:`add_chart`.
        series : str
            The line's name (created on first use).
        x, y : float
            The point.

        Raises
        ------
        KeyError
            If the chart was not declared.
        """
        with self._lock:
            chart = self.charts[key]
            points = chart.series.get(series)
            if points is None:
                points = chart.series[series] = collections.deque(maxlen=chart.max_points)
            points.append([x, y])

    def series(self) -> dict[str, Any]:
        """Return the charts as JSON-ready data (what ``/status/series`` answers).

        Returns
        -------
        dict
            ``{"charts": [{"key", "title", "x_label", "y_label", "series": {name: [[x, y], ...]}}]}``.
        """
        with self._lock:  # a NaN or an infinity (a diverged loss) has no place on a chart, nor in strict JSON
            charts = [{"key": key, "title": c.title, "x_label": c.x_label, "y_label": c.y_label,
                       "series": {name: [list(p) for p in points if _finite(p)]
                                  for name, points in c.series.items()}}
                      for key, c in self.charts.items()]
        return {"charts": charts}

    # -- answers -----------------------------------------------------------------------------
    def page(self) -> str:
        """Return the status page's HTML (its script fills in the numbers from ``metrics``).

        Returns
        -------
        str
            The page.
        """
        esc = html.escape
        details = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>"
                          for k, v in self.details.items())
        links = {"metrics": "metrics", "healthz": "healthz", "readyz": "readyz", **self.links}
        link_html = " · ".join(f'<a href="{esc(href, quote=True)}">{esc(name)}</a>'
                               for name, href in links.items())
        template = resources.files(__package__).joinpath("static/status.html").read_text(encoding="utf-8")
        return (template.replace("{{title}}", esc(self.title)).replace("{{service}}", esc(self.service))
                .replace("{{details}}", details).replace("{{links}}", link_html))

    def handle(self, path: str) -> Reply | None:
        """Answer a GET of ``path`` (without its query), or None if the path is not the site's.

        Parameters
        ----------
        path : str
            ``/``, ``/metrics``, ``/healthz``, ``/readyz``, ``/status/series`` or ``/status/assets/<file>``.

        Returns
        -------
        Reply or None
            The answer.
        """
        if path in ("/", ""):
            return Reply(200, "text/html; charset=utf-8", self.page().encode())
        if path == "/metrics":
            return Reply(200, self.metrics.content_type, self.metrics.render())
        if path in ("/healthz", "/readyz"):
            status, body = self.health.alive() if path == "/healthz" else self.health.ready()
            return Reply(status, "application/json", json.dumps(body).encode())
        if path == "/status/series":
            return Reply(200, "application/json", json.dumps(self.series()).encode())
        if path.startswith("/status/assets/"):
            name = path[len("/status/assets/"):]
            if name not in _ASSETS:  # a fixed list: nothing else of the package is readable
                detail = f"no asset {name!r}; the page has {sorted(_ASSETS)}"
                return Reply(404, "application/json", json.dumps({"detail": detail}).encode())
            data = resources.files(__package__).joinpath(f"static/{name}").read_bytes()
            return Reply(200, _ASSETS[name], data)
        return None


_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
"""What a client that hangs up mid-request raises on the server's side: nothing to report."""

_ALLOW = "GET, HEAD"


class _Handler(http.server.BaseHTTPRequestHandler):
    site: StatusSite  # set on the subclass StatusServer makes
    server_version = "sedna_lib"

    def handle(self) -> None:
        """Answer the connection; a client that hangs up mid-request ends it quietly."""
        try:
            super().handle()
        except _GONE as exc:
            self.close_connection = True
            logger.debug("status page: %s went away before the reply was sent (%s)",
                         self.client_address[0], type(exc).__name__)

    def handle_one_request(self) -> None:
        """Read and answer one request; its line and headers must all arrive within ``timeout``.

        The socket timeout bounds each read, so a client sending a header line every few seconds
        would hold its thread (and, with others, every slot: the health probe answered 503) for
        ever; past the deadline the connection is shut, and the blocked read ends.
        """
        self._head_read = threading.Event()
        timer = threading.Timer(self.timeout, self._cut_slow_head)
        timer.daemon = True
        timer.start()
        try:
            super().handle_one_request()
        finally:
            timer.cancel()
            if not self._head_read.is_set():
                self.close_connection = True

    def parse_request(self) -> bool:
        """Parse the request line and headers; the head's deadline ends here."""
        ok = super().parse_request()
        self._head_read.set()
        return ok

    def _cut_slow_head(self) -> None:
        if self._head_read.is_set():
            return
        logger.debug("status page: %s did not send its request head within %s s; closed",
                     self.client_address[0], self.timeout)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _reply(self, reply: Reply, *, body: bool = True, headers: dict[str, str] | None = None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(reply.body)

    def _answer(self) -> Reply:
        path = self.path.split("?", 1)[0]
        reply = self.site.handle(path)
        if reply is None:
            detail = f"no route {path}; this worker serves /, /metrics, /healthz and /readyz"
            reply = Reply(404, "application/json", json.dumps({"detail": detail}).encode())
        return reply

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._reply(self._answer())

    def do_HEAD(self) -> None:  # noqa: N802
        self._reply(self._answer(), body=False)

    def _not_allowed(self) -> None:
        detail = (f"method {self.command} is not allowed: this port answers {_ALLOW} "
                  f"(/, /metrics, /healthz, /readyz)")
        self.close_connection = True  # a request body, if any, is not read: it is dropped
        self._reply(Reply(405, "application/json", json.dumps({"detail": detail}).encode()),
                    headers={"Allow": _ALLOW, "Connection": "close"})
        self.wfile.flush()
        self.server.drop_unread(self.request)  # a socket closed with a body unread would be reset

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>: every method but GET and HEAD is answered 405, not 501
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        logger.debug("%s %s", self.address_string(), format % args)


_DRAIN_SECONDS = 1.0
"""How long a refused connection is read (what it sends dropped) after its 503, before it is closed."""

_MAX_DRAINING = 8
"""Connections read at once after their reply (refused ones by a short-lived thread each, 405 ones by
their handler); one more is closed at once."""


def _drop_input(sock: socket.socket, seconds: float) -> None:
    """Read and drop what the peer sends until it hangs up or ``seconds`` are over (or the socket fails)."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                break
    except OSError:  # the time is over, or the client is gone
        pass


class _BoundedHTTPServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that runs at most ``max_connections`` handler threads at once.

    A connection over the limit is answered ``503`` at once from the accepting thread (without
    reading its request), so a crowd of clients that send nothing cannot pile up threads. The
    reply is then ended (the write side shut down) and what the client still sends is read and
    dropped for up to :data:`_DRAIN_SECONDS` before the socket is closed: a socket closed with
    unread data is reset by the kernel, and a client still sending its request would see that
    reset instead of the 503.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int) -> None:
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._draining = threading.BoundedSemaphore(_MAX_DRAINING)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a thread of its own, or refuse it when every slot is taken."""
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Answer the connection, then give its slot back (before closing it)."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._slots.release()
            self.shutdown_request(request)

    def _refuse(self, request: Any) -> None:
        """Answer 503 and end the reply; the socket is closed once the client's request is read."""
        detail = f"busy: this port serves {self.max_connections} connections at a time; try again"
        body = json.dumps({"detail": detail}).encode()
        head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            request.settimeout(1.0)
            request.sendall(head + body)
            request.shutdown(socket.SHUT_WR)  # the reply ends here: the client reads it to its end
        except OSError:
            self.close_request(request)
            return
        if not self._draining.acquire(blocking=False):
            self.close_request(request)  # enough refused clients are being read already
            return
        try:
            threading.Thread(target=self._drain, args=(request,), name="sedna-status-refused",
                             daemon=True).start()
        except RuntimeError:  # no thread to be had
            self._draining.release()
            self.close_request(request)

    def _drain(self, request: Any) -> None:
        """Read and drop what a refused client sends until it hangs up or the time is over; close."""
        try:
            _drop_input(request, _DRAIN_SECONDS)
        finally:
            self.close_request(request)
            self._draining.release()

    def drop_unread(self, request: Any) -> None:
        """End a reply sent without reading the whole request, then read and drop the rest.

        For a handler that answers before reading the request's body (a ``405``): the write side is
        shut down (the client reads the reply to its end), and what the client still sends is read
        and dropped for up to :data:`_DRAIN_SECONDS`, in the handler's own thread, so that closing
        the socket does not reset the connection under the reply. When :data:`_MAX_DRAINING`
        connections are being read already, nothing is read. The caller closes the socket.
        """
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            return
        if not self._draining.acquire(blocking=False):
            return
        try:
            _drop_input(request, _DRAIN_SECONDS)
        finally:
            self._draining.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log an error of a handler (a client that hung up is not one)."""
        if isinstance(sys.exc_info()[1], _GONE + (TimeoutError,)):
            return
        logger.error("status page: error answering %s", client_address[0], exc_info=True)


class StatusServer:
    """Serve a :class:`StatusSite` from a worker (standard library only, in a daemon thread).

    Parameters
    ----------
    site : StatusSite
        What to serve.
    host : str, default='127.0.0.1'
        Address to bind; a deployed worker binds ``0.0.0.0`` so Prometheus can scrape it.
    port : int, default=0
        Port to bind (``SEDNA_METRICS_PORT``); 0 picks a free one.
    read_timeout : float, default=10.0
        Seconds a connection may take to send its request line and headers (in all, however they
        trickle in), and may stay silent while its reply is not taken, before it is closed.
    max_connections : int, default=16
        Connections answered at once, each in a thread of its own; one more is answered ``503``
        and closed.

    Notes
    -----
    ``GET`` and ``HEAD`` are answered; any other method ``405`` with an ``Allow: GET, HEAD``
    header, after which the connection is closed (a request body is read and dropped for up to a
    second first, so a client still sending it reads the 405 rather than a reset). A client that
    hangs up before its reply is sent is no error (nothing is printed).

    Examples
    --------
    >>> import urllib.request
    >>> with StatusServer(StatusSite("edge")) as server:
    ...     urllib.request.urlopen(server.url + "/healthz").status
    200
    """

    def __init__(self, site: StatusSite, *, host: str = "127.0.0.1", port: int = 0,
                 read_timeout: float = 10.0, max_connections: int = 16) -> None:
        read_timeout = check_number("read_timeout", read_timeout, 0, low_open=True)
        max_connections = check_count("max_connections", max_connections)
        self.site = site
        self.host = host
        self.port = port
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self._httpd: _BoundedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> StatusServer:
        """Bind and serve in a daemon thread.

        Returns
        -------
        StatusServer
            ``self``; :attr:`port` holds the bound port.

        Raises
        ------
        TransportError
            If the port cannot be bound.
        """
        if self._httpd is not None:
            return self
        handler = type("_SiteHandler", (_Handler,), {"site": self.site, "timeout": self.read_timeout})
        try:
            httpd = _BoundedHTTPServer((self.host, self.port), handler, self.max_connections)
        except OSError as exc:
            raise TransportError(f"cannot serve the status page on {self.host}:{self.port}: {exc} "
                                 f"(choose another SEDNA_METRICS_PORT)", url=self.url) from exc
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"sedna-status-{self.port}", daemon=True)
        self._thread.start()
        logger.info("%s status page on %s (metrics on %s/metrics)", self.site.service, self.url, self.url)
        return self

    def stop(self) -> None:
        """Stop serving (a no-op if not started)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(5)
        self._httpd = self._thread = None

    def __enter__(self) -> StatusServer:
        """Start, for a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        """Stop at the end of the ``with`` block."""
        self.stop()


class WorkerStatus:
    """The status of a long-lived worker: its :class:`StatusSite`, served on a port when one is given.

    Parameters
    ----------
    site : StatusSite
        The worker's metrics, health and charts (kept up to date whether served or not).
    port : int or None
        ``SEDNA_METRICS_PORT``: None serves nothing, 0 a free port.
    host : str, default='0.0.0.0'
        Address to bind: all interfaces, so that Prometheus can scrape the pod (tests pass
        ``127.0.0.1``).

    Attributes
    ----------
    server_ : StatusServer or None
        The running server, once started with a port.
    """

    def __init__(self, site: StatusSite, *, port: int | None, host: str = "0.0.0.0") -> None:
        self.site = site
        self.port = port
        self.host = host
        self.server_: StatusServer | None = None

    @property
    def url(self) -> str | None:
        """Base URL of the status server, or None when none runs."""
        return self.server_.url if self.server_ is not None else None

    def start(self) -> WorkerStatus:
        """Serve the site when a port is configured.

        Returns
        -------
        WorkerStatus
            ``self``.

        Raises
        ------
        TransportError
            If the port cannot be bound.
        """
        if self.port is not None and self.server_ is None:
            self.server_ = StatusServer(self.site, host=self.host, port=self.port).start()
        return self

    def stop(self) -> None:
        """Stop serving (the metrics stay readable in the process)."""
        self.site.metrics.stopped()
        if self.server_ is not None:
            self.server_.stop()
            self.server_ = None


def _finite(point: Any) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in point)
    except (TypeError, ValueError):
        return False
