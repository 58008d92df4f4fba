"""The federated-learning aggregation server: Sedna's websocket protocol plus binary frames, deadlines, auth.

One Starlette websocket route, ``/{aggregation}``, serves Sedna's JSON peers and sedna_lib's
binary peers side by side; ``GET /{aggregation}`` lists the clients as Sedna's does. The server
keeps the transport and the sessions; when an update counts and when a round closes is the round
policy's business (:mod:`sedna_lib.servers.rounds`): synchronous rounds close when
``participants_count`` updates arrived, or when ``round_timeout`` seconds passed since the round's
first update and at least ``min_clients`` arrived (a trainer that contributed before and
disconnected is not waited for; it counts again when it comes back); an asynchronous aggregator
(FedBuff) steps whenever its buffer fills. Updates are folded into the aggregator as they arrive
(one at a time), so a streaming aggregator keeps the running sum and the current global model
whatever the number of clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..base import Aggregator, ClientUpdate
from ..context import Context, resolve
from ..exceptions import AggregationError, ParameterError, ProtocolError, SednaError, TransportError
from ..observability.health import Health
from ..observability.logs import log_started, log_stopped
from ..observability.status import StatusSite
from ..registry import Kind
from ..transport import messages as m
from ..transport._numbers import whole
from ._lifecycle import serve_in_foreground
from ._status import mount_status
from ._ws_frames import ABORT, REASSEMBLY
from .rounds import RoundPolicy, RoundResult, round_policy

__all__ = ["AggregationServer", "RoundRecord"]

logger = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_UNSUPPORTED = 1003
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_CONFLICT = 4409
CLOSE_TIMEOUT = 4408
CLOSE_REPLACED = 4000
CLOSE_TRY_LATER = 1013
CLOSE_STOPPING = 1012  # service restart: trainers reconnect until CONNECT_TIMEOUT


@dataclass
class RoundRecord:
    """What one round did (kept in :attr:`AggregationServer.history_`).

    Attributes
    ----------
    round_number : int
        The round (1-based).
    clients : list of str
        Who contributed.
    total_sample : int
        Samples behind the new model.
    seconds : float
        Time from the round's first update to its broadcast.
    reason : str
        ``quorum`` (all participants), ``dropout`` (all participants still connected, after
        some that had contributed before left), ``deadline``, or ``buffer`` (an asynchronous
        aggregator's buffer filled).
    federated : dict
        The trainers' evaluation of this round's model (every ``evaluate_every`` rounds): each
        metric averaged by sample count, plus ``num_samples`` and ``clients``; filled when the
        trainers report it with their next upload (the last round's, in an ``evaluation``
        message before they leave).
    epsilon : float or None
        A differentially private aggregator's privacy spent up to this round (``epsilon_``).
    """

    round_number: int
    clients: list
    total_sample: int
    seconds: float
    reason: str
    federated: dict = field(default_factory=dict)
    epsilon: float | None = None


@dataclass
class _Peer:
    client_id: str
    ws: Any
    wire: str
    session: str
    connected_at: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: Any = None  # the task serving its connection (cancelled when it stops taking data)
    dropped: bool = False
    lost: bool = False  # the server let it go (a send failed, it stalled): its connection is over


_CLIENT_QUERY_BYTES = 64 * 1024  # a GET body names one client: {"client_id": "..."}


def _version() -> str:
    from .._version import __version__

    return __version__


def _starlette() -> Any:
    try:
        import starlette  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        from ..exceptions import BackendUnavailableError

        raise BackendUnavailableError.missing("starlette", "sedna_lib[server]", error=exc) from exc
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    return Starlette, JSONResponse, Route, WebSocketRoute, WebSocketDisconnect


class AggregationServer:
    """Aggregate client models over websockets, round by round, then exit.

    Parameters
    ----------
    aggregation : str or Aggregator, default=None
        A registered aggregator name (also the URL path, as in Sedna) or an instance;
        ``AGGREGATION_ALGORITHM`` (FedAvg) when omitted.
    host : str, default=None
        Address to bind; ``AGG_BIND_IP`` (``0.0.0.0``) when omitted.
    http_port : int, default=None
        Port to bind; ``AGG_BIND_PORT`` (7363) when omitted; 0 picks a free one.
    exit_round : int, default=1
        Rounds after which the job ends (at least 1).
    participants_count : int, default=1
        Updates that close a round at once.
    ws_size : int, default=10 MiB
        Largest websocket frame accepted (Sedna's JSON peers); binary peers chunk their
        messages, so no model is too large below ``max_message_bytes``.
    min_clients : int, default=None
        Fewest updates a round aggregates once its deadline passes (``AGG_MIN_CLIENTS``, 1).
    round_timeout : float, default=None
        Seconds after a round's first update before it aggregates what it has
        (``AGG_ROUND_TIMEOUT``, 600).
    auth_token : str, default=None
        Shared token clients must send (``Authorization: Bearer``); ``SEDNA_AUTH_TOKEN``.
    ssl_certfile, ssl_keyfile : str, default=None
        Serve ``wss://`` (``SEDNA_TLS_CERT`` / ``SEDNA_TLS_KEY``).
    initial_weights : list of numpy.ndarray, default=None
        A starting global model, sent to sedna_lib clients when they join.
    chunk_size : int, default=4 MiB
        Frame size for binary messages the server sends.
    max_message_bytes : int, default=None
        Largest reassembled binary message accepted; every size a peer declares is checked
        against it before allocation (``AGG_MAX_MESSAGE_BYTES``, 2 GiB).
    handshake_timeout : float, default=None
        Seconds a new connection has to send its ``subscribe`` (``AGG_HANDSHAKE_TIMEOUT``, 30).
    read_timeout : float, default=None
        Seconds to wait for the next frame of a message being received (``AGG_READ_TIMEOUT``,
        120); a trainer between messages is not limited (heartbeats keep it alive).
    max_connections : int, default=None
        Websocket connections held at once; one more is refused with 1013
        (``AGG_MAX_CONNECTIONS``, 1024).
    done_grace : float, default=30.0
        Seconds the server waits, after the last round, for clients to leave before exiting.
    evaluate_every : int, default=None
        Every N rounds the trainers evaluate the new global model on their own evaluation data and
        report with their next upload; the sample-weighted means go to that round's
        :attr:`RoundRecord.federated` (``AGG_EVALUATE_EVERY``, 0: never).
    secure_aggregation : bool, default=None
        Run every round through secure aggregation (:mod:`sedna_lib.servers.secure_rounds`): the
        server learns only the round's sum (``AGG_SECURE_AGGREGATION``, off); needs a linear
        aggregator and sedna_lib trainers.
    secure_threshold : int, default=None
        Shares that rebuild a secret, and members needed at the end of a secure round
        (``AGG_SECURE_THRESHOLD``, 0: a majority of the round's members).
    context : Context, default=None
        Configuration and registry; the environment's context when omitted.

    Attributes
    ----------
    history_ : list of RoundRecord
        One record per finished round.
    global_weights_ : list of numpy.ndarray
        The latest global model.
    round_ : int
        Rounds finished.
    context_ : Context
        The context in use (``context``, or one built from the environment by :meth:`start`).
    rounds_ : RoundPolicy
        The round policy (:mod:`sedna_lib.servers.rounds`): which updates count, when rounds close.

    Examples
    --------
    Serve three rounds for two trainers on a free local port::

        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=3,
                                   participants_count=2)
        server.start(block=False)
        print(server.url)      # ws://127.0.0.1:PORT/FedAvg
        server.wait()          # returns when the job is done and the clients left
    """

    def __init__(self, aggregation: str | Aggregator | None = None, host: str | None = None,
                 http_port: int | None = None, exit_round: int = 1, participants_count: int = 1,
                 ws_size: int = 10 * 1024 * 1024, *, min_clients: int | None = None,
                 round_timeout: float | None = None, auth_token: str | None = None,
                 ssl_certfile: str | None = None, ssl_keyfile: str | None = None, initial_weights: Any = None,
                 chunk_size: int = m.DEFAULT_CHUNK_SIZE, max_message_bytes: int | None = None,
                 done_grace: float = 30.0, handshake_timeout: float | None = None,
                 read_timeout: float | None = None, max_connections: int | None = None,
                 context: Context | None = None, evaluate_every: int | None = None,
                 secure_aggregation: bool | None = None, secure_threshold: int | None = None) -> None:
        self.aggregation = aggregation
        self.host = host
        self.http_port = http_port
        self.exit_round = exit_round
        self.participants_count = participants_count
        self.ws_size = ws_size
        self.min_clients = min_clients
        self.round_timeout = round_timeout
        self.auth_token = auth_token
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.initial_weights = initial_weights
        self.chunk_size = chunk_size
        self.max_message_bytes = max_message_bytes
        self.done_grace = done_grace
        self.handshake_timeout = handshake_timeout
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.context = context
        self.evaluate_every = evaluate_every
        self.secure_aggregation = secure_aggregation
        self.secure_threshold = secure_threshold
        self._server: Any = None
        self._finished = threading.Event()
        self._lifecycle = threading.Lock()  # start and stop, one at a time

    # -- set-up -------------------------------------------------------------------------------
    def _setup(self) -> None:
        ctx = resolve(self.context)
        self.context_ = ctx
        cfg = ctx.config
        if isinstance(self.aggregation, Aggregator):
            self.aggregator_ = self.aggregation
            self.name_ = type(self.aggregation).__name__
        else:
            self.name_ = str(self.aggregation or cfg.aggregation_algorithm or "FedAvg")
            # AGGREGATION_PARAMETERS configure the algorithm AGGREGATION_ALGORITHM names
            same = cfg.aggregation_algorithm in (None, self.name_)
            params = dict(cfg.aggregation_parameters) if same else {}
            self.aggregator_ = ctx.registry.create(Kind.AGGREGATION, self.name_, **params)
        self._check_settings(ctx)
        self._token = self.auth_token if self.auth_token is not None else cfg.auth_token
        self._host = self.host if self.host is not None else cfg.agg_bind_ip
        self._cert = self.ssl_certfile or cfg.tls_cert
        self._key = self.ssl_keyfile or cfg.tls_key
        self._evaluations: dict[int, dict[str, dict]] = {}  # round -> trainer -> its report
        self._unfolded: set[int] = set()
        self._connections = 0
        self.peers_: dict[str, _Peer] = {}
        self._joining: set[str] = set()  # ids being welcomed (not yet in peers_)
        self.history_: list[RoundRecord] = []
        self.round_ = 0
        self.global_weights_ = None if self.initial_weights is None else list(self.initial_weights)
        self.done_ = False
        self._total_sample = 0
        self._last_uploader = ""
        self._last_job_name = ""
        self._layer_names: list[str] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving loop, once a connection came
        self._stopping = False
        self._grace: asyncio.TimerHandle | None = None
        self._ingest = asyncio.Lock()
        self._broadcast_cache: dict | None = None
        self.rounds_ = self._round_policy()
        self.rounds_.begin(self.global_weights_)
        self._finished.clear()
        self._round_metrics: list[dict] = []
        self._setup_status()

    def _check_settings(self, ctx: Context) -> None:
        """Resolve the numeric settings (argument, else environment) and check each is in range.

        Raises
        ------
        ParameterError
            If an argument is out of range (a count that is no whole number >= 1, a timeout that is
            not a finite number > 0, ...): nothing is clamped or truncated silently.
        ConfigError
            If the environment variable the value came from is.
        """
        from ..base import check_count, check_number, check_port, check_variable

        cfg = ctx.config

        def pick(name: str, variable: str, given: Any, default: Any, check: Any) -> Any:
            return check(name, given) if given is not None else check_variable(variable, default, check)

        count = lambda low: lambda n, v: check_count(n, v, low)  # noqa: E731
        seconds = lambda n, v: check_number(n, v, 0, low_open=True)  # noqa: E731
        self._exit_round = pick("exit_round", "EXIT_ROUND", self._rounds_wanted(ctx), None, count(1))
        self._participants = pick("participants_count", "PARTICIPANTS_COUNT", self._participants_wanted(ctx),
                                  None, count(1))
        self._min_clients = pick("min_clients", "AGG_MIN_CLIENTS", self.min_clients, cfg.agg_min_clients,
                                 count(1))
        if self._min_clients > self._participants:
            raise ParameterError(f"min_clients (AGG_MIN_CLIENTS) {self._min_clients} is more than the "
                                 f"{self._participants} participants a round waits for (participants_count, "
                                 "PARTICIPANTS_COUNT): lower it, or raise participants_count")
        self._timeout = pick("round_timeout", "AGG_ROUND_TIMEOUT", self.round_timeout, cfg.agg_round_timeout,
                             seconds)
        self._port = pick("http_port", "AGG_BIND_PORT", self.http_port, cfg.agg_bind_port, check_port)
        self._max_bytes = pick("max_message_bytes", "AGG_MAX_MESSAGE_BYTES", self.max_message_bytes,
                               cfg.agg_max_message_bytes, count(1))
        self._handshake_timeout = pick("handshake_timeout", "AGG_HANDSHAKE_TIMEOUT", self.handshake_timeout,
                                       cfg.agg_handshake_timeout, seconds)
        self._read_timeout = pick("read_timeout", "AGG_READ_TIMEOUT", self.read_timeout, cfg.agg_read_timeout,
                                  seconds)
        self._max_connections = pick("max_connections", "AGG_MAX_CONNECTIONS", self.max_connections,
                                     cfg.agg_max_connections, count(1))
        self._evaluate_every = pick("evaluate_every", "AGG_EVALUATE_EVERY", self.evaluate_every,
                                    cfg.agg_evaluate_every, count(0))
        check_count("chunk_size", self.chunk_size, 1)
        check_count("ws_size", self.ws_size, 1)
        check_number("done_grace", self.done_grace, 0)

    def _setup_status(self) -> None:
        """Build the status site: round metrics, the accuracy/loss chart, readiness while the job runs."""
        def running() -> bool | str:
            return not self.done_ or f"the job is done ({self.round_} rounds)"

        health = Health("aggregation", checks={"rounds": running},
                        extra=lambda: {"round": self.round_, "exit_round": self._exit_round,
                                       "clients": len(self.peers_)})
        self.status_ = StatusSite("aggregation", title=f"sedna_lib aggregation server ({self.name_})",
                                  health=health,
                                  details={"aggregation": self.name_, "rounds": self._exit_round,
                                           "participants per round": self._participants,
                                           "round deadline": f"{self._timeout:.0f} s, then at least "
                                                             f"{self._min_clients} of "
                                                             f"{self._participants} updates",
                                           "auth": "token" if self._token else "off"})
        self.status_.add_chart("rounds", "Accuracy and loss per round", "round", "value")
        self.status_.metrics.gauge("sedna_fl_clients_connected").set_function(lambda: len(self.peers_))
        self._received = self.status_.metrics.counter("sedna_fl_received_bytes_total")
        self.status_.metrics.gauge("sedna_fl_round").set(0)
        for name in ("sedna_fl_rounds_total", "sedna_fl_sent_bytes_total"):
            self.status_.metrics.counter(name)  # exported as 0 from the start

    def _round_policy(self) -> RoundPolicy:
        """Build the round policy: secure rounds when asked, else what the aggregator calls for."""
        cfg = self.context_.config
        secure = self.secure_aggregation
        if secure is None:
            secure = cfg.agg_secure_aggregation
        if secure:
            from .secure_rounds import SecureRounds

            from ..base import check_count, check_variable

            # a bare int() made a threshold of 2.5 a 2 and True a 1
            threshold = (check_count("secure_threshold", self.secure_threshold, 0)
                         if self.secure_threshold is not None
                         else check_variable("AGG_SECURE_THRESHOLD", cfg.agg_secure_threshold,
                                             check_count, 0))
            return SecureRounds(self.aggregator_, participants=self._participants,
                                min_clients=self._min_clients, threshold=threshold)
        return round_policy(self.aggregator_, participants=self._participants, min_clients=self._min_clients)

    def _rounds_wanted(self, ctx: Context) -> int:
        """Return the number of rounds this job runs (the constructor's ``exit_round``)."""
        return self.exit_round

    def _participants_wanted(self, ctx: Context) -> int:
        """Return the number of updates that closes a round (the constructor's ``participants_count``)."""
        return self.participants_count

    def build_app(self) -> Any:
        """Build the ASGI app (Starlette): the websocket and ``GET`` on ``/{aggregation}``.

        Returns
        -------
        starlette.applications.Starlette
            The app.
        """
        if not hasattr(self, "peers_"):
            self._setup()
        Starlette, JSONResponse, Route, WebSocketRoute, WebSocketDisconnect = _starlette()
        self._disconnect_exc = WebSocketDisconnect

        from ._app import (HTTPError, RequestStats, error_response, install_docs_auth, install_error_handlers,
                           parse_json, read_body)

        self.http_stats_ = RequestStats()

        async def http_clients(request: Any) -> Any:
            if request.path_params["name"] != self.name_:
                self.http_stats_.count("rejected")
                return JSONResponse({"detail": f"this server aggregates with {self.name_!r}"},
                                    status_code=404)
            if self._token and not self._authorized(request.headers, request.query_params):
                self.http_stats_.count("rejected")
                return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
            wanted = None
            if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
                try:
                    body = await read_body(request, _CLIENT_QUERY_BYTES, timeout=30.0)
                    query = parse_json(body)
                except HTTPError as exc:
                    if exc.status != 400 or "empty" not in exc.message:
                        self.http_stats_.count_status(exc.status)
                        return error_response(exc.status, exc.message)
                    query = {}
                except ProtocolError as exc:
                    self.http_stats_.count("rejected")
                    return error_response(400, f"{exc}; send a JSON object like {{\"client_id\": \"a\"}}")
                if not isinstance(query, dict) or not isinstance(query.get("client_id", ""), str):
                    self.http_stats_.count("rejected")
                    return error_response(400, "body must be a JSON object like {\"client_id\": \"a\"} "
                                               "(client_id a string)")
                wanted = query.get("client_id")
            self.http_stats_.count("ok")
            if wanted is not None:
                peer = self.peers_.get(wanted)
                if peer is None:
                    return JSONResponse({"detail": f"no client {wanted!r}"}, status_code=404)
                return JSONResponse({"client_id": wanted, "connected_at": peer.connected_at, "info": None})
            return JSONResponse({"clients": list(self.peers_), "round": self.round_,
                                 "exit_round": self._exit_round,
                                 "done": self.done_})

        async def openapi(request: Any) -> Any:
            return JSONResponse(self.openapi())

        routes = [Route("/openapi.json", openapi, methods=["GET"]),
                  Route("/{name}", http_clients, methods=["GET"]),
                  WebSocketRoute("/{name}", self._endpoint)]
        app = Starlette(routes=routes)
        app.openapi_url = "/openapi.json"
        install_error_handlers(app, self.http_stats_)
        install_docs_auth(app, self._token)
        return mount_status(app, self.status_, docs=False)

    def openapi(self) -> dict[str, Any]:
        """Return the OpenAPI 3.1 schema of the HTTP side (``GET /{aggregation}``).

        Returns
        -------
        dict
            The schema (the websocket protocol is described in the documentation, not here).
        """
        from ._app import error_responses

        client = {"type": "object", "required": ["client_id", "connected_at"], "properties": {
            "client_id": {"type": "string"}, "connected_at": {"type": "number"}, "info": {}}}
        job = {"type": "object", "required": ["clients", "round", "exit_round", "done"], "properties": {
            "clients": {"type": "array", "items": {"type": "string"}}, "round": {"type": "integer"},
            "exit_round": {"type": "integer"}, "done": {"type": "boolean"}}}
        operation = {
            "summary": "The job's clients and round, or one client (body {\"client_id\": ...})",
            "operationId": "clients",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"},
                            "description": f"The aggregation algorithm this server runs ({self.name_!r}); "
                                           f"any other name is a 404."}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"client_id": {"type": "string"}}}}}},
            "responses": {"200": {"description": "The job, or the client asked for", "content": {
                "application/json": {"schema": {"oneOf": [job, client]}}}},
                **{str(k): v for k, v in error_responses(400, 401, 404, 408, 413, 500, 503).items()}},
        }
        return {"openapi": "3.1.0",
                "info": {"title": f"sedna_lib aggregation server {self.name_!r}", "version": _version()},
                "paths": {"/{name}": {"get": operation}}}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, *, block: bool = True) -> AggregationServer:
        """Serve until the job is done (Sedna's behaviour), or in the background with ``block=False``.

        Parameters
        ----------
        block : bool, default=True
            Wait until the last round is broadcast and the clients have left; SIGTERM (in the
            main thread) stops the server through :meth:`stop` (trainers get its reason) first.

        Returns
        -------
        AggregationServer
            ``self``.

        Raises
        ------
        TransportError
            If the server cannot bind.

        Notes
        -----
        Starting a server that is serving changes nothing: its rounds, peers and history go on.
        Starts and stops from several threads take turns: one server at most serves, and a
        :meth:`stop` called while a start is under way stops the server that start brings up.
        """
        with self._lifecycle:
            if self._server is None or not self._server.is_running:  # a second start keeps the rounds going
                self._serve()
        if block:  # until the job is done, or stopped: by stop(), SIGTERM or Ctrl-C, each through stop()
            serve_in_foreground(self.wait, self.stop)
        return self

    def _serve(self) -> None:
        from ._threaded import ThreadedServer

        self._setup()
        app = self.build_app()
        from ._app import ServerLimits

        cfg = self.context_.config
        # the HTTP side (upgrade head timeout, keep-alive) as every server; the connection cap is the
        # websocket one, with room for the GET route on top
        limits = ServerLimits.from_config(cfg).replace(
            max_connections=max(cfg.http_max_connections, self._max_connections + 64))
        self._server = ThreadedServer(app, host=self._host, port=self._port, ssl_certfile=self._cert,
                                      ssl_keyfile=self._key,
                                      ws_max_size=max(int(self.ws_size), self.chunk_size + 65536),
                                      limits=limits, fast_binary_frames=True)
        self._started = time.monotonic()
        self._server.start()
        log_started(logger, f"aggregation server {self.name_!r}", self.url, auth=bool(self._token),
                    tls=bool(self._cert), pages=self._server.url, bound=self._server.bound,
                    limits={"rounds": self._exit_round, "participants": self._participants,
                            "round deadline": f"{self._timeout:.0f} s",
                            "max message bytes": self._max_bytes})

    @property
    def port(self) -> int | None:
        """The bound port; None before :meth:`start` (``http_port`` is checked, and 0 resolved, there)."""
        return self._server.port if self._server is not None else None

    @property
    def url(self) -> str:
        """The websocket URL clients use (``ws://host:port/<aggregation>``)."""
        if self._server is None:
            raise TransportError("the server is not started; call start() first")
        return self._server.url.replace("http", "ws", 1) + "/" + self.name_

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done and the clients have left (or ``done_grace`` passed).

        Parameters
        ----------
        timeout : float, default=None
            Seconds to wait at most.

        Returns
        -------
        bool
            Whether the job finished.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._finished.wait(0.5):
            if self._server is not None and not self._server.is_running:
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (idempotent).

        Parameters
        ----------
        timeout : float, default=10.0
            Seconds to wait for the server to end. A server still running then (its event loop
            held, by a custom aggregator say) is logged as such and not said stopped; a later
            ``stop()`` waits for it again.
        """
        with self._lifecycle:  # a start under way ends first: the server it brings up is stopped here
            if self._server is None or not self._server.is_running:
                return
            url = self.url
            self._say_stopping(min(2.0, timeout / 4))
            if not self._server.stop(timeout):
                return  # stopped by another call, or held past the timeout (the server said so)
            self.status_.metrics.stopped()
            log_stopped(logger, f"aggregation server {self.name_!r}", url,
                        seconds=time.monotonic() - self._started,
                        counts={"rounds": self.round_, "done": self.done_})

    def _say_stopping(self, timeout: float) -> None:
        """Close every trainer's connection, saying that the aggregator stops (waits ``timeout`` at most).

        Without it, the connections end with the HTTP server's close frame, which gives no reason.
        """
        self._stopping = True  # a connection opened from now on is closed at once, saying so
        loop, peers = getattr(self, "_loop", None), list(getattr(self, "peers_", {}).values())
        if loop is None or not peers or loop.is_closed():
            return
        reason = self._stopping_reason()

        async def close(peer: _Peer) -> None:
            async with peer.lock:  # never in the middle of a message being sent to it
                await peer.ws.close(code=CLOSE_STOPPING, reason=reason)

        async def close_all() -> None:
            await asyncio.gather(*(close(p) for p in peers), return_exceptions=True)

        try:
            if asyncio.get_running_loop() is loop:  # called from the server's own loop: not waited for
                loop.create_task(close_all())
                return
        except RuntimeError:
            pass  # no loop in this thread
        future = asyncio.run_coroutine_threadsafe(close_all(), loop)
        try:
            future.result(timeout)
        except Exception as exc:  # noqa: BLE001 - the server stops either way; the connections end with it
            future.cancel()
            logger.debug("could not tell every trainer that the aggregator stops: %r", exc)

    def _stopping_reason(self) -> str:
        """Say that the aggregator stops, and where the job stands (a close frame's reason: short)."""
        return (f"the aggregator is stopping (round {self.round_} of {self._exit_round}"
                f"{', job done' if self.done_ else ''})")

    def __enter__(self) -> AggregationServer:
        """Start serving in the background."""
        return self.start(block=False)

    def __exit__(self, *exc_info: Any) -> None:
        """Stop serving."""
        self.stop()

    # -- websocket ----------------------------------------------------------------------------
    def _authorized(self, headers: Any, query: Any) -> bool:
        if not self._token:
            return True
        got = headers.get("authorization", "")
        got = got[7:] if got.lower().startswith("bearer ") else query.get("token", "")
        return hmac.compare_digest(str(got).encode(), str(self._token).encode())

    async def _refuse(self, ws: Any, message: str, error: str, code: int) -> None:
        logger.warning("refusing a client: %s", message)
        try:
            await ws.send_text(m.to_json(m.ErrorMessage(message, error, code)))
            await ws.close(code=code, reason=message[:120])
        except (RuntimeError, OSError, self._disconnect_exc):
            pass  # the peer is already gone; nothing left to tell it

    async def _endpoint(self, ws: Any) -> None:
        self._loop = asyncio.get_running_loop()  # where stop() closes the connections, saying why
        await ws.accept()
        if self._stopping:  # no error frame: the trainer tries again, as with a server not there
            with contextlib.suppress(RuntimeError, OSError, self._disconnect_exc):
                await ws.close(code=CLOSE_STOPPING, reason=self._stopping_reason())
            return
        if self._connections >= self._max_connections:
            await self._refuse(ws, f"the server holds {self._connections} connections, its limit "
                               "(AGG_MAX_CONNECTIONS); try again later", "RemoteError", CLOSE_TRY_LATER)
            return
        self._connections += 1
        try:
            await self._serve_connection(ws)
        finally:
            self._connections -= 1

    async def _serve_connection(self, ws: Any) -> None:
        if ws.path_params["name"] != self.name_:
            await self._refuse(ws, f"this server aggregates with {self.name_!r}, not "
                               f"{ws.path_params['name']!r}; client and server must use the same aggregation "
                               "name", "ProtocolError", CLOSE_NOT_FOUND)
            return
        if not self._authorized(ws.headers, ws.query_params):
            await self._refuse(ws, "missing or wrong token: send 'Authorization: Bearer <SEDNA_AUTH_TOKEN>'",
                               "RemoteError", CLOSE_UNAUTHORIZED)
            return
        peer = None
        try:
            try:
                first = await asyncio.wait_for(ws.receive(), self._handshake_timeout)
            except asyncio.TimeoutError:
                await self._refuse(ws, f"no subscribe frame within {self._handshake_timeout:g} s "
                                   "(AGG_HANDSHAKE_TIMEOUT)", "ProtocolError", CLOSE_TIMEOUT)
                return
            if first.get("type") == "websocket.disconnect":
                return
            try:
                sub = m.decoded(m.from_json, first.get("text") or first.get("bytes") or b"")
            except ProtocolError as exc:
                await self._refuse(ws, f"first frame must be a JSON subscribe message: {exc}",
                                   "ProtocolError",
                                   CLOSE_UNSUPPORTED)
                return
            if not isinstance(sub, m.Subscribe):
                await self._refuse(ws, "first frame must be {\"type\": \"subscribe\", \"client_id\": ...}",
                                   "ProtocolError", CLOSE_UNSUPPORTED)
                return
            peer = await self._register(ws, sub)
            if peer is None:
                return
            await self._serve_peer(peer)
        except self._disconnect_exc:
            pass
        except asyncio.CancelledError:
            if peer is None or not peer.dropped:  # not this server's doing: the cancellation goes on
                raise
        finally:
            if peer is not None:
                await self._unregister(peer)

    def _bound_session(self, client_id: str) -> str:
        """With a token configured, a client id's session secret is derived from the token (bound to it)."""
        return m.bound_session(str(self._token), client_id)

    async def _register(self, ws: Any, sub: m.Subscribe) -> _Peer | None:
        cid = sub.client_id or secrets.token_hex(16)
        binary = sub.protocol == m.PROTOCOL and sub.wire == "binary"
        old = self.peers_.get(cid)
        session = self._bound_session(cid) if self._token else (sub.session or secrets.token_hex(16))
        if cid in self._joining:  # another connection with this id is being welcomed right now
            await self._refuse(ws, f"client id {cid!r} is already connecting; pick another WORKER_NAME",
                               "ProtocolError", CLOSE_CONFLICT)
            return None
        if old is not None:
            if not (sub.session and hmac.compare_digest(sub.session.encode(), old.session.encode())):
                await self._refuse(ws, f"client id {cid!r} is already connected; pick another WORKER_NAME",
                                   "ProtocolError", CLOSE_CONFLICT)
                return None
            logger.info("client %s reconnected; replacing its old connection", cid)
            self.peers_.pop(cid, None)
            try:
                await old.ws.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
            except (RuntimeError, OSError):
                pass  # the old socket is already dead
        peer = _Peer(cid, ws, "binary" if binary else "json", session, task=asyncio.current_task())
        # the id is taken at once (a second connection with it while the others are told is refused), but
        # the peer joins the rounds only once acknowledged: a round's first message must not overtake its ack
        self._joining.add(cid)
        try:
            return await self._welcome(peer, sub)
        finally:
            self._joining.discard(cid)

    async def _welcome(self, peer: _Peer, sub: m.Subscribe) -> _Peer:
        """Tell the others a client joined, acknowledge it, and send it the current model."""
        cid = peer.client_id
        self.rounds_.rejoin(cid)
        for other in list(self.peers_.values()):
            await self._send_text(other, m.to_json(m.ClientJoin(cid)))
        self.peers_[cid] = peer
        echo = m.to_json(m.Subscribe(cid))
        for other in list(self.peers_.values()):
            if other is peer:
                if sub.protocol == m.PROTOCOL:
                    # round_number announces that the current model follows (None: nothing follows)
                    follows = self.global_weights_ is not None or self.done_ or self._announces_settings()
                    ack = m.Subscribe(cid, protocol=m.PROTOCOL, wire=peer.wire, session=peer.session,
                                      round_number=self.round_ if follows else None,
                                      server=m.PROTOCOL, ack=sub.nonce)
                    await self._send_text(peer, m.to_json(ack))
                else:
                    await self._send_text(peer, echo)
            elif other.wire == "json":
                await self._send_text(other, echo)
        logger.info("client %s joined (%s, %d connected)", cid, peer.wire, len(self.peers_))
        current = self.global_weights_ is not None or self._announces_settings()
        if sub.protocol == m.PROTOCOL and not self.done_ and current:
            await self._send_weights(peer, self._current_message(exit_flag="continue"))
        if self.done_:
            await self._send_weights(peer, self._current_message(exit_flag="ok"))
        return peer

    def _announces_settings(self) -> bool:
        """Whether trainers need the round policy's settings before their first upload (secure rounds)."""
        return bool(self.rounds_.client_settings())

    async def _unregister(self, peer: _Peer) -> None:
        cid = peer.client_id
        gone = peer.lost  # let go already by the server (a send to it failed): it left all the same
        if self.peers_.get(cid) is peer:
            del self.peers_[cid]
            logger.info("client %s left (%d connected)", cid, len(self.peers_))
            gone = True
        if gone and not self.done_:
            # a contributor left: the round no longer waits for it (it is counted again if it returns)
            async with self._ingest:
                # unless a new connection took its id meanwhile (that one is waited for)
                if not self.done_ and cid not in self.peers_ and cid not in self._joining:
                    await self._carry_out(self.rounds_.leave(cid))
        if self.done_ and not self.peers_:
            self._finish_job()

    async def _serve_peer(self, peer: _Peer) -> None:
        ws = peer.ws
        reassembler = m.Reassembler(self._max_bytes)
        in_place = (getattr(ws, "scope", None) or {}).get("extensions", {}).get(REASSEMBLY)
        if in_place is not None:  # our websocket protocol: chunks go from the socket into place
            in_place(reassembler)
        while True:
            if reassembler.pending:  # inside a chunked message: its frames must keep coming
                try:
                    frame = await asyncio.wait_for(ws.receive(), self._read_timeout)
                except asyncio.TimeoutError:
                    await self._refuse(ws, f"no frame for {self._read_timeout:g} s in the middle of a "
                                       "message (AGG_READ_TIMEOUT)", "ProtocolError", CLOSE_TIMEOUT)
                    return
            else:
                frame = await ws.receive()
            if frame.get("type") == "websocket.disconnect":
                return
            if not await self._handle_frame(peer, reassembler, frame):
                return
            # a message is let go once handled: held until the next frame, every peer's last upload
            # stayed alive beside the one it was receiving (a model copy per trainer)
            frame = None

    async def _handle_frame(self, peer: _Peer, reassembler: Any, frame: dict) -> bool:
        """Handle one received frame; return False once the peer was refused (its connection closed)."""
        ws = peer.ws
        try:
            fed = frame.get(REASSEMBLY)  # set when the protocol fed the frame as it was read
            if fed is None and frame.get("bytes") is not None:  # under another ASGI server
                fed = len(frame["bytes"]), m.outcome(reassembler.feed, frame["bytes"])
            if fed is not None:
                size, payload = fed
                self._received.inc(size)
                if isinstance(payload, ProtocolError):
                    raise payload
                if payload is None:
                    return True
                msg = m.decoded(m.from_binary, payload)
            else:
                self._received.inc(len((frame.get("text") or "").encode()))
                msg = m.decoded(m.from_json, frame.get("text") or "")
            if isinstance(msg, m.UpdateWeight):
                await self._ingest_update(peer, msg)
            elif isinstance(msg, (m.SecAgg, m.SecAggMasked)):
                await self._ingest_step(peer, msg)
            elif isinstance(msg, m.Evaluation):
                self._final_evaluation(peer, msg)
            elif isinstance(msg, dict):
                logger.debug("ignoring a %r message from %s", msg.get("type"), peer.client_id)
        except ProtocolError as exc:
            await self._refuse(ws, str(exc), "ProtocolError", CLOSE_BAD_REQUEST)
            return False
        except AggregationError as exc:
            await self._refuse(ws, str(exc), "AggregationError", CLOSE_BAD_REQUEST)
            return False
        return True

    # -- rounds -------------------------------------------------------------------------------
    async def _ingest_update(self, peer: _Peer, msg: m.UpdateWeight) -> None:
        if self.done_:
            return
        async with self._ingest:
            if self.done_:
                return
            self._note_evaluation(peer, msg.metrics)
            if msg.names:  # the layers' names, kept for peers that send none (Sedna's JSON peers)
                self._layer_names = list(msg.names)
            update = ClientUpdate(msg.weights, msg.num_samples, peer.client_id, msg.metrics,
                                  self._layer_names)
            offer = self.rounds_.offer(update, msg.round_number, self.global_weights_)
            if offer.accepted:
                if isinstance(msg.metrics, dict):
                    self._round_metrics.append(msg.metrics)
                self._last_uploader = peer.client_id
                self._last_job_name = msg.job_name
                if offer.opened and self.rounds_.uses_deadline:
                    self._arm_deadline()
            await self._carry_out(offer, peer)

    async def _ingest_step(self, peer: _Peer, msg: Any) -> None:
        """Hand a round step other than an upload (secure aggregation's) to the round policy."""
        if self.done_:
            return
        async with self._ingest:
            if self.done_:
                return
            if isinstance(msg, m.SecAgg) and msg.stage == m.SecAggStage.KEYS:
                self._note_evaluation(peer, msg.data)  # a trainer's evaluation travels with its keys
            offer = self.rounds_.step(peer.client_id, msg)
            if offer.opened and self.rounds_.uses_deadline:
                self._arm_deadline()
            await self._carry_out(offer, peer)

    def _arm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = asyncio.get_running_loop().call_later(
            self._timeout, lambda: asyncio.ensure_future(self._on_deadline()))

    async def _carry_out(self, offer: Any, peer: _Peer | None = None) -> None:
        """Deliver what the round policy asked to send, then close the round or answer the sender."""
        for cid, message in offer.send:
            target = self.peers_.get(cid)
            if target is not None:
                await self._send_text(target, m.to_json(message))
        if offer.close is not None:
            await self._close_round(offer.close, answer=peer if self.rounds_.answers_sender else None)
        elif offer.reply and peer is not None and not self.done_:
            msg = self._current_message("continue")
            if offer.passed_over is None:
                await self._send_weights(peer, msg)
            else:
                # the update named another round: its sender gets the current model, marked with that
                # round, to train again from (only a client that sent a round number gets it)
                msg.config = {**msg.config, "passed_over": offer.passed_over}
                await self._send_weights(peer, msg, shared=False)

    def _note_evaluation(self, peer: _Peer, metrics: Any) -> None:
        """Keep a trainer's evaluation of an earlier round's model (sent with its upload)."""
        report = metrics.get("federated_eval") if isinstance(metrics, dict) else None
        if not isinstance(report, dict):
            return
        try:
            # a round of 2.5 or True, or a count given as text, is malformed (int() filed it under round 2, 1)
            rnd, n = whole(report["round"]), _metric_value(report["num_samples"])
            values = {str(k): x for k, x in ((k, _metric_value(v)) for k, v in
                                             dict(report.get("metrics") or {}).items()) if x is not None}
        except (KeyError, TypeError, ValueError, OverflowError):
            rnd = None
        if rnd is None or n is None:  # 10**400 samples: no float holds it
            logger.info("ignoring a malformed evaluation report from %s: %.300r", peer.client_id, report)
            return
        if 1 <= rnd <= len(self.history_) and 0 < n < math.inf:  # an infinite count would swamp the rest
            # one report per trainer and round (a resent one replaces the first)
            self._evaluations.setdefault(rnd, {})[peer.client_id] = {"n": n, "metrics": values}
            self._unfolded.add(rnd)

    def _fold_evaluations(self) -> None:
        """Average each round's evaluation reports received so far into its record."""
        for rnd in sorted(self._unfolded):
            seen = self._evaluations[rnd]
            total = sum(r["n"] for r in seen.values())
            keys = set.intersection(*(set(r["metrics"]) for r in seen.values()))
            summary = {k: sum(r["n"] * r["metrics"][k] for r in seen.values()) / total for k in sorted(keys)}
            summary.update(num_samples=int(total), clients=len(seen))
            self.history_[rnd - 1].federated = summary
        self._unfolded = set()

    def _final_evaluation(self, peer: _Peer, msg: m.Evaluation) -> None:
        """Keep a trainer's evaluation sent on its own (the last round's model: no upload follows)."""
        report = {"round": msg.round_number, "num_samples": msg.num_samples, "metrics": msg.metrics}
        self._note_evaluation(peer, {"federated_eval": report})
        self._fold_evaluations()

    async def _on_deadline(self) -> None:
        try:
            await self._deadline_passed()
        except Exception:  # noqa: BLE001 - a task nobody awaits: its error is logged, never lost
            logger.exception("aggregation server %r: the round deadline's step failed", self.name_)

    async def _deadline_passed(self) -> None:
        async with self._ingest:
            if self.done_ or not self.rounds_.submitted_:
                return
            got = len(self.rounds_.submitted_)
            self._deadline = None
            offer = self.rounds_.deadline()
            if offer.close is not None:
                logger.warning("round %d deadline (%.1f s): aggregating %d of %d updates", self.round_ + 1,
                               self._timeout, got, self._participants)
            elif not offer.send:
                logger.warning("round %d deadline passed with %d updates (< min_clients=%d); still waiting",
                               self.round_ + 1, got, self._min_clients)
            await self._carry_out(offer)
            if offer.close is None and self._deadline is None and not self.done_:
                self._arm_deadline()  # the next step (or the same one, still short) gets its own period

    def _current_message(self, exit_flag: str) -> m.RecvWeight:
        config = {**self.aggregator_.client_config(), **self.rounds_.client_settings()}
        if self._evaluate_every and self.round_ and self.round_ % self._evaluate_every == 0:
            config = {**config, "evaluate": True}
        return m.RecvWeight(weights=self.global_weights_ or [],
                            total_sample=self._total_sample,
                            round_number=self.round_, exit_flag=exit_flag,
                            client=self._last_uploader,
                            job_name=self._last_job_name,
                            config=config)

    async def _close_round(self, reason: str, answer: _Peer | None = None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        members = list(self.rounds_.submitted_)
        try:
            result: RoundResult = self.rounds_.close()
        except Exception as exc:  # noqa: BLE001 - whatever broke, the round is dropped, never left open
            await self._abandon_round(exc, members)
            return
        self._fold_evaluations()
        self.round_ = result.round_number
        self.global_weights_ = result.weights
        self._total_sample = result.total_sample
        seconds = result.seconds
        record = RoundRecord(self.round_, list(result.clients), self._total_sample, seconds, reason,
                             epsilon=result.epsilon)
        self.history_.append(record)
        last = self.round_ >= self._exit_round or self.aggregator_.one_shot
        means = self._observe_round(seconds, len(result.clients))
        logger.info("round %d/%d aggregated by %s: %d clients, %d samples, %.2f s (%s)%s", self.round_,
                    self._exit_round, self.name_, len(result.clients), self._total_sample, seconds, reason,
                    "".join(f", {k} {v:.4g}" for k, v in means.items()))
        if last:
            self.done_ = True
            await self._on_job_done()
        else:
            self.rounds_.begin(self.global_weights_)
        msg = self._current_message("ok" if last else "continue")
        self._broadcast_cache = None
        # an asynchronous step answers only the trainer whose update filled the buffer (the others
        # are training, and get the current model when they next upload); the last step tells everyone
        targets = [answer] if answer is not None and not last else list(self.peers_.values())
        await asyncio.gather(*(self._send_weights(p, msg) for p in targets))
        if last:
            if not self.peers_:
                self._finish_job()
            else:
                self._grace = asyncio.get_running_loop().call_later(self.done_grace, self._finish_job)

    async def _abandon_round(self, exc: BaseException, members: list[str]) -> None:
        """Start a round that could not be aggregated over from the same model, and tell its members."""
        message = (f"round {self.round_ + 1} could not be aggregated ({type(exc).__name__}: {exc}); it "
                   "starts over from the same model")
        if not isinstance(exc, SednaError):  # a fault of ours: its traceback is logged once
            logger.error("aggregation server %r: %s", self.name_, message, exc_info=exc)
        else:
            logger.warning("aggregation server %r: %s", self.name_, message)
        self.rounds_.abandon(self.global_weights_)
        text = m.to_json(m.ErrorMessage(message, "AggregationError", CLOSE_BAD_REQUEST))
        for cid in members:
            peer = self.peers_.get(cid)
            if peer is not None:
                await self._send_text(peer, text)

    def _observe_round(self, seconds: float, participants: int) -> dict[str, float]:
        """Count the round just closed; return the trainers' mean accuracy and loss (those reported)."""
        metrics = self.status_.metrics
        metrics.gauge("sedna_fl_round").set(self.round_)
        metrics.counter("sedna_fl_rounds_total").inc()
        metrics.histogram("sedna_fl_round_duration_seconds").observe(seconds)
        metrics.gauge("sedna_fl_round_participants").set(participants)
        means: dict[str, float] = {}
        for name, keys in (("accuracy", ("accuracy", "acc", "val_accuracy")), ("loss", ("loss", "val_loss"))):
            values = [x for reported in self._round_metrics for k, v in reported.items()
                      if k in keys and (x := _metric_value(v)) is not None]
            if values:
                means[name] = sum(values) / len(values)
                metrics.gauge(f"sedna_fl_{name}").set(means[name])
                self.status_.record("rounds", name, self.round_, means[name])
        self._round_metrics = []
        return means

    async def _on_job_done(self) -> None:
        """Run once the last round is aggregated, before its model is broadcast (a hook; nothing here)."""

    def _finish_job(self) -> None:
        if not self._finished.is_set():
            logger.info("federated job done after %d rounds", self.round_)
            self._finished.set()

    # -- sending ------------------------------------------------------------------------------
    async def _send_weights(self, peer: _Peer, msg: m.RecvWeight, shared: bool = True) -> None:
        """Send a model to ``peer``; ``shared``: a message every peer gets alike (encoded once, kept)."""
        if shared:
            key = (msg.round_number, msg.exit_flag, peer.wire)
            cache = self._broadcast_cache if self._broadcast_cache is not None else {}
            self._broadcast_cache = cache
            payload = cache.get(key)
        else:
            cache, payload = None, None
        if payload is None:
            # encoded once per round and kind: every binary peer is sent the very same frames
            payload = m.encode_frames(msg, self.chunk_size) if peer.wire == "binary" else m.to_json(msg)
            if cache is not None:
                cache.clear()
                cache[key] = payload
        if peer.wire == "binary":
            await self._send_frames(peer, payload)
        else:
            await self._send_text(peer, payload)

    async def _send_text(self, peer: _Peer, text: str) -> None:
        try:
            async with peer.lock:
                with self._watchdog(peer):
                    await peer.ws.send_text(text)
                self.status_.metrics.counter("sedna_fl_sent_bytes_total").inc(len(text.encode()))
        except (RuntimeError, OSError, self._disconnect_exc) as exc:
            logger.info("could not send to %s (%s); dropping it", peer.client_id, exc)
            self._let_go(peer)

    async def _send_frames(self, peer: _Peer, frames: list[memoryview]) -> None:
        try:
            async with peer.lock:
                for frame in frames:
                    with self._watchdog(peer):
                        await peer.ws.send_bytes(frame)
                    self.status_.metrics.counter("sedna_fl_sent_bytes_total").inc(len(frame))
        except (RuntimeError, OSError, self._disconnect_exc) as exc:
            logger.info("could not send to %s (%s); dropping it", peer.client_id, exc)
            self._let_go(peer)

    @contextlib.contextmanager
    def _watchdog(self, peer: _Peer) -> Iterator[None]:
        """Drop ``peer`` if the send in the block takes longer than the read timeout.

        A timer, not a task around the send: the send stays in the sender's task, in order with the
        others; cutting the connection wakes it (the protocol's lost connection releases a send that
        waits for the socket to drain), and it ends as a send to a peer that went away.
        """
        timer = asyncio.get_running_loop().call_later(self._read_timeout, self._drop_stalled, peer)
        try:
            yield
        finally:
            timer.cancel()

    def _let_go(self, peer: _Peer) -> None:
        """Stop serving ``peer`` (its connection is over): it leaves the rounds as its connection ends."""
        if self.peers_.get(peer.client_id) is peer:
            del self.peers_[peer.client_id]
            peer.lost = True  # its connection's end (:meth:`_unregister`) tells the rounds it left

    def _drop_stalled(self, peer: _Peer) -> None:
        """Drop a peer that took no data for the read timeout: a send to it would hold every round."""
        logger.warning("client %s took nothing sent to it for %g s (AGG_READ_TIMEOUT); dropping it, the "
                       "others go on", peer.client_id, self._read_timeout)
        self._let_go(peer)
        # its connection must end (a frame cut in the middle leaves it unusable): dropped at once where the
        # server's own websocket protocol runs, else its task is cancelled (the socket closes once it drains)
        abort = ((getattr(peer.ws, "scope", None) or {}).get("extensions") or {}).get(ABORT)
        if abort is not None:
            abort()
        elif peer.task is not None and peer.task is not asyncio.current_task():
            peer.dropped = True
            peer.task.cancel()


def _metric_value(value: Any) -> float | None:
    """Return a reported number as a float; None for what is not one (a bool, a string, 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None
