"""Learned router: a small classifier on query embeddings predicts whether the edge model will fail.

References
----------
.. [1] Ong, I. et al. "RouteLLM: Learning to Route LLMs with Preference Data", arXiv:2406.18665, 2024.
.. [2] Weinberger, K. et al. "Feature Hashing for Large Scale Multitask Learning", ICML 2009.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from sedna_lib.base import check_count, check_number
from sedna_lib.exceptions import DataError, NotFittedError, ParameterError

from ._budget import ScoredMiner, check_param, check_unit
from ._generation import read_query

__all__ = ["LearnedRouter", "embed_queries"]

_WORD = re.compile(r"\w+", re.UNICODE)


def embed_queries(queries: Sequence[str], *, n_features: int = 4096, ngram: int = 3) -> np.ndarray:
    """Embed queries as L2-normalised hashed bags of words and character n-grams.

    Parameters
    ----------
    queries : sequence of str
        The query texts.
    n_features : int, default=4096
        Embedding width (hash buckets), a whole number >= 1.
    ngram : int, default=3
        Length of the character n-grams (taken inside each word, with its boundaries), >= 1.

    Returns
    -------
    numpy.ndarray of shape (n_queries, n_features), float32
        The embeddings.

    Raises
    ------
    ParameterError
        If ``n_features`` or ``ngram`` is not a whole number >= 1.

    Examples
    --------
    >>> embed_queries(["module of sqrt", "module of sqrt"]).shape
    (2, 4096)
    """
    return _embed_texts(queries, check_count("n_features", n_features), check_count("ngram", ngram))


def _embed_texts(queries: Sequence[str], n_features: int, ngram: int) -> np.ndarray:
    """:func:`embed_queries` with ``n_features`` and ``ngram`` already checked."""
    out = np.zeros((len(queries), n_features), dtype=np.float32)
    for row, text in enumerate(queries):
        for word in _WORD.findall(text.casefold()):
            grams = [f"w:{word}"]
            padded = f"<{word}>"
            grams += [padded[i:i + ngram] for i in range(max(len(padded) - ngram + 1, 1))]
            for gram in grams:
                h = zlib.crc32(gram.encode("utf-8"))
                out[row, h % n_features] += 1.0 if h & 0x80000000 else -1.0
        norm = float(np.linalg.norm(out[row]))
        if norm > 0:
            out[row] /= norm
    return out


class _Params(NamedTuple):
    """The router's parameters, checked once per call."""

    threshold: float
    embedding: tuple[int, int]  # n_features, ngram
    l2: float


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


