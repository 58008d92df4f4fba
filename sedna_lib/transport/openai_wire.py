r"""The OpenAI-compatible wire: generations, the language-model protocol, request checks, replies, SSE.

What a language model gives is a :class:`Generation` (text, per-token log-probabilities, the
top alternatives, timing, token counts). A model is served, and run at the edge, through the
small :class:`LanguageModel` protocol: ``generate(prompt, ...)`` yields :class:`TokenStep` items
and ``count_tokens(text)`` counts. Anything with ``predict(prompt) -> text`` is adapted by
:func:`as_language_model`.

The bodies follow the OpenAI API (``/v1/chat/completions``, ``/v1/completions``): vLLM,
llama.cpp, Ollama and hosted APIs speak it, and so does sedna_lib's own big-model server.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
import time
import uuid
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .._json import loads as json_loads
from ..base import check_count, check_number
from ..exceptions import DataError, ParameterError, ProtocolError
from ._numbers import is_int, is_number

__all__ = [
    "Generation",
    "TokenStep",
    "LanguageModel",
    "GenerationRequest",
    "as_language_model",
    "rng_seed",
    "check_generation_options",
    "messages_of",
    "format_chat",
    "parse_chat_request",
    "parse_completion_request",
    "run_generation",
    "chat_body",
    "completion_body",
    "chat_chunk",
    "completion_chunk",
    "sse_event",
    "wire_json",
    "iter_sse",
    "generation_from_reply",
    "reply_list",
    "reply_logprobs",
    "reply_object",
    "reply_text",
    "reply_usage",
    "RequestError",
]

MAX_N = 16
MAX_TOP_LOGPROBS = 20
MAX_CHOICES = 64
"""Most choices one completions request may ask for: prompts in ``prompt`` times ``n``."""
MAX_STOPS = 4
MAX_STOP_CHARS = 128
"""Longest stop sequence, in characters: each generated token is checked against every stop's prefixes."""
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


class TokenStep(NamedTuple):
    """One generated token.

    Attributes
    ----------
    text : str
        The token's text (with its leading space, so the texts concatenate to the answer).
    logprob : float or None
        Natural-log probability the model gave it (None when the model does not say).
    top_logprobs : dict of str to float or None
        The most likely alternatives at this position and their log-probabilities.
    entropy : float or None
        Entropy (nats) of the model's distribution at this position, when it knows it.
    """

    text: str
    logprob: float | None = None
    top_logprobs: dict[str, float] | None = None
    entropy: float | None = None


@dataclasses.dataclass
class Generation:
    """What a language model answered to one query, and what it cost.

    Routers read ``token_logprobs``, ``top_logprobs``, ``entropies`` and ``samples``; the
    metrics read the token counts and the timings.

    Attributes
    ----------
    text : str
        The answer.
    tokens : list of str
        Its tokens.
    token_logprobs : list of float
        Log-probability of each token (empty when the model does not give them).
    top_logprobs : list of dict
        The alternatives at each position (``{token: logprob}``; empty dicts when not asked).
    entropies : list of float or None
        Entropy at each position, when the model knows its whole distribution.
    samples : list of str
        Extra answers sampled for self-consistency (``n - 1`` choices).
    prompt : str or None
        The prompt as the model saw it.
    finish_reason : str
        ``'stop'`` or ``'length'``.
    prompt_tokens, completion_tokens : int
        Token counts (``usage``).
    model : str
        The model's name.
    source : str
        ``'edge'``, ``'cloud'`` or ``'cache'``.
    ttft_s : float or None
        Seconds from the request to the first token.
    itl_s : float or None
        Mean seconds between tokens after the first.
    latency_s : float or None
        Seconds from the request to the last token.
    reference : object
        The right answer, when the query carried one (for experiments and the oracle).
    """

    text: str = ""
    tokens: list[str] = dataclasses.field(default_factory=list)
    token_logprobs: list[float] = dataclasses.field(default_factory=list)
    top_logprobs: list[dict[str, float]] = dataclasses.field(default_factory=list)
    entropies: list[float] | None = None
    samples: list[str] = dataclasses.field(default_factory=list)
    prompt: str | None = None
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    source: str = "edge"
    ttft_s: float | None = None
    itl_s: float | None = None
    latency_s: float | None = None
    reference: Any = None

    def __str__(self) -> str:
        """Return the answer text."""
        return self.text

    def to_dict(self) -> dict[str, Any]:
        """Return the generation as a JSON-able dict.

        Returns
        -------
        dict
            Every field.
        """
        return dataclasses.asdict(self)


