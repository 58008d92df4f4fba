"""REST servers of the multi-edge services: video analytics (detection), feature extraction and ReID.

Routes follow Sedna's (``/{svc}/video_analytics``, ``/{svc}/feature_extraction``,
``/{svc}/get_target_features``, ``/{svc}/update_service``, ``/{svc}/reid``, ``GET /{svc}/status``)
and answer the JSON number ``200`` like Sedna's. Unlike Sedna's, bodies are decoded with the safe
codec of :mod:`sedna_lib.transport.objects` (pickle only when ``legacy_pickle`` is set), a body
larger than ``max_request_bytes`` gets 413, a malformed one 400, a refused pickle 415, data the
component cannot take 422 with the reason, and decoding and model code run in a worker thread,
never on the event loop. Each server publishes its OpenAPI schema at ``/openapi.json`` (and
``/docs``), behind the token when one is set.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any, Callable

from ..exceptions import ProtocolError, TransportError
from ..transport.objects import MEDIA_TYPE, PICKLE_MEDIA_TYPE, dumps, is_pickle, loads
from ..observability.health import Health
from ..observability.logs import log_started, log_stopped
from ..observability.status import StatusSite
from ._app import (HTTPError, LargeRequestGate, RequestStats, ServerLimits, check_token, error_response,
                   error_responses, fastapi, install_docs_auth, install_error_handlers, is_input_error,
                   read_body, run_off_loop)
from ._status import mount_status
from ._threaded import ThreadedServer

_BODY_DOC = {"required": True, "content": {
    MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    PICKLE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
_OK_JSON = {200: {"description": "Accepted (Sedna's reply: the number 200)",
                  "content": {"application/json": {"schema": {"type": "integer"}}}}}
_OK_BODY = {200: {"description": "The result, in the codec of the request",
                  "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                              PICKLE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}
_ERRORS = error_responses(400, 401, 408, 413, 415, 422, 500, 501, 502, 503)

__all__ = ["MultiEdgeServer", "DetectionServer", "FEServer", "ReIDServer"]

logger = logging.getLogger(__name__)


class MultiEdgeServer:
    """Base of the multi-edge REST servers: routes map a decoded body to a method of ``model``.

    Parameters
    ----------
    model : object
        The component behind the server (an ``ObjectDetector``, ``FEService`` or ``ReID``).
    service_name : str
        First path segment of every route.
    ip : str, default='127.0.0.1'
        Address to bind.
    port : int, default=0
        Port to bind; 0 picks a free one.
    max_buffer_size : int, default=64 MiB
        Largest request body accepted (413 beyond).
    workers : int, default=1
        Accepted for Sedna compatibility; one process serves.
    token : str, default=None
        Bearer token every data route requires.
    legacy_pickle : bool, default=False
        Accept (and answer with) pickle bodies, for original Sedna peers.
    ssl_certfile, ssl_keyfile : str, default=None
        Serve HTTPS.
    limits : ServerLimits, default=None
        Timeouts, connection cap and large-request cap (``ServerLimits()`` defaults);
        ``max_buffer_size`` overrides its ``max_request_bytes``.
    """

    #: route name -> (HTTP method, handler called with the decoded body, reply: "json" 200 or "body")
    ROUTES: dict[str, tuple[str, str, str]] = {}

    def __init__(self, model: Any, service_name: str, ip: str = "127.0.0.1", port: int = 0,
                 max_buffer_size: int = 64 * 1024 * 1024, workers: int = 1, *, token: str | None = None,
                 legacy_pickle: bool = False, ssl_certfile: str | None = None,
                 ssl_keyfile: str | None = None, limits: ServerLimits | None = None) -> None:
        self.model = model
        self.service_name = service_name
        self.ip = ip
        self.port = port
        self.max_buffer_size = max_buffer_size
        self.workers = workers
        self.token = token
        self.legacy_pickle = legacy_pickle
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.limits = limits
        self.stats = RequestStats()
        self._server: ThreadedServer | None = None

    # -- app ---------------------------------------------------------------------------------
    def build_app(self) -> Any:
        """Build the FastAPI application.

        Returns
        -------
        fastapi.FastAPI
            The app with this server's routes, ``GET /{svc}/status``, its OpenAPI schema, and the
            common ``/healthz``, ``/readyz``, ``/metrics`` and status page ``/``.
        """
        api = fastapi()
        limits = self._limits()
        gate = LargeRequestGate(limits)
        app = api.FastAPI(title=f"sedna_lib {self.service_name}",
                          description=f"Multi-edge {type(self).__name__} (Sedna's routes, safe codec).")
        app.state.server = self  # the app keeps its server; the routes reach it through a weak proxy
        install_error_handlers(app, self.stats)
        install_docs_auth(app, self.token)
        for route, (method, handler, reply) in self.ROUTES.items():
            app.add_api_route(f"/{self.service_name}/{route}", self._endpoint(handler, reply, limits, gate),
                              methods=[method], summary=f"{route.replace('_', ' ').capitalize()}",
                              responses={**(_OK_JSON if reply == "json" else _OK_BODY), **_ERRORS},
                              openapi_extra={"requestBody": _BODY_DOC})
        status_doc = {200: {"description": "Always OK while serving",
                            "content": {"application/json": {"schema": {"type": "string"}}}}}
        app.add_api_route(f"/{self.service_name}/status", self._status, methods=["GET"],
                          summary="Liveness (Sedna's)", responses=status_doc)
        app.add_api_route(f"/{self.service_name}", self._status, methods=["GET"], summary="Liveness",
                          responses=status_doc)
        health = Health(self.service_name, checks={"model": lambda: self.model is not None or "no component"},
                        extra=self.stats.as_dict)
        self.status_ = StatusSite(self.service_name, title=f"sedna_lib {self.service_name}", health=health,
                                  details={"component": type(self.model).__name__,
                                           "routes": ", ".join(f"/{self.service_name}/{r}"
                                                               for r in self.ROUTES),
                                           "auth": "bearer token" if self.token else "off",
                                           "pickle": "accepted" if self.legacy_pickle else "refused"})
        mount_status(app, self.status_)
        return app

    def _limits(self) -> ServerLimits:
        return ServerLimits.resolve(self.limits, self.max_buffer_size)

    @staticmethod
    async def _status() -> Any:
        return "OK"

    def _decode(self, body: bytes) -> Any:
        if is_pickle(body) and not self.legacy_pickle:
            raise HTTPError(415, "pickle bodies are refused (they can run code); send the sedna_lib codec "
                                 f"({MEDIA_TYPE}), or set SEDNA_LEGACY_PICKLE=true for trusted Sedna peers")
        try:
            return loads(body, allow_pickle=self.legacy_pickle, max_bytes=self.max_buffer_size)
        except ProtocolError as exc:
            raise HTTPError(400, f"malformed body: {exc}") from None

    # -- handlers: each calls one method of the component --------------------------------------
    def _model_method(self, name: str) -> Callable[[Any], Any]:
        method = getattr(self.model, name, None)
        if not callable(method):
            raise HTTPError(501, f"{type(self.model).__name__} has no {name}() to serve this route")
        return method

    def _on_put(self, data: Any) -> Any:
        return self._model_method("put")(data)

    def _on_put_wrapped(self, data: Any) -> Any:
        return self._model_method("put")([data])  # Sedna's FE wraps each body in a list

    def _on_update(self, data: Any) -> Any:
        return self._model_method("update_operational_mode")(data)

    def _on_target_features(self, data: Any) -> Any:
        return self._model_method("get_target_features")(data)

    def _endpoint(self, handler_name: str, reply: str, limits: ServerLimits,
                  gate: LargeRequestGate) -> Callable[..., Any]:
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response

        # FastAPI keeps each route's function for the life of the process: it holds only a weak proxy,
        # so a stopped, dropped server (and its component) is freed; the app keeps the server alive
        server = weakref.proxy(self)

        def serve(body: Any) -> Any:  # in a worker thread: decode, call the component, encode
            data = server._decode(body)
            result = server._call(getattr(server, handler_name), data)
            return None if reply == "json" else server._encode_reply(result, is_pickle(body))

        async def endpoint(request: Request) -> Any:
            body = b""
            try:
                check_token(request, server.token)
                body = await read_body(request, limits.max_request_bytes, timeout=limits.body_timeout,
                                       gate=gate)
                try:
                    content = await run_off_loop(serve, body)
                finally:
                    if gate.is_large(len(body)):
                        gate.release()
            except HTTPError as exc:
                server.stats.count_status(exc.status)
                return error_response(exc.status, exc.message)
            server.stats.count("ok")
            if content is None:
                return JSONResponse(200)
            return Response(content, media_type=PICKLE_MEDIA_TYPE if is_pickle(body) else MEDIA_TYPE)

        endpoint.__annotations__["request"] = Request  # resolved here: annotations are strings in this module
        endpoint.__name__ = f"{self.service_name}{handler_name}"
        return endpoint

    @staticmethod
    def _encode_reply(result: Any, pickled: bool) -> bytes:
        try:
            return dumps(result, use_pickle=pickled)
        except ProtocolError as exc:
            raise HTTPError(500, f"the result cannot be encoded: {exc}") from None

    def _call(self, handler: Callable[[Any], Any], data: Any) -> Any:
        try:
            return handler(data)
        except HTTPError:
            raise
        except ProtocolError as exc:
            raise HTTPError(400, f"malformed data: {exc}") from None
        except TransportError as exc:
            logger.warning("%s could not reach its peer: %s", self.service_name, exc)
            raise HTTPError(502, f"a downstream service failed: {exc}") from None
        except Exception as exc:  # classified: the data's fault (422) or the component's (500)
            if is_input_error(exc, also=(LookupError, AttributeError)):
                # e.g. objects without the attributes the component reads: the client's data is wrong
                logger.warning("%s refused the data: %s: %s", self.service_name, type(exc).__name__, exc)
                raise HTTPError(422, f"the data was refused: {type(exc).__name__}: {exc}") from None
            logger.exception("%s failed on a request", self.service_name)
            raise HTTPError(500, f"the service failed: {type(exc).__name__}: {exc}") from None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the running server (``http://host:port``)."""
        if self._server is None:
            raise ProtocolError(f"{type(self).__name__} is not running; call start()")
        return self._server.url

    @property
    def is_running(self) -> bool:
        """Whether the server thread is alive."""
        return self._server is not None and self._server.is_running

    def start(self) -> MultiEdgeServer:
        """Start serving in a background thread (returns once bound).

        Returns
        -------
        MultiEdgeServer
            ``self``; :attr:`port` and :attr:`url` are set.

        Raises
        ------
        ParameterError
            If ``port`` is not a whole number from 0 to 65535 (``int()`` bound 3.7 as 3).
        TransportError
            If the port cannot be bound.
        """
        if self.is_running:
            return self
        self._started = time.monotonic()
        self._server = ThreadedServer(self.build_app(), host=self.ip, port=self.port,
                                      ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile,
                                      limits=self._limits()).start()
        self.port = self._server.port
        log_started(logger, f"{self.service_name} service", self._server.url, auth=bool(self.token),
                    bound=self._server.bound,
                    tls=bool(self.ssl_certfile), limits={"max request bytes": self.max_buffer_size})
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        server = self._server
        if server is not None:
            url = server.url
            if not server.stop():
                return  # stopped by another call, or held past the timeout (the server said so)
            self._server = None
            self.status_.metrics.stopped()
            log_stopped(logger, f"{self.service_name} service", url, seconds=time.monotonic() - self._started,
                        counts=self.stats.as_dict())

    def __enter__(self) -> MultiEdgeServer:
        """Start, and return the started object, for a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        """Stop at the end of the ``with`` block."""
        self.stop()

    def __repr__(self) -> str:
        """Return a short readable description."""
        return (f"{type(self).__name__}(service_name={self.service_name!r}, ip={self.ip!r}, "
                f"port={self.port!r})")


class DetectionServer(MultiEdgeServer):
    """The video-analytics (detector) service: receives enriched objects back from feature extraction."""

    ROUTES = {
        "video_analytics": ("POST", "_on_put", "json"),
        "update_service": ("POST", "_on_update", "json"),
    }


class FEServer(MultiEdgeServer):
    """The feature-extraction service: receives detections, answers target-feature requests."""

    ROUTES = {
        "feature_extraction": ("POST", "_on_put_wrapped", "json"),
        "update_service": ("POST", "_on_update", "json"),
        "get_target_features": ("POST", "_on_target_features", "body"),
    }


class ReIDServer(MultiEdgeServer):
    """The ReID service: receives features to match (calls the component's ``put``, not a missing method)."""

    ROUTES = {
        "reid": ("POST", "_on_put", "json"),
        "update_service": ("POST", "_on_update", "json"),
    }
