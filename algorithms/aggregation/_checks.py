"""Checks of aggregator parameters: finite numbers in range, whole numbers of clients.

NaN compares false with everything, so ``if value < 0: raise`` accepts it; these checks refuse
NaN and infinity explicitly, and ``bool`` (``True`` is not a count). Values may be the text a
control plane writes (``"0.5"``), as ``float()`` reads it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from sedna_lib.exceptions import ParameterError

__all__ = ["check_number", "check_count"]


def _as_float(name: str, value: Any, what: str) -> float:
    number = None
    if not isinstance(value, (bool, np.bool_)) and value is not None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            pass
    if number is None or not math.isfinite(number):
        raise ParameterError(f"{name} must be {what}, got {value!r}")
    return number


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking that it is a finite number in range.

    A NaN compares false with every bound, so a plain ``value < 0`` check lets it through; a
    NaN or infinite noise multiplier, clipping norm or rate would silently disable the noise, the
    privacy accounting or a discount. The aggregators check their parameters through here.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        A number (or its text, as a control plane writes parameters); ``bool`` is refused.
    low, high : float, default=None
        The bounds (None: unbounded on that side).
    low_open, high_open : bool, default=False
        Exclude the bound itself.

    Returns
    -------
    float
        The value.

    Raises
    ------
    ParameterError
        If the value is not a number, is NaN or infinite, or is out of range.

    Examples
    --------
    >>> check_number("delta", "1e-5", 0, 1, low_open=True, high_open=True)
    1e-05
    >>> check_number("noise_multiplier", float("nan"), 0)
    Traceback (most recent call last):
    ...
    sedna_lib.exceptions.ParameterError: noise_multiplier must be a finite number >= 0, got nan
    """
    if low is not None and high is not None:
        what = f"a finite number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        what = f"a finite number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        what = f"a finite number {'<' if high_open else '<='} {high:g}"
    else:
        what = "a finite number"
    number = _as_float(name, value, what)
    if low is not None and (number < low or (low_open and number == low)) \
            or high is not None and (number > high or (high_open and number == high)):
        raise ParameterError(f"{name} must be {what}, got {value!r}")
    return number


def check_count(name: str, value: Any, low: int = 1) -> int:
    """Return ``value`` as an int after checking that it is a whole number >= ``low``.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        An integer, an integral float or its text; ``bool`` and fractions are refused.
    low : int, default=1
        The smallest value allowed.

    Returns
    -------
    int
        The value.

    Raises
    ------
    ParameterError
        If the value is not a whole number >= ``low``.

    Examples
    --------
    >>> check_count("num_sampled_clients", "10")
    10
    """
    what = f"a whole number >= {low}"
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        number = int(value)
    else:
        real = _as_float(name, value, what)
        number = int(real) if real.is_integer() else None
    if number is None or number < low:
        raise ParameterError(f"{name} must be {what}, got {value!r}")
    return number
