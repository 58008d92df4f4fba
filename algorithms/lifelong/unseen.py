"""Unseen-task detection: recognise samples of tasks the knowledge base has never seen.

References
----------
.. [1] Sun, Y., Ming, Y., Zhu, X. and Li, Y., "Out-of-distribution detection with deep nearest
   neighbors", ICML 2022 (k-NN distance as the novelty score).
.. [2] Hendrycks, D. and Gimpel, K., "A baseline for detecting misclassified and out-of-distribution
   examples in neural networks", ICLR 2017 (maximum softmax probability).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from sedna_lib.base import BaseAlgorithm, check_count, check_number
from sedna_lib.exceptions import SednaWarning

from ._data import knn_distance, n_rows, take
from .task_allocation import TaskAllocationDefault, profile_features

__all__ = ["SampleRegonitionDefault", "SampleReRegonitionDefault", "ModelProbeFilter", "TaskAttrFilter",
           "UnseenTaskAllocationDefault"]


def _profiles(task_index: Any) -> dict | None:
    if not isinstance(task_index, dict):
        return None
    seen = task_index.get("seen_task", task_index) or {}
    prof = seen.get("profiles")
    return prof if isinstance(prof, dict) and len(prof.get("labels", ())) > 0 else None


class SampleRegonitionDefault(BaseAlgorithm):
    """Flag a sample as unseen when it is far from every known task (k-NN distance).

    The knowledge base keeps standardised reference samples of each task (its profile). A
    sample's novelty score is its mean distance to the ``k`` nearest references; the threshold
    is the ``quantile`` of the same score over held-out samples of the known tasks (or over the
    references themselves, leave-one-out, when none were kept), so about ``1 - quantile`` of
    seen samples are flagged. Higher score means more likely unseen.
    Without profiles (non-numeric samples) every sample is seen, with a warning.

    Parameters
    ----------
    task_index : dict, default=None
        The knowledge-base index (its ``seen_task.profiles`` are used).
    estimator : object, default=None
        The seen-task model (unused by this recogniser; kept for Sedna's calling convention).
    k : int, default=5
        Neighbours averaged, a whole number >= 1.
    quantile : float, default=0.99
        Share of reference samples that must be recognised as seen, in (0, 1].
    threshold : float, default=None
        A fixed score threshold instead of the quantile rule, a finite number >= 0.
    margin : float, default=1.5
        Factor applied to the calibrated threshold, a finite number > 0: new seen samples drift a
        little from the training samples (other writers, other days), and the margin absorbs that drift.

    Attributes
    ----------
    threshold_ : float
        The score above which a sample is unseen.

    References
    ----------
    .. [1] Sun, Y. et al., "Out-of-distribution detection with deep nearest neighbors", ICML 2022.
    """

    def __init__(self, *, task_index: Any = None, estimator: Any = None, k: int = 5, quantile: float = 0.99,
                 threshold: float | None = None, margin: float = 1.5) -> None:
        self.task_index = task_index
        self.estimator = estimator
        self.k = k
        self.quantile = quantile
        self.threshold = threshold
        self.margin = margin

    def fit(self) -> SampleRegonitionDefault:
        """Calibrate the threshold on the knowledge base's reference samples.

        Returns
        -------
        SampleRegonitionDefault
            ``self``.

        Raises
        ------
        ParameterError
            If ``k`` is not a whole number >= 1, ``quantile`` not in (0, 1], ``threshold`` not a
            finite number >= 0 or ``margin`` not a finite number > 0 (a NaN one called every sample
            unseen, an infinite one every sample seen).
        """
        k = check_count("k", self.k)
        quantile = check_number("quantile", self.quantile, 0, 1, low_open=True)
        threshold = None if self.threshold is None else check_number("threshold", self.threshold, 0)
        margin = check_number("margin", self.margin, 0, low_open=True)
        self.profiles_ = _profiles(self.task_index)
        if self.profiles_ is None:
            self.reference_ = None
            self.threshold_ = float("inf")
            return self
        self.reference_ = _finite_rows(np.asarray(self.profiles_["features"], dtype=float), "reference")
        if threshold is not None:
            self.threshold_ = threshold
        else:
            calibration = self.profiles_.get("calibration")
            if calibration is not None and len(calibration) > 0:
                held_out = knn_distance(_finite_rows(np.asarray(calibration, dtype=float), "calibration"),
                                        self.reference_, k)
            else:
                held_out = knn_distance(self.reference_, self.reference_, k, exclude_self=True)
            held_out = held_out[np.isfinite(held_out)]
            self.threshold_ = (float(np.quantile(held_out, quantile)) * margin
                               if held_out.size else float("inf"))
        return self

    def score(self, x: Any) -> np.ndarray:
        """Novelty score of each sample (higher means more likely unseen).

        Parameters
        ----------
        x : array-like or DataFrame
            The samples' features.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Mean distance to the ``k`` nearest known references; zeros without profiles.
        """
        if not hasattr(self, "threshold_"):
            self.fit()
        if self.reference_ is None:
            return np.zeros(n_rows(x))
        return knn_distance(profile_features(self.profiles_, x), self.reference_, check_count("k", self.k))

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Split samples into seen and unseen.

        Parameters
        ----------
        samples : data source
            Inference samples.
        **kwargs : object
            Ignored.

        Returns
        -------
        seen, unseen : data source
            Subsets of ``samples``; ``inx`` holds each one's original positions.
        """
        if not hasattr(self, "threshold_"):
            self.fit()
        n = n_rows(samples.x)
        if self.reference_ is None:
            warnings.warn("the knowledge base has no task profiles (non-numeric samples?): every sample is "
                          "treated as seen; pass another unseen_sample_recognition method", SednaWarning,
                          stacklevel=2)
            return take(samples, np.arange(n)), take(samples, [])
        # a NaN score (a NaN feature) is not within the threshold: unseen, not confidently seen
        unseen = ~(self.score(samples.x) <= self.threshold_) if n else np.zeros(0, dtype=bool)
        return take(samples, np.flatnonzero(~unseen)), take(samples, np.flatnonzero(unseen))


class SampleReRegonitionDefault(SampleRegonitionDefault):
    """Cloud-side re-recognition of labelled samples before an update (same k-NN distance rule).

    Parameters
    ----------
    task_index : dict, default=None
        The knowledge-base index.
    estimator : object, default=None
        Unused.
    k : int, default=5
        Neighbours averaged, a whole number >= 1.
    quantile : float, default=0.99
        Share of reference samples recognised as seen, in (0, 1].
    threshold : float, default=None
        A fixed score threshold, a finite number >= 0.
    margin : float, default=1.5
        Factor applied to the calibrated threshold, a finite number > 0.
    """


def _mean_max_probability(tasks: list) -> float | None:
    probs = []
    for task in tasks:
        model = getattr(task, "model", None)
        model = getattr(model, "model", model)
        if model is None or not hasattr(model, "predict_proba"):
            continue
        x = task.samples.x if hasattr(task.samples, "x") else task.samples
        p = np.asarray(model.predict_proba(x), dtype=float)
        probs.extend(p.max(axis=-1).ravel().tolist())
    return float(np.mean(probs)) if probs else None


class ModelProbeFilter(BaseAlgorithm):
    """Unseen when the models are unsure: mean maximum class probability below a threshold.

    Sedna's filter answered "unseen" for confident predictions (the inverse); this one follows
    the maximum-softmax-probability baseline [1]_.

    References
    ----------
    .. [1] Hendrycks, D. and Gimpel, K., ICLR 2017.
    """

    def __call__(self, tasks: list, threshold: float = 0.5, **kwargs: Any) -> bool:
        """Decide whether the tasks' samples are unseen.

        Parameters
        ----------
        tasks : list of Task
            Tasks with ``samples`` and a ``model`` that has ``predict_proba``.
        threshold : float, default=0.5
            Confidence under which the samples are unseen, in [0, 1].
        **kwargs : object
            Ignored.

        Returns
        -------
        bool
            True (unseen) if the mean maximum probability is below ``threshold``; True when no model
            gives probabilities (nothing vouches for the samples).

        Raises
        ------
        ParameterError
            If ``threshold`` is not a finite number in [0, 1].
        """
        threshold = check_number("threshold", threshold, 0, 1)
        mean = _mean_max_probability(tasks)
        return True if mean is None else bool(mean < threshold)


class TaskAttrFilter(BaseAlgorithm):
    """Seen if some task's model was trained for exactly the samples' attribute values."""

    def __call__(self, tasks: list, **kwargs: Any) -> bool:
        """Decide whether the tasks' samples are unseen.

        Parameters
        ----------
        tasks : list of Task
            Tasks whose ``samples.meta_attr`` and ``model.meta_attr`` are compared.
        **kwargs : object
            Ignored.

        Returns
        -------
        bool
            False (seen) at the first match, else True.
        """
        for task in tasks:
            model_attr = getattr(getattr(task, "model", None), "meta_attr", None)
            sample_attr = getattr(task.samples, "meta_attr", None)
            if model_attr is None or sample_attr is None:
                continue
            if _as_rows(model_attr) == _as_rows(sample_attr):
                return False
        return True


def _as_rows(value: Any) -> list:
    arr = np.asarray(value, dtype=object)
    return [list(map(str, np.atleast_1d(r))) for r in np.atleast_2d(arr)] if arr.size else []


class UnseenTaskAllocationDefault(TaskAllocationDefault):
    """Send every unseen sample to the first unseen task.

    Parameters
    ----------
    task_extractor : object, default=None
        The unseen-task extractor (unused).
    """


def _finite_rows(rows: np.ndarray, what: str) -> np.ndarray:
    """Leave out the rows with a NaN or an infinity (said once): one of them made every distance NaN."""
    if rows.ndim != 2:
        return rows
    keep = np.isfinite(rows).all(axis=1)
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} of {len(rows)} {what} samples hold a NaN or an infinity and "
                      f"are left out of unseen-sample detection", SednaWarning, stacklevel=3)
    return rows[keep]
