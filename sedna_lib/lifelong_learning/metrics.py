"""Continual-learning metrics on an accuracy matrix: ACC, BWT, FWT and forgetting.

``R[i, j]`` is the accuracy on task ``j`` after training on tasks ``0..i`` (rows: training
steps, columns: test tasks), as in GEM [1]_ and Avalanche [3]_.

References
----------
.. [1] Lopez-Paz, D. and Ranzato, M., "Gradient episodic memory for continual learning",
   NeurIPS 2017 (ACC, BWT, FWT).
.. [2] Chaudhry, A. et al., "Riemannian walk for incremental learning: understanding forgetting
   and intransigence", ECCV 2018 (forgetting as the drop from the best earlier accuracy).
.. [3] Lomonaco, V. et al., "Avalanche: an end-to-end library for continual learning", CVPR-W 2021.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..exceptions import DataError

__all__ = ["accuracy_matrix", "average_accuracy", "backward_transfer", "forward_transfer", "forgetting",
           "summary"]


def _square(matrix: Any) -> np.ndarray:
    r = np.asarray(matrix, dtype=float)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] == 0:
        raise DataError(f"the accuracy matrix must be square (tasks x tasks), got shape {r.shape}")
    return r


def accuracy_matrix(evaluate: Callable[[int], Sequence[float]], n_tasks: int) -> np.ndarray:
    """Build ``R`` by calling ``evaluate(i)`` after each training step ``i``.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(i)`` trains on task ``i`` (or is called after that) and returns the accuracy on
        every task ``0..n_tasks-1``.
    n_tasks : int
        Number of tasks.

    Returns
    -------
    numpy.ndarray of shape (n_tasks, n_tasks)
        The accuracy matrix.

    Examples
    --------
    >>> accuracy_matrix(lambda i: [1.0, 0.5 + 0.5 * i], 2).tolist()
    [[1.0, 0.5], [1.0, 1.0]]
    """
    return np.asarray([list(evaluate(i)) for i in range(n_tasks)], dtype=float)


def average_accuracy(matrix: Any) -> float:
    """ACC: mean accuracy over all tasks after the last step.

    Parameters
    ----------
    matrix : array-like of shape (T, T)
        The accuracy matrix.

    Returns
    -------
    float
        ``mean_j R[T-1, j]``.

    Examples
    --------
    >>> average_accuracy([[0.9, 0.1], [0.5, 0.8]])
    0.65
    """
    r = _square(matrix)
    return float(r[-1].mean())


def backward_transfer(matrix: Any) -> float:
    """BWT: how training later tasks changed earlier ones (negative means forgetting).

    Parameters
    ----------
    matrix : array-like of shape (T, T)
        The accuracy matrix.

    Returns
    -------
    float
        ``1/(T-1) * sum_{j<T-1} (R[T-1, j] - R[j, j])``; 0 for one task.

    Examples
    --------
    >>> round(backward_transfer([[0.9, 0.1], [0.5, 0.8]]), 3)
    -0.4
    """
    r = _square(matrix)
    t = r.shape[0]
    if t == 1:
        return 0.0
    return float(np.mean([r[-1, j] - r[j, j] for j in range(t - 1)]))


def forward_transfer(matrix: Any, baseline: Sequence[float]) -> float:
    """FWT: accuracy on a task before training on it, above a baseline (random-init model).

    Parameters
    ----------
    matrix : array-like of shape (T, T)
        The accuracy matrix.
    baseline : sequence of float
        ``b[j]``: accuracy on task ``j`` of the untrained (randomly initialised) model.

    Returns
    -------
    float
        ``1/(T-1) * sum_{j>=1} (R[j-1, j] - b[j])``; 0 for one task.

    Raises
    ------
    DataError
        If ``baseline`` does not have one value per task.

    Examples
    --------
    >>> round(forward_transfer([[0.9, 0.3], [0.5, 0.8]], [0.1, 0.1]), 3)
    0.2
    """
    r = _square(matrix)
    b = np.asarray(baseline, dtype=float)
    if b.shape != (r.shape[0],):
        raise DataError(f"baseline needs one accuracy per task ({r.shape[0]}), got {b.shape}")
    t = r.shape[0]
    if t == 1:
        return 0.0
    return float(np.mean([r[j - 1, j] - b[j] for j in range(1, t)]))


def forgetting(matrix: Any, *, mode: str = "avalanche") -> float:
    """Average forgetting over the tasks before the last.

    Parameters
    ----------
    matrix : array-like of shape (T, T)
        The accuracy matrix.
    mode : {'avalanche', 'max'}, default='avalanche'
        ``'avalanche'``: accuracy right after learning the task minus the final one (so
        forgetting = -BWT). ``'max'``: the best earlier accuracy minus the final one (Chaudhry).

    Returns
    -------
    float
        Mean forgetting over tasks ``0..T-2``; 0 for one task.

    Raises
    ------
    DataError
        If ``mode`` is unknown.

    Examples
    --------
    >>> forgetting([[0.9, 0.1], [0.5, 0.8]])
    0.4
    """
    r = _square(matrix)
    t = r.shape[0]
    if t == 1:
        return 0.0
    if mode == "avalanche":
        return float(np.mean([r[j, j] - r[-1, j] for j in range(t - 1)]))
    if mode == "max":
        return float(np.mean([r[j:t - 1, j].max() - r[-1, j] for j in range(t - 1)]))
    raise DataError(f"forgetting mode must be 'avalanche' or 'max', got {mode!r}")


def summary(matrix: Any, baseline: Sequence[float] | None = None) -> dict[str, float]:
    """All metrics of an accuracy matrix.

    Parameters
    ----------
    matrix : array-like of shape (T, T)
        The accuracy matrix.
    baseline : sequence of float, default=None
        Random-init accuracies, for FWT (omitted when None).

    Returns
    -------
    dict
        ``acc``, ``bwt``, ``forgetting``, ``forgetting_max`` and, with a baseline, ``fwt``.
    """
    out = {"acc": average_accuracy(matrix), "bwt": backward_transfer(matrix),
           "forgetting": forgetting(matrix), "forgetting_max": forgetting(matrix, mode="max")}
    if baseline is not None:
        out["fwt"] = forward_transfer(matrix, baseline)
    return out
