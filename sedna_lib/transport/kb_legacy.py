"""Sedna's pickled knowledge-base index: read through an allow-list, written under Sedna's names (opt-in).

An original Sedna ``KBClient`` posts its task index as a joblib pickle, and original edges load
``index.pkl`` the same way. With ``SEDNA_LEGACY_PICKLE=true`` the knowledge base accepts such an
index and publishes one for original edges. Reading never runs what the pickle names: only the
index's own classes (``Task``, ``TaskGroup``, ``Model``, Sedna's data sources), numpy arrays and a
few builtin containers are admitted; pandas objects (the samples' frames, which the index does not
need) become inert placeholders; any other global is refused. Declared array sizes are checked
against the bytes received before anything is allocated.
"""

from __future__ import annotations

import inspect
import io
import pickle
from typing import Any

from ..base import Model, Task, TaskGroup
from ..exceptions import DataError

__all__ = ["LegacySamples", "loads_legacy_index", "loads_plain_pickle", "dumps_legacy_index",
           "legacy_to_json", "json_to_legacy", "is_pickle"]

_ARTIFACT_MODULES = ("sedna.algorithms.seen_task_learning.artifact",
                     "sedna.algorithms.multi_task_learning.task_jobs.artifact",
                     "sedna_lib.base", "sedna_lib.lifelong_learning.artifact")
_ARTIFACTS = {"Task": Task, "TaskGroup": TaskGroup, "Model": Model}
_DATA_SOURCES = ("BaseDataSource", "TxtDataParse", "CSVDataParse", "JSONDataParse", "JsonlDataParse",
                 "JSONMetaDataParse")
_NUMPY = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
          ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
          ("numpy", "ndarray"), ("numpy", "dtype")}
