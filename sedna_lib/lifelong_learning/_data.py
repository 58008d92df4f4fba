"""Data-source helpers for lifelong learning: wrap inputs, build task profiles."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..datasources import BaseDataSource
from ..exceptions import DataError, SednaWarning

__all__ = ["Samples", "as_samples", "numeric_features", "build_profiles"]


class Samples(BaseDataSource):
    """A minimal data source (``x``, ``y``, ``meta_attr``), used when the caller gives arrays.

    Parameters
    ----------
    x : array-like or DataFrame
        Inputs.
    y : array-like, default=None
        Labels.
    meta_attr : array-like, default=None
        Per-sample metadata (e.g. the origin of each sample).
    data_type : str, default='train'
        ``'train'``, ``'eval'`` or ``'test'``.
    """

    def __init__(self, x: Any, y: Any = None, meta_attr: Any = None, data_type: str = "train") -> None:
        super().__init__(data_type)
        self.x = x
        self.y = y
        self.meta_attr = meta_attr
        self.inx = None


def as_samples(data: Any, data_type: str = "train") -> Any:
    """Return ``data`` if it is a data source (has ``.x``), else wrap ``(x, y)`` or ``x`` in :class:`Samples`.

    Raises
    ------
    DataError
        If ``data`` is None.
    """
    if data is None:
        raise DataError("no data given; pass a data source (BaseDataSource/CSVDataParse) or (x, y)")
    if hasattr(data, "x") and not isinstance(data, np.ndarray):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        return Samples(data[0], data[1], data_type=data_type)
    if isinstance(data, dict) and "x" in data:
        return Samples(data["x"], data.get("y"), data.get("meta_attr"), data_type=data_type)
    return Samples(data, None, data_type=data_type)


def _is_frame(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "iloc")


def numeric_features(x: Any) -> tuple[np.ndarray, list | None]:
    """Numeric features of ``x`` and, for a DataFrame, the columns they came from.

    Raises
    ------
    DataError
        If ``x`` has no numeric features.
    """
    if _is_frame(x):
        cols = list(x.select_dtypes(include="number").columns)
        if not cols:
            raise DataError("no numeric column")
        return x[cols].to_numpy(dtype=float), cols
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{type(x).__name__} samples have no numeric features") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    return arr.reshape(arr.shape[0], -1), None


def build_profiles(group_samples: list, *, max_per_task: int = 200, seed: int = 0) -> dict | None:
    """Standardised reference samples of each task group (for nearest-task allocation and unseen detection).

    Parameters
    ----------
    group_samples : list of data source
        The samples of each task group, by group index.
    max_per_task : int, default=200
        Reference samples kept per group (a seeded random subset).
    seed : int, default=0
        Seed of the subset.

    Returns
    -------
    dict or None
        ``{"features", "labels", "mean", "scale", "columns", "calibration"}``, or None when the
        samples have no numeric features (paths, text). ``calibration`` holds held-out samples
        (not among the references) for calibrating a novelty threshold.
    """
    rng = np.random.default_rng(seed)
    feats, labels, calib, columns = [], [], [], None
    try:
        for i, samples in enumerate(group_samples):
            if samples is None or len(samples.x) == 0:
                continue
            f, cols = numeric_features(samples.x)
            columns = cols if columns is None else columns
            if cols is not None and cols != columns:
                return None
            if f.shape[0] > max_per_task:
                order = rng.permutation(f.shape[0])
                calib.append(f[order[max_per_task:max_per_task + max(1, max_per_task // 2)]])
                f = f[order[:max_per_task]]
            feats.append(f)
            labels.append(np.full(f.shape[0], i, dtype=int))
    except DataError:
        return None
    if not feats or len({f.shape[1] for f in feats}) != 1:
        return None
    allf, all_labels = np.concatenate(feats), np.concatenate(labels)
    keep = np.isfinite(allf).all(axis=1)
    if not keep.all():  # one NaN cell made the profiles' mean NaN, and with it every distance
        warnings.warn(f"{int((~keep).sum())} of {len(allf)} samples hold a NaN or an infinity and are left "
                      f"out of the task profiles (task allocation and unseen-sample detection)", SednaWarning,
                      stacklevel=2)
        allf, all_labels = allf[keep], all_labels[keep]
    if not len(allf):
        return None
    mean = allf.mean(0)
    std = allf.std(0)
    scale = std + 0.1 * float(std.mean()) + 1e-12
    calib_rows = np.concatenate(calib) if calib else None
    if calib_rows is not None:
        calib_rows = calib_rows[np.isfinite(calib_rows).all(axis=1)]
    usable = calib_rows is not None and len(calib_rows) > 0
    calibration = ((calib_rows - mean) / scale).astype(np.float32) if usable else None
    return {"features": ((allf - mean) / scale).astype(np.float32), "labels": all_labels,
            "mean": mean, "scale": scale, "columns": columns, "calibration": calibration}
