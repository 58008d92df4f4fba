"""Shared machinery of the hard-example miners: input parsing and the ``upload_ratio`` budget.

References
----------
.. [1] Settles, B. "Active Learning Literature Survey", University of Wisconsin-Madison,
   Computer Sciences Technical Report 1648, 2009 (uncertainty, margin and entropy sampling).
"""

from __future__ import annotations

import abc
import math
import threading
from typing import Any

import numpy as np

from sedna_lib.base import HardExampleMiner, check_count, check_number
from sedna_lib.exceptions import DataError, ParameterError

STATE_LOCK = threading.Lock()
"""Guards the creation of a miner's run-time state (``budget_``, ``rng_``) on first use."""

__all__ = ["OnlineQuantileBudget", "ScoredMiner", "as_probabilities", "as_detections", "check_param",
           "check_unit", "per_sample"]

_TOL = 1e-6
_MIN_SPREAD = 8  # samples over which the first few samples' deficit is repaid
_SHORT = 64  # probability vectors up to this length are decided in plain floats (faster than arrays there)


def check_param(miner: Any, name: str, low: float | None = None, high: float | None = None, *,
                count: bool = False) -> Any:
    """Return parameter ``name`` of ``miner`` checked by :func:`~sedna_lib.base.check_number`.

    With ``count=True`` it is checked by :func:`~sedna_lib.base.check_count` instead, as a whole
    number >= ``low`` (default 1). The message names the miner: ``"ThresholdFilter: threshold
    must be a finite number in [0, 1], got nan"``.

    Raises
    ------
    ParameterError
        If the value is not a finite number in range (or not a whole number), or is a bool.
    """
    value = getattr(miner, name)
    try:
        if count:
            return check_count(name, value, 1 if low is None else int(low))
        return check_number(name, value, low, high)
    except ParameterError as exc:
        raise ParameterError(f"{type(miner).__name__}: {exc}") from None


def check_unit(miner: Any, name: str) -> float:
    """Return parameter ``name`` of ``miner`` as a float in [0, 1], or raise ParameterError."""
    return check_param(miner, name, 0.0, 1.0)


def _check_range(values: np.ndarray, what: str) -> None:
    # two reductions: a NaN makes min/max NaN, which fails both comparisons, and an inf is out of range
    if values.size and not (values.min() >= -_TOL and values.max() <= 1 + _TOL):
        bad = values[~np.isfinite(values) | (values < -_TOL) | (values > 1 + _TOL)][0]
        raise DataError(f"{what} must lie in [0, 1], got {bad!r}; pass probabilities (softmax or "
                        f"predict_proba output), not logits or raw scores")


def as_probabilities(batch: Any) -> np.ndarray:
    """Return a batch of class-probability vectors as a float64 array of shape (n, k).

    Parameters
    ----------
    batch : array-like
        A 2-D array, or a list of equal-length 1-D vectors.

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_classes)
        The probabilities.

    Raises
    ------
    DataError
        If the vectors are ragged, not numeric, not 1-D, or outside [0, 1].
    """
    if isinstance(batch, np.ndarray) and batch.ndim == 2:
        probs = batch.astype(np.float64, copy=False)
    else:
        try:
            probs = np.asarray([np.asarray(p, dtype=np.float64).reshape(-1) for p in batch])
        except (TypeError, ValueError) as exc:
            raise DataError(f"expected class-probability vectors of equal length, got {type(batch).__name__} "
                            f"({exc})") from None
        if probs.ndim == 1:  # a batch of empty vectors
            probs = probs.reshape(len(probs), 0)
        if probs.ndim != 2:
            raise DataError(f"expected a batch of 1-D class-probability vectors, got shape {probs.shape}")
    _check_range(probs, "class probabilities")
    return probs


