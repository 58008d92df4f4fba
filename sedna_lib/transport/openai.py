"""Client of an OpenAI-compatible cloud (vLLM, llama.cpp, Ollama, a hosted API, or sedna_lib's own server)."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from .._json import loads as json_loads
from ..config import redact_text, redact_uri
from ..exceptions import DataError, ProtocolError, RemoteError, TransportError, TransportTimeout
from .http import CloudReply, InferenceClient
from ._numbers import is_int
from ._requests import check_retries
from .openai_wire import (Generation, generation_from_reply, iter_sse, messages_of, reply_list,
                          reply_logprobs, reply_object, reply_text, reply_usage)

__all__ = ["OpenAIClient"]

_ROUTES = {"chat": "chat/completions", "completion": "completions"}


def _error_detail(reply: Any) -> str:
    try:
        body = json_loads(reply.content)
    except ValueError:
        return reply.text[:500]
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return str(error.get("message", error))[:500]
        if "detail" in body:
            return str(body["detail"])[:500]
    return str(body)[:500]


def _as_query(messages: Any) -> Any:
    return messages if isinstance(messages, str) else {"messages": messages}


def _choices_asked(body: Mapping[str, Any]) -> int:
    """Return how many choices a request asks for (``n``; 1 when it does not say, or says it wrongly)."""
    n = body.get("n")
    return n if is_int(n) and n >= 1 else 1


def _ended_choices(chunk: Any) -> set[int]:
    """Return the choices a streamed chunk ends (those with a ``finish_reason``)."""
    choices = chunk.get("choices") if isinstance(chunk, Mapping) else None
    if not isinstance(choices, list):
        return set()
    return {c["index"] for c in choices if isinstance(c, Mapping) and c.get("finish_reason")
            and is_int(c.get("index"))}


def _timed_out(exc: BaseException) -> bool:
    """Tell whether a failed read timed out (requests wraps a stream's read timeout in a ConnectionError)."""
    import requests
    import urllib3

    kinds = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    todo, seen = [exc], set()
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, kinds):
            return True
        todo.extend(e for e in (*err.args, err.__cause__, err.__context__) if isinstance(e, BaseException))
    return False


