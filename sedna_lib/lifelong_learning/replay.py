"""A replay baseline: one model retrained on each new task plus a fixed-size memory of earlier samples.

References
----------
.. [1] Chaudhry, A. et al., "On tiny episodic memories in continual learning", arXiv:1902.10486, 2019.
.. [2] Rolnick, D. et al., "Experience replay for continual learning", NeurIPS 2019.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import check_count
from ..exceptions import NotFittedError
from .seen_task_learning import fresh_estimator

__all__ = ["ReplayLearner"]


class ReplayLearner:
    """Train one model per step on the new task plus a class-balanced replay memory.

    Use it to check whether a knowledge base beats simply replaying stored samples at the same
    memory budget.

    Parameters
    ----------
    estimator : object
        A scikit-learn-style estimator (``fit``/``predict``); a fresh copy is trained each step.
    memory_size : int, default=200
        Samples kept in memory across all tasks (spread evenly over the classes seen so far).
    random_state : int, default=0
        Seed of the memory sampling.

    Attributes
    ----------
    memory_x_, memory_y_ : numpy.ndarray
        The replay memory.
    model_ : object
        The model trained at the last step.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> learner = ReplayLearner(LogisticRegression(), memory_size=4)
    >>> _ = learner.fit_task([[0.0], [0.1], [1.0], [1.1]], [0, 0, 1, 1])
    >>> len(learner.memory_y_)
    4
    """

    def __init__(self, estimator: Any, *, memory_size: int = 200, random_state: int = 0) -> None:
        self.estimator = estimator
        self.memory_size = memory_size
        self.random_state = random_state

    def fit_task(self, x: Any, y: Any) -> ReplayLearner:
        """Learn a new task: train on it plus the memory, then refresh the memory.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_features)
            The task's inputs.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        ReplayLearner
            ``self``.

        Raises
        ------
        ParameterError
            If ``memory_size`` is not a whole number >= 0 (checked before any training).
        """
        memory_size = check_count("memory_size", self.memory_size, low=0)
        x = np.asarray(x)
        y = np.asarray(y)
        if not hasattr(self, "memory_x_"):
            self.memory_x_ = x[:0]
            self.memory_y_ = y[:0]
            self._rng = np.random.default_rng(self.random_state)
        train_x = np.concatenate([x, self.memory_x_])
        train_y = np.concatenate([y, self.memory_y_])
        self.model_ = fresh_estimator(self.estimator).fit(train_x, train_y)
        self._update_memory(train_x, train_y, memory_size)
        return self

    def _update_memory(self, x: np.ndarray, y: np.ndarray, memory_size: int) -> None:
        classes = np.unique(y)
        per_class = memory_size // max(1, len(classes))
        keep = []
        for c in classes:
            idx = np.flatnonzero(y == c)
            keep.extend(self._rng.choice(idx, min(per_class, len(idx)), replace=False).tolist())
        keep = np.asarray(sorted(keep), dtype=int)
        self.memory_x_, self.memory_y_ = x[keep], y[keep]

    def predict(self, x: Any) -> np.ndarray:
        """Predict with the latest model.

        Parameters
        ----------
        x : array-like
            Inputs.

        Returns
        -------
        numpy.ndarray
            Predictions.

        Raises
        ------
        NotFittedError
            Before the first task.
        """
        if not hasattr(self, "model_"):
            raise NotFittedError("ReplayLearner has learned no task yet; call fit_task first")
        return self.model_.predict(x)
