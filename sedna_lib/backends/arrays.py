"""Data and weights as numpy arrays: splitting ``(x, y)``, checking numeric inputs, casting new weights."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..base import cast_to_layer
from ..exceptions import BackendError, DataError

__all__ = ["split_xy", "numeric_array", "cast_like", "is_one_sample"]


def split_xy(data: Any, y: Any = None) -> tuple[Any, Any]:
    """Split training or evaluation data into features and labels.

    Parameters
    ----------
    data : object
        ``(x, y)`` tuple or list of length 2, an object with ``.x`` and ``.y`` attributes (a
        :class:`~sedna_lib.datasources.BaseDataSource`), a mapping with ``'x'``/``'y'`` keys, or
        features alone.
    y : object, default=None
        Labels, when ``data`` holds only features.

    Returns
    -------
    tuple
        ``(x, y)``; ``y`` may be None.

    Examples
    --------
    >>> split_xy(([1, 2], [0, 1]))
    ([1, 2], [0, 1])
    >>> split_xy([[1.0], [2.0]], y=[0, 1])
    ([[1.0], [2.0]], [0, 1])
    """
    if y is not None:
        return data, y
    if isinstance(data, tuple) and len(data) == 2:
        return data[0], data[1]
    if isinstance(data, dict) and "x" in data:
        return data["x"], data.get("y")
    if hasattr(data, "x") and hasattr(data, "y") and not isinstance(data, np.ndarray):
        return data.x, data.y
    return data, None


def numeric_array(value: Any, *, features: bool, hint: str) -> np.ndarray:
    """Return ``value`` as a numeric array, features as float32 (other floats, ints and bools are cast).

    Raises :class:`DataError` for what cannot be an array or is not numeric; ``hint`` says what
    to pass instead.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot turn {type(value).__name__} into an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise DataError(f"data must be numeric arrays, got dtype {arr.dtype}; {hint}")
    if features and arr.dtype != np.float32 and arr.dtype.kind in "fiub":
        arr = arr.astype(np.float32)
    return arr


def cast_like(owner: str, weights: Sequence[Any], current: Sequence[np.ndarray],
              names: Sequence[str] | None = None) -> list[np.ndarray]:
    """Cast new weights to the dtypes of ``current`` (:func:`~sedna_lib.base.cast_to_layer`), checking shapes.

    Raises :class:`BackendError` naming ``owner`` (and the array's name, if given) on a mismatch.
    The arrays may share memory with ``weights``.
    """
    if len(weights) != len(current):
        raise BackendError(f"{owner} has {len(current)} weight arrays, got {len(weights)}")
    arrays = []
    for k, (new, old) in enumerate(zip(weights, current)):
        arr = cast_to_layer(new, old.dtype)  # floats into integer layers: rounded, within range
        if arr.shape != old.shape:
            label = f"weight {k}" if names is None else f"weight {k} ({names[k]})"
            raise BackendError(f"{label} has shape {old.shape}, got {arr.shape}")
        arrays.append(arr)
    return arrays


def is_one_sample(data: Any, n_features: int | None, *, array_types: tuple = (np.ndarray,),
                  takes: str = "the model's input takes") -> bool:
    """Whether ``data`` is one sample: a 1-D vector of the ``n_features > 1`` features a model takes.

    scikit-learn's rule, for the other frameworks: a 1-D vector of another length raises
    :class:`~sedna_lib.exceptions.DataError` (it would otherwise be cut into batches of scalars, and a
    batch that happened to have ``n_features`` values answered as one sample). Without a known
    width, or a width of one, a 1-D input is left as it is (a batch of scalars or of token ids).

    Parameters
    ----------
    data : object
        What ``predict`` was given.
    n_features : int or None
        The width the model's first layer takes, when it can be read.
    array_types : tuple of type, default=(numpy.ndarray,)
        Array types whose ``ndim`` is read directly (a framework adds its tensor type).
    takes : str, default="the model's input takes"
        How the message names where the width comes from.

    Returns
    -------
    bool
        True for one sample.

    Raises
    ------
    DataError
        If ``data`` is a 1-D vector whose length is not ``n_features``.
    """
    if isinstance(data, array_types):
        ndim = data.ndim
    elif isinstance(data, list):
        try:
            ndim = np.ndim(data)
        except (TypeError, ValueError):  # ragged: not a vector
            return False
    else:
        return False
    if ndim != 1 or n_features is None or n_features == 1:
        return False
    if len(data) != n_features:
        raise DataError(f"got a 1-D array of {len(data)} values, but {takes} {n_features} features: pass one "
                        f"sample as {n_features} values, or a batch of shape (n, {n_features})")
    return True
