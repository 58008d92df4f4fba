"""Type tests of the numbers that messages carry: an int or a number, never a bool.

``True`` is an ``int`` to Python, but a message field that says ``true`` where a count or a
log-probability belongs is malformed. These tests answer only "is it of the kind", leaving the
ranges and the messages to their callers (text such as ``"10"`` is not a number here, unlike
:func:`sedna_lib.base.check_count`, which reads what a control plane writes).
"""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["is_int", "is_number", "whole"]


def is_int(value: Any, *, numpy: bool = False) -> bool:
    """Whether ``value`` is an int and not a bool (with ``numpy=True``, numpy's integers too).

    Examples
    --------
    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return numpy and type(value).__module__ == "numpy" and isinstance(value, numbers.Integral)


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float and not a bool (NaN and infinities included).

    Examples
    --------
    >>> is_number(0.5), is_number(2), is_number(False), is_number("0.5")
    (True, True, False, False)
    """
    return not isinstance(value, bool) and isinstance(value, (int, float))


def whole(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (an int, numpy's too, or an integral float), else None.

    A bare ``int()`` truncates what a peer sent (``2.5`` -> 2, ``True`` -> 1); a field that must
    be whole and is not is malformed, which the caller says.

    Examples
    --------
    >>> whole(3), whole(3.0), whole(2.5), whole(True), whole(float("nan")), whole("3")
    (3, 3, None, None, None, None)
    """
    if is_int(value, numpy=True):
        return int(value)
    if isinstance(value, float) and value.is_integer():  # also refuses NaN and the infinities
        return int(value)
    return None