_BUILTINS = {("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
             ("builtins", "object"), ("copyreg", "_reconstructor"), ("collections", "OrderedDict")}


class LegacySamples:
    """What the index keeps of a Sedna data source: its ``data_type`` and the ``data_url`` of its file.

    Parameters
    ----------
    data_type : str, default='train'
        ``train``, ``eval`` or ``test``.
    data_url : str, default=None
        Where the samples file is (on the knowledge base or the output folder).
    """

    def __init__(self, data_type: str = "train", data_url: str | None = None) -> None:
        self.data_type = data_type
        self.data_url = data_url
        self.x: list = []  # Sedna's knowledge base counts len(samples); the samples live in data_url's file
        self.y: list = []
        self.meta_attr = None
        self.process_func = None

    def __setstate__(self, state: Any) -> None:
        """Keep ``data_type`` and ``data_url`` of a pickled data source; drop the samples themselves."""
        state = state if isinstance(state, dict) else {}
        data_type = state.get("data_type")
        url = state.get("data_url")
        self.__init__(data_type if isinstance(data_type, str) else "train",
                      url if isinstance(url, str) else None)

    def __len__(self) -> int:  # noqa: D105
        return len(self.x)


class _Opaque:
    """An inert stand-in for an object the index does not need (a pandas frame of samples)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Opaque:
        return _Opaque()


def _admitted(module: str, name: str, opaque_pandas: bool = True) -> Any:
    """Return what a pickled global may be, or raise :class:`pickle.UnpicklingError`."""
    if module in _ARTIFACT_MODULES and name in _ARTIFACTS:
        return _ARTIFACTS[name]
    if module in ("sedna.datasources", "sedna_lib.datasources") and name in _DATA_SOURCES:
        return LegacySamples
    if (module, name) in _NUMPY or (module, name) in _BUILTINS:
        import importlib

        return getattr(importlib.import_module(module), name)
    if opaque_pandas and (module == "pandas" or module.startswith("pandas.")):
        return _Opaque
    raise pickle.UnpicklingError(f"{module}.{name} is outside the allow-list (plain data, numpy arrays, the "
                                 f"knowledge-base index's classes); refused")


class _RestrictedUnpickler(pickle.Unpickler):
    """A plain unpickler that admits only the index's globals."""

    opaque_pandas = True

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 (pickle protocol)
        return _admitted(module, name, self.opaque_pandas)


def _restricted_plain(handle: Any, opaque_pandas: bool = True) -> pickle.Unpickler:
    unpickler = _RestrictedUnpickler(handle)
    unpickler.opaque_pandas = opaque_pandas
    return unpickler


def _joblib_unpickler(data: bytes, opaque_pandas: bool = True) -> Any:
    """Return a joblib unpickler over ``data`` that admits only the index's globals and checks sizes."""
    from joblib import numpy_pickle

    class _Restricted(numpy_pickle.NumpyUnpickler):
        dispatch = numpy_pickle.NumpyUnpickler.dispatch.copy()

        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
                return numpy_pickle.NumpyArrayWrapper
            return _admitted(module, name, opaque_pandas)

        def load_build(self) -> None:
            state, inst = self.stack[-1], self.stack[-2]
            if isinstance(inst, numpy_pickle.NumpyArrayWrapper):
                import numpy as np

                try:
                    dtype = np.dtype(state["dtype"])
                    count = int(np.prod([int(n) for n in state["shape"]], dtype=np.int64))
                except (KeyError, TypeError, ValueError) as exc:
                    raise pickle.UnpicklingError(f"malformed array in the index: {exc}") from None
                if dtype.hasobject:  # a nested pickle of objects: read it through the same allow-list
                    self.stack.pop()
                    self.stack.pop()
                    self.stack.append(_restricted_plain(self.file_handle, opaque_pandas).load())
                    return
                if count < 0 or count * dtype.itemsize > len(data):
                    raise pickle.UnpicklingError(f"an array declares {count} x {dtype.itemsize} bytes, more "
                                                 f"than the {len(data)} bytes received")
            numpy_pickle.NumpyUnpickler.load_build(self)

        dispatch[pickle.BUILD[0]] = load_build

    handle = io.BytesIO(data)
    params = inspect.signature(numpy_pickle.NumpyUnpickler.__init__).parameters
    if "ensure_native_byte_order" in params:
        return _Restricted("", handle, ensure_native_byte_order=False)
    return _Restricted("", handle)


def is_pickle(data: bytes) -> bool:
    """Tell whether bytes are a pickle stream (protocol 2 or later starts with ``0x80``).

    Parameters
    ----------
    data : bytes
        File or request content.

    Returns
    -------
    bool
        True for a pickle of protocol 2 to 5.
    """
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


def loads_legacy_index(data: bytes) -> dict:
    """Read Sedna's pickled task index without running anything it names.

    Parameters
    ----------
    data : bytes
        The pickle (as Sedna's ``FileOps.dump``, i.e. ``joblib.dump``, writes it; plain pickles too).

    Returns
    -------
    dict
        ``{"seen_task": {"task_groups": [TaskGroup], "extractor": ...}, "unseen_task": {...},
        "create_time": str}`` with sedna_lib's :class:`~sedna_lib.base.TaskGroup` objects; a task's
        samples are :class:`LegacySamples` (their ``data_url`` and ``data_type``).

    Raises
    ------
    DataError
        If the bytes are not a pickle, name a class outside the index's own, are malformed, or
        are not an index.
    """
    if not is_pickle(data):
        raise DataError("not a pickled knowledge-base index (expected a joblib or pickle stream, "
                        "protocol 2-5)")
    try:
        index = _joblib_unpickler(data).load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"the pickled index was refused: {exc}") from None
    except (EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError, MemoryError,
            RecursionError) as exc:
        raise DataError(f"malformed pickled index: {type(exc).__name__}: {exc}") from None
    if not isinstance(index, dict) or not isinstance(index.get("seen_task"), dict):
        raise DataError("the pickle is not a knowledge-base index (a dict with 'seen_task' and "
                        "'unseen_task')")
    for kind in ("seen_task", "unseen_task"):
        part = index.get(kind) or {}
        groups = part.get("task_groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, TaskGroup) for g in groups):
            raise DataError(f"the pickled index's {kind}.task_groups is not a list of TaskGroup")
    return index


def loads_plain_pickle(data: bytes) -> Any:
    """Read a joblib file or pickle of plain data without running anything it names.

    Only builtin containers and scalars, numpy arrays and Sedna's task-index classes (``Task``,
    ``TaskGroup``, ``Model``) are rebuilt; any other global (a model class, a function, a pandas
    frame) is refused, so nothing is silently replaced. Declared array sizes are checked against
    the bytes received before anything is allocated.

    Parameters
    ----------
    data : bytes
        The pickle (``joblib.dump`` or ``pickle.dump`` output, protocol 2-5).

    Returns
    -------
    object
        The unpickled data.

    Raises
    ------
    DataError
        If the bytes are not a pickle, name a refused global, or are malformed.
    """
    if not is_pickle(data):
        raise DataError("not a pickle (expected a joblib or pickle stream, protocol 2-5)")
    try:
        return _joblib_unpickler(data, opaque_pandas=False).load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"the pickle was refused: {exc}") from None
    except (EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError, MemoryError,
            RecursionError, ImportError) as exc:
        raise DataError(f"malformed pickle: {type(exc).__name__}: {exc}") from None


