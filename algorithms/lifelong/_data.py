"""Row, column and feature helpers shared by the task algorithms (pandas, numpy and lists alike)."""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from sedna_lib.base import check_count
from sedna_lib.exceptions import DataError, ParameterError


def is_frame(x: Any) -> bool:
    """Tell whether ``x`` is a pandas DataFrame, without importing pandas."""
    return type(x).__name__ == "DataFrame" and hasattr(x, "iloc")


def n_rows(x: Any) -> int:
    """Return the number of samples in ``x``."""
    return 0 if x is None else len(x)


def take_rows(x: Any, idx: Sequence[int]) -> Any:
    """Return rows ``idx`` of ``x`` (a DataFrame, an array, or a list)."""
    if x is None:
        return None
    idx = np.asarray(idx, dtype=int)
    if is_frame(x) or type(x).__name__ == "Series":
        return x.iloc[idx]
    if isinstance(x, np.ndarray):
        return x[idx]
    return [x[i] for i in idx]


def take(samples: Any, idx: Sequence[int]) -> Any:
    """Return a shallow copy of a data source holding rows ``idx``; ``.inx`` keeps the original rows."""
    if not hasattr(samples, "x"):
        raise DataError(f"samples must be a data source with .x and .y (e.g. BaseDataSource), "
                        f"got {type(samples).__name__}")
    sub = copy.copy(samples)
    idx = np.asarray(idx, dtype=int)
    sub.x = take_rows(samples.x, idx)
    if getattr(samples, "y", None) is not None and n_rows(samples.y) == n_rows(samples.x):
        sub.y = take_rows(samples.y, idx)
    meta = getattr(samples, "meta_attr", None)
    if meta is not None and not isinstance(meta, (str, bytes)) and _seq_len(meta) == n_rows(samples.x):
        sub.meta_attr = take_rows(np.asarray(meta, dtype=object), idx)
    base = getattr(samples, "inx", None)
    sub.inx = list(np.asarray(base)[idx]) if base is not None and _seq_len(base) == n_rows(samples.x) \
        else idx.tolist()
    return sub


def _seq_len(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return -1


def column(x: Any, name: Any) -> np.ndarray:
    """Return column ``name`` (a DataFrame label, or an integer column of an array)."""
    if is_frame(x):
        if name not in x.columns:
            raise DataError(f"column {name!r} is not in the data; columns are {list(x.columns)}")
        return x[name].to_numpy()
    arr = np.asarray(x)
    try:
        return arr[:, _index(name)]
    except (ValueError, IndexError, TypeError):
        raise DataError(f"column {name!r} needs a DataFrame with that column, or an integer index "
                        f"into a 2-D array of shape {arr.shape}") from None


def _index(name: Any) -> int:
    """Return an array column's index: a whole number or its text (int() read 2.5 as 2, True as 1)."""
    try:
        return check_count("column", name, -2 ** 63)
    except ParameterError:
        raise TypeError(f"not a column index: {name!r}") from None


def drop_columns(x: Any, names: Sequence[Any]) -> Any:
    """Return ``x`` without the given columns."""
    if not names:
        return x
    if is_frame(x):
        return x.drop(columns=list(names))
    arr = np.asarray(x)
    try:
        return np.delete(arr, [_index(n) for n in names], axis=1)
    except (IndexError, TypeError):
        raise DataError(f"columns {list(names)!r} need a DataFrame with them, or integer indices into a "
                        f"2-D array of shape {arr.shape}") from None


def features(x: Any) -> np.ndarray:
    """Return a float matrix (n_samples, n_features) from ``x`` (numeric DataFrame columns, or arrays).

    Raises
    ------
    DataError
        If ``x`` has no numeric features (file paths, text).
    """
    if is_frame(x):
        arr = x.select_dtypes(include="number").to_numpy(dtype=float)
        if arr.shape[1] == 0:
            raise DataError("the data has no numeric column to compute features from")
        return arr
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"cannot compute numeric features from {type(x).__name__} samples "
                        "(file paths or text); give numeric arrays or pick another algorithm") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    return arr.reshape(arr.shape[0], -1)


def features_on(x: Any, columns: Sequence[Any] | None) -> np.ndarray:
    """Return :func:`features` of ``x``, restricted to ``columns`` for a DataFrame when they are given.

    Raises
    ------
    DataError
        If ``x`` lacks one of ``columns``.
    """
    if not columns or not is_frame(x):
        return features(x)
    missing = [c for c in columns if c not in x.columns]
    if missing:
        raise DataError(f"the samples lack the columns {missing} the tasks were built on")
    return x[list(columns)].to_numpy(dtype=float)


def entry_of(values: Sequence[Any]) -> str:
    """Return Sedna's task name for attribute values (``_`` -> ``-``, no spaces, joined by ``_``)."""
    return "_".join(str(v).replace("_", "-").replace(" ", "") for v in values)


def knn_distance(query: np.ndarray, reference: np.ndarray, k: int, *, exclude_self: bool = False,
                 chunk: int = 2048) -> np.ndarray:
    """Return the mean Euclidean distance from each query row to its ``k`` nearest reference rows."""
    if reference.shape[0] == 0:
        return np.full(query.shape[0], np.inf)
    k_eff = max(1, min(k, reference.shape[0] - (1 if exclude_self else 0)))
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty(query.shape[0])
    for start in range(0, query.shape[0], chunk):
        q = query[start:start + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + ref_sq[None, :] - 2.0 * q @ reference.T
        np.maximum(d2, 0.0, out=d2)
        kk = k_eff + (1 if exclude_self else 0)
        part = np.partition(d2, min(kk, d2.shape[1]) - 1, axis=1)[:, :kk]
        part.sort(axis=1)
        if exclude_self:
            part = part[:, 1:]
        out[start:start + chunk] = np.sqrt(part).mean(axis=1)
    return out
