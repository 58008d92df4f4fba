"""The knowledge-base index on the wire and on disk: JSON with arrays as base64, never pickle.

The index keeps Sedna's layout (``seen_task``/``unseen_task`` with ``task_groups`` and
``extractor``, plus ``create_time``) but is JSON. Arrays travel as base64 of their raw bytes with
dtype and shape; DataFrames as columns. Models and samples are files the index names (paths or URLs).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import numpy as np

from ..base import Model, Task, TaskGroup
from ..exceptions import DataError
from ..storage.local import atomic_path

__all__ = ["FORMAT", "encode_value", "decode_value", "index_to_json", "index_from_json", "dumps_index",
           "loads_index", "write_index", "empty_index", "is_json_index", "apply_status", "sha256_file",
           "verify_sha256"]

FORMAT = "sedna_lib.kb.index/1"
_SAFE_KINDS = "biufc"


def empty_index() -> dict:
    """Return an empty seen/unseen index (Sedna's layout).

    Returns
    -------
    dict
        ``{"seen_task": {...}, "unseen_task": {...}, "create_time": str}``.
    """
    return {"seen_task": {"task_groups": [], "extractor": None},
            "unseen_task": {"task_groups": [], "extractor": None},
            "create_time": str(time.time())}


# -- values ---------------------------------------------------------------------------------------

def encode_value(value: Any) -> Any:
    """Encode a value as JSON-able data (arrays as base64, DataFrames as columns, tuples as lists).

    Parameters
    ----------
    value : object
        None, bool, int, float, str, lists, dicts with string keys, numpy arrays and scalars,
        pandas DataFrames and Series.

    Returns
    -------
    object
        JSON-able data.

    Raises
    ------
    DataError
        If the value cannot be written without pickle.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _SAFE_KINDS:
            arr = np.ascontiguousarray(value)
            return {"__ndarray__": base64.b64encode(arr.tobytes()).decode("ascii"),
                    "dtype": arr.dtype.str, "shape": list(arr.shape)}
        return {"__list__": [encode_value(v) for v in value.tolist()], "shape": list(value.shape)}
    name = type(value).__name__
    if name == "DataFrame" and hasattr(value, "iloc"):
        return {"__frame__": {"columns": [str(c) for c in value.columns],
                              "data": {str(c): encode_value(value[c].to_numpy()) for c in value.columns},
                              "index": encode_value(np.asarray(value.index))}}
    if name == "Series" and hasattr(value, "iloc"):
        return encode_value(value.to_numpy())
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    raise DataError(f"cannot store a {type(value).__name__} in the knowledge-base index without pickle; "
                    "use numbers, strings, lists, dicts, numpy arrays or DataFrames")


def decode_value(data: Any) -> Any:
    """Invert :func:`encode_value`.

    Parameters
    ----------
    data : object
        Decoded JSON.

    Returns
    -------
    object
        The value.

    Raises
    ------
    DataError
        If an encoded array is malformed.
    """
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__ndarray__" in data:
        try:
            dtype = np.dtype(data["dtype"])
            if dtype.kind not in _SAFE_KINDS:
                raise ValueError(f"dtype {dtype} is not numeric")
            raw = base64.b64decode(data["__ndarray__"], validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(data["shape"]).copy()
        except (ValueError, TypeError, KeyError) as exc:
            raise DataError(f"malformed array in the knowledge-base index: {exc}") from None
    if "__list__" in data:
        arr = np.empty(len(data["__list__"]), dtype=object)
        arr[:] = [decode_value(v) for v in data["__list__"]]
        return arr.reshape(data.get("shape", [len(arr)]))
    if "__frame__" in data:
        import pandas as pd

        frame = data["__frame__"]
        columns = frame["columns"]
        return pd.DataFrame({c: decode_value(frame["data"][c]) for c in columns}, columns=columns,
                            index=decode_value(frame.get("index")))
    return {k: decode_value(v) for k, v in data.items()}


# -- the index ------------------------------------------------------------------------------------

def _ref(value: Any) -> Any:
    """Return a model/samples reference (a path or URL string), else None."""
    return value if isinstance(value, str) else None


def _part_to_json(part: dict | None) -> dict:
    part = part or {}
    groups = []
    for group in part.get("task_groups", []) or []:
        model = group.model
        groups.append({
            "entry": str(group.entry),
            "model": None if model is None else {
                "index": int(model.index), "entry": str(model.entry), "url": _ref(model.model),
                "sha256": getattr(model, "sha256", None),
                "result": encode_value(model.result), "meta_attr": encode_value(model.meta_attr)},
            "samples": _ref(getattr(group, "samples_url", None)),
            "samples_sha256": getattr(group, "samples_sha256", None),
            "tasks": [{"entry": str(t.entry), "meta_attr": encode_value(t.meta_attr),
                       "samples": _ref(getattr(t, "samples_url", None)
                                       or getattr(getattr(t, "samples", None), "data_url", None))}
                      for t in group.tasks],
        })
    extra = {k: encode_value(v) for k, v in part.items() if k not in ("task_groups",)}
    return {**extra, "task_groups": groups}


def _digest(value: Any) -> str | None:
    """Return a SHA-256 hex digest from the index (None when absent); anything else is malformed."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise DataError(f"malformed sha256 in the knowledge-base index: {value!r} (64 lowercase hex digits)")
    return value


def sha256_file(path: str) -> str:
    """Return the SHA-256 hex digest of a file.

    Parameters
    ----------
    path : str
        Local file.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str, expected: str | None, *, what: str = "file") -> None:
    """Check that a file has the SHA-256 the index gives it.

    Parameters
    ----------
    path : str
        Local file (just fetched).
    expected : str or None
        The digest from the index; None (an index written before digests, or Sedna's) skips the check.
    what : str, default='file'
        What the file is, for the message.

    Raises
    ------
    IntegrityError
        If the digest differs: the file was replaced or corrupted after the index was written.
    """
    from ..exceptions import IntegrityError

    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise IntegrityError(f"{what} {path!r} does not match the knowledge-base index (sha256 {actual}, "
                             f"index says {expected}): it was replaced or corrupted after publication; "
                             "refusing it")


def _part_from_json(doc: dict | None) -> dict:
    doc = doc or {}
    groups = []
    for g in doc.get("task_groups", []) or []:
        if not isinstance(g, dict) or not isinstance(g.get("entry"), str):
            raise DataError(f"a task group of the knowledge-base index needs a string 'entry', got {g!r:.80}")
        tasks = []
        for t in g.get("tasks", []):
            if not isinstance(t, dict) or not isinstance(t.get("entry"), str):
                raise DataError(f"a task of the knowledge-base index needs a string 'entry', got {t!r:.80}")
            task = Task(entry=t["entry"], samples=None, meta_attr=decode_value(t.get("meta_attr")))
            task.samples_url = t.get("samples")
            tasks.append(task)
        group = TaskGroup(entry=g["entry"], tasks=tasks)
        group.samples_url = g.get("samples")
        group.samples_sha256 = _digest(g.get("samples_sha256"))
        m = g.get("model")
        if m is not None:
            group.model = Model(index=m.get("index", len(groups)), entry=m.get("entry", g["entry"]),
                                model=m.get("url"), result=decode_value(m.get("result")))
            group.model.meta_attr = decode_value(m.get("meta_attr"))
            group.model.sha256 = _digest(m.get("sha256"))
            for task in tasks:
                task.model = group.model
        groups.append(group)
    out = {k: decode_value(v) for k, v in doc.items() if k != "task_groups"}
    out["task_groups"] = groups
    return out


def index_to_json(index: dict) -> dict:
    """Turn an in-memory index (task groups, models, extractors) into JSON-able data.

    Parameters
    ----------
    index : dict
        ``{"seen_task": {...}, "unseen_task": {...}, "create_time": ...}``.

    Returns
    -------
    dict
        The JSON document.
    """
    return {"format": FORMAT, "create_time": str(index.get("create_time") or time.time()),
            "seen_task": _part_to_json(index.get("seen_task")),
            "unseen_task": _part_to_json(index.get("unseen_task"))}


def index_from_json(doc: Any) -> dict:
    """Build the in-memory index from its JSON document.

    Parameters
    ----------
    doc : dict
        As :func:`index_to_json` writes it.

    Returns
    -------
    dict
        The index with :class:`~sedna_lib.base.TaskGroup` objects.

    Raises
    ------
    DataError
        If the document is not a knowledge-base index.
    """
    if not isinstance(doc, dict) or "seen_task" not in doc:
        raise DataError("not a knowledge-base index: expected a JSON object with 'seen_task' and "
                        "'unseen_task'")
    try:
        return {"seen_task": _part_from_json(doc.get("seen_task")),
                "unseen_task": _part_from_json(doc.get("unseen_task")),
                "create_time": str(doc.get("create_time", ""))}
    except RecursionError:  # values nested past the interpreter's limit (the JSON parser's is higher)
        raise DataError("malformed knowledge-base index: values nested too deeply") from None
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:  # a shape that does not fit
        raise DataError(f"malformed knowledge-base index: {exc!r}") from None


def dumps_index(index: dict) -> bytes:
    """Serialise an index to JSON bytes.

    Parameters
    ----------
    index : dict
        In-memory index.

    Returns
    -------
    bytes
        UTF-8 JSON.
    """
    return json.dumps(index_to_json(index)).encode("utf-8")


def is_json_index(data: bytes) -> bool:
    """Tell whether bytes look like a JSON index (rather than a pickle).

    Parameters
    ----------
    data : bytes
        File content.

    Returns
    -------
    bool
        True if the first non-blank byte is ``{``.
    """
    return data.lstrip()[:1] == b"{"


def loads_index(data: bytes) -> dict:
    """Parse JSON index bytes (pickles are refused).

    Parameters
    ----------
    data : bytes
        File or request content.

    Returns
    -------
    dict
        The in-memory index.

    Raises
    ------
    DataError
        If the bytes are a pickle or not a valid index.
    """
    if not is_json_index(data):
        raise DataError("the knowledge-base index is not JSON (a pickled Sedna index?); pickles are never "
                        "read from the network. Convert it locally with read_index(path, allow_pickle=True)")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DataError(f"the knowledge-base index is not valid JSON: {type(exc).__name__}: {exc}") from None
    return index_from_json(doc)


def write_index(index: dict, path: str) -> str:
    """Write an index as JSON, atomically (a temporary file renamed over ``path``).

    Parameters
    ----------
    index : dict
        In-memory index.
    path : str
        Destination (Sedna's control plane expects the name ``index.pkl``; the content is JSON).

    Returns
    -------
    str
        ``path``.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(dumps_index(index))
    return path


def apply_status(doc: dict, deploy: dict[str, bool]) -> dict:
    """Mark the seen task groups of a JSON index deployed or dropped (a dropped one serves a deployed model).

    Parameters
    ----------
    doc : dict
        The index as JSON (:func:`index_to_json`); changed in place.
    deploy : dict of str to bool
        ``{group entry: deployed}``; groups not named stay deployed.

    Returns
    -------
    dict
        ``doc``, each seen group with ``deployed``; a dropped group's ``model`` is the first deployed
        group's (keeping its own ``index``), so its samples are still answered.
    """
    groups = (doc.get("seen_task") or {}).get("task_groups", []) or []
    fallback = next((g.get("model") for g in groups if deploy.get(g["entry"], True)), None)
    for group in groups:
        group["deployed"] = bool(deploy.get(group["entry"], True))
        if not group["deployed"] and fallback is not None:
            group["model"] = {**fallback, "index": (group.get("model") or {}).get("index", 0)}
    return doc
