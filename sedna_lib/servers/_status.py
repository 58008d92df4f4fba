"""Give a FastAPI server the common face: /metrics, /healthz, /readyz, the status page, local API docs.

:func:`mount_status` adds the routes of a :class:`~sedna_lib.observability.status.StatusSite`
and an ASGI middleware that counts every request by route template, method and status and times
it. The interactive API docs (``/docs``, ``/redoc``) load their script and style from this server
(the files of the ``fastapi-offline`` package), never from a CDN, so they work on an offline edge.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from ..observability.status import StatusSite
from ._app import guard_stop

__all__ = ["mount_status", "RequestMetrics", "STATUS_PATHS", "HTTP_METHODS"]

STATUS_PATHS = ("/", "/metrics", "/healthz", "/readyz", "/status/series")
"""The paths every server answers the same way (plus ``/status/assets/...``)."""

_DOC_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
               "swagger-ui.css": "text/css; charset=utf-8",
               "redoc.standalone.js": "text/javascript; charset=utf-8",
               "favicon.png": "image/png"}

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
"""The methods counted under their own name; any other is counted as ``OTHER``."""


class RequestMetrics:
    """ASGI middleware: ``sedna_http_requests_total`` and ``sedna_http_request_duration_seconds``.

    The ``route`` label is the matched route's template (``/{name}/predict`` style paths stay one
    series); a request no route matched is counted under ``route="unmatched"``. The ``method``
    label is one of :data:`HTTP_METHODS`, or ``OTHER`` for any method a client made up, so a
    client cannot add series by sending new method names.

    The ``status`` label is the status the client was answered with. The app it wraps runs under
    :func:`~sedna_lib.servers._app.guard_stop`, so a request the stopping server cancels before
    its answer started (in the model, its body still arriving, an await in the app) is answered
    with a JSON 503, and counted as the ``503`` it was sent, whichever ASGI server runs the app
    (:class:`~sedna_lib.servers._threaded.ThreadedServer`, or uvicorn run by hand). A request
    that ends without an answer otherwise (an exception) is counted as ``500``.

    Parameters
    ----------
    app : ASGI application
        The wrapped app.
    site : StatusSite
        Whose metrics count the requests.
    """

    def __init__(self, app: Any, site: StatusSite) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve the request and count it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, counted = [500], [False]

        def count() -> None:
            # Counted once, before the answer's last part goes out: a client holding its whole
            # answer finds it in the metrics already.
            if counted[0]:
                return
            counted[0] = True
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            if method not in HTTP_METHODS:
                method = "OTHER"
            metrics = self.site.metrics
            metrics.counter("sedna_http_requests_total").labels(
                route=route, method=method, status=str(status[0])).inc()
            metrics.histogram("sedna_http_request_duration_seconds").labels(
                route=route, method=method).observe(time.perf_counter() - start)

        async def send_and_watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                count()
            await send(message)

        try:
            await guard_stop(self.app, scope, receive, send_and_watch)
        finally:
            count()


def _doc_asset(name: str) -> bytes | None:
    if name not in _DOC_ASSETS:
        return None
    try:
        return resources.files("fastapi_offline").joinpath(f"static/{name}").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def mount_status(app: Any, site: StatusSite, *, docs: bool = True) -> Any:
    """Add the status routes, the request metrics and CDN-free API docs to a Starlette or FastAPI app.

    The routes go first, so a catch-all route of the app (``/{name}``) does not shadow them;
    routes the app already has on the same paths (an older ``/healthz``, FastAPI's own ``/docs``)
    are replaced.

    Parameters
    ----------
    app : starlette.applications.Starlette or fastapi.FastAPI
        The server's app.
    site : StatusSite
        The server's status site.
    docs : bool, default=True
        Serve ``/docs`` (Swagger UI) and ``/redoc`` from local files when the app has an OpenAPI schema.

    Returns
    -------
    app
        ``app``.
    """
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    openapi_url = getattr(app, "openapi_url", None)
    has_docs = docs and openapi_url is not None
    taken = set(STATUS_PATHS) | ({"/docs", "/redoc"} if has_docs else set())
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in taken]

    def reply(path: str) -> Any:
        answer = site.handle(path)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type,
                        headers={"Cache-Control": "no-store"})

    def make(path: str) -> Any:
        async def endpoint(request: Any) -> Any:
            return reply(path)
        return endpoint

    async def asset(request: Any) -> Any:
        return reply(f"/status/assets/{request.path_params['name']}")

    routes = [Route(path, make(path), methods=["GET"]) for path in STATUS_PATHS]
    routes.append(Route("/status/assets/{name}", asset, methods=["GET"]))

    if has_docs:
        from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

        async def doc_asset(request: Any) -> Any:
            name = request.path_params["name"]
            data = _doc_asset(name)
            if data is None:
                detail = f"no documentation asset {name!r} (pip install fastapi-offline ships them)"
                return JSONResponse({"detail": detail}, status_code=404)
            return Response(data, media_type=_DOC_ASSETS[name], headers={"Cache-Control": "max-age=86400"})

        async def swagger(request: Any) -> Any:
            root = request.scope.get("root_path", "")
            return get_swagger_ui_html(openapi_url=root + openapi_url, title=f"{app.title} - API",
                                       swagger_js_url=root + "/docs/assets/swagger-ui-bundle.js",
                                       swagger_css_url=root + "/docs/assets/swagger-ui.css",
                                       swagger_favicon_url=root + "/docs/assets/favicon.png")

        async def redoc(request: Any) -> Any:
            root = request.scope.get("root_path", "")
            return get_redoc_html(openapi_url=root + openapi_url, title=f"{app.title} - API",
                                  redoc_js_url=root + "/docs/assets/redoc.standalone.js",
                                  redoc_favicon_url=root + "/docs/assets/favicon.png",
                                  with_google_fonts=False)

        routes += [Route("/docs/assets/{name}", doc_asset, methods=["GET"]),
                   Route("/docs", swagger, methods=["GET"]), Route("/redoc", redoc, methods=["GET"])]
        site.links.setdefault("API (Swagger UI)", "docs")
    app.router.routes[:0] = routes
    app.add_middleware(RequestMetrics, site=site)
    return app