# -- between the pickled objects and the JSON document ----------------------------------------------

def _url(value: Any) -> str | None:
    if isinstance(value, str) or value is None:
        return value
    url = getattr(value, "data_url", None)
    return url if isinstance(url, str) else None


def legacy_to_json(index: dict) -> dict:
    """Turn a pickled (Sedna) index into sedna_lib's JSON document.

    Parameters
    ----------
    index : dict
        As :func:`loads_legacy_index` returns it.

    Returns
    -------
    dict
        The JSON document (:func:`~sedna_lib.transport.kb_index.index_to_json`); each task keeps its
        samples' ``data_url`` and ``data_type``.

    Raises
    ------
    DataError
        If a value cannot be written as JSON.
    """
    from .kb_index import FORMAT, encode_value

    def part(doc: dict | None) -> dict:
        doc = doc or {}
        groups = []
        for group in doc.get("task_groups") or []:
            model = group.model
            groups.append({
                "entry": str(group.entry),
                "model": None if model is None else {
                    "index": int(getattr(model, "index", 0) or 0),
                    "entry": str(getattr(model, "entry", group.entry)),
                    "url": _url(getattr(model, "model", None)),
                    "sha256": getattr(model, "sha256", None),
                    "result": encode_value(getattr(model, "result", None)),
                    "meta_attr": encode_value(getattr(model, "meta_attr", None))},
                "samples": _url(getattr(group, "samples", None)),
                "samples_sha256": getattr(group, "samples_sha256", None),
                "tasks": [{"entry": str(t.entry), "meta_attr": encode_value(getattr(t, "meta_attr", None)),
                           "samples": _url(getattr(t, "samples", None)),
                           "data_type": getattr(getattr(t, "samples", None), "data_type", "train")}
                          for t in group.tasks],
            })
        out = {k: encode_value(v) for k, v in doc.items()  # profiles and the like, as they are
               if k not in ("task_groups", "extractor") and isinstance(k, str) and not isinstance(v, _Opaque)}
        extractor = doc.get("extractor")
        return {**out, "extractor": encode_value(extractor if not isinstance(extractor, _Opaque) else None),
                "task_groups": groups}

    return {"format": FORMAT, "create_time": str(index.get("create_time") or ""),
            "seen_task": part(index.get("seen_task")), "unseen_task": part(index.get("unseen_task"))}


