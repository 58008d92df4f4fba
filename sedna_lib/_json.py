"""Plain-JSON conversion of the numpy values that end up in reports, records and indexes."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """Turn numpy scalars and arrays (also inside mappings and sequences) into plain JSON values.

    Parameters
    ----------
    value : object
        A metric, record or sample; other values are kept as they are.

    Returns
    -------
    object
        The same structure with lists, floats and ints where numpy types were; mapping keys become
        strings.

    Examples
    --------
    >>> json_safe({"acc": np.float32(0.5), 1: np.arange(2)})
    {'acc': 0.5, '1': [0, 1]}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