@runtime_checkable
class LanguageModel(Protocol):
    """What a language model implements to be run at the edge and served on the OpenAI routes.

    ``format_chat(messages) -> str`` is optional (a plain ``role: content`` template is used
    without it), as is a ``name`` attribute (the model's id on ``/v1/models``).
    """

    def generate(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, top_logprobs: int = 0) -> Iterator[TokenStep]:
        """Yield the tokens that follow ``prompt``, one at a time, until done or ``max_tokens``."""

    def count_tokens(self, text: str) -> int:
        """Return how many tokens ``text`` is to this model."""


class _PredictModel:
    """Adapt an estimator with ``predict(prompt) -> text`` to :class:`LanguageModel` (no logprobs)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.name = getattr(estimator, "name", type(estimator).__name__)

    def generate(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, top_logprobs: int = 0) -> Iterator[TokenStep]:
        out = self.estimator.predict(prompt)
        if isinstance(out, (list, tuple)) and len(out) == 1:
            out = out[0]
        text = out.text if isinstance(out, Generation) else str(out)
        for i, word in enumerate(re.findall(r"\s*\S+", text)[:max_tokens]):
            yield TokenStep(word if i else word.lstrip())

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def as_language_model(model: Any) -> Any:
    """Return ``model`` as a :class:`LanguageModel`: as is, or adapted from ``predict(prompt) -> text``.

    Parameters
    ----------
    model : object
        A language model, or an estimator whose ``predict`` takes a prompt and returns text.

    Returns
    -------
    LanguageModel
        The model.

    Raises
    ------
    DataError
        If ``model`` has neither ``generate`` nor ``predict``.
    """
    if callable(getattr(model, "generate", None)) and callable(getattr(model, "count_tokens", None)):
        return model
    if callable(getattr(model, "predict", None)):
        return _PredictModel(model)
    raise DataError(f"{type(model).__name__} cannot answer prompts: give it generate(prompt, ...) and "
                    f"count_tokens(text) (sedna_lib.llm.LanguageModel), or predict(prompt) -> text")


def rng_seed(seed: int | None) -> int | None:
    """Map any integer seed (the OpenAI API takes negative ones) onto a random generator's range.

    The seed is taken modulo 2**64, so a negative seed is its 64-bit two's complement and
    every seed maps to the same generator state each time.

    Parameters
    ----------
    seed : int or None
        The seed of a request (None: unseeded).

    Returns
    -------
    int or None
        A seed in ``[0, 2**64)`` that numpy and torch accept.

    Examples
    --------
    >>> rng_seed(-1), rng_seed(7), rng_seed(None)
    (18446744073709551615, 7, None)
    """
    return None if seed is None else int(seed) % 2 ** 64


def check_generation_options(*, max_tokens: Any, temperature: Any, top_p: Any, seed: Any,
                             top_logprobs: Any) -> dict[str, Any]:
    """Check the options of :meth:`LanguageModel.generate` before anything is generated.

    A NaN temperature or ``top_p`` fails in the middle of an answer (or samples from garbage), a
    negative ``max_tokens`` silently generates nothing, a ``top_p`` of 0 keeps no token at all.
    :class:`~sedna_lib.llm.EdgeLM` and the models of :mod:`sedna_lib.llm` check their options here.

    Parameters
    ----------
    max_tokens : int
        A whole number >= 1.
    temperature : float
        A finite number >= 0 (0 is greedy).
    top_p : float
        A finite number in (0, 1].
    seed : int or None
        A whole number of either sign (see :func:`rng_seed`), or None.
    top_logprobs : int
        A whole number >= 0.

    Returns
    -------
    dict
        The options by name, as ``int`` and ``float`` (text such as ``"0.5"`` is read as
        :func:`sedna_lib.base.check_number` reads it).

    Raises
    ------
    ParameterError
        Naming the first option that is out of range, NaN, infinite, a fraction where a whole
        number is meant, or a bool.

    Examples
    --------
    >>> check_generation_options(max_tokens="8", temperature=0, top_p=1, seed=-3, top_logprobs=0)
    {'max_tokens': 8, 'temperature': 0.0, 'top_p': 1.0, 'seed': -3, 'top_logprobs': 0}
    """
    return {"max_tokens": check_count("max_tokens", max_tokens),
            "temperature": check_number("temperature", temperature, 0),
            "top_p": check_number("top_p", top_p, 0, 1, low_open=True),
            "seed": _checked_seed(seed),
            "top_logprobs": check_count("top_logprobs", top_logprobs, low=0)}


def _checked_seed(value: Any) -> int | None:
    """Return a seed checked: None or a whole number of either sign (negative seeds are valid)."""
    if value is None or (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        return None if value is None else int(value)
    number = check_number("seed", value)  # refuses NaN, infinities and bools
    if not number.is_integer():
        raise ParameterError(f"seed must be a whole number or None, got {value!r}")
    return int(number)


def format_chat(model: Any, messages: Sequence[Mapping[str, Any]]) -> str:
    """Render chat messages into the model's prompt (its ``format_chat``, else ``role: content`` lines).

    Parameters
    ----------
    model : object
        The language model.
    messages : list of dict
        ``[{"role": ..., "content": ...}, ...]``.

    Returns
    -------
    str
        The prompt.
    """
    own = getattr(model, "format_chat", None)
    if callable(own):
        return own(list(messages))
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


def messages_of(query: Any) -> list[dict[str, str]] | None:
    """Return the chat messages of a query, or None if it is a plain prompt.

    Parameters
    ----------
    query : object
        A string, ``{"prompt": ...}``, ``{"messages": [...]}`` or a list of messages.

    Returns
    -------
    list of dict or None
        The messages.
    """
    if isinstance(query, Mapping) and "messages" in query:
        return list(query["messages"])
    if isinstance(query, (list, tuple)) and query and all(isinstance(m, Mapping) for m in query):
        return list(query)
    return None


# -- requests -------------------------------------------------------------------------------------

class RequestError(DataError):
    """A request body that breaks the OpenAI API's rules; ``param`` names the field."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """A checked ``/v1/chat/completions`` or ``/v1/completions`` request.

    Attributes
    ----------
    kind : {'chat', 'completion'}
        Which route.
    prompts : tuple of str
        The prompts (one for chat; a completions request may batch several).
    messages : tuple of dict
        The chat messages (empty for completions).
    model : str
        The model the client named ('' if none).
    max_tokens : int
        Largest completion length.
    temperature, top_p : float
        Sampling settings (temperature 0 is greedy).
    n : int
        Choices per prompt.
    stream : bool
        Answer as server-sent events.
    include_usage : bool
        Send a last chunk with ``usage`` (``stream_options.include_usage``).
    logprobs : bool
        Return per-token log-probabilities.
    top_logprobs : int
        Alternatives per position to return.
    stop : tuple of str
        Stop sequences (not part of the answer).
    seed : int or None
        Seed of the sampling.
    echo : bool
        Completions: prepend the prompt to the text.
    """

    kind: str
    prompts: tuple[str, ...] = ()
    messages: tuple[dict[str, str], ...] = ()
    model: str = ""
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    echo: bool = False


def _number(body: Mapping[str, Any], name: str, default: float, lo: float, hi: float, *,
            low_open: bool = False) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if not is_number(value):
        raise RequestError(f"'{name}' must be a number, got {json.dumps(value)[:40]}", param=name)
    if not lo <= value <= hi or (low_open and value == lo):
        span = f"greater than {lo} and at most {hi}" if low_open else f"between {lo} and {hi}"
        raise RequestError(f"'{name}' must be {span}, got {value}", param=name)
    return float(value)


def _integer(body: Mapping[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = body.get(name, default)
    if value is None:
        return default
    if not is_int(value):
        raise RequestError(f"'{name}' must be an integer, got {json.dumps(value)[:40]}", param=name)
    if not lo <= value <= hi:
        raise RequestError(f"'{name}' must be between {lo} and {hi}, got {value}", param=name)
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"'{name}' must be true or false, got {json.dumps(value)[:40]}", param=name)
    return value


def _unicode(text: str, param: str) -> str:
    r"""Return ``text`` if it is valid Unicode; a lone surrogate (``"\ud800"`` in the JSON) is a RequestError.

    JSON may spell half of a UTF-16 surrogate pair alone, but no UTF-8 text holds one: a model
    could not read it, nor a reply that echoes it be encoded.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestError(f"'{param}' holds a lone surrogate ({text[exc.start]!r} at {exc.start}), which is "
                           f"not valid Unicode; send UTF-8 text (a surrogate pair must be complete)",
                           param=param) from None
    return text


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or len(stop) > MAX_STOPS or not all(isinstance(s, str) and s for s in stop):
        raise RequestError(f"'stop' must be a non-empty string or a list of up to {MAX_STOPS} of them",
                           param="stop")
    longest = max(len(s) for s in stop) if stop else 0
    if longest > MAX_STOP_CHARS:
        raise RequestError(f"'stop' holds a sequence of {longest} characters; each may have at most "
                           f"{MAX_STOP_CHARS}", param="stop")
    return tuple(_unicode(s, "stop") for s in stop)


