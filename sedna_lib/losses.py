"""Losses usable with either framework (solar_corona's ``losses``); the framework's own losses work too."""

from __future__ import annotations

from typing import Any

from ._named import Named

__all__ = ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError"]


def CategoricalCrossentropy(**options: Any) -> Named:  # noqa: N802 - Keras-style constructor name
    """Cross-entropy on one-hot (or probability) targets: ``torch.nn.CrossEntropyLoss`` / Keras'.

    Parameters
    ----------
    **options : object
        Keras options such as ``from_logits`` (torch always takes logits).

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("loss", "torch.nn.CrossEntropyLoss", "keras.losses.CategoricalCrossentropy", **options)


def SparseCategoricalCrossentropy(**options: Any) -> Named:  # noqa: N802
    """Cross-entropy on integer labels: ``torch.nn.CrossEntropyLoss`` / Keras'.

    Parameters
    ----------
    **options : object
        Keras options such as ``from_logits``.

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("loss", "torch.nn.CrossEntropyLoss", "keras.losses.SparseCategoricalCrossentropy", **options)


def BinaryCrossentropy(**options: Any) -> Named:  # noqa: N802
    """Binary cross-entropy: ``torch.nn.BCEWithLogitsLoss`` / Keras'.

    Parameters
    ----------
    **options : object
        Keras options.

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("loss", "torch.nn.BCEWithLogitsLoss", "keras.losses.BinaryCrossentropy", **options)


def MeanSquaredError(**options: Any) -> Named:  # noqa: N802
    """Mean squared error: ``torch.nn.MSELoss`` / Keras'.

    Parameters
    ----------
    **options : object
        Options.

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("loss", "torch.nn.MSELoss", "keras.losses.MeanSquaredError", **options)
