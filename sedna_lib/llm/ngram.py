"""A word-level n-gram language model in numpy: trained in a second, gives real token probabilities.

It stands in for an edge or cloud LLM where no weights can be downloaded (tests, examples,
benchmarks) and implements the :class:`~sedna_lib.transport.openai_wire.LanguageModel` protocol.

References
----------
.. [1] Witten, I., Bell, T. "The zero-frequency problem: estimating the probabilities of novel
   events in adaptive text compression", IEEE Trans. Information Theory 37(4), 1991.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import DataError, NotFittedError, ParameterError
from ..transport.openai_wire import TokenStep, check_generation_options, rng_seed
from .edge import _check_prompt

__all__ = ["NGramLanguageModel", "tokenize"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
BOS, EOS = "<s>", "</s>"


def tokenize(text: str) -> list[str]:
    """Split text into words and punctuation marks.

    Parameters
    ----------
    text : str
        The text.

    Returns
    -------
    list of str
        The tokens.

    Examples
    --------
    >>> tokenize("module of sqrt is math.")
    ['module', 'of', 'sqrt', 'is', 'math', '.']
    """
    return _TOKEN.findall(text)


class NGramLanguageModel:
    """Word-level n-gram model with Witten-Bell interpolation down to an add-one unigram.

    Every line of the training texts is a sentence; generation ends at the end of a sentence.
    Greedy at ``temperature=0``, else sampled (with ``top_p``).

    Parameters
    ----------
    order : int, default=3
        n: how many tokens (the token and ``order - 1`` before it) a probability looks at.
    name : str, default='ngram'
        The model's id on the OpenAI-compatible routes.

    Attributes
    ----------
    vocab_ : list of str
        The tokens it knows (index 0 is the unknown token, then sentence end).

    Examples
    --------
    >>> lm = NGramLanguageModel(order=3).fit(["the capital of france is paris .",
    ...                                       "the capital of italy is rome ."])
    >>> "".join(step.text for step in lm.generate("the capital of italy is", temperature=0.0))
    ' rome .'
    """

    def __init__(self, *, order: int = 3, name: str = "ngram") -> None:
        self.order = order
        self.name = name

    # -- training ----------------------------------------------------------------------------
    def fit(self, texts: Iterable[str]) -> NGramLanguageModel:
        """Count the n-grams of the texts (one sentence per line).

        Parameters
        ----------
        texts : iterable of str
            The training texts.

        Returns
        -------
        NGramLanguageModel
            ``self``, fitted.

        Raises
        ------
        ParameterError
            If ``order`` is not an int >= 1.
        DataError
            If the texts hold no token.
        """
        if isinstance(self.order, bool) or not isinstance(self.order, int) or self.order < 1:
            raise ParameterError(f"NGramLanguageModel: order must be an int >= 1, got {self.order!r}")
        sentences = [tokenize(line) for text in texts for line in str(text).splitlines()]
        sentences = [s for s in sentences if s]
        if not sentences:
            raise DataError("NGramLanguageModel.fit got no text; pass an iterable of non-empty strings")
        vocab = ["<unk>", EOS, *sorted({t for s in sentences for t in s})]
        index = {t: i for i, t in enumerate(vocab)}
        unigram = np.zeros(len(vocab))
        tables: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(self.order)]
        for sentence in sentences:
            ids = [index[t] for t in sentence] + [index[EOS]]
            padded = [-1] * (self.order - 1) + ids  # -1: before the sentence
            for pos in range(self.order - 1, len(padded)):
                token = padded[pos]
                unigram[token] += 1
                for k in range(1, self.order):
                    tables[k][tuple(padded[pos - k:pos])][token] += 1
        self.vocab_ = vocab
        self.index_ = index
        self.unigram_ = (unigram + 1.0) / (unigram.sum() + len(vocab))
        self.tables_ = [{h: (np.fromiter(c.keys(), dtype=np.int64), np.fromiter(c.values(), dtype=np.float64))
                         for h, c in table.items()} for table in tables]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocab_"):
            raise NotFittedError("NGramLanguageModel is not trained: call fit(texts) first")

    # -- the protocol ------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Return how many tokens ``text`` is.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        int
            The token count.
        """
        return len(tokenize(text))

    def format_chat(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """Render chat messages as the model's prompt: the last user message (it has no chat template).

        Parameters
        ----------
        messages : list of dict
            ``{"role", "content"}`` messages.

        Returns
        -------
        str
            The prompt.
        """
        users = [m["content"] for m in messages if m.get("role") == "user"]
        return users[-1] if users else (messages[-1]["content"] if messages else "")

    def distribution(self, context: Sequence[str]) -> np.ndarray:
        """Return the probability of every vocabulary token after ``context``.

        Parameters
        ----------
        context : sequence of str
            The tokens so far (of the current sentence).

        Returns
        -------
        numpy.ndarray of shape (len(vocab_),)
            The probabilities (they sum to 1).
        """
        self._check_fitted()
        ids = [self.index_.get(t, 0) for t in context][-(self.order - 1):] if self.order > 1 else []
        ids = [-1] * (self.order - 1 - len(ids)) + ids
        probs = self.unigram_.copy()
        for k in range(1, self.order):
            entry = self.tables_[k].get(tuple(ids[len(ids) - k:]))
            if entry is None:
                continue
            followers, counts = entry
            total = counts.sum()
            lam = total / (total + len(followers))
            probs *= 1.0 - lam
            probs[followers] += lam * counts / total
        return probs

    def generate(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, top_logprobs: int = 0) -> Iterator[TokenStep]:
        """Yield the tokens after ``prompt`` with their log-probabilities, until the sentence ends.

        Parameters
        ----------
        prompt : str
            The text to continue (its last line is the current sentence).
        max_tokens : int, default=64
            Largest number of tokens.
        temperature : float, default=0.0
            0 is greedy; otherwise tokens are sampled from ``p ** (1 / temperature)`` (computed in
            log space, so a tiny temperature samples as greedy does).
        top_p : float, default=1.0
            Nucleus sampling: draw among the most likely tokens holding this much probability.
        seed : int, default=None
            Seed of the sampling; any integer (a negative one too, see
            :func:`~sedna_lib.transport.openai_wire.rng_seed`).
        top_logprobs : int, default=0
            Alternatives to report at each position.

        Yields
        ------
        TokenStep
            Each token (with a leading space), its log-probability, the alternatives and the
            entropy of the distribution.

        Raises
        ------
        DataError
            If ``prompt`` is not a string, when called.
        ParameterError
            If an option is out of range, when called (see
            :func:`~sedna_lib.transport.openai_wire.check_generation_options`): ``max_tokens`` must
            be a whole number >= 1, ``temperature`` finite and >= 0, ``top_p`` in (0, 1], ``seed``
            a whole number or None, ``top_logprobs`` a whole number >= 0.
        NotFittedError
            If the model was not trained.
        """
        prompt = _check_prompt(prompt)
        options = check_generation_options(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                           seed=seed, top_logprobs=top_logprobs)
        return self._steps(prompt, **options)

    def _steps(self, prompt: str, *, max_tokens: int, temperature: float, top_p: float, seed: int | None,
               top_logprobs: int) -> Iterator[TokenStep]:
        self._check_fitted()
        lines = prompt.splitlines() or [""]
        context = tokenize(lines[-1])
        rng = np.random.default_rng(rng_seed(seed))
        eos = self.index_[EOS]
        for _ in range(max_tokens):
            probs = self.distribution(context)
            probs[0] = 0.0  # never say the unknown token
            probs /= probs.sum()
            if temperature <= 0.0:
                choice = int(np.argmax(probs))
            else:
                # p ** (1 / t), normalised, in log space: a small t would take every p ** (1 / t) to 0
                with np.errstate(divide="ignore"):
                    scaled = np.log(probs) / temperature
                weights = np.exp(scaled - scaled.max())
                weights /= weights.sum()
                if top_p < 1.0:
                    order = np.argsort(-weights)
                    keep = order[:int(np.searchsorted(np.cumsum(weights[order]), top_p)) + 1]
                    mask = np.zeros_like(weights)
                    mask[keep] = weights[keep]
                    weights = mask / mask.sum()
                choice = int(rng.choice(len(weights), p=weights))
            if choice == eos:
                return
            nz = probs[probs > 0]
            entropy = float(-(nz * np.log(nz)).sum())
            top: dict[str, float] | None = None
            if top_logprobs:
                best = np.argsort(-probs)[:top_logprobs]
                top = {self._surface(int(i)) or EOS: float(np.log(probs[i])) for i in best if probs[i] > 0}
            token = self.vocab_[choice]
            context.append(token)
            yield TokenStep(self._surface(choice), float(np.log(probs[choice])), top, entropy)

    def _surface(self, index: int) -> str:
        token = self.vocab_[index]
        return "" if token == EOS else f" {token}"

    def predict(self, data: Any, **kwargs: Any) -> str:
        """Return the greedy continuation of a prompt (the estimator face: ``predict(prompt) -> text``).

        Parameters
        ----------
        data : str
            The prompt.
        **kwargs : object
            Passed to :meth:`generate`.

        Returns
        -------
        str
            The continuation.
        """
        return "".join(step.text for step in self.generate(str(data), **kwargs)).strip()
