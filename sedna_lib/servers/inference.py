"""The big-model inference HTTP server: Sedna's REST routes, plus a binary codec, auth and limits.

Routes (``{name}`` is the service name; the same routes are also served under ``/sedna``, the
path original Sedna edge workers call whatever the service is named):

- ``GET /healthz`` and ``/readyz``: liveness and readiness, with the request counters (no token
  needed); ``GET /`` the status page, ``GET /metrics`` Prometheus metrics;
- ``GET /{name}``: ``{"infos": [{"path", "name"}, ...], "codecs": [...], "callbacks": "apply"}``;
- ``POST /{name}/predict``: ``{"data": [...], "callback": "<name>"}`` (``post_process`` is
  accepted as the callback's name too; ``columns`` and ``dtypes`` make ``data`` the rows of a
  table, rebuilt as a DataFrame) answered by ``{"result": ...}``, or a binary-codec body
  (Content-Type ``application/x-sedna-arrays``) answered in the codec when the client accepts it;
- ``GET /openapi.json``, ``/docs`` and ``/redoc``: the OpenAPI schema and its pages (served locally);
- ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models``: the
  OpenAI-compatible routes of a served language model (:mod:`sedna_lib.servers.openai_routes`).

Callbacks: a callback name never fails a request. A name registered here is applied to the
result (the reply then carries ``Sedna-Callback-Applied: <name>``); an unknown one is logged once
and the result is sent unchanged. Every reply carries ``Sedna-Callbacks: apply``, which tells a
sedna_lib edge that this peer applies the callbacks it has (original Sedna clients ignore it).

A malformed body gets 400/415/422, an oversized one 413, a missing token 401; a model that
rejects its input (``ValueError``, ``TypeError``, ``KeyError``, ``IndexError``, or a framework's
shape mismatch) 422 with its reason; any other model failure 500. The server keeps serving and
counts each outcome. A scikit-learn model that is not fitted is said once (a WARNING, at start or
at the first request), fails readiness, and each request gets a 500 without a traceback in the log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from typing import Any, Callable

from .._json import table_from_json
from ..exceptions import NotFittedError, ProtocolError, RegistryError, TransportError
from ..transport import codec
from ..transport.http import JSON_MEDIA_TYPE, is_binary_array, to_jsonable
from ..observability.health import Health
from ..observability.logs import log_started, log_stopped
from ..observability.metrics import Metrics
from ..observability.status import StatusSite
from ._app import (HTTPError, LargeRequestGate, RequestStats, ServerLimits, check_token, error_response,
                   error_responses, fastapi, install_docs_auth, install_error_handlers, is_input_error,
                   parse_json, read_body, run_off_loop)
from ._lifecycle import serve_in_foreground
from ._status import mount_status
from ._threaded import ThreadedServer

__all__ = ["InferenceServer", "CALLBACKS_HEADER", "CALLBACK_APPLIED_HEADER", "unfitted_reason"]

logger = logging.getLogger(__name__)

CALLBACKS_HEADER = "Sedna-Callbacks"
"""Reply header of a sedna_lib big-model server: ``apply`` (it applies the callbacks it has)."""
CALLBACK_APPLIED_HEADER = "Sedna-Callback-Applied"
"""Reply header naming the callback the server applied to this result (absent: none applied)."""


def unfitted_reason(model: Any) -> str | None:
    """Say why ``model`` cannot answer yet: a scikit-learn estimator that is not fitted.

    The estimator is looked for through the ``estimator`` attributes of a service and of its
    backend; a scikit-learn class (instantiated when first used) has no fitted state, so a fresh
    instance of it is checked. Models of other frameworks are taken as ready.

    Parameters
    ----------
    model : object
        What a server serves: a ``BigModelService``, a backend, or an estimator.

    Returns
    -------
    str or None
        ``"KNeighborsClassifier is not fitted"``, or None when the model is fitted or its state is not
        known.
    """
    import sys

    if "sklearn" not in sys.modules:  # no scikit-learn estimator can be here
        return None
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    obj, seen = model, 0
    while not isinstance(obj, BaseEstimator):
        if isinstance(obj, type) and issubclass(obj, BaseEstimator):
            try:
                obj = obj()
            except TypeError:  # needs arguments: its state cannot be told before it is built
                return None
            break
        inner = getattr(obj, "estimator", None)
        seen += 1
        if inner is None or inner is obj or seen > 4:
            return None
        obj = inner
    try:
        check_is_fitted(obj)
    except SkNotFitted:
        return f"{type(obj).__name__} is not fitted"
    except TypeError:  # not an estimator by scikit-learn's rule: its state is not known
        return None
    return None


class _CallbacksHeader:
    """ASGI middleware: every reply says ``Sedna-Callbacks: apply`` (cheap; no body buffering)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (CALLBACKS_HEADER.lower().encode(), b"apply")]
            await send(message)

        await self.app(scope, receive, send_with_header)