def _common(body: Any, max_tokens_cap: int) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise RequestError(f"the body must be a JSON object, got {type(body).__name__}")
    model = body.get("model", "")
    if model is not None and not isinstance(model, str):
        raise RequestError("'model' must be a string", param="model")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise RequestError("'stream_options' must be an object such as {\"include_usage\": true}",
                           param="stream_options")
    seed = body.get("seed")
    if seed is not None and not is_int(seed):
        raise RequestError("'seed' must be an integer", param="seed")
    return dict(model=model or "", temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
                top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
                n=_integer(body, "n", 1, 1, MAX_N),
                stream=_flag(body, "stream"), include_usage=bool(options and options.get("include_usage")),
                stop=_stop(body), seed=seed, _cap=max_tokens_cap)


def _content(message: Mapping[str, Any], i: int) -> str:
    return _unicode(_text_of(message, i), f"messages[{i}].content")


def _text_of(message: Mapping[str, Any], i: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text ones can be read by a language model
        parts = []
        for part in content:
            if not (isinstance(part, Mapping) and part.get("type") == "text"
                    and isinstance(part.get("text"), str)):
                raise RequestError(f"messages[{i}].content: only text parts "
                                   f"({{\"type\": \"text\", \"text\": ...}}) are supported",
                                   param=f"messages[{i}].content")
            parts.append(part["text"])
        return "".join(parts)
    if content is None and message.get("role") == "assistant":
        return ""
    raise RequestError(f"messages[{i}].content must be a string or a list of text parts",
                       param=f"messages[{i}].content")


def parse_chat_request(body: Any, *, max_tokens_cap: int = 4096) -> GenerationRequest:
    """Check a ``/v1/chat/completions`` body and return it typed.

    Parameters
    ----------
    body : object
        The decoded JSON.
    max_tokens_cap : int, default=4096
        Largest ``max_tokens`` (or ``max_completion_tokens``) accepted.

    Returns
    -------
    GenerationRequest
        The request (``prompts`` is filled by the server once it renders the messages).

    Raises
    ------
    RequestError
        Naming the field that breaks the rules, and how.
    """
    common = _common(body, max_tokens_cap)
    cap = common.pop("_cap")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' is required: a non-empty list of {\"role\", \"content\"} objects",
                           param="messages")
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise RequestError(f"messages[{i}] must be an object {{\"role\", \"content\"}}",
                               param=f"messages[{i}]")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:  # an object or a list is no role (nor hashable)
            raise RequestError(f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}, got {role!r}",
                               param=f"messages[{i}].role")
        checked.append({"role": role, "content": _content(message, i)})
    # max_completion_tokens replaces max_tokens; null (or absent) leaves max_tokens in force
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _integer(body, name, 256, 1, cap)
    top = _integer(body, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS) or 0
    logprobs = _flag(body, "logprobs")
    if top and not logprobs:
        raise RequestError("'top_logprobs' needs 'logprobs': true", param="top_logprobs")
    return GenerationRequest(kind="chat", messages=tuple(checked), max_tokens=max_tokens or 256,
                             logprobs=logprobs, top_logprobs=top, **common)