class OpenAIClient(InferenceClient):
    """Talk to any server of ``/v1/chat/completions`` and ``/v1/completions``, as a joint-inference cloud.

    It keeps the joint-inference client's behaviour: one keep-alive session per thread,
    connect/read timeouts, bounded retries of refused connections and 502/503/504, and the
    circuit breaker, so ``JointInference(cloud=OpenAIClient(...))`` answers from the edge at once
    while the cloud is away and queues the hard examples for later. ``predict(query)`` returns a
    :class:`~sedna_lib.transport.openai_wire.Generation`; :meth:`stream_chat` and
    :meth:`stream_completion` pass the server-sent events through as they arrive.

    Parameters
    ----------
    base_url : str
        The API root, ``http://host:port/v1``.
    model : str, default=''
        The model to ask for (left out of the request when empty).
    api_key : str, default=None
        Sent as ``Authorization: Bearer <key>`` (``OPENAI_API_KEY`` through :meth:`from_config`).
    route : {'chat', 'completion'}, default='chat'
        Which route :meth:`predict` uses.
    max_tokens : int, default=256
        Default answer length.
    temperature : float, default=0.0
        Default sampling temperature.
    top_logprobs : int, default=0
        Ask for per-token log-probabilities and this many alternatives (0: none asked).
    stream : bool, default=False
        Let :meth:`predict` read the answer as a stream (measures the time to first token).
    timeout : float or (float, float), default=(3.0, 60.0)
        Connect and read timeouts (s); generation takes longer than a classifier's reply.
    max_retries : int, default=2
        Retries after a refused connection or a 502/503/504.
    backoff : float, default=0.05
        First retry delay (s), doubled each retry.
    failure_threshold : int, default=1
        Consecutive failures that open the circuit breaker.
    reset_timeout : float, default=5.0
        Seconds before a trial call once the breaker is open.
    verify : bool or str, default=True
        TLS verification (a CA bundle path, or False).

    Examples
    --------
    >>> client = OpenAIClient("http://127.0.0.1:8000/v1", model="qwen2.5-7b")
    >>> client.endpoint
    'http://127.0.0.1:8000/v1'
    """

    def __init__(self, base_url: str, *, model: str = "", api_key: str | None = None, route: str = "chat",
                 max_tokens: int = 256, temperature: float = 0.0, top_logprobs: int = 0, stream: bool = False,
                 timeout: float | tuple[float, float] = (3.0, 60.0), max_retries: int = 2,
                 backoff: float = 0.05,
                 failure_threshold: int = 1, reset_timeout: float = 5.0, verify: bool | str = True) -> None:
        super().__init__(base_url, service_name="openai", fallback_service=None, timeout=timeout,
                         max_retries=max_retries, backoff=backoff, wire="json", auth_token=api_key,
                         failure_threshold=failure_threshold, reset_timeout=reset_timeout, verify=verify)
        self.model = model
        self.route = route
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_logprobs = top_logprobs
        self.stream = stream

    @classmethod
    def from_config(cls, config: Any, *, url: str | None = None, service_name: str | None = None,
                    **overrides: Any) -> OpenAIClient:
        """Build a client from a :class:`~sedna_lib.config.Config`.

        The API root is ``SEDNA_LLM_BASE_URL``, else ``http(s)://BIG_MODEL_IP:BIG_MODEL_PORT/v1``
        (a sedna_lib big-model server); the key is ``OPENAI_API_KEY``, else ``SEDNA_AUTH_TOKEN``.

        Parameters
        ----------
        config : Config
            The configuration.
        url : str, default=None
            The API root, overriding the configuration.
        service_name : str, default=None
            Ignored (the OpenAI routes have no service segment); accepted for symmetry.
        **overrides : object
            Other constructor arguments.

        Returns
        -------
        OpenAIClient
            The client.
        """
        if url is None:
            url = config.llm_base_url
        if not url:
            host = config.big_model_ip
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"
            url = f"{'https' if config.tls_ca else 'http'}://{host}:{config.big_model_port}/v1"
        params: dict[str, Any] = dict(
            model=config.llm_model, api_key=config.llm_api_key or config.auth_token,
            max_tokens=config.llm_max_tokens, stream=config.llm_stream,
            timeout=(config.connect_timeout_s, config.llm_timeout), max_retries=config.max_retries,
            verify=config.tls_ca or True)
        params.update(overrides)
        return cls(url, **params)

    @property
    def endpoint(self) -> str:
        """The API root (``http://host:port/v1``)."""
        return self.url

    # -- requests ------------------------------------------------------------------------------
    def _body(self, kind: str, query: Any, options: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        """Return the request body of ``query`` for route ``kind``, and the prompt text it carries."""
        body: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.model:
            body["model"] = self.model
        if self.top_logprobs and kind == "chat":
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        elif self.top_logprobs:
            body["logprobs"] = min(int(self.top_logprobs), 5)
        messages = messages_of(query)
        if isinstance(query, str):
            prompt = query
        elif isinstance(query, Mapping) and isinstance(query.get("prompt"), str):
            prompt = query["prompt"]
        elif messages is not None:
            prompt = "\n".join(str(m.get("content", "")) for m in messages)
        else:
            raise DataError(f"a language-model query is a string, {{'prompt': ...}} or "
                            f"{{'messages': [...]}}; got {type(query).__name__}: {str(query)[:80]}")
        if kind == "chat":
            body["messages"] = messages if messages is not None else [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        body.update(options)
        return body, prompt

    def _post(self, path: str, body: Mapping[str, Any], read: Callable[[Any, str], Any] | None = None) -> Any:
        """POST ``body``; return the decoded reply, or what ``read(reply, url)`` makes of it.

        ``read`` runs under the circuit breaker: a reply it finds malformed (``ProtocolError``)
        counts as a failure of the peer, as a reply that is not JSON does.
        """
        url = f"{self.url}/{path}"
        shown = redact_uri(url)  # what the errors show: the password and query values hidden

        def call() -> Any:
            reply = self._send("POST", url, json=dict(body))
            if reply.status_code >= 400:
                raise RemoteError(f"{shown} answered {reply.status_code}: "
                                  f"{redact_text(_error_detail(reply), url)}", url=shown,
                                  status_code=reply.status_code)
            try:
                decoded = json_loads(reply.content)
            except ValueError:
                raise ProtocolError(f"{shown}: the reply is not JSON: {reply.text[:200]!r}",
                                    url=shown) from None
            return decoded if read is None else read(decoded, shown)

        return self._guarded(call)

    def _stream(self, path: str, body: Mapping[str, Any]) -> Generator[Any, None, None]:
        """POST with ``stream: true``; yield each event's payload as it arrives.

        The stream is complete when the server sends ``[DONE]``, or when every choice asked for
        (``n``) has ended with a ``finish_reason``; one that stops before is cut short, a
        ``TransportError``. The breaker counts a complete stream as a success, and a stream that
        stalls (``TransportTimeout``), breaks off, is cut short or malformed as a failure.
        """
        import requests

        url = f"{self.url}/{path}"
        shown = redact_uri(url)  # what the errors show: the password and query values hidden
        connect, read = self._timeouts()  # checked before the breaker: a trial is never left claimed
        max_retries, backoff = check_retries(self.max_retries, self.backoff)
        if not self.breaker.allow():
            endpoint = redact_uri(self.endpoint)
            raise TransportError(f"{endpoint} is unavailable (circuit open after failures; next try in "
                                 f"at most {self.breaker.reset_timeout} s)", url=endpoint)
        session = self._get_session()
        attempt = 0
        while True:
            try:
                response = session.post(url, json={**body, "stream": True}, timeout=(connect, read),
                                        stream=True, headers={"Accept": "text/event-stream"})
            except requests.exceptions.Timeout:  # its text may repeat the URL's query: not chained
                self.breaker.record_failure()
                raise TransportTimeout(f"POST {shown}: no answer within {read} s", url=shown) from None
            except requests.exceptions.ConnectionError as exc:
                if attempt < max_retries:  # a refused connection: bounded retries, as for a whole reply
                    time.sleep(backoff * 2 ** attempt)
                    attempt += 1
                    continue
                self.breaker.record_failure()
                raise TransportError(f"POST {shown}: cannot connect ({type(exc).__name__}: "
                                     f"{redact_text(str(exc), url)})", url=shown) from None
            except requests.exceptions.RequestException as exc:
                self.breaker.record_failure()
                raise TransportError(f"POST {shown}: cannot connect ({type(exc).__name__}: "
                                     f"{redact_text(str(exc), url)})", url=shown) from None
            except BaseException:
                self.breaker.release()  # nothing was learnt of the peer; a trial must not stay claimed
                raise
            if response.status_code in (502, 503, 504) and attempt < max_retries:
                response.close()
                time.sleep(backoff * 2 ** attempt)
                attempt += 1
                continue
            break
        with response:
            if response.status_code >= 400:
                if response.status_code in (502, 503, 504):
                    self.breaker.record_failure()
                else:
                    self.breaker.record_success()
                raise RemoteError(f"{shown} answered {response.status_code}: "
                                  f"{redact_text(_error_detail(response), url)}",
                                  url=shown, status_code=response.status_code)
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                self.breaker.record_failure()
                raise ProtocolError(f"{shown}: asked for a stream, got {ctype or 'no Content-Type'}",
                                    url=shown)
            events = iter_sse(response.iter_lines(), url=shown)
            asked = _choices_asked(body)
            ended: set[int] = set()
            received = False
            try:
                while True:
                    try:
                        payload = next(events)
                    except StopIteration as stop:
                        done = bool(stop.value)
                        break
                    received = True
                    ended |= _ended_choices(payload)
                    yield payload
            except GeneratorExit:  # the caller stopped reading
                if received:
                    self.breaker.record_success()  # the peer was answering
                else:
                    self.breaker.release()
                raise
            except ProtocolError:
                self.breaker.record_failure()
                raise
            except (requests.exceptions.RequestException, OSError) as exc:
                self.breaker.record_failure()
                if _timed_out(exc):
                    raise TransportTimeout(f"POST {shown}: the stream stalled for {read} s",
                                           url=shown) from exc
                raise TransportError(f"POST {shown}: the stream broke off ({type(exc).__name__})",
                                     url=shown) from exc
            except BaseException:
                self.breaker.release()
                raise
            missing = sorted(set(range(asked)) - ended)
            if not done and missing:
                self.breaker.record_failure()
                raise TransportError(f"POST {shown}: the stream ended before its end (no [DONE], and no "
                                     f"finish_reason for choice {', '.join(map(str, missing[:5]))}); the "
                                     f"answer is incomplete", url=shown)
            self.breaker.record_success()

    # -- API -----------------------------------------------------------------------------------
    def chat(self, messages: Any, **options: Any) -> dict[str, Any]:
        """``POST /chat/completions``: return the reply body.

        Parameters
        ----------
        messages : str or list of dict
            The messages (a string is one user message).
        **options : object
            Request fields (``max_tokens``, ``temperature``, ``n``, ``logprobs``, ...).

        Returns
        -------
        dict
            The ``chat.completion`` reply.

        Raises
        ------
        TransportError
            If the server cannot be reached (``TransportTimeout`` past the timeouts,
            ``RemoteError`` on an error status, ``ProtocolError`` on a malformed reply).
        """
        body, _ = self._body("chat", _as_query(messages), options)
        return self._post(_ROUTES["chat"], body)

    def completion(self, prompt: str, **options: Any) -> dict[str, Any]:
        """``POST /completions``: return the reply body.

        Parameters
        ----------
        prompt : str
            The prompt.
        **options : object
            Request fields.

        Returns
        -------
        dict
            The ``text_completion`` reply.

        Raises
        ------
        TransportError
            As :meth:`chat`.
        """
        body, _ = self._body("completion", prompt, options)
        return self._post(_ROUTES["completion"], body)

    def stream_chat(self, messages: Any, **options: Any) -> Iterator[dict[str, Any]]:
        """``POST /chat/completions`` with ``stream: true``: yield the chunks as the server sends them.

        Parameters
        ----------
        messages : str or list of dict
            The messages.
        **options : object
            Request fields (``stream_options={"include_usage": True}`` adds a usage chunk).

        Yields
        ------
        dict
            Each ``chat.completion.chunk``.

        Raises
        ------
        TransportError
            As :meth:`chat`; also if the stream stalls or breaks off.
        """
        body, _ = self._body("chat", _as_query(messages), options)
        return self._stream(_ROUTES["chat"], body)

    def stream_completion(self, prompt: str, **options: Any) -> Iterator[dict[str, Any]]:
        """``POST /completions`` with ``stream: true``: yield the chunks as the server sends them.

        Parameters
        ----------
        prompt : str
            The prompt.
        **options : object
            Request fields.

        Yields
        ------
        dict
            Each streamed ``text_completion`` chunk.

        Raises
        ------
        TransportError
            As :meth:`chat`.
        """
        body, _ = self._body("completion", prompt, options)
        return self._stream(_ROUTES["completion"], body)

    def models(self) -> list[str]:
        """``GET /models``: the ids the server serves.

        Returns
        -------
        list of str
            The model ids.

        Raises
        ------
        TransportError
            As :meth:`chat`.
        """
        url = f"{self.url}/models"
        shown = redact_uri(url)
        reply = reply_object(self._get_json(url), "the reply", url=shown)
        ids = []
        for i, model in enumerate(reply_list(reply.get("data") or [], "data", url=shown)):
            ids.append(str(reply_object(model, f"data[{i}]", url=shown).get("id")))
        return ids

    def check_server_status(self) -> dict[str, Any]:
        """``GET /models``, as the joint-inference client checks its cloud.

        Returns
        -------
        dict
            The decoded reply.
        """
        return self._get_json(f"{self.url}/models")

    def predict(self, data: Any, *, callback: str | None = None, **fields: Any) -> Generation:
        """Answer one joint-inference query in the cloud.

        Parameters
        ----------
        data : str or dict or list
            The query: a prompt, ``{"prompt": ..., "reference": ...}`` or chat messages.
        callback : str, default=None
            Not sent (an OpenAI server applies no callbacks); the edge applies it.
        **fields : object
            Extra request fields.

        Returns
        -------
        Generation
            The answer (``source='cloud'``), its token counts and timings.

        Raises
        ------
        TransportError
            If the cloud cannot be reached or refuses (the joint-inference job queues or
            dead-letters the query accordingly).
        DataError
            If the query is not a prompt or messages.
        """
        kind = self.route if self.route in _ROUTES else "chat"
        body, prompt = self._body(kind, data, fields)
        reference = data.get("reference") if isinstance(data, Mapping) else None
        start = time.perf_counter()
        if not self.stream:
            generation = self._post(_ROUTES[kind], body,
                                    lambda reply, url: generation_from_reply(reply, prompt=prompt, url=url))
            generation.latency_s = generation.ttft_s = time.perf_counter() - start
        else:
            generation = self._collect(kind, body, prompt, start)
        generation.reference = reference
        return generation

    def _collect(self, kind: str, body: dict[str, Any], prompt: str, start: float) -> Generation:
        """Read a streamed answer into a generation, timing its tokens.

        A chunk that breaks the OpenAI shape (a choice ``index`` outside ``0 .. n - 1``, a delta
        that is not an object, a usage count that is not a non-negative integer, ...) is a
        ``ProtocolError`` and a failure for the breaker; a stream cut short is a ``TransportError``.
        """
        body = {**body, "stream_options": {"include_usage": True}}
        url = redact_uri(f"{self.url}/{_ROUTES[kind]}")  # named in the errors only
        asked = _choices_asked(body)
        texts: dict[int, list[str]] = {}
        tokens: list[str] = []
        lps: list[float] = []
        tops: list[dict[str, float]] = []
        times: list[float] = []
        usage: dict[str, int] = {}
        finish, model = "stop", ""
        events = self._stream(_ROUTES[kind], body)
        for chunk in events:
            try:
                chunk = reply_object(chunk, "a chunk", url=url)
                model = reply_text(chunk.get("model"), "chunk.model", url=url) or model
                usage = reply_usage(chunk.get("usage"), where="chunk.usage", url=url) or usage
                for i, choice in enumerate(reply_list(chunk.get("choices"), "chunk.choices", url=url)):
                    at = f"chunk.choices[{i}]"
                    choice = reply_object(choice, at, url=url)
                    index = choice.get("index", 0)
                    if not is_int(index) or not 0 <= index < asked:
                        raise ProtocolError(f"{url}: malformed reply: {at}.index must be an integer from 0 "
                                            f"to {asked - 1} (n={asked}), got {str(index)[:40]}", url=url)
                    if kind == "chat":
                        delta = choice.get("delta")
                        delta = {} if delta is None else reply_object(delta, f"{at}.delta", url=url)
                        piece = reply_text(delta.get("content"), f"{at}.delta.content", url=url)
                    else:
                        piece = reply_text(choice.get("text"), f"{at}.text", url=url)
                    ended = reply_text(choice.get("finish_reason"), f"{at}.finish_reason", url=url)
                    if index == 0:  # only the answer's log-probabilities are kept, so only they are read
                        one = reply_logprobs(choice.get("logprobs"), where=f"{at}.logprobs", url=url)
                        tokens.extend(one[0])
                        lps.extend(one[1])
                        tops.extend(one[2])
                        finish = ended or finish
                    if piece:
                        texts.setdefault(index, []).append(piece)
                        if index == 0:
                            times.append(time.perf_counter())
            except ProtocolError as exc:
                # into the stream, at the chunk it yielded: it counts the peer's failure once (closing it
                # instead counted a success first, which cleared the failures before)
                events.throw(exc)
                raise
        end = time.perf_counter()
        answers = ["".join(texts.get(i, [])) for i in range(max(texts, default=0) + 1)]
        return Generation(text=answers[0], tokens=tokens, token_logprobs=lps, top_logprobs=tops,
                          samples=answers[1:], prompt=prompt, finish_reason=finish,
                          prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens") or len(times),
                          model=model,
                          source="cloud", ttft_s=(times[0] - start) if times else None,
                          itl_s=(times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None,
                          latency_s=end - start)

    def predict_reply(self, data: Any, *, callback: str | None = None, **fields: Any) -> CloudReply:
        """Answer one query; the reply says no callback was applied (the edge applies it).

        Parameters
        ----------
        data : object
            The query.
        callback : str, default=None
            Not sent.
        **fields : object
            Extra request fields.

        Returns
        -------
        CloudReply
            ``(generation, False)``.
        """
        return CloudReply(self.predict(data, **fields), False)

    def inference(self, x: Any, **kwargs: Any) -> dict[str, Any]:
        """Sedna's ``ModelClient.inference`` face: ``{"result": generation}``.

        Parameters
        ----------
        x : object
            The query.
        **kwargs : object
            ``post_process``/``callback`` are ignored (applied at the edge).

        Returns
        -------
        dict
            ``{"result": Generation}``.
        """
        kwargs.pop("post_process", None)
        kwargs.pop("callback", None)
        return {"result": self.predict(x, **kwargs)}