_ERROR_BODY = {"type": "object", "required": ["detail"], "properties": {"detail": {}}}
INFO_RESPONSES: dict[int | str, Any] = {
    200: {"description": "The service's routes and codecs", "content": {JSON_MEDIA_TYPE: {"schema": {
        "type": "object", "required": ["infos"], "properties": {
            "infos": {"type": "array", "items": {"type": "object"}}, "codecs": {"type": "array"},
            "service": {"type": "string"}, "callbacks": {"type": "string"}}}}}},
    **error_responses(401)}
PREDICT_DOC: dict[str, Any] = {
    "summary": "Run the model on data",
    "description": "A JSON body `{\"data\": [...]}` is answered `{\"result\": ...}`; a binary-codec body "
                   f"({codec.MEDIA_TYPE}, one array) is answered in the codec when the client accepts it "
                   "and the result is an array. A model that rejects its input is a 422 with its reason.",
    "responses": {
        200: {"description": "The model's result", "content": {
            JSON_MEDIA_TYPE: {"schema": {"type": "object", "required": ["result"],
                                         "properties": {"result": {}}}},
            codec.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(400, 401, 408, 413, 415, 422, 500, 503)},
    "openapi_extra": {"requestBody": {"required": True, "content": {
        JSON_MEDIA_TYPE: {"schema": {"type": "object", "required": ["data"], "properties": {
            "data": {"type": "array", "items": {}},
            "callback": {"type": ["string", "null"]},
            "post_process": {},
            "columns": {"type": "array", "items": {}},
            "dtypes": {"type": "array", "items": {"type": "string"}}}}},
        codec.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
}


def _table(payload: dict[str, Any]) -> Any:
    """Return a request's ``data``: a DataFrame when ``columns`` names its columns (a table's rows).

    Raises
    ------
    HTTPError
        422 if ``columns`` is not a list, or a row does not have one value per column.
    """
    data = payload["data"]
    columns = payload.get("columns")
    if columns is None:
        return data
    if not isinstance(columns, list) or any(isinstance(name, (list, dict)) for name in columns):
        raise HTTPError(422, "field 'columns' must be a list of column names (strings or numbers), got "
                             f"{columns!r:.80}")
    if any(not isinstance(row, list) or len(row) != len(columns) for row in data):
        raise HTTPError(422, f"with 'columns', each item of 'data' must be a row of {len(columns)} values")
    try:
        return table_from_json(data, columns, payload.get("dtypes"))
    except (TypeError, ValueError) as exc:
        raise HTTPError(422, f"'data' and 'columns' do not make a table: {exc}") from None


def _callback_name(payload: dict[str, Any]) -> str | None:
    """Return the callback a request names: ``callback`` (a string or null), else a string ``post_process``.

    ``post_process`` is what Sedna's ``ModelClient`` sends (the original server ignores it); a
    value there that is not a string is ignored as the original server ignores the field.

    Raises
    ------
    HTTPError
        422 if ``callback`` is present and neither a string nor null.
    """
    name = payload.get("callback")
    if name is not None and not isinstance(name, str):
        raise HTTPError(422, f"field 'callback' must be the name of a post_process_callback (a string) or "
                             f"null, got {type(name).__name__}")
    if not name:
        name = payload.get("post_process")
        if not isinstance(name, str):
            return None
    return name or None


class InferenceServer:
    """Serve a model's ``inference`` (or ``predict``) over HTTP, as Sedna's ``InferenceServer`` does.

    Parameters
    ----------
    model : object
        Has ``inference(data, post_process=None)`` (a ``BigModelService``) or ``predict(data)``;
        or is a plain callable ``f(data)``.
    servername : str, default='sedna'
        First path segment of the routes.
    host : str, default='127.0.0.1'
        Address to bind; deployed cloud workers bind ``BIG_MODEL_BIND_IP`` (all interfaces).
    http_port : int, default=8080
        Port to bind; 0 picks a free one.
    max_buffer_size : int, default=64 MiB
        Largest request body accepted (413 beyond).
    workers : int, default=1
        Accepted for Sedna compatibility; one process serves, requests run concurrently in threads.
    token : str, default=None
        Shared bearer token required by the model routes (401 without it).
    ssl_certfile, ssl_keyfile : str, default=None
        Serve HTTPS.
    aliases : tuple of str, default=('sedna',)
        Extra path segments serving the same routes.
    registry : Registry, default=None
        Where callback names are looked up (the default registry).
    limits : ServerLimits, default=None
        Timeouts, connection cap and large-request cap (``ServerLimits()`` defaults);
        ``max_buffer_size`` overrides its ``max_request_bytes``.

    Attributes
    ----------
    stats : RequestStats
        Request counters (also on ``/healthz``).
    status_ : StatusSite
        Metrics, health and status page (after :meth:`create_app`).
    llm_stats : LLMServingStats or None
        Counters of the OpenAI-compatible routes (after :meth:`create_app`).

    Examples
    --------
    Serve a function on a free port for the length of a block::

        with InferenceServer(lambda x: [sum(x)], "adder", http_port=0) as server:
            requests.post(server.url + "/adder/predict", json={"data": [1, 2]}).json()  # {"result": [3]}
    """

    def __init__(self, model: Any, servername: str = "sedna", host: str = "127.0.0.1", http_port: int = 8080,
                 max_buffer_size: int = 64 * 1024 * 1024, workers: int = 1, *, token: str | None = None,
                 ssl_certfile: str | None = None, ssl_keyfile: str | None = None,
                 aliases: tuple[str, ...] = ("sedna",), registry: Any = None,
                 limits: ServerLimits | None = None) -> None:
        self.model = model
        self.servername = servername
        self.host = host
        self.http_port = http_port
        self.max_buffer_size = max_buffer_size
        self.workers = workers
        self.token = token
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.aliases = aliases
        self.registry = registry
        self.limits = limits
        self.stats = RequestStats()
        self.llm_stats: Any = None
        self._server: ThreadedServer | None = None
        self._unknown_callbacks: set[str] = set()
        self._unknown_lock = threading.Lock()
        self._lifecycle_lock = threading.Lock()  # a start and a stop, one at a time: one server at most
        self._unfitted_said = False

    # -- the app -----------------------------------------------------------------------------
    def _names(self) -> list[str]:
        names = [self.servername or "sedna"]
        names += [a for a in self.aliases if a and a not in names]
        return names

    def _resolve_callback(self, name: str | None) -> Callable[[Any], Any] | None:
        """Return the callback registered here as ``name``; None (logged once per name) if there is none."""
        if not name:
            return None
        from ..registry import resolve_callback

        try:
            return resolve_callback(name, registry=self.registry, instantiate=True)
        except RegistryError as exc:
            with self._unknown_lock:
                first = name not in self._unknown_callbacks
                self._unknown_callbacks.add(name)
            if first:
                logger.warning("callback %r is not registered on this server; results are sent unchanged "
                               "(the edge applies it where it is registered): %s", name, exc)
            return None

    def _infer(self, data: Any, post_process: Callable[[Any], Any] | None) -> Any:
        model = self.model
        if hasattr(model, "inference"):
            return model.inference(data, post_process=post_process)
        result = model.predict(data) if hasattr(model, "predict") else model(data)
        return post_process(result) if post_process is not None else result

    def _decode(self, ctype: str, body: bytes) -> tuple[Any, Any]:
        if ctype == codec.MEDIA_TYPE:
            try:
                # a body read into our own buffer (bytearray) is not shared: its arrays need no copy
                meta, arrays = codec.decode(body, copy=not isinstance(body, bytearray))
            except ProtocolError as exc:
                raise HTTPError(400, f"malformed binary body: {exc}") from None
            if not isinstance(meta, dict) or len(arrays) != 1:
                raise HTTPError(422, "binary body must carry one array and a JSON object header")
            return arrays[0], _callback_name(meta)
        if ctype in ("", JSON_MEDIA_TYPE) or ctype.endswith("+json"):
            try:
                payload = parse_json(body)
            except ProtocolError as exc:
                raise HTTPError(400, str(exc)) from None
            if not isinstance(payload, dict):
                raise HTTPError(422, f"body must be a JSON object {{\"data\": [...]}}, "
                                     f"got {type(payload).__name__}")
            if "data" not in payload:
                raise HTTPError(422, "field 'data' is required: send {\"data\": [...]}")
            if not isinstance(payload["data"], list):
                raise HTTPError(422, f"field 'data' must be a list, got {type(payload['data']).__name__}")
            return _table(payload), _callback_name(payload)
        raise HTTPError(415, f"unsupported Content-Type {ctype!r}; "
                             f"send {JSON_MEDIA_TYPE} or {codec.MEDIA_TYPE}")

    def _encode(self, result: Any, accept: str) -> Any:
        from starlette.responses import Response

        # only an array result travels binary: a list stays a JSON list, so the edge gets back
        # the type the cloud's estimator returned (a Sedna script's box lists stay lists)
        if codec.MEDIA_TYPE in accept:
            if is_binary_array(result):
                return Response(codec.encode([result], {"result": "array"}), media_type=codec.MEDIA_TYPE)
        try:
            content = to_jsonable(result)
        except TypeError as exc:
            raise HTTPError(500, f"the model's result cannot be sent: {exc}") from None
        # NaN and infinities as Python's json writes and reads them (NaN, Infinity, -Infinity), as Sedna's
        # peers parse them; strict JSON has no such numbers (JSONResponse would fail with a 500)
        return Response(json.dumps({"result": content}, separators=(",", ":"), ensure_ascii=False).encode(),
                        media_type=JSON_MEDIA_TYPE)

    def create_app(self) -> Any:
        """Build the FastAPI application.

        Returns
        -------
        fastapi.FastAPI
            The app (serve it with any ASGI server).

        Raises
        ------
        BackendUnavailableError
            If FastAPI is not installed.
        """
        fa = fastapi()
        from starlette.requests import Request

        limits = self._limits()
        gate = LargeRequestGate(limits)
        app = fa.FastAPI(title=f"sedna_lib big-model service {self.servername!r}",
                         description="Joint-inference cloud worker (Sedna wire plus binary codec).")
        # the app keeps its server (and model) alive; the routes see it through a weak proxy, as FastAPI
        # keeps every route's function for the life of the process: a dropped server is freed
        app.state.server = self
        server = weakref.proxy(self)
        install_error_handlers(app, self.stats)
        install_docs_auth(app, self.token)
        names = self._names()

        def make_info(name: str) -> Callable[..., Any]:
            async def info(request: Request) -> Any:
                try:
                    check_token(request, server.token)
                except HTTPError as exc:
                    server.stats.count("rejected")
                    return error_response(exc.status, exc.message)
                infos = [{"path": route.path, "name": route.name} for route in request.app.routes]
                return {"infos": infos, "codecs": [codec.MEDIA_TYPE, JSON_MEDIA_TYPE], "service": name,
                        "callbacks": "apply"}
            info.__annotations__["request"] = Request  # resolved here: annotations are strings in this module
            return info

        async def predict(request: Request) -> Any:
            try:
                check_token(request, server.token)
                body = await read_body(request, limits.max_request_bytes, timeout=limits.body_timeout,
                                       gate=gate)
            except HTTPError as exc:
                server.stats.count_status(exc.status)
                return error_response(exc.status, exc.message)
            try:
                ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
                # decode, run the model and encode in a worker thread: the loop keeps answering
                response, callback = await run_off_loop(server._serve, ctype, body,
                                                        request.headers.get("accept", ""), request.url.path)
            except HTTPError as exc:
                server.stats.count_status(exc.status)
                return error_response(exc.status, exc.message)
            finally:
                if gate.is_large(len(body)):
                    gate.release()
            if callback is not None:
                response.headers[CALLBACK_APPLIED_HEADER] = callback
            server.stats.count("ok")
            return response

        predict.__annotations__["request"] = Request

        for name in names:
            app.add_api_route(f"/{name}", make_info(name), methods=["GET"], name="method",
                              summary="List the routes", responses=INFO_RESPONSES)
            app.add_api_route(f"/{name}/predict", predict, methods=["POST"], name="method", **PREDICT_DOC)
        from .openai_routes import add_openai_routes

        self.llm_stats = add_openai_routes(app, self)
        app.add_middleware(_CallbacksHeader)
        mount_status(app, self._status_site(names[0]))
        return app

    def _limits(self) -> ServerLimits:
        return ServerLimits.resolve(self.limits, self.max_buffer_size)

    def _serve(self, ctype: str, body: Any, accept: str, path: str) -> tuple[Any, str | None]:
        """Decode, infer and encode one request (in a worker thread); failures are HTTPErrors."""
        data, callback = self._decode(ctype, body)
        del body
        post_process = self._resolve_callback(callback)
        try:
            result = self._infer(data, post_process)
        except Exception as exc:  # the model's own failure: counted, answered; the server keeps serving
            if is_input_error(exc):  # the model says this input is wrong: the client's fault, not ours
                logger.info("the model rejected a request's input on %s: %s: %s", path,
                            type(exc).__name__, exc)
                raise HTTPError(422, f"the model cannot take this input: "
                                     f"{type(exc).__name__}: {exc}") from None
            if isinstance(exc, NotFittedError):  # the model, not the request: said once, then counted
                self._say_unfitted(str(exc))
                raise HTTPError(500, f"inference failed: {type(exc).__name__}: {exc}") from None
            logger.exception("inference failed on %s", path)
            raise HTTPError(500, f"inference failed: {type(exc).__name__}: {exc}") from None
        return self._encode(result, accept), (callback if post_process is not None else None)

    def _say_unfitted(self, reason: str) -> None:
        """Say once (WARNING) that the model is not fitted: every request fails until it is."""
        with self._unknown_lock:
            first = not self._unfitted_said
            self._unfitted_said = True
        if first:
            logger.warning("big-model server %r: %s: every request fails (500, not ready) until a fitted "
                           "model is loaded (MODEL_URL names its file)", self.servername, reason)

    def _model_ready(self) -> bool | str:
        """Check readiness: a model to serve, and fitted when its state is known."""
        if self.model is None:
            return "no model to serve"
        reason = unfitted_reason(self.model)
        return True if reason is None else f"{reason}; load a fitted model (MODEL_URL names its file)"

    def _status_site(self, name: str) -> StatusSite:
        """Build the status site: request counters on the health bodies, the model as readiness check."""
        health = Health(name, checks={"model": self._model_ready},
                        extra=self.stats.as_dict)
        limits = {"max request": f"{self.max_buffer_size // (1024 * 1024)} MiB"}
        self.status_ = StatusSite(name, title=f"sedna_lib big-model service {name!r}", health=health,
                                  metrics=Metrics(service=name),
                                  details={"serves": ", ".join(f"POST /{n}/predict" for n in self._names()),
                                           "auth": "bearer token" if self.token else "off",
                                           "TLS": "on" if self.ssl_certfile else "off", **limits})
        return self.status_

    # -- running -----------------------------------------------------------------------------
    @property
    def port(self) -> int | None:
        """The bound port; None before :meth:`start` (``http_port`` is checked, and 0 resolved, there)."""
        return self._server.port if self._server is not None else None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        if self._server is None:
            raise TransportError("the server is not started; call start(block=False) first")
        return self._server.url

    def start(self, *, block: bool = True) -> InferenceServer:
        """Start serving; block until stopped unless ``block=False``.

        Parameters
        ----------
        block : bool, default=True
            Wait (as Sedna's server does) until :meth:`stop` is called from another thread. SIGTERM
            (in the main thread) stops the server through :meth:`stop`, answering the requests in
            flight, and ``start`` returns; an exception that ends the wait (``KeyboardInterrupt``
            on Ctrl-C) stops the server first.

        Returns
        -------
        InferenceServer
            ``self`` (once stopped, when blocking).

        Raises
        ------
        TransportError
            If the port cannot be bound.
        """
        with self._lifecycle_lock:  # the check and the start at once: a second start changes nothing
            if self._server is None or not self._server.is_running:
                server = ThreadedServer(self.create_app(), host=self.host, port=self.http_port,
                                        ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile,
                                        limits=self._limits())
                self._started = time.monotonic()
                self._server = server.start()
                log_started(logger, f"big-model server {self.servername!r}", self._server.url,
                            auth=bool(self.token), tls=bool(self.ssl_certfile), bound=self._server.bound,
                            limits={"max request bytes": self.max_buffer_size})
                reason = unfitted_reason(self.model)
                if reason is not None:
                    self._say_unfitted(reason)
            server = self._server
        if block:  # until stopped: by stop(), SIGTERM or Ctrl-C, each through stop()
            serve_in_foreground(server.wait, self.stop)
        return self

    def wait(self) -> None:
        """Block until the server stops (at once if it is not serving); never starts it."""
        if self._server is not None:
            self._server.wait()

    def stop(self) -> None:
        """Stop serving (a no-op if not started); a start under way in another thread finishes first."""
        with self._lifecycle_lock:
            server = self._server
            if server is None or not server.is_running or not server.stop():
                return  # not serving, stopped by another call, or held past the timeout (the server said so)
            self.status_.metrics.stopped()
            log_stopped(logger, f"big-model server {self.servername!r}", server.url,
                        seconds=time.monotonic() - self._started, counts=self.stats.as_dict())

    def __enter__(self) -> InferenceServer:
        """Serve in the background, and return the server, for a ``with`` block."""
        return self.start(block=False)

    def __exit__(self, *exc_info: Any) -> None:
        """Stop serving at the end of the ``with`` block."""
        self.stop()