def parse_completion_request(body: Any, *, max_tokens_cap: int = 4096) -> GenerationRequest:
    """Check a ``/v1/completions`` body and return it typed.

    Parameters
    ----------
    body : object
        The decoded JSON.
    max_tokens_cap : int, default=4096
        Largest ``max_tokens`` accepted.

    Returns
    -------
    GenerationRequest
        The request.

    Raises
    ------
    RequestError
        Naming the field that breaks the rules, and how; also when the prompts times ``n`` make more
        than :data:`MAX_CHOICES` choices.
    """
    common = _common(body, max_tokens_cap)
    cap = common.pop("_cap")
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts: tuple[str, ...] = (_unicode(prompt, "prompt"),)
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = tuple(_unicode(p, "prompt") for p in prompt)
    else:
        raise RequestError("'prompt' is required: a string or a non-empty list of strings (token-id prompts "
                           "are not supported)", param="prompt")
    n = common["n"]
    if len(prompts) * n > MAX_CHOICES:  # each choice is a generation of up to max_tokens tokens
        raise RequestError(f"'prompt' holds {len(prompts)} prompts and 'n' is {n}: {len(prompts) * n} "
                           f"choices, over the {MAX_CHOICES} one request may ask for (prompts times n); "
                           f"send the prompts in several requests", param="prompt")
    if body.get("suffix") is not None:
        raise RequestError("'suffix' is not supported by this server", param="suffix")
    top = _integer(body, "logprobs", None, 0, 5)
    return GenerationRequest(kind="completion", prompts=prompts,
                             max_tokens=_integer(body, "max_tokens", 16, 1, cap) or 16,
                             logprobs=top is not None, top_logprobs=top or 0, echo=_flag(body, "echo"),
                             **common)


# -- running a model --------------------------------------------------------------------------------

def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that could begin a stop sequence."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:k]):
                best = max(best, k)
                break
    return best


