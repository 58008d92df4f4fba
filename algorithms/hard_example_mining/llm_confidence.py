"""Confidence routers for language models: send a query to the cloud when the edge model's answer is unsure.

Each reads what the edge language model gave (a generation with per-token log-probabilities, or
an OpenAI-compatible reply; see ``_generation``) and scores its hardness, higher is harder. A
fixed threshold decides, or ``upload_ratio`` keeps the cloud share of a stream near a budget.
They run in the ``inference-then-mining`` mode (the edge answers first).

References
----------
.. [1] Kadavath, S. et al. "Language Models (Mostly) Know What They Know", arXiv:2207.05221, 2022
   (token probabilities as calibrated confidence).
.. [2] Wang, X. et al. "Self-Consistency Improves Chain of Thought Reasoning in Language Models",
   ICLR 2023, arXiv:2203.11171 (agreement of sampled answers).
.. [3] Malinin, A., Gales, M. "Uncertainty Estimation in Autoregressive Structured Prediction",
   ICLR 2021, arXiv:2002.07650 (token entropy).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from sedna_lib.exceptions import DataError

from ._budget import ScoredMiner, check_param, check_unit
from ._generation import GenerationView, _floats, normalise_answer, read_generation

__all__ = ["MeanLogProbRouter", "MinLogProbRouter", "TokenEntropyRouter", "SelfConsistencyRouter"]


def _views(batch: Any) -> list[GenerationView]:
    return [read_generation(sample) for sample in batch]


def _token_entropy(view: GenerationView) -> np.ndarray:
    """Per-token entropy in nats: exact when the model gave it, else from the top alternatives.

    From ``top_logprobs`` the probability left outside the top-k counts as one more outcome, so
    the estimate is a lower bound of the true entropy that grows with k.
    """
    if view.entropies is not None:
        return view.entropies
    out = np.zeros(len(view.top_logprobs))
    for i, top in enumerate(view.top_logprobs):
        if not top:
            lp = view.logprobs[i:i + 1]
            probs = np.exp(lp) if lp.size else np.zeros(0)
        else:
            probs = np.exp(_floats(list(top.values()), f"top_logprobs[{i}]"))  # NaN refused as for tokens
        probs = probs[probs > 0]
        rest = max(0.0, 1.0 - float(probs.sum()))
        if rest > 0:
            probs = np.append(probs, rest)
        out[i] = float(-(probs * np.log(probs)).sum()) if probs.size else 0.0
    return out


class _LogProbRouter(ScoredMiner):
    """Hard when a token probability statistic is under ``threshold_prob``; score ``1 - statistic``."""

    input_kind = "generation"

    def _statistic(self, logprobs: np.ndarray) -> float:
        raise NotImplementedError

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold = check_unit(self, "threshold_prob")
        stats = np.asarray([self._statistic(v.logprobs) if v.logprobs.size else 0.0 for v in _views(batch)],
                           dtype=np.float64)
        return 1.0 - stats, stats < threshold


class MeanLogProbRouter(_LogProbRouter):
    """Route a query to the cloud when the edge answer's mean token log-probability is low.

    The statistic is the geometric mean of the generated tokens' probabilities,
    ``exp(mean(log p))``; an answer with no token is the hardest. Score: ``1 - statistic``.

    Parameters
    ----------
    threshold_prob : float, default=0.5
        Geometric-mean token probability under which the answer is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, send the least confident answers so that this share of a stream goes to the cloud.

    Examples
    --------
    >>> router = MeanLogProbRouter(threshold_prob=0.5)
    >>> router({"text": "paris", "token_logprobs": [-0.1, -0.2]})
    False
    >>> router({"text": "x", "token_logprobs": [-3.0]})
    True
    """

    def __init__(self, *, threshold_prob: float = 0.5, upload_ratio: float | None = None) -> None:
        self.threshold_prob = threshold_prob
        self.upload_ratio = upload_ratio

    def _statistic(self, logprobs: np.ndarray) -> float:
        return float(np.exp(logprobs.mean()))


class MinLogProbRouter(_LogProbRouter):
    """Route a query to the cloud when the edge answer's least likely token is unlikely.

    The statistic is the smallest token probability of the answer, ``exp(min(log p))``: one
    doubtful token (a name, a number) makes the whole answer doubtful. Score: ``1 - statistic``.

    Parameters
    ----------
    threshold_prob : float, default=0.2
        Smallest-token probability under which the answer is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, send the least confident answers so that this share of a stream goes to the cloud.

    Examples
    --------
    >>> MinLogProbRouter(threshold_prob=0.2)({"text": "a b", "token_logprobs": [-0.01, -2.5]})
    True
    """

    def __init__(self, *, threshold_prob: float = 0.2, upload_ratio: float | None = None) -> None:
        self.threshold_prob = threshold_prob
        self.upload_ratio = upload_ratio

    def _statistic(self, logprobs: np.ndarray) -> float:
        return float(np.exp(logprobs.min()))


class TokenEntropyRouter(ScoredMiner):
    """Route a query to the cloud when the edge model hesitated between tokens (high mean entropy).

    The entropy of each generated token's distribution (nats) is the model's own when it gave
    ``entropies``, else it is estimated from ``top_logprobs`` (ask the edge for a few alternatives,
    ``top_logprobs=5``); with neither, from the chosen token alone. An answer with no token is
    the hardest (score ``inf`` is avoided: ``log(top_k + 1)`` of a uniform guess is used). Score:
    the mean entropy. A ``top_logprobs`` value that is not a log-probability (NaN, above 0, not a
    number) is a :class:`~sedna_lib.exceptions.DataError`, as in ``token_logprobs``.

    Parameters
    ----------
    threshold_entropy : float, default=1.0
        Mean entropy (nats) above which the answer is hard; a finite number >= 0.
    upload_ratio : float, default=None
        If set, send the most uncertain answers so that this share of a stream goes to the cloud.

    Examples
    --------
    >>> sure = {"text": "a", "token_logprobs": [-0.01], "top_logprobs": [{"a": -0.01, "b": -5.0}]}
    >>> torn = {"text": "a", "token_logprobs": [-0.69], "top_logprobs": [{"a": -0.69, "b": -0.7}]}
    >>> router = TokenEntropyRouter(threshold_entropy=0.5)
    >>> router(sure), router(torn)
    (False, True)
    """

    input_kind = "generation"

    def __init__(self, *, threshold_entropy: float = 1.0, upload_ratio: float | None = None) -> None:
        self.threshold_entropy = threshold_entropy
        self.upload_ratio = upload_ratio

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold = check_param(self, "threshold_entropy", 0.0)
        scores = []
        for view in _views(batch):
            entropy = _token_entropy(view)
            if entropy.size:
                scores.append(float(entropy.mean()))
            else:  # no token: as unsure as a uniform guess among the alternatives a model would give
                scores.append(float(np.log(max(len(view.top_logprobs), 1) + 1)) + threshold)
        arr = np.asarray(scores, dtype=np.float64)
        return arr, arr > threshold


class SelfConsistencyRouter(ScoredMiner):
    """Route a query to the cloud when k sampled answers of the edge model disagree.

    The agreement is the share of the answers (the edge's answer and its ``samples``, compared
    after case-folding and stripping punctuation) that equal the most frequent one. Score:
    ``1 - agreement``. The edge model must draw the samples (``EdgeLM(num_samples=k)``, or an
    OpenAI-compatible edge asked for ``n=k`` choices).

    Parameters
    ----------
    threshold_agreement : float, default=0.6
        Agreement under which the answer is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, send the least consistent answers so that this share of a stream goes to the cloud.

    Examples
    --------
    >>> router = SelfConsistencyRouter(threshold_agreement=0.6)
    >>> router({"text": "Paris", "samples": ["paris", "Paris.", "Lyon"]})
    False
    >>> router({"text": "Paris", "samples": ["Lyon", "Nice", "Lille"]})
    True
    """

    input_kind = "generation"

    def __init__(self, *, threshold_agreement: float = 0.6, upload_ratio: float | None = None) -> None:
        self.threshold_agreement = threshold_agreement
        self.upload_ratio = upload_ratio

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold = check_unit(self, "threshold_agreement")
        agreement = np.zeros(len(batch))
        for i, view in enumerate(_views(batch)):
            if not view.text and not view.samples and not view.logprobs.size:
                continue  # no answer at all: agreement 0, the hardest
            if not view.samples:
                raise DataError("SelfConsistencyRouter needs several sampled answers of the edge model "
                                "(samples); set num_samples (k >= 2) on the edge language model, or ask an "
                                "OpenAI-compatible edge for n >= 2 choices")
            answers = [normalise_answer(a) for a in (view.text, *view.samples)]
            agreement[i] = Counter(answers).most_common(1)[0][1] / len(answers)
        return 1.0 - agreement, agreement < threshold
