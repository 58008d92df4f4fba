"""The edge language model: runs a local model and returns generations the routers can read."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from ..base import check_count, check_number
from ..exceptions import DataError
from ..transport.openai_wire import (Generation, TokenStep, as_language_model, check_generation_options,
                                     format_chat, messages_of, run_generation)

__all__ = ["EdgeLM", "prompt_of"]


def prompt_of(model: Any, query: Any) -> tuple[str, Any]:
    """Return the prompt a query gives ``model``, and the reference answer the query carries (or None).

    Parameters
    ----------
    model : object
        The language model (its ``format_chat`` renders messages).
    query : str or dict or list
        ``"text"``, ``{"prompt": ..., "reference": ...}``, ``{"messages": [...]}`` or a list of messages.

    Returns
    -------
    (str, object)
        The prompt and the reference.

    Raises
    ------
    DataError
        If the query is none of these.
    """
    if isinstance(query, str):
        return query, None
    reference = query.get("reference") if isinstance(query, Mapping) else None
    messages = messages_of(query)
    if messages is not None:
        return format_chat(model, messages), reference
    if isinstance(query, Mapping) and isinstance(query.get("prompt"), str):
        return query["prompt"], reference
    raise DataError(f"a language-model query is a string, {{'prompt': ...}} or {{'messages': [...]}}; "
                    f"got {type(query).__name__}: {str(query)[:80]}")


def _check_prompt(prompt: Any) -> str:
    """Return ``prompt`` when it is a string; refuse anything else before a model sees it.

    Raises
    ------
    DataError
        Naming the type given (a list of chat messages is rendered by ``format_chat`` first).
    """
    if isinstance(prompt, str):
        return prompt
    raise DataError(f"prompt must be a string (render chat messages with format_chat, or ask "
                    f"EdgeLM.predict), got {type(prompt).__name__}: {str(prompt)[:80]}")


class EdgeLM:
    """A local language model as a joint-inference edge estimator: ``predict(query) -> Generation``.

    It runs any :class:`~sedna_lib.transport.openai_wire.LanguageModel` (``generate`` and
    ``count_tokens``: :class:`~sedna_lib.llm.NGramLanguageModel`,
    :class:`~sedna_lib.llm.TransformersLM`, or a runtime of one's own), records per-token
    log-probabilities, alternatives, time to first token and inter-token latency, and draws
    ``num_samples`` extra answers for the self-consistency router. It is itself a language
    model, so ``BigModelService(estimator=EdgeLM(...))`` serves it on the OpenAI-compatible routes.

    Parameters
    ----------
    model : LanguageModel
        The model (an estimator with only ``predict(prompt) -> text`` is adapted, without
        log-probabilities).
    max_tokens : int, default=64
        Largest answer length.
    temperature : float, default=0.0
        Sampling temperature of the answer (0: greedy).
    top_p : float, default=1.0
        Nucleus sampling of the answer.
    top_logprobs : int, default=5
        Alternatives recorded per token (the entropy router reads them).
    num_samples : int, default=0
        Extra answers drawn for self-consistency (k - 1; 0 draws none).
    sample_temperature : float, default=1.0
        Temperature of the extra answers.
    stop : tuple of str, default=()
        Stop sequences.
    seed : int, default=0
        Seed of the sampling.
    clock : callable, default=time.perf_counter
        Time source of the latencies.

    Examples
    --------
    >>> from sedna_lib.llm import NGramLanguageModel
    >>> lm = NGramLanguageModel().fit(["module of sqrt is math ."])
    >>> answer = EdgeLM(lm).predict("module of sqrt is")
    >>> answer.text, answer.completion_tokens, len(answer.token_logprobs)
    (' math .', 2, 2)
    """

    def __init__(self, model: Any, *, max_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 top_logprobs: int = 5, num_samples: int = 0, sample_temperature: float = 1.0,
                 stop: tuple[str, ...] = (), seed: int = 0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_logprobs = top_logprobs
        self.num_samples = num_samples
        self.sample_temperature = sample_temperature
        self.stop = stop
        self.seed = seed
        self.clock = clock

    @property
    def name(self) -> str:
        """The model's name."""
        return str(getattr(self.model, "name", type(self.model).__name__))

    # -- the LanguageModel protocol (so the edge model can be served too) ------------------------
    def generate(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, top_logprobs: int = 0) -> Iterator[TokenStep]:
        """Yield the model's tokens after ``prompt`` (see :class:`LanguageModel`).

        Parameters
        ----------
        prompt : str
            The prompt.
        max_tokens, temperature, top_p, seed, top_logprobs
            As the protocol.

        Yields
        ------
        TokenStep
            The tokens.

        Raises
        ------
        DataError
            If ``prompt`` is not a string, or the model has neither ``generate`` nor ``predict``.
        ParameterError
            If an option is out of range, when called and before the model is (see
            :func:`~sedna_lib.transport.openai_wire.check_generation_options`): a model of one's
            own, or one with only ``predict``, gets the options checked and as plain numbers.
        """
        prompt = _check_prompt(prompt)
        options = check_generation_options(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                           seed=seed, top_logprobs=top_logprobs)
        return as_language_model(self.model).generate(prompt, **options)

    def count_tokens(self, text: str) -> int:
        """Return how many tokens ``text`` is to the model.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        int
            The count.
        """
        return int(as_language_model(self.model).count_tokens(text))

    def format_chat(self, messages: list[Mapping[str, Any]]) -> str:
        """Render chat messages with the model's template.

        Parameters
        ----------
        messages : list of dict
            The messages.

        Returns
        -------
        str
            The prompt.
        """
        return format_chat(self.model, messages)

    # -- the estimator face ------------------------------------------------------------------------
    def predict(self, data: Any, **kwargs: Any) -> Generation:
        """Answer one query.

        Parameters
        ----------
        data : str or dict or list
            The query: a prompt, ``{"prompt": ..., "reference": ...}`` or chat messages.
        **kwargs : object
            Overrides of ``max_tokens``, ``temperature``, ``top_p``, ``top_logprobs``,
            ``num_samples``, ``seed`` for this query.

        Returns
        -------
        Generation
            The answer with its log-probabilities, samples, token counts and timings.

        Raises
        ------
        DataError
            If the query is not a prompt or messages, or an override is unknown.
        ParameterError
            If a numeric option is out of range, before anything is generated: ``max_tokens``
            must be a whole number >= 1, ``top_logprobs`` and ``num_samples`` whole numbers >= 0,
            ``seed`` a whole number (of either sign) or None, ``temperature`` and ``sample_temperature``
            finite and >= 0, ``top_p`` in (0, 1]; NaN, infinities and bools are refused.
        """
        unknown = set(kwargs) - {"max_tokens", "temperature", "top_p", "top_logprobs", "num_samples", "seed"}
        if unknown:
            raise DataError(f"EdgeLM.predict got unknown options {sorted(unknown)}; valid: max_tokens, "
                            f"temperature, top_p, top_logprobs, num_samples, seed")
        lm = as_language_model(self.model)
        prompt, reference = prompt_of(lm, data)
        opts = _checked({"max_tokens": self.max_tokens, "temperature": self.temperature,
                         "top_p": self.top_p, "top_logprobs": self.top_logprobs,
                         "num_samples": self.num_samples, "seed": self.seed, **kwargs})
        sample_temperature = check_number("sample_temperature", self.sample_temperature, 0)
        start = self.clock()
        first: float | None = None
        times: list[float] = []
        steps: list[TokenStep] = []
        finish = "stop"
        for step, reason in run_generation(lm, prompt, max_tokens=opts["max_tokens"],
                                           temperature=opts["temperature"], top_p=opts["top_p"],
                                           seed=opts["seed"], top_logprobs=opts["top_logprobs"],
                                           stop=self.stop):
            if step.text:
                now = self.clock()
                first = now if first is None else first
                times.append(now)
                steps.append(step)
            if reason is not None:
                finish = reason
        end = self.clock()
        samples = []
        for k in range(int(opts["num_samples"])):
            seed = None if opts["seed"] is None else opts["seed"] + 1 + k
            samples.append("".join(s.text for s, _ in run_generation(
                lm, prompt, max_tokens=opts["max_tokens"], temperature=sample_temperature,
                top_p=opts["top_p"], seed=seed, stop=self.stop)))
        entropies = [float(s.entropy) for s in steps if s.entropy is not None]
        return Generation(
            text="".join(s.text for s in steps), tokens=[s.text for s in steps],
            token_logprobs=[s.logprob for s in steps if s.logprob is not None],
            top_logprobs=[dict(s.top_logprobs or {}) for s in steps],
            entropies=entropies if steps and len(entropies) == len(steps) else None,
            samples=samples, prompt=prompt, finish_reason=finish, prompt_tokens=lm.count_tokens(prompt),
            completion_tokens=len(steps), model=self.name, source="edge",
            ttft_s=None if first is None else first - start,
            itl_s=(times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None,
            latency_s=end - start, reference=reference)


def _checked(opts: dict[str, Any]) -> dict[str, Any]:
    """Return the generation options checked (the models' own, and ``num_samples``).

    A NaN or a fraction would fail in the middle of an answer, a negative count would silently
    draw nothing.
    """
    return {**opts,
            **check_generation_options(max_tokens=opts["max_tokens"], temperature=opts["temperature"],
                                       top_p=opts["top_p"], seed=opts["seed"],
                                       top_logprobs=opts["top_logprobs"]),
            "num_samples": check_count("num_samples", opts["num_samples"], low=0)}
