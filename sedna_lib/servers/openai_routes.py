"""OpenAI-compatible routes on the big-model server: a served language model answers any OpenAI client.

Mounted by :class:`~sedna_lib.servers.inference.InferenceServer` next to Sedna's routes:

- ``GET /v1/models``: the served model;
- ``POST /v1/chat/completions`` and ``POST /v1/completions``: the OpenAI bodies, answered in
  full or, with ``"stream": true``, as server-sent events ending in ``data: [DONE]``,
and the server's ``GET /metrics`` counts the tokens read and written
(``sedna_llm_served_tokens_total``) next to the requests per route.

The model is the server's model when it implements ``generate``/``count_tokens`` (the
``LanguageModel`` protocol), or one adapted from ``predict(prompt) -> text``. Every reply body
and event is strict JSON: a NaN or infinite number (a log-probability of ``-inf``) is sent as
``null``. Errors use the
OpenAI shape ``{"error": {"message", "type", "param", "code"}}``: a bad body 400, a missing
token 401, an unknown model 404, an oversized body 413, a model that cannot take the input 422.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Iterator

from ..exceptions import DataError
from ..transport import openai_wire as wire
from ..exceptions import ProtocolError
from ._app import HTTPError, check_token, is_input_error, parse_json, read_body, run_off_loop

__all__ = ["LLMServingStats", "add_openai_routes"]

logger = logging.getLogger(__name__)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          413: "invalid_request_error", 415: "invalid_request_error", 422: "invalid_request_error"}


class LLMServingStats:
    """Counters of the OpenAI-compatible routes (requests, streams, tokens)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {"requests": 0, "rejected": 0, "failed": 0, "streamed": 0, "prompt_tokens": 0,
                       "completion_tokens": 0}

    def add(self, **values: int) -> None:
        """Add to counters.

        Parameters
        ----------
        **values : int
            Counter increments by name.
        """
        with self._lock:
            for name, value in values.items():
                self.counts[name] += value

    def as_dict(self) -> dict[str, int]:
        """Return a copy of the counters.

        Returns
        -------
        dict
            The counters.
        """
        with self._lock:
            return dict(self.counts)


def _error(status: int, message: str, param: str | None = None) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": _TYPES.get(status, "server_error"),
                                   "param": param, "code": None}}, status_code=status)


_ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"}, "param": {"type": ["string", "null"]},
        "code": {}}}}}
_ERROR_TEXT = {400: "A body the OpenAI wire does not allow (the field is named in 'param'), or not JSON",
               401: "Missing or wrong bearer token",
               404: "The model does not generate text, or is another one",
               408: "The body was not received in time (SEDNA_HTTP_BODY_TIMEOUT)",
               413: "Body larger than SEDNA_MAX_REQUEST_BYTES", 415: "Not application/json",
               422: "The model cannot take this input", 500: "Generation failed"}


def _errors(*statuses: int) -> dict[int | str, Any]:
    return {status: {"description": _ERROR_TEXT[status],
                     "content": {"application/json": {"schema": _ERROR_SCHEMA}}} for status in statuses}


_GENERATION_RESPONSES: dict[int | str, Any] = {
    200: {"description": "The completion; with stream=true, server-sent events",
          "content": {"application/json": {"schema": {"type": "object"}},
                      "text/event-stream": {"schema": {"type": "string"}}}},
    **_errors(400, 401, 404, 408, 413, 415, 422, 500)}


def _reply(body: Any) -> Any:
    r"""Return a completion as a JSON response, strict and non-ASCII escaped as the stream's events are.

    A model's text that is not valid Unicode (a lone surrogate) is sent as its ``\udXXX``
    escape rather than failing the reply; a NaN or infinite number (a log-probability of
    ``-inf``) as ``null``.
    """
    from starlette.responses import Response

    return Response(wire.wire_json(body).encode("ascii"), media_type="application/json")


