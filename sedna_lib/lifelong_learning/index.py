"""The knowledge-base index format (JSON plus model and sample files), with an opt-in Sedna pickle reader.

A Sedna index pickled with joblib is read only from a local file and only when the caller opts
in (``allow_pickle=True``, or ``SEDNA_LEGACY_PICKLE=true`` for the lifelong-learning job).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .._json import loads as json_loads
from ..exceptions import DataError
from ..transport.kb_index import (
    FORMAT,
    decode_value,
    dumps_index,
    empty_index,
    encode_value,
    index_from_json,
    index_to_json,
    is_json_index,
    loads_index,
    write_index,
)

__all__ = ["FORMAT", "encode_value", "decode_value", "index_to_json", "index_from_json", "dumps_index",
           "loads_index", "read_index", "write_index", "save_samples", "load_samples", "empty_index",
           "is_json_index"]

_SAFE_KINDS = "biufc"


# -- samples files ----------------------------------------------------------------------------------

def save_samples(samples: Any, path: str) -> str:
    """Write a data source's ``x``, ``y`` and ``meta_attr`` to a JSON file.

    Parameters
    ----------
    samples : data source
        Object with ``x`` and ``y``.
    path : str
        Destination file.

    Returns
    -------
    str
        ``path``.
    """
    doc = {"format": "sedna_lib.kb.samples/1",
           "x": encode_value(_plain(samples.x)), "y": encode_value(_plain(getattr(samples, "y", None))),
           "meta_attr": encode_value(_plain(getattr(samples, "meta_attr", None))),
           "data_type": getattr(samples, "data_type", "train")}
    from ..storage.local import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:  # whole, or the old file kept
        json.dump(doc, fh)
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        try:
            arr = np.asarray(value)
        except ValueError:
            return value
        return arr if arr.dtype.kind in _SAFE_KINDS + "U" else value
    return value


def load_samples(path: str) -> Any:
    """Read a samples file written by :func:`save_samples`.

    Parameters
    ----------
    path : str
        Local file.

    Returns
    -------
    Samples
        A data source with ``x``, ``y`` and ``meta_attr``.

    Raises
    ------
    DataError
        If the file is not a samples file.
    """
    from ._data import Samples

    with open(path, encoding="utf-8") as fh:
        try:
            doc = json_loads(fh.read())
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is not a sedna_lib samples file: {exc}") from None
    if not isinstance(doc, dict) or "x" not in doc:
        raise DataError(f"{path} is not a sedna_lib samples file")
    return Samples(decode_value(doc["x"]), decode_value(doc.get("y")), decode_value(doc.get("meta_attr")),
                   data_type=doc.get("data_type", "train"))


def read_index(path: str, *, allow_pickle: bool = False) -> dict:
    """Read an index file: JSON always; a Sedna joblib pickle only if ``allow_pickle`` (local files only).

    Parameters
    ----------
    path : str
        Local file.
    allow_pickle : bool, default=False
        Read a pickled Sedna index, through an allow-list of the index's own classes (nothing else
        it names is loaded or run).

    Returns
    -------
    dict
        The in-memory index. A pickled index keeps Sedna's objects (its task groups load as
        :class:`~sedna_lib.base.TaskGroup` through the ``sedna`` alias package).

    Raises
    ------
    StorageNotFoundError
        If the file does not exist.
    DataError
        If the file is a pickle and ``allow_pickle`` is False, or is not an index.
    """
    from ..exceptions import StorageNotFoundError

    if not os.path.isfile(path):
        raise StorageNotFoundError(f"knowledge-base index {path!r} does not exist", uri=path)
    with open(path, "rb") as fh:
        data = fh.read()
    if is_json_index(data):
        return loads_index(data)
    if not allow_pickle:
        raise DataError(f"{path} is a pickled (Sedna) index; pass allow_pickle=True to read a local file "
                        "you trust (or set SEDNA_LEGACY_PICKLE=true), then save it again as JSON")
    from ..transport.kb_legacy import loads_legacy_index

    return loads_legacy_index(data)  # through the allow-list of the index's own classes