def as_detections(batch: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the box confidences of a batch of detection results, flattened, and the box counts.

    Each sample is a list of boxes ``[x1, y1, x2, y2, score, ...]`` (the score at index 4), or a
    1-D class-probability vector, read as one box whose score is the top probability. An empty
    list is a sample with no box.

    Parameters
    ----------
    batch : array-like
        A 3-D array (n, boxes, >= 5), a 2-D array of probability vectors, or a list of samples.

    Returns
    -------
    scores : numpy.ndarray of float64
        The confidences of every box of every sample, in order.
    counts : numpy.ndarray of int64, shape (n_samples,)
        How many boxes each sample has.

    Raises
    ------
    DataError
        If a box has fewer than 5 values or a confidence lies outside [0, 1].
    """
    if isinstance(batch, np.ndarray) and batch.ndim == 3:
        if batch.shape[2] < 5 and batch.shape[1]:
            raise DataError(f"boxes need at least 5 values [x1, y1, x2, y2, score, ...], "
                            f"got {batch.shape[2]}")
        scores = batch[:, :, 4].astype(np.float64).reshape(-1) if batch.shape[1] else np.zeros(0)
        counts = np.full(batch.shape[0], batch.shape[1], dtype=np.int64)
    elif isinstance(batch, np.ndarray) and batch.ndim == 2:
        _check_range(batch.astype(np.float64, copy=False), "class probabilities")
        scores = batch.max(axis=1).astype(np.float64) if batch.shape[1] else np.zeros(0)
        counts = np.full(batch.shape[0], 1 if batch.shape[1] else 0, dtype=np.int64)
        return scores, counts  # the probabilities were checked, so their maxima are in range
    else:
        parts, counts_list = [], []
        for i, sample in enumerate(batch):
            try:
                arr = np.asarray(sample, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                # boxes may carry a label after the score ([x1, y1, x2, y2, score, "helmet"], as
                # Sedna's post-processing writes them): only the score is read
                try:
                    parts.append(np.asarray([float(box[4]) for box in sample], dtype=np.float64))
                except (TypeError, ValueError, IndexError, KeyError):
                    raise DataError(f"sample {i}: detections must be boxes [x1, y1, x2, y2, score, ...] with "
                                    f"a numeric score ({exc})") from None
                counts_list.append(len(parts[-1]))
                continue
            if arr.size == 0:
                counts_list.append(0)
            elif arr.ndim == 1:
                _check_range(arr, f"sample {i}: class probabilities")
                parts.append(arr.max(keepdims=True))
                counts_list.append(1)
            elif arr.ndim == 2 and arr.shape[1] >= 5:
                parts.append(arr[:, 4])
                counts_list.append(arr.shape[0])
            else:
                raise DataError(f"sample {i}: boxes need at least 5 values [x1, y1, x2, y2, score, ...], "
                                f"got shape {arr.shape}")
        scores = np.concatenate(parts) if parts else np.zeros(0)
        counts = np.asarray(counts_list, dtype=np.int64)
    _check_range(scores, "box confidences")
    return scores, counts


def per_sample(values: np.ndarray, counts: np.ndarray, empty: float) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` per sample (``counts`` consecutive entries each); return sums and safe counts."""
    if values.size == counts.size and (counts == 1).all():  # one box per sample (a probability vector each)
        return values.astype(np.float64), np.ones(counts.size, dtype=np.int64)
    sums = np.full(len(counts), empty, dtype=np.float64)
    nonempty = counts > 0
    if values.size:
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[nonempty]
        sums[nonempty] = np.add.reduceat(values, starts)
    return sums, np.maximum(counts, 1)


class OnlineQuantileBudget:
    """Keep the share of flagged samples near ``ratio`` on a stream of hardness scores.

    A sample is flagged when its score exceeds the ``1 - r`` quantile of the recent scores (a
    sliding window, plus the current batch), where ``r`` is the requested ratio corrected by the
    running deficit ``ratio * seen - flagged`` spread over as many samples as it built up over
    (the samples seen so far, at most one window). The window follows a shift of the data; the
    correction makes the realised ratio converge to the request, early in a stream too. Whatever
    the scores do (a stream whose hardness keeps falling or rising never crosses a lagging
    quantile), the count of flagged samples never strays more than ``slack`` samples from
    ``ratio * seen``: the batch's hardest unflagged samples go up, or its easiest flagged ones down.

    Parameters
    ----------
    ratio : float
        Requested share of flagged samples, in [0, 1].
    window : int, default=512
        How many recent scores the quantile is taken over, a whole number >= 1.
    slack : float, default=8
        Most samples the flagged count may stray from the request, a finite number >= 0: over
        ``k`` samples the realised share is within ``slack / k`` of ``ratio``. Smaller keeps the
        count tighter early in a stream and leaves the quantile less room to pick the hardest samples.

    Attributes
    ----------
    seen : int
        Samples decided so far.
    flagged : int
        Samples flagged so far.

    Raises
    ------
    ParameterError
        If ``ratio``, ``window`` or ``slack`` is out of range (checked here: the budget is the
        run-time state of a miner, built on its first batch).
    """

    def __init__(self, ratio: float, *, window: int = 512, slack: float = 8.0) -> None:
        self.ratio = check_number("ratio", ratio, 0, 1)
        self.window = check_count("window", window)
        self.slack = check_number("slack", slack, 0)
        self.seen = 0
        self.flagged = 0
        self._history = np.empty(0, dtype=np.float64)
        self._lock = threading.Lock()

    @property
    def realised_ratio(self) -> float:
        """Share of samples flagged so far (0.0 before any)."""
        return self.flagged / self.seen if self.seen else 0.0

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """Flag the samples of a batch, in stream order, and learn from their scores.

        Parameters
        ----------
        scores : numpy.ndarray of shape (n_samples,)
            Hardness scores, higher is harder.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            True for the flagged samples.
        """
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        n = len(scores)
        if n == 0:
            return np.zeros(0, dtype=bool)
        with self._lock:
            deficit = self.ratio * self.seen - self.flagged
            # repaid at the pace it grew: over the samples seen so far, at most a window
            spread = max(n, min(self.window, max(self.seen, _MIN_SPREAD)))
            target = min(max(self.ratio + deficit / spread, 0.0), 1.0)
            keep = max(self.window - n, 0)
            recent = self._history[len(self._history) - keep:] if keep else self._history[:0]
            reference = np.concatenate((recent, scores))
            if target >= 1.0:
                hard = np.ones(n, dtype=bool)
            elif target <= 0.0:
                hard = np.zeros(n, dtype=bool)
            else:
                threshold = np.quantile(reference, 1.0 - target)
                hard = scores > threshold
                if n == 1 and not hard[0] and scores[0] == threshold and deficit >= 1.0:
                    hard[0] = True  # cold start or ties: a sample owed to the budget goes up
            self._history = reference[-self.window:]
            self.flagged += self._keep_within_slack(hard, scores)
            self.seen += n
        return hard

    def _keep_within_slack(self, hard: np.ndarray, scores: np.ndarray) -> int:
        """Flag or unflag the fewest samples of the batch that keep the count within ``slack``.

        Returns the batch's flagged count.
        """
        owed = self.ratio * (self.seen + len(scores)) - self.flagged  # flags this batch should bring
        least = min(len(scores), max(0, math.ceil(owed - self.slack - _TOL)))
        most = max(0, min(len(scores), math.floor(owed + self.slack + _TOL)))
        count = int(hard.sum())
        if count < least:  # the hardest of the unflagged go up
            idle = np.flatnonzero(~hard)
            hard[idle[np.argsort(-scores[idle], kind="stable")[:least - count]]] = True
            return least
        if count > most:  # the easiest of the flagged come down
            chosen = np.flatnonzero(hard)
            hard[chosen[np.argsort(scores[chosen], kind="stable")[:count - most]]] = False
            return most
        return count


class ScoredMiner(HardExampleMiner):
    """A miner that scores hardness; a fixed rule decides, or ``upload_ratio`` sets a budget.

    Subclasses implement :meth:`_evaluate`, returning the scores and the fixed rule's decision,
    and declare ``upload_ratio`` in their constructor.
    """

    scored = True
    upload_ratio: float | None = None

    def __call__(self, infer_result: Any) -> bool:
        """Tell whether one inference result is hard.

        Parameters
        ----------
        infer_result : object
            One sample's result (probability vector, box list...).

        Returns
        -------
        bool
            True if the sample should go to the cloud.
        """
        if (isinstance(infer_result, np.ndarray) and infer_result.ndim == 1
                and infer_result.dtype.kind in "biuf" and self.input_kind in ("probabilities", "detections")):
            if (self.upload_ratio is None and infer_result.dtype.kind == "f"
                    and 2 <= infer_result.size <= _SHORT):
                values = infer_result.tolist()
                # a short vector of probabilities decides in plain floats (the same float64 operations as
                # the array path, without its per-call array overhead); anything else takes that path
                low, high = min(values), max(values)
                total = sum(values)
                if low >= -_TOL and high <= 1 + _TOL and total == total:  # total is NaN if any value is
                    decided = self._decide_one(values, high)
                    if decided is not None:
                        return decided
            batch: Any = infer_result.reshape(1, -1)  # one probability vector: the array path, no list
        else:
            batch = [infer_result]
        return bool(self.is_hard(batch)[0])

    @abc.abstractmethod
    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scores, hard_by_rule)`` for a batch."""

    def _decide_one(self, values: list[float], top: float) -> bool | None:
        """Decide one probability vector by the fixed rule (its values checked finite and in [0, 1]).

        ``values`` are the probabilities as floats and ``top`` their maximum. A subclass that
        decides here must agree with :meth:`_evaluate` exactly; None means "use the array path".
        """
        return None

    def score(self, batch: Any) -> np.ndarray:
        """Return each sample's hardness, higher is harder.

        Parameters
        ----------
        batch : array-like or list
            A batch of results.

        Returns
        -------
        numpy.ndarray of float, shape (n_samples,)
            The scores.
        """
        return self._evaluate(batch)[0]

    def is_hard(self, batch: Any) -> np.ndarray:
        """Flag hard samples: by the fixed rule, or to meet ``upload_ratio`` when it is set.

        Parameters
        ----------
        batch : array-like or list
            A batch of results.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            True where the sample should go to the cloud.

        Raises
        ------
        ParameterError
            If a parameter is out of range.
        DataError
            If the batch is not what the miner reads.
        """
        budget = None if self.upload_ratio is None else self._budget()  # checks upload_ratio first
        scores, hard = self._evaluate(batch)
        if budget is None:
            return hard
        return budget.decide(scores)

    def _budget(self) -> OnlineQuantileBudget:
        budget = getattr(self, "budget_", None)
        wanted = self.upload_ratio  # first use, or set_params changed the ratio: a budget for it
        if budget is None or getattr(self, "_budget_for", None) != wanted:
            with STATE_LOCK:  # two threads mining for the first time share one budget
                budget = getattr(self, "budget_", None)
                if budget is None or getattr(self, "_budget_for", None) != wanted:
                    fresh = OnlineQuantileBudget(check_unit(self, "upload_ratio"))
                    if budget is not None:  # a new target, from the scores seen so far
                        fresh._history = budget._history
                    budget = self.budget_ = fresh
                    self._budget_for = wanted
        return budget