def _body(properties: dict[str, Any], required: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": [required], "properties": properties}}}}


def _language_model(target: Any) -> Any:
    """Return the served language model: the service's (``language_model``), else the target itself."""
    inner = getattr(target, "language_model", None)
    return wire.as_language_model(inner if inner is not None else target)


def _model_name(lm: Any) -> str:
    return str(getattr(lm, "name", None) or type(lm).__name__)


def add_openai_routes(app: Any, server: Any) -> LLMServingStats:
    """Mount the OpenAI-compatible routes on a FastAPI app.

    Parameters
    ----------
    app : fastapi.FastAPI
        The big-model server's app.
    server : InferenceServer
        Its server (``model``, ``token``, ``max_buffer_size`` are read at each request); the app
        keeps it (``app.state.openai_server``), the routes only reach it, so a dropped app lets
        the server and its model go.

    Returns
    -------
    LLMServingStats
        The counters the routes keep.
    """
    from starlette.requests import Request
    from starlette.responses import StreamingResponse

    stats = LLMServingStats()
    # FastAPI keeps each route's function for the life of the process: the routes hold a weak proxy
    app.state.openai_server = server
    server = weakref.proxy(server)

    def model_or_none() -> Any:
        try:
            return _language_model(server.model)
        except DataError:
            return None

    async def models(request: Request) -> Any:
        try:
            check_token(request, server.token)
        except HTTPError as exc:
            return _error(exc.status, exc.message)
        lm = model_or_none()
        data = [] if lm is None else [{"id": _model_name(lm), "object": "model", "created": 0,
                                       "owned_by": "sedna_lib"}]
        return {"object": "list", "data": data}

    def count_tokens(prompt_tokens: int, completion_tokens: int) -> None:
        stats.add(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        site = getattr(server, "status_", None)  # the server's Prometheus metrics (GET /metrics)
        if site is not None:
            served = site.metrics.counter("sedna_llm_served_tokens_total")
            served.labels(kind="prompt").inc(prompt_tokens)
            served.labels(kind="completion").inc(completion_tokens)

    def plan(req: wire.GenerationRequest, lm: Any) -> list[tuple[str, str, int | None]]:
        """(prompt, echoed prefix, seed) of each choice, in reply order."""
        prompts = [wire.format_chat(lm, req.messages)] if req.kind == "chat" else list(req.prompts)
        out = []
        for prompt in prompts:
            for j in range(req.n):
                seed = None if req.seed is None else req.seed + j
                out.append((prompt, prompt if req.echo else "", seed))
        return out

    def run_choice(lm: Any, req: wire.GenerationRequest, prompt: str, seed: int | None
                   ) -> Iterator[tuple[wire.TokenStep, str | None]]:
        return wire.run_generation(lm, prompt, max_tokens=req.max_tokens, temperature=req.temperature,
                                   top_p=req.top_p, seed=seed, top_logprobs=req.top_logprobs, stop=req.stop)

    def complete(lm: Any, req: wire.GenerationRequest) -> dict[str, Any]:
        choices = []
        prompt_tokens = completion_tokens = 0
        seen: set[str] = set()
        for prompt, prefix, seed in plan(req, lm):
            if prompt not in seen:
                seen.add(prompt)
                prompt_tokens += int(lm.count_tokens(prompt))
            steps, finish = [], "stop"
            for step, reason in run_choice(lm, req, prompt, seed):
                if step.text:
                    steps.append(step)
                finish = reason or finish
            completion_tokens += len(steps)
            choices.append((prefix, steps, finish))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        count_tokens(prompt_tokens, completion_tokens)
        common = dict(created=wire.now(), model=req.model or _model_name(lm), logprobs=req.logprobs,
                      top_logprobs=req.top_logprobs, usage=usage)
        if req.kind == "chat":
            return wire.chat_body(reply_id=wire.new_id("chatcmpl"), choices=[(s, f) for _, s, f in choices],
                                  **common)
        return wire.completion_body(reply_id=wire.new_id("cmpl"), choices=choices, **common)

    def events(lm: Any, req: wire.GenerationRequest, first_item: Any) -> Iterator[bytes]:
        """Yield the SSE body: a chunk per token, a closing chunk per choice, usage if asked, [DONE]."""
        reply_id = wire.new_id("chatcmpl" if req.kind == "chat" else "cmpl")
        common = dict(reply_id=reply_id, created=wire.now(), model=req.model or _model_name(lm),
                      logprobs=req.logprobs, top_logprobs=req.top_logprobs)
        chunk = wire.chat_chunk if req.kind == "chat" else wire.completion_chunk
        prompt_tokens = completion_tokens = 0
        seen: set[str] = set()
        try:
            for index, (prompt, prefix, seed) in enumerate(plan(req, lm)):
                if prompt not in seen:
                    seen.add(prompt)
                    prompt_tokens += int(lm.count_tokens(prompt))
                items = (first_item if index == 0 else run_choice(lm, req, prompt, seed))
                opening = True
                offset = 0
                if req.kind == "chat":
                    yield wire.sse_event(chunk(index=index, step=wire.TokenStep(""), finish_reason=None,
                                               first=True, **common))
                    opening = False
                elif prefix:
                    echoed = wire.completion_chunk(index=index, step=wire.TokenStep(prefix),
                                                   finish_reason=None, **{**common, "logprobs": False})
                    yield wire.sse_event(echoed)
                    offset = len(prefix)
                for step, reason in items:
                    if step.text:
                        completion_tokens += 1
                        extra = {"offset": offset} if req.kind != "chat" else {"first": opening}
                        yield wire.sse_event(chunk(index=index, step=step, finish_reason=reason, **extra,
                                                   **common))
                        offset += len(step.text)
                    elif reason is not None:
                        yield wire.sse_event(chunk(index=index, step=None, finish_reason=reason, **common))
            if req.include_usage:
                usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
                yield wire.sse_event(chunk(index=0, step=None, finish_reason=None, usage=usage, **common))
            yield wire.sse_event("[DONE]")
        except Exception as exc:  # the model failed mid-stream: the status is sent; say it in the stream
            logger.exception("generation failed while streaming")
            stats.add(failed=1)
            yield wire.sse_event({"error": {"message": f"generation failed: {type(exc).__name__}: {exc}",
                                            "type": "server_error", "param": None, "code": None}})
            return
        finally:
            count_tokens(prompt_tokens, completion_tokens)

    def first_of(lm: Any, req: wire.GenerationRequest) -> Iterator[Any]:
        """Start the first choice and take its first token, so an early failure still gets a status."""
        prompt, _, seed = plan(req, lm)[0]
        iterator = run_choice(lm, req, prompt, seed)
        head = next(iterator)

        def chained() -> Iterator[Any]:
            yield head
            yield from iterator

        return chained()

    def make_handler(kind: str) -> Any:
        parse = wire.parse_chat_request if kind == "chat" else wire.parse_completion_request

        async def handler(request: Request) -> Any:
            try:
                check_token(request, server.token)
                limits = server._limits()
                body = await read_body(request, limits.max_request_bytes, timeout=limits.body_timeout)
                ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
                if ctype not in ("application/json", "") and not ctype.endswith("+json"):
                    raise HTTPError(415, f"unsupported Content-Type {ctype!r}; send application/json")
                try:
                    payload = parse_json(body)
                except ProtocolError as exc:
                    raise HTTPError(400, str(exc)) from None
                req = parse(payload)
                lm = model_or_none()
                if lm is None:
                    raise HTTPError(404, f"this service's model ({type(server.model).__name__}) does not "
                                         f"generate text; serve a language model (generate/count_tokens) or "
                                         f"an estimator with predict(prompt) -> text")
                served = _model_name(lm)
                if req.model and req.model != served:
                    raise HTTPError(404, f"the model {req.model!r} does not exist here; this server serves "
                                         f"{served!r} (set the client's model to it, or leave it empty)")
            except wire.RequestError as exc:
                stats.add(requests=1, rejected=1)
                server.stats.count("rejected")
                return _error(400, str(exc), exc.param)
            except HTTPError as exc:
                stats.add(requests=1, rejected=1)
                server.stats.count("rejected")
                return _error(exc.status, exc.message)
            stats.add(requests=1)
            try:
                if req.stream:
                    head = await run_off_loop(first_of, lm, req)
                    stats.add(streamed=1)
                    server.stats.count("ok")
                    return StreamingResponse(events(lm, req, head), media_type="text/event-stream",
                                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
                reply = await run_off_loop(complete, lm, req)
            except Exception as exc:  # the model's own failure: answered, counted; the server keeps serving
                if is_input_error(exc):
                    stats.add(rejected=1)
                    server.stats.count("rejected")
                    return _error(422, f"the model cannot take this input: {type(exc).__name__}: {exc}")
                logger.exception("generation failed on %s", request.url.path)
                stats.add(failed=1)
                server.stats.count("failed")
                return _error(500, f"generation failed: {type(exc).__name__}: {exc}")
            server.stats.count("ok")
            return _reply(reply)

        handler.__annotations__["request"] = Request
        return handler

    models.__annotations__["request"] = Request
    app.add_api_route("/v1/models", models, methods=["GET"], summary="The served language model",
                      responses={200: {"description": "The served model (none when the model does not "
                                                      "generate text)",
                                       "content": {"application/json": {"schema": {"type": "object"}}}},
                                 **_errors(401)})
    app.add_api_route("/v1/chat/completions", make_handler("chat"), methods=["POST"],
                      summary="OpenAI-compatible chat completion (SSE with stream=true)",
                      responses=_GENERATION_RESPONSES,
                      openapi_extra={"requestBody": _body({"messages": {
                          "type": "array", "minItems": 1, "items": {
                              "type": "object", "required": ["role"],
                              "properties": {"role": {"enum": sorted(wire.ROLES)}}}}}, "messages")})
    app.add_api_route("/v1/completions", make_handler("completion"), methods=["POST"],
                      summary="OpenAI-compatible text completion (SSE with stream=true)",
                      responses=_GENERATION_RESPONSES,
                      openapi_extra={"requestBody": _body({"prompt": {
                          "oneOf": [{"type": "string"},
                                    {"type": "array", "minItems": 1, "items": {"type": "string"}}]}},
                          "prompt")})
    return stats