def json_to_legacy(doc: dict) -> dict:
    """Build Sedna's in-memory index (its classes, as original edges load it) from the JSON document.

    Parameters
    ----------
    doc : dict
        sedna_lib's JSON index.

    Returns
    -------
    dict
        ``{"seen_task", "unseen_task", "create_time"}`` with ``TaskGroup``/``Task``/``Model``
        objects; every task's samples are a data source with ``data_type`` and ``data_url``, and
        its ``model`` the model's URL, as Sedna's cloud knowledge manager leaves them.
    """
    from .kb_index import decode_value

    def plain(value: Any) -> Any:  # lists and Python numbers: any numpy an original edge has reads them
        value = decode_value(value)
        if hasattr(value, "tolist"):
            return value.tolist()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    def part(d: dict | None) -> dict:
        d = d or {}
        groups = []
        for g in d.get("task_groups") or []:
            m = g.get("model")
            model = None
            if m is not None:
                model = Model(index=int(m.get("index", len(groups))), entry=m.get("entry", g["entry"]),
                              model=m.get("url"), result=plain(m.get("result")))
                model.meta_attr = plain(m.get("meta_attr"))
                if m.get("sha256"):
                    model.sha256 = m["sha256"]  # extra to Sedna's Model: original edges ignore it
            tasks = []
            for t in g.get("tasks", []):
                # Sedna's edge fetches every task's samples file: a task without its own gets its group's
                samples = LegacySamples(t.get("data_type") or "train", t.get("samples") or g.get("samples"))
                task = Task(entry=t["entry"], samples=samples,
                            meta_attr=plain(t.get("meta_attr")))
                task.model = None if model is None else model.model
                tasks.append(task)
            group = TaskGroup(entry=g["entry"], tasks=tasks)
            group.samples = LegacySamples("train", g.get("samples"))
            if g.get("samples_sha256"):
                group.samples_sha256 = g["samples_sha256"]
            group.model = model
            groups.append(group)
        extra = {k: decode_value(v) for k, v in d.items() if k not in ("task_groups", "extractor")}
        return {**extra, "task_groups": groups, "extractor": plain(d.get("extractor"))}

    return {"seen_task": part(doc.get("seen_task")), "unseen_task": part(doc.get("unseen_task")),
            "create_time": str(doc.get("create_time") or "")}


# -- writing for original edges ---------------------------------------------------------------------

_WRITE_NAMES = {Task: ("sedna.algorithms.seen_task_learning.artifact", "Task"),
                TaskGroup: ("sedna.algorithms.seen_task_learning.artifact", "TaskGroup"),
                Model: ("sedna.algorithms.seen_task_learning.artifact", "Model"),
                LegacySamples: ("sedna.datasources", "BaseDataSource")}


def _numpy_names() -> dict[Any, tuple[str, str]]:
    """Return numpy's pickling helpers under the names every numpy reads (numpy 2 writes ``numpy._core``)."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    return {core.multiarray._reconstruct: ("numpy.core.multiarray", "_reconstruct"),
            core.multiarray.scalar: ("numpy.core.multiarray", "scalar")}


class _SednaPickler(pickle._Pickler):  # the pure-Python pickler: its save_global can be redirected
    def save_global(self, obj: Any, name: str | None = None) -> None:
        target = _WRITE_NAMES.get(obj) or _numpy_names().get(obj)
        if target is None:
            return super().save_global(obj, name)
        module, qualname = target
        self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode("ascii"))
        self.memoize(obj)
        return None


def dumps_legacy_index(doc: dict) -> bytes:
    """Write a JSON index as Sedna's pickled index, naming ``sedna.*`` classes, for original edges.

    Parameters
    ----------
    doc : dict
        sedna_lib's JSON index (arrays and scalars in it become plain Python or numpy values).

    Returns
    -------
    bytes
        A protocol-3 pickle that Sedna's ``FileOps.load`` (``joblib.load``) reads.
    """
    buffer = io.BytesIO()
    _SednaPickler(buffer, protocol=3).dump(json_to_legacy(doc))
    return buffer.getvalue()