class LearnedRouter(ScoredMiner):
    """Predict from the query alone whether the edge model will answer it wrongly.

    A logistic regression on query embeddings (hashed words and character n-grams, or the
    caller's own vectors) is trained from logged outcomes with :meth:`fit` (queries and whether
    the edge was wrong on each), saved with :meth:`save`, and loaded from ``model_path``. It
    reads the query, so it works in both mining modes; routing before generation saves the
    edge's work on queries that go to the cloud anyway. Score: the predicted probability that
    the edge is wrong.

    Parameters
    ----------
    model_path : str, default=None
        A ``.npz`` file written by :meth:`save`, loaded on first use.
    threshold : float, default=0.5
        Predicted failure probability above which the query is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, send the queries most likely to fail so that this share of a stream goes to the cloud.
    n_features : int, default=4096
        Embedding width of the built-in hashed embedding, a whole number >= 1.
    ngram : int, default=3
        Character n-gram length of the built-in embedding, a whole number >= 1.
    l2 : float, default=1e-3
        L2 penalty of the regression, a finite number >= 0.

    Attributes
    ----------
    coef_ : numpy.ndarray of shape (n_features,)
        The learned weights (kept by :meth:`clone` and :meth:`reset`: they are the model, not
        stream state).
    intercept_ : float
        The learned bias.

    Examples
    --------
    >>> router = LearnedRouter().fit(["easy one", "easy two", "hard riddle", "hard puzzle"],
    ...                              [False, False, True, True])
    >>> router("hard question"), router("easy question")
    (True, False)
    """

    input_kind = "query"

    def __init__(self, *, model_path: str | None = None, threshold: float = 0.5,
                 upload_ratio: float | None = None, n_features: int = 4096, ngram: int = 3,
                 l2: float = 1e-3) -> None:
        self.model_path = model_path
        self.threshold = threshold
        self.upload_ratio = upload_ratio
        self.n_features = n_features
        self.ngram = ngram
        self.l2 = l2

    def _check_params(self) -> _Params:
        """Check every parameter (on each use: set_params may change them); return the values to use."""
        threshold = check_unit(self, "threshold")
        if self.upload_ratio is not None:
            check_unit(self, "upload_ratio")
        return _Params(threshold, self._check_embedding(), check_param(self, "l2", 0.0))

    def _check_embedding(self) -> tuple[int, int]:
        """Return ``n_features`` and ``ngram`` checked (all the embedding reads)."""
        return check_param(self, "n_features", count=True), check_param(self, "ngram", count=True)

    # -- embedding ---------------------------------------------------------------------------
    def _embed(self, batch: Any, embedding: tuple[int, int] | None = None) -> np.ndarray:
        """Embed a batch (vectors pass as they are).

        ``embedding`` is ``(n_features, ngram)`` already checked; None checks them here, only if the
        batch needs them (texts, or an empty batch).
        """
        if isinstance(batch, np.ndarray) and batch.ndim == 2 and batch.dtype.kind in "fiu":
            return batch.astype(np.float32, copy=False)
        rows: list[Any] = []
        texts: list[str] = []
        for sample in batch:
            if isinstance(sample, np.ndarray) and sample.ndim == 1 and sample.dtype.kind in "fiu":
                rows.append(sample.astype(np.float32))
            else:
                texts.append(read_query(sample))
                rows.append(None)
        if texts and any(r is not None for r in rows):
            raise DataError("LearnedRouter: a batch mixes query texts and embedding vectors; send one kind")
        if texts:
            return _embed_texts(texts, *(embedding or self._check_embedding()))
        if not rows:
            return np.zeros((0, (embedding or self._check_embedding())[0]), dtype=np.float32)
        return np.stack(rows)

    # -- learning ----------------------------------------------------------------------------
    def fit(self, queries: Any, hard: Any, *, epochs: int = 300, learning_rate: float = 0.5) -> LearnedRouter:
        """Learn from logged outcomes which queries the edge gets wrong.

        Parameters
        ----------
        queries : sequence or array of shape (n_samples, n_features)
            The queries (texts, prompts, chat messages) or their embeddings.
        hard : array-like of bool, shape (n_samples,)
            True where the edge answer was wrong (the cloud should have answered).
        epochs : int, default=300
            Full-batch gradient steps (Adam), a whole number >= 1.
        learning_rate : float, default=0.5
            Adam step size, a finite number > 0.

        Returns
        -------
        LearnedRouter
            ``self``, fitted.

        Raises
        ------
        ParameterError
            If a parameter, ``epochs`` or ``learning_rate`` is out of range.
        DataError
            If the lengths differ or there are no samples.
        """
        params = self._check_params()
        try:  # a schedule that does not train (no epoch, a zero or NaN step) leaves the prior or NaN weights
            epochs = check_count("epochs", epochs)
            learning_rate = check_number("learning_rate", learning_rate, 0, low_open=True)
        except ParameterError as exc:
            raise ParameterError(f"LearnedRouter: {exc}") from None
        x = self._embed(queries, params.embedding)
        y = np.asarray(hard, dtype=np.float64).reshape(-1)
        if len(x) != len(y) or not len(y):
            raise DataError(f"LearnedRouter.fit needs as many outcomes as queries (and at least one), got "
                            f"{len(x)} queries and {len(y)} outcomes")
        l2 = params.l2
        w = np.zeros(x.shape[1])
        b = float(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)))
        m, v = np.zeros(x.shape[1] + 1), np.zeros(x.shape[1] + 1)
        for t in range(1, epochs + 1):
            p = _sigmoid(x @ w + b)
            err = p - y
            grad = np.append(x.T @ err / len(y) + l2 * w, err.mean())
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            step = learning_rate * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            w -= step[:-1]
            b -= step[-1]
        self.coef_, self.intercept_ = w, b
        return self

    def fit_log(self, path: str, **kwargs: Any) -> LearnedRouter:
        """Learn from a query log (``LLMJointInference(query_log=...)``, one JSON object per line).

        A line counts when it says whether the edge was right: an ``edge_correct`` field, or an
        ``edge_answer`` and a ``reference`` (compared as :class:`OracleRouter` does). Lines with
        neither (queries routed before the edge answered, or without a known answer) are skipped.

        Parameters
        ----------
        path : str
            The JSON-lines file.
        **kwargs : object
            Passed to :meth:`fit` (``epochs``, ``learning_rate``).

        Returns
        -------
        LearnedRouter
            ``self``, fitted.

        Raises
        ------
        DataError
            If a line is not JSON, or no line has an outcome.
        """
        from .oracle import is_correct

        queries, hard = [], []
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError as exc:
                    raise DataError(f"{path}:{number} is not JSON: {exc}") from None
                if not isinstance(entry, dict) or "query" not in entry:
                    raise DataError(f"{path}:{number} has no 'query': {line[:80]!r}")
                if entry.get("edge_correct") is not None:
                    wrong = not bool(entry["edge_correct"])
                elif entry.get("edge_answer") is not None and entry.get("reference") is not None:
                    wrong = not is_correct(entry["edge_answer"], entry["reference"])
                else:
                    continue
                queries.append(read_query(entry["query"]))
                hard.append(wrong)
        if not queries:
            raise DataError(f"{path} has no line with an outcome (edge_correct, or edge_answer and "
                            f"reference); log queries that carry their reference, or add edge_correct")
        return self.fit(queries, hard, **kwargs)

    def save(self, path: str) -> str:
        """Write the learned weights to a ``.npz`` file (no pickle) that ``model_path`` can name.

        Parameters
        ----------
        path : str
            The file.

        Returns
        -------
        str
            ``path``.

        Raises
        ------
        NotFittedError
            If the router was not fitted.
        """
        self._weights()
        n_features, ngram = self._check_embedding()
        np.savez(path, coef=self.coef_, intercept=np.asarray([self.intercept_]),
                 n_features=np.asarray([n_features]), ngram=np.asarray([ngram]))
        return path

    def _weights(self) -> tuple[np.ndarray, float]:
        coef = getattr(self, "coef_", None)
        if coef is None and self.model_path:
            if not os.path.exists(self.model_path):
                raise NotFittedError(f"LearnedRouter: model_path {self.model_path!r} does not exist; train "
                                     f"the router with fit(queries, hard) and save(path) first")
            with np.load(self.model_path, allow_pickle=False) as data:
                self.coef_ = data["coef"].astype(np.float64)
                self.intercept_ = float(data["intercept"][0])
            coef = self.coef_
        if coef is None:
            raise NotFittedError("LearnedRouter is not trained: call fit(queries, hard) on logged "
                                 "outcomes, or set model_path to a file written by save()")
        return coef, self.intercept_

    def predict_proba(self, batch: Any) -> np.ndarray:
        """Return the predicted probability that the edge answers each query wrongly.

        Parameters
        ----------
        batch : sequence
            Queries or embeddings.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            The probabilities.

        Raises
        ------
        NotFittedError
            If the router was not fitted nor given ``model_path``.
        """
        return self._predict_proba(batch)

    def _predict_proba(self, batch: Any, embedding: tuple[int, int] | None = None) -> np.ndarray:
        coef, intercept = self._weights()
        x = self._embed(batch, embedding)
        if x.shape[1] != coef.shape[0]:
            raise DataError(f"LearnedRouter was trained on {coef.shape[0]}-wide embeddings, "
                            f"got {x.shape[1]}")
        return _sigmoid(x @ coef + intercept)

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        params = self._check_params()
        scores = self._predict_proba(batch, params.embedding)
        return scores, scores > params.threshold

    def __call__(self, infer_result: Any) -> bool:
        """Tell whether one query is hard.

        Parameters
        ----------
        infer_result : object
            The query (or a generation carrying its prompt), or an embedding vector.

        Returns
        -------
        bool
            True if the query should go to the cloud.
        """
        return bool(self.is_hard([infer_result])[0])

    def clone(self) -> LearnedRouter:
        """Return a router with the same parameters and the same learned weights (no stream state).

        Returns
        -------
        LearnedRouter
            The copy.
        """
        twin = type(self)(**self.get_params())
        if getattr(self, "coef_", None) is not None:
            twin.coef_, twin.intercept_ = self.coef_, self.intercept_
        return twin

    def reset(self) -> LearnedRouter:
        """Forget the stream state (the budget); the learned weights are kept.

        Returns
        -------
        LearnedRouter
            ``self``.
        """
        coef, intercept = getattr(self, "coef_", None), getattr(self, "intercept_", None)
        super().reset()
        if coef is not None:
            self.coef_, self.intercept_ = coef, intercept
        return self
