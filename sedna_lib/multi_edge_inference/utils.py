"""Helpers of the multi-edge components (Sedna's ``get_parameters``)."""

from __future__ import annotations

from typing import Any

from ..config import get_parameter

__all__ = ["get_parameters"]


def get_parameters(param: str, default: Any = None) -> Any:
    """Read a variable at call time with Sedna's rule (``param``, then ``param.upper()``; empty is unset).

    Parameters
    ----------
    param : str
        Variable name.
    default : object, default=None
        Returned when the variable is unset.

    Returns
    -------
    str or object
        The raw value, or ``default``.
    """
    return get_parameter(param, default)
