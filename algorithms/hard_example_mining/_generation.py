"""Read what a language model gave: a generation object, or an OpenAI-compatible completion reply.

The routers of language models read one of these per sample:

- an object or mapping with the fields of :class:`sedna_lib.llm.Generation` (``text``,
  ``token_logprobs``, ``top_logprobs``, ``entropies``, ``samples``, ``prompt``, ``reference``);
- an OpenAI-compatible reply (``/v1/chat/completions``: ``choices[i].message.content`` and
  ``choices[i].logprobs.content[j].logprob``; ``/v1/completions``: ``choices[i].text`` and
  ``choices[i].logprobs.token_logprobs``), whose extra choices (``n > 1``) are the samples;
- for the query-only routers, the query itself: a string, ``{"prompt": ...}`` or
  ``{"messages": [...]}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from sedna_lib.exceptions import DataError

__all__ = ["GenerationView", "read_generation", "read_query", "normalise_answer"]

_FIELDS = ("text", "token_logprobs", "top_logprobs", "entropies", "samples", "prompt", "reference")


class GenerationView(NamedTuple):
    """The parts of one generation the routers read (numpy arrays, empty when absent)."""

    text: str
    logprobs: np.ndarray
    top_logprobs: list[Mapping[str, float]]
    entropies: np.ndarray | None
    samples: list[str]
    prompt: str | None
    reference: Any


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _floats(values: Any, what: str) -> np.ndarray:
    if values is None:
        return np.zeros(0)
    try:
        arr = np.asarray([(-math.inf if v is None else v) for v in values], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers, got {str(values)[:80]} ({exc})") from None
    if np.isnan(arr).any() or (arr > 1e-9).any():
        bad = arr[np.isnan(arr) | (arr > 1e-9)][0]
        raise DataError(f"{what} must be log-probabilities (<= 0), got {bad!r}; pass natural-log "
                        f"probabilities of the generated tokens")
    return arr


def _entropies(values: Any) -> np.ndarray:
    """Per-token entropies as floats, each finite and >= 0 (``-H`` is checked as a log-probability)."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataError(f"entropies must be numbers, got {str(values)[:80]} ({exc})") from None
    if np.isinf(arr).any():
        raise DataError(f"entropies must be finite entropies in nats (>= 0), got {arr[np.isinf(arr)][0]!r}")
    try:
        return -_floats(-arr, "entropies")
    except DataError:
        bad = arr[np.isnan(arr) | (arr < -1e-9)][0]
        raise DataError(f"entropies must be finite entropies in nats (>= 0), got {bad!r}") from None


def _choice_view(reply: Mapping[str, Any]) -> dict[str, Any]:
    """Turn an OpenAI-compatible reply into the generation fields."""
    choices = reply.get("choices")
    if not isinstance(choices, Sequence) or not choices:
        raise DataError("an OpenAI-compatible reply needs a non-empty 'choices' list")
    texts = []
    for choice in choices:
        message = _get(choice, "message")
        content = _get(message, "content") if message is not None else _get(choice, "text")
        texts.append(str(content or ""))
    first = choices[0]
    logprobs = _get(first, "logprobs")
    fields: dict[str, Any] = {"text": texts[0], "samples": texts[1:] or None}
    if isinstance(logprobs, Mapping) and "content" in logprobs:  # chat completions
        content = logprobs.get("content") or []
        fields["token_logprobs"] = [_get(t, "logprob") for t in content]
        fields["top_logprobs"] = [{str(_get(e, "token")): _get(e, "logprob")
                                   for e in (_get(t, "top_logprobs") or [])} for t in content]
    elif isinstance(logprobs, Mapping):  # completions
        fields["token_logprobs"] = logprobs.get("token_logprobs")
        fields["top_logprobs"] = logprobs.get("top_logprobs")
    return fields