def run_generation(model: Any, prompt: str, *, max_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                   seed: int | None = None, top_logprobs: int = 0, stop: Iterable[str] = ()
                   ) -> Iterator[tuple[TokenStep, str | None]]:
    """Run a model and apply stop sequences; yield ``(step, finish_reason)`` pairs.

    Text that might begin a stop sequence is held back until it is known not to, so a stop
    sequence never reaches the caller, also when it spans tokens. The last pair has the finish
    reason (``'stop'`` or ``'length'``) and may carry an empty step.

    Parameters
    ----------
    model : LanguageModel
        The model.
    prompt : str
        The prompt.
    max_tokens : int
        Largest completion length.
    temperature, top_p, seed, top_logprobs
        Passed to ``model.generate``.
    stop : iterable of str, default=()
        Stop sequences.

    Yields
    ------
    (TokenStep, str or None)
        A token (its text possibly shortened at a stop) and None, then a last one with the reason.
    """
    stops = tuple(stop)
    emitted = ""
    pending: list[TokenStep] = []
    count = 0
    for step in model.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                               top_logprobs=top_logprobs):
        count += 1
        if not stops:
            last = count >= max_tokens
            yield step, ("length" if last else None)
            if last:
                return
            continue
        pending.append(step)
        text = emitted + "".join(s.text for s in pending)
        cut = min((text.find(s, max(len(emitted) - len(s), 0)) for s in stops if s in text), default=-1)
        if cut >= 0:
            keep = cut - len(emitted)
            for s in pending:
                if keep <= 0:
                    break
                yield s._replace(text=s.text[:keep]), None
                keep -= len(s.text)
            yield TokenStep(""), "stop"
            return
        hold = _held_back(text, stops)
        while pending and len("".join(s.text for s in pending[1:])) >= hold:
            first = pending.pop(0)
            emitted += first.text
            yield first, None
        if count >= max_tokens:
            for s in pending:
                yield s, None
            yield TokenStep(""), "length"
            return
    for s in pending:
        yield s, None
    yield TokenStep(""), "stop"


# -- replies --------------------------------------------------------------------------------------

def new_id(prefix: str) -> str:
    """Return a fresh reply id (``chatcmpl-...``, ``cmpl-...``)."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def _chat_logprob_entry(step: TokenStep, top: int) -> dict[str, Any]:
    alts = sorted((step.top_logprobs or {}).items(), key=lambda kv: -kv[1])[:top]
    return {"token": step.text, "logprob": step.logprob, "bytes": list(step.text.encode("utf-8")),
            "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in alts]}


def chat_body(*, reply_id: str, created: int, model: str, choices: Sequence[tuple[list[TokenStep], str]],
              logprobs: bool, top_logprobs: int, usage: Mapping[str, int]) -> dict[str, Any]:
    """Build a ``chat.completion`` reply.

    Parameters
    ----------
    reply_id : str
        ``chatcmpl-...``.
    created : int
        Unix time.
    model : str
        The model's name.
    choices : list of (steps, finish_reason)
        Each choice's tokens and why it ended.
    logprobs : bool
        Include ``logprobs.content``.
    top_logprobs : int
        Alternatives per token.
    usage : dict
        ``prompt_tokens``, ``completion_tokens``, ``total_tokens``.

    Returns
    -------
    dict
        The JSON body.
    """
    out = []
    for i, (steps, finish) in enumerate(choices):
        message = {"role": "assistant", "content": "".join(s.text for s in steps)}
        choice: dict[str, Any] = {"index": i, "message": message, "logprobs": None, "finish_reason": finish}
        if logprobs:
            choice["logprobs"] = {"content": [_chat_logprob_entry(s, top_logprobs) for s in steps if s.text]}
        out.append(choice)
    return {"id": reply_id, "object": "chat.completion", "created": created, "model": model, "choices": out,
            "usage": dict(usage), "system_fingerprint": None}


def _completion_logprobs(steps: Sequence[TokenStep], top: int, offset: int) -> dict[str, Any]:
    tokens, lps, tops, offsets = [], [], [], []
    for s in steps:
        if not s.text:
            continue
        tokens.append(s.text)
        lps.append(s.logprob)
        best = sorted((s.top_logprobs or {}).items(), key=lambda kv: -kv[1])[:top]
        tops.append(dict(best) if top else None)
        offsets.append(offset)
        offset += len(s.text)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


def completion_body(*, reply_id: str, created: int, model: str,
                    choices: Sequence[tuple[str, list[TokenStep], str]], logprobs: bool, top_logprobs: int,
                    usage: Mapping[str, int]) -> dict[str, Any]:
    """Build a ``text_completion`` reply.

    Parameters
    ----------
    reply_id : str
        ``cmpl-...``.
    created : int
        Unix time.
    model : str
        The model's name.
    choices : list of (echoed prefix, steps, finish_reason)
        Each choice's echoed prompt ('' without ``echo``), tokens and why it ended.
    logprobs : bool
        Include ``logprobs``.
    top_logprobs : int
        Alternatives per token.
    usage : dict
        ``prompt_tokens``, ``completion_tokens``, ``total_tokens``.

    Returns
    -------
    dict
        The JSON body.
    """
    out = []
    for i, (prefix, steps, finish) in enumerate(choices):
        out.append({"index": i, "text": prefix + "".join(s.text for s in steps), "finish_reason": finish,
                    "logprobs": _completion_logprobs(steps, top_logprobs, len(prefix)) if logprobs else None})
    return {"id": reply_id, "object": "text_completion", "created": created, "model": model, "choices": out,
            "usage": dict(usage)}


def chat_chunk(*, reply_id: str, created: int, model: str, index: int, step: TokenStep | None,
               finish_reason: str | None, logprobs: bool, top_logprobs: int, first: bool = False,
               usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Build one ``chat.completion.chunk`` (a token, the end of a choice, or the usage chunk).

    Parameters
    ----------
    reply_id, created, model
        As in the reply.
    index : int
        The choice.
    step : TokenStep or None
        The token (None for the usage chunk).
    finish_reason : str or None
        Set on a choice's last chunk.
    logprobs : bool
        Include the token's log-probability.
    top_logprobs : int
        Alternatives.
    first : bool, default=False
        The choice's first chunk (carries ``role``).
    usage : dict, default=None
        The usage chunk's counts (``choices`` is then empty).

    Returns
    -------
    dict
        The chunk.
    """
    chunk: dict[str, Any] = {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                             "model": model, "system_fingerprint": None}
    if usage is not None:
        chunk["choices"], chunk["usage"] = [], dict(usage)
        return chunk
    delta: dict[str, Any] = {"role": "assistant"} if first else {}
    if step is not None and (step.text or first):
        delta["content"] = step.text
    choice: dict[str, Any] = {"index": index, "delta": delta, "logprobs": None,
                              "finish_reason": finish_reason}
    if logprobs and step is not None and step.text:
        choice["logprobs"] = {"content": [_chat_logprob_entry(step, top_logprobs)]}
    chunk["choices"] = [choice]
    return chunk


