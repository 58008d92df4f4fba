"""Optimizers usable with either framework (solar_corona's ``optimizers``); the framework's own work too."""

from __future__ import annotations

from typing import Any

from ._named import Named

__all__ = ["Adam", "SGD", "RMSprop", "Adagrad"]


def Adam(learning_rate: float = 0.001, **options: Any) -> Named:  # noqa: N802 - Keras-style constructor name
    """Adam: ``torch.optim.Adam`` / ``keras.optimizers.Adam``.

    Parameters
    ----------
    learning_rate : float, default=0.001
        Step size.
    **options : object
        Other options, in the target framework's spelling.

    Returns
    -------
    Named
        Resolved when training starts (for torch, a factory of the model's parameters).
    """
    return Named("optimizer", "torch.optim.Adam", "keras.optimizers.Adam", learning_rate=learning_rate,
                 **options)


def SGD(learning_rate: float = 0.01, **options: Any) -> Named:  # noqa: N802
    """Stochastic gradient descent: ``torch.optim.SGD`` / ``keras.optimizers.SGD``.

    Parameters
    ----------
    learning_rate : float, default=0.01
        Step size.
    **options : object
        Other options (``momentum``, ...).

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("optimizer", "torch.optim.SGD", "keras.optimizers.SGD", learning_rate=learning_rate,
                 **options)


def RMSprop(learning_rate: float = 0.001, **options: Any) -> Named:  # noqa: N802
    """RMSprop: ``torch.optim.RMSprop`` / ``keras.optimizers.RMSprop``.

    Parameters
    ----------
    learning_rate : float, default=0.001
        Step size.
    **options : object
        Other options.

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("optimizer", "torch.optim.RMSprop", "keras.optimizers.RMSprop", learning_rate=learning_rate,
                 **options)


def Adagrad(learning_rate: float = 0.01, **options: Any) -> Named:  # noqa: N802
    """Adagrad: ``torch.optim.Adagrad`` / ``keras.optimizers.Adagrad``.

    Parameters
    ----------
    learning_rate : float, default=0.01
        Step size.
    **options : object
        Other options.

    Returns
    -------
    Named
        Resolved when training starts.
    """
    return Named("optimizer", "torch.optim.Adagrad", "keras.optimizers.Adagrad", learning_rate=learning_rate,
                 **options)
