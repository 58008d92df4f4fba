"""Data and weights as numpy arrays: splitting ``(x, y)``, checking numeric inputs, casting new weights.

A model's inputs or outputs may also be a structure: a tuple, list or dict of arrays (nested
too). :func:`map_structure` applies a function to each array of one, :func:`join_batches` joins
the outputs of successive batches array by array, and :func:`single_output` refuses a structure
where one array is needed.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..base import cast_to_layer
from ..exceptions import BackendError, DataError

__all__ = ["split_xy", "numeric_array", "cast_like", "is_one_sample", "is_structure", "first_row",
           "map_structure", "leaves", "join_batches", "describe_structure", "single_output"]


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


def is_structure(value: Any) -> bool:
    """Whether ``value`` is a structure of arrays: a tuple, list or dict (its subclasses too)."""
    return isinstance(value, (tuple, list, dict))


def first_row(out: Any) -> Any:
    """Return the first row of an output, or of each output of a structure (a batch of one's sample).

    A ``None`` output stays ``None``.

    Examples
    --------
    >>> first_row((np.array([[1, 2]]), {"score": np.array([0.5])}))
    (array([1, 2]), {'score': np.float64(0.5)})
    """
    if is_structure(out):
        return map_structure(lambda leaf: leaf if leaf is None else leaf[0], out)
    return out[0]


def map_structure(fn: Any, value: Any) -> Any:
    """Apply ``fn`` to each leaf of nested tuples, lists and dicts, keeping their types and keys.

    A named tuple stays a named tuple, and a dict subclass is rebuilt from a dict where its
    constructor takes one (a plain dict otherwise). Anything else is a leaf.

    Examples
    --------
    >>> map_structure(lambda leaf: leaf * 2, (1, [2, 3], {"a": 4}))
    (2, [4, 6], {'a': 8})
    """
    if isinstance(value, dict):
        items = {key: map_structure(fn, item) for key, item in value.items()}
        if type(value) is dict:
            return items
        try:
            return type(value)(items)
        except TypeError:
            return items
    if isinstance(value, tuple):
        items = [map_structure(fn, item) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [map_structure(fn, item) for item in value]
    return fn(value)


def leaves(value: Any) -> list[Any]:
    """Return the leaves of a structure in order (``[value]`` for a leaf)."""
    found: list[Any] = []
    map_structure(found.append, value)
    return found


def _layout(value: Any) -> Any:
    """Return the shape of a structure without its leaves: types, lengths and keys, for comparing batches."""
    if isinstance(value, dict):
        return dict, tuple((key, _layout(item)) for key, item in value.items())
    if isinstance(value, (tuple, list)):
        return type(value), tuple(_layout(item) for item in value)
    return None


def join_batches(parts: Sequence[Any], concat: Any) -> Any:
    """Join the outputs of successive batches, each leaf along axis 0, into one structure like theirs.

    Parameters
    ----------
    parts : sequence
        One output per batch, each a structure of the same layout.
    concat : callable
        ``concat(list_of_leaves) -> leaf``: joins one leaf of every batch.

    Returns
    -------
    object
        The structure of the first part, each leaf joined over all parts.

    Raises
    ------
    DataError
        If the batches' outputs differ in layout.
    """
    layout = _layout(parts[0])
    if any(_layout(part) != layout for part in parts[1:]):
        raise DataError("the model returned outputs of different structures for different batches")
    columns = zip(*(leaves(part) for part in parts))
    joined = iter([concat(list(column)) for column in columns])
    return map_structure(lambda _: next(joined), parts[0])


def describe_structure(value: Any) -> str:
    """Name a structure of outputs for a message: ``a tuple of 2 outputs``, ``a dict of outputs 'a', 'b'``."""
    if isinstance(value, dict):
        return f"a {type(value).__name__} of outputs {', '.join(repr(key) for key in value)}"
    return f"a {type(value).__name__} of {len(value)} outputs"


def single_output(out: Any) -> Any:
    """Return ``out`` when it is one array; raise :class:`DataError` for a structure of outputs.

    Class probabilities are read from one output: which output of several holds them is the
    user's choice.
    """
    if is_structure(out):
        raise DataError(f"the model returns {describe_structure(out)}; class probabilities are read from one "
                        f"output: choose it (a post_fun that takes it, or a model returning one tensor), or "
                        f"call predict, which returns them all")
    return out