def completion_chunk(*, reply_id: str, created: int, model: str, index: int, step: TokenStep | None,
                     finish_reason: str | None, logprobs: bool, top_logprobs: int, offset: int = 0,
                     usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Build one streamed ``text_completion`` chunk.

    Parameters
    ----------
    reply_id, created, model
        As in the reply.
    index : int
        The choice.
    step : TokenStep or None
        The token (None for the usage chunk).
    finish_reason : str or None
        Set on a choice's last chunk.
    logprobs : bool
        Include the token's log-probability.
    top_logprobs : int
        Alternatives.
    offset : int, default=0
        Character offset of the token in the choice's text.
    usage : dict, default=None
        The usage chunk's counts.

    Returns
    -------
    dict
        The chunk.
    """
    chunk: dict[str, Any] = {"id": reply_id, "object": "text_completion", "created": created, "model": model}
    if usage is not None:
        chunk["choices"], chunk["usage"] = [], dict(usage)
        return chunk
    steps = [step] if step is not None and step.text else []
    chunk["choices"] = [{"index": index, "text": "".join(s.text for s in steps),
                         "finish_reason": finish_reason,
                         "logprobs": _completion_logprobs(steps, top_logprobs, offset) if logprobs else None}]
    return chunk


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def wire_json(payload: Any) -> str:
    """Encode a reply body or an event as strict JSON: NaN and infinities are sent as ``null``.

    JSON has no NaN or infinity (Python writes ``NaN`` and ``-Infinity``, which strict parsers
    refuse); a log-probability of ``-inf`` (a token the model gave no chance) or a NaN one
    reads as ``null``, as a server that does not say.

    Parameters
    ----------
    payload : object
        A reply or a chunk (mappings, lists, strings, numbers).

    Returns
    -------
    str
        Compact JSON, non-ASCII characters escaped.

    Examples
    --------
    >>> wire_json({"logprob": float("-inf"), "top": [-0.5, float("nan")]})
    '{"logprob":null,"top":[-0.5,null]}'
    """
    return json.dumps(_finite(payload), separators=(",", ":"), allow_nan=False)


def sse_event(payload: Any) -> bytes:
    r"""Encode one server-sent event ``data: <json>\n\n`` (``[DONE]`` as is).

    The payload is strict JSON, NaN and infinities as ``null`` (see :func:`wire_json`).

    Parameters
    ----------
    payload : dict or str
        A chunk, or the string ``'[DONE]'``.

    Returns
    -------
    bytes
        The event.
    """
    data = payload if isinstance(payload, str) else wire_json(payload)
    return f"data: {data}\n\n".encode()


def iter_sse(lines: Iterable[bytes | str], *, url: str | None = None) -> Generator[Any, None, bool]:
    """Decode a server-sent event stream into its JSON payloads, up to ``[DONE]``.

    Parameters
    ----------
    lines : iterable of bytes or str
        The stream's lines (without their line ends).
    url : str, default=None
        Where it came from, for error messages.

    Yields
    ------
    dict
        Each event's payload.

    Returns
    -------
    bool
        The generator's return value (``StopIteration.value``): True if the stream ended with
        ``[DONE]``, False if it just stopped (a stream cut short is told apart by its caller).

    Raises
    ------
    ProtocolError
        If an event is not JSON, or the peer sends an ``error`` event.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r")
        if line == "":
            if not data:
                continue
            payload, data = _sse_event("\n".join(data), url), []
            if payload is _DONE:
                return True
            yield payload
        elif line.startswith(":"):
            continue  # a comment (keep-alive)
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    if data:  # a last event with no blank line after it
        payload = _sse_event("\n".join(data), url)
        if payload is _DONE:
            return True
        yield payload
    return False


_DONE = object()


def _sse_event(text: str, url: str) -> Any:
    """Decode one server-sent event's data: ``_DONE`` for ``[DONE]``, else its JSON.

    Raises
    ------
    ProtocolError
        If the data is not JSON, or is an error event.
    """
    if text.strip() == "[DONE]":
        return _DONE
    try:
        payload = json_loads(text)
    except ValueError:
        raise ProtocolError(f"{url}: a server-sent event is not JSON: {text[:200]!r}", url=url) from None
    if isinstance(payload, Mapping) and "error" in payload and "choices" not in payload:
        error = payload["error"]
        message = error.get("message") if isinstance(error, Mapping) else error
        raise ProtocolError(f"{url}: the stream ended with an error: {message}", url=url)
    return payload


def _malformed(url: str | None, where: str, expected: str, value: Any) -> ProtocolError:
    """Return the error of a reply whose ``where`` is not ``expected``."""
    shown = json.dumps(value, default=str)[:80] if not isinstance(value, str) else repr(value[:80])
    return ProtocolError(f"{url}: malformed reply: {where} must be {expected}, got "
                         f"{type(value).__name__} {shown}", url=url)


def reply_object(value: Any, where: str, *, url: str | None = None) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else raise :class:`ProtocolError` naming ``where``."""
    if not isinstance(value, Mapping):
        raise _malformed(url, where, "an object", value)
    return value


def reply_text(value: Any, where: str, *, url: str | None = None) -> str | None:
    """Return a reply's string field (None when null or absent); anything else is a ProtocolError."""
    if value is not None and not isinstance(value, str):
        raise _malformed(url, where, "a string or null", value)
    return value


def _logprob(value: Any, where: str, url: str | None) -> float | None:
    if value is None:
        return None
    if not is_number(value):
        raise _malformed(url, where, "a number or null", value)
    return float(value)


def reply_list(value: Any, where: str, *, url: str | None = None) -> list[Any]:
    """Return a reply's list field (``[]`` when null or absent); anything else is a ProtocolError."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(url, where, "a list or null", value)
    return value


def reply_usage(usage: Any, *, where: str = "usage", url: str | None = None) -> dict[str, int]:
    """Check a reply's ``usage``: the token counts it gives, each a non-negative integer.

    Parameters
    ----------
    usage : object
        The ``usage`` field (None when the reply has none).
    where : str, default='usage'
        Its place in the reply, for the message.
    url : str, default=None
        Where the reply came from, for the message.

    Returns
    -------
    dict
        ``prompt_tokens`` and ``completion_tokens``, those the reply gives.

    Raises
    ------
    ProtocolError
        If ``usage`` is not an object, or a count is not a non-negative integer.
    """
    if usage is None:
        return {}
    usage = reply_object(usage, where, url=url)
    counts = {}
    for name in ("prompt_tokens", "completion_tokens"):
        value = usage.get(name)
        if value is None:
            continue
        if not is_int(value) or value < 0:
            raise _malformed(url, f"{where}.{name}", "a non-negative integer", value)
        counts[name] = value
    return counts


def reply_logprobs(logprobs: Any, *, where: str = "logprobs", url: str | None = None
                   ) -> tuple[list[str], list[float], list[dict[str, float]]]:
    """Read a choice's ``logprobs``, in the chat (``content``) or the completions shape.

    Parameters
    ----------
    logprobs : object
        The field (None when not asked).
    where : str, default='logprobs'
        Its place in the reply, for the message.
    url : str, default=None
        Where the reply came from, for the message.

    Returns
    -------
    (list of str, list of float, list of dict)
        The tokens, their log-probabilities (None where the server gives null) and the
        alternatives at each position.

    Raises
    ------
    ProtocolError
        If a part of it has the wrong type.
    """
    tokens: list[str] = []
    lps: list[Any] = []
    tops: list[dict[str, float]] = []
    if logprobs is None:
        return tokens, lps, tops
    logprobs = reply_object(logprobs, where, url=url)
    if "content" in logprobs:  # chat: one entry per token
        for i, entry in enumerate(reply_list(logprobs["content"], f"{where}.content", url=url)):
            at = f"{where}.content[{i}]"
            entry = reply_object(entry, at, url=url)
            tokens.append(reply_text(entry.get("token"), f"{at}.token", url=url) or "")
            lps.append(_logprob(entry.get("logprob"), f"{at}.logprob", url))
            alts: dict[str, float] = {}
            for j, alt in enumerate(reply_list(entry.get("top_logprobs"), f"{at}.top_logprobs", url=url)):
                alt = reply_object(alt, f"{at}.top_logprobs[{j}]", url=url)
                token = reply_text(alt.get("token"), f"{at}.top_logprobs[{j}].token", url=url) or ""
                alts[token] = _logprob(alt.get("logprob"), f"{at}.top_logprobs[{j}].logprob", url)
            tops.append(alts)
        return tokens, lps, tops
    for i, token in enumerate(reply_list(logprobs.get("tokens"), f"{where}.tokens", url=url)):  # completions
        tokens.append(reply_text(token, f"{where}.tokens[{i}]", url=url) or "")
    for i, lp in enumerate(reply_list(logprobs.get("token_logprobs"), f"{where}.token_logprobs", url=url)):
        lps.append(_logprob(lp, f"{where}.token_logprobs[{i}]", url))
    for i, alts in enumerate(reply_list(logprobs.get("top_logprobs"), f"{where}.top_logprobs", url=url)):
        at = f"{where}.top_logprobs[{i}]"
        alts = reply_object(alts, at, url=url) if alts is not None else {}
        tops.append({reply_text(t, f"{at} (a key)", url=url) or "": _logprob(v, f"{at}[{t!r}]", url)
                     for t, v in alts.items()})
    return tokens, lps, tops


def generation_from_reply(reply: Any, *, prompt: str | None = None, source: str = "cloud",
                          url: str | None = None) -> Generation:
    """Turn an OpenAI-compatible reply (chat or completion) into a :class:`Generation`.

    Every field read is checked: a reply that breaks the OpenAI shape is a ``ProtocolError``
    naming the field, never an ``AttributeError`` or ``TypeError`` of the reading.

    Parameters
    ----------
    reply : dict
        The decoded JSON reply.
    prompt : str, default=None
        The prompt, recorded on the generation.
    source : str, default='cloud'
        Where it came from.
    url : str, default=None
        For error messages.

    Returns
    -------
    Generation
        The first choice, its log-probabilities, the other choices as ``samples``, the usage.

    Raises
    ------
    ProtocolError
        If the reply has no choices, or a field has the wrong type (a message that is not an
        object, a content that is not a string, a token count that is not a non-negative
        integer, ...).
    """
    reply = reply_object(reply, "the reply", url=url)
    if not isinstance(reply.get("choices"), list) or not reply["choices"]:
        raise ProtocolError(f"{url}: the reply has no choices: {str(reply)[:200]}", url=url)
    texts: list[str] = []
    for i, choice in enumerate(reply["choices"]):
        choice = reply_object(choice, f"choices[{i}]", url=url)
        message = choice.get("message")
        if message is not None:
            message = reply_object(message, f"choices[{i}].message", url=url)
            texts.append(reply_text(message.get("content"), f"choices[{i}].message.content", url=url) or "")
        elif "text" in choice:
            texts.append(reply_text(choice["text"], f"choices[{i}].text", url=url) or "")
        else:
            raise ProtocolError(f"{url}: malformed reply: choices[{i}] has neither a message (chat) nor a "
                                f"text (completions): {str(choice)[:100]}", url=url)
        reply_text(choice.get("finish_reason"), f"choices[{i}].finish_reason", url=url)
    first = reply["choices"][0]
    tokens, lps, tops = reply_logprobs(first.get("logprobs"), where="choices[0].logprobs", url=url)
    usage = reply_usage(reply.get("usage"), url=url)
    return Generation(text=texts[0], tokens=tokens, token_logprobs=lps, top_logprobs=tops, samples=texts[1:],
                      prompt=prompt, finish_reason=first.get("finish_reason") or "stop",
                      prompt_tokens=usage.get("prompt_tokens", 0),
                      completion_tokens=usage.get("completion_tokens", 0),
                      model=reply_text(reply.get("model"), "model", url=url) or "", source=source)


def now() -> int:
    """Return the Unix time in whole seconds (the ``created`` field)."""
    return int(time.time())
