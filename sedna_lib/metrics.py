"""Metrics usable with either framework (solar_corona's ``metrics``); callable on numpy arrays too."""

from __future__ import annotations

from typing import Any

from ._named import Named

__all__ = ["Accuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy"]


def CategoricalAccuracy(**options: Any) -> Named:  # noqa: N802 - Keras-style constructor name
    """Accuracy against one-hot targets (Keras' ``CategoricalAccuracy``; numpy when called).

    Parameters
    ----------
    **options : object
        Keras options.

    Returns
    -------
    Named
        ``metric(y_true, y_pred) -> float``, or the Keras metric once resolved.

    Examples
    --------
    >>> CategoricalAccuracy()([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]])
    0.5
    """
    return Named("metric", None, "keras.metrics.CategoricalAccuracy", **options)


def SparseCategoricalAccuracy(**options: Any) -> Named:  # noqa: N802
    """Accuracy against integer labels (Keras' ``SparseCategoricalAccuracy``; numpy when called).

    Parameters
    ----------
    **options : object
        Keras options.

    Returns
    -------
    Named
        The metric.
    """
    return Named("metric", None, "keras.metrics.SparseCategoricalAccuracy", **options)


def Accuracy(**options: Any) -> Named:  # noqa: N802
    """Accuracy of predicted labels (Keras' ``Accuracy``; numpy when called).

    Parameters
    ----------
    **options : object
        Keras options.

    Returns
    -------
    Named
        The metric.
    """
    return Named("metric", None, "keras.metrics.Accuracy", **options)