def read_generation(sample: Any) -> GenerationView:
    """Read one generation (see the module docstring for the accepted forms).

    Parameters
    ----------
    sample : object
        A generation object or mapping, or an OpenAI-compatible reply. An empty list or None is
        a generation with no token (the least confident).

    Returns
    -------
    GenerationView
        Its text, token log-probabilities, top alternatives, entropies, samples, prompt, reference.

    Raises
    ------
    DataError
        If ``sample`` is none of the accepted forms, a log-probability is positive or NaN, or an
        entropy is negative, infinite or NaN.
    """
    if sample is None or (isinstance(sample, (list, tuple)) and not sample):
        return GenerationView("", np.zeros(0), [], None, [], None, None)
    if isinstance(sample, str) or (isinstance(sample, Mapping) and "messages" in sample
                                   and "text" not in sample):
        raise DataError(f"this router reads the edge model's generation (with token log-probabilities), and "
                        f"got {type(sample).__name__} {str(sample)[:60]!r}: the query (run the router with "
                        f"MINING_MODE=inference-then-mining, or route on the query with LearnedRouter), or "
                        f"an answer already turned into text (mine before post-processing)")
    if isinstance(sample, Mapping) and "choices" in sample:
        fields = _choice_view(sample)
    elif isinstance(sample, Mapping) or any(hasattr(sample, f) for f in ("token_logprobs", "text")):
        fields = {f: _get(sample, f) for f in _FIELDS}
    else:
        raise DataError(f"a language-model router reads a generation (an object or mapping with text and "
                        f"token_logprobs, or an OpenAI-compatible reply), got {type(sample).__name__}: "
                        f"{str(sample)[:80]}. Use an edge language model that returns generations "
                        f"(sedna_lib.llm.EdgeLM), and do not turn them into text before mining")
    top = fields.get("top_logprobs") or []
    if not isinstance(top, Sequence):
        raise DataError(f"top_logprobs must be a list (one mapping of token to log-probability per token), "
                        f"got {type(top).__name__}")
    entropies = fields.get("entropies")
    samples = fields.get("samples") or []
    return GenerationView(
        text=str(fields.get("text") or ""),
        logprobs=_floats(fields.get("token_logprobs"), "token_logprobs"),
        top_logprobs=[dict(t) if isinstance(t, Mapping) else {} for t in top],
        entropies=None if entropies is None else _entropies(entropies),
        samples=[str(s) for s in samples],
        prompt=fields.get("prompt"),
        reference=fields.get("reference"),
    )


def read_query(sample: Any) -> str:
    """Return the query text of a sample: a string, a prompt, chat messages, or a generation's prompt.

    Parameters
    ----------
    sample : object
        ``"text"``, ``{"prompt": ...}``, ``{"messages": [{"role", "content"}, ...]}``, a list of
        such messages, or a generation carrying ``prompt``.

    Returns
    -------
    str
        The text (messages joined by newlines).

    Raises
    ------
    DataError
        If no query can be found in ``sample``.
    """
    if isinstance(sample, str):
        return sample
    if isinstance(sample, (list, tuple)) and not sample:
        return ""  # an empty query
    if isinstance(sample, Mapping):
        if isinstance(sample.get("prompt"), str):
            return sample["prompt"]
        if isinstance(sample.get("messages"), Sequence):
            return read_query(list(sample["messages"]))
        if isinstance(sample.get("content"), str):
            return sample["content"]
    elif isinstance(getattr(sample, "prompt", None), str):
        return sample.prompt
    elif isinstance(sample, Sequence) and not isinstance(sample, (bytes, bytearray)) and sample:
        if all(isinstance(m, Mapping) and isinstance(m.get("content"), str) for m in sample):
            return "\n".join(m["content"] for m in sample)
    raise DataError(f"a query router reads the query (a string, {{'prompt': ...}} or {{'messages': [...]}}, "
                    f"or a generation with its prompt), got {type(sample).__name__}: {str(sample)[:80]}")


_SPACES = re.compile(r"\s+")


def normalise_answer(text: Any) -> str:
    r"""Fold an answer for comparison: case-folded, spaces collapsed, outer punctuation stripped.

    Parameters
    ----------
    text : object
        The answer (converted with ``str``).

    Returns
    -------
    str
        The folded answer.

    Examples
    --------
    >>> normalise_answer("  Paris.\n")
    'paris'
    """
    return _SPACES.sub(" ", str(text).casefold()).strip().strip(".,;:!?\"'`()[]").strip()
