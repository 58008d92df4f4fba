"""Safe codec for Python object trees (lists, dicts, numpy arrays, registered classes); no pickle by default.

An object tree is walked once: numpy arrays go to the binary codec's array section
(:mod:`sedna_lib.transport.codec`), and everything else becomes JSON in its header, tagged where
JSON has no type of its own::

    {"$nd": 0}                              the first array of the message
    {"$bytes": "<base64>"}                  bytes
    {"$tuple": [...]}                        a tuple
    {"$np": "<f4", "v": 1.5}                a numpy scalar
    {"$obj": "DetTrackResult", "state": {}}  an instance of a registered class
    {"$enum": "OP_MODE", "value": "noop"}    a member of a registered enum
    {"$map": [[k, v], ...]}                  a dict whose keys are not all strings

Decoding rebuilds only registered classes (by name, from an allow-list), so nothing
executable can travel. Pickle is available only through ``allow_pickle=True``, for talking to
original Sedna components that speak nothing else; even then a restricted unpickler admits only
builtins containers, numpy arrays and registered classes.
"""

from __future__ import annotations

import base64
import enum
import io
import math
import pickle
import struct
from typing import Any

import numpy as np

from ..base import check_count
from ..exceptions import ProtocolError
from . import codec as _codec

__all__ = ["MEDIA_TYPE", "PICKLE_MEDIA_TYPE", "dumps", "loads", "is_pickle", "register_type",
           "registered_types"]

MEDIA_TYPE = _codec.MEDIA_TYPE
"""Content-Type of messages made by :func:`dumps`."""

PICKLE_MEDIA_TYPE = "application/python-pickle"
"""Content-Type sent with pickle bodies (original Sedna components send none)."""

_TYPES: dict[str, type] = {}
_LEGACY_MODULES: dict[type, str] = {}
_MAX_DEPTH = 64

# Globals a legacy pickle may name: numpy's array reconstruction, and nothing that can run code.
_PICKLE_SAFE_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "float64"), ("numpy", "float32"), ("numpy", "int64"), ("numpy", "int32"),
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "bytearray"), ("builtins", "complex"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
}


def register_type(cls: type, name: str | None = None, *, legacy_module: str | None = None) -> type:
    """Allow instances of ``cls`` (a plain class or an Enum) to travel through :func:`dumps`.

    Instances are sent as their ``__dict__`` and rebuilt without calling ``__init__``; enums as
    their value. Usable as a decorator.

    Parameters
    ----------
    cls : type
        The class to allow.
    name : str, default=None
        Wire name; the class's ``__name__`` by default. Both ends must register the same name.
    legacy_module : str, default=None
        The module that defines this class in original Sedna (``sedna.core...``): pickles made
        with ``use_pickle=True`` name the class there, so an original peer can load them.

    Returns
    -------
    type
        ``cls`` unchanged.

    Raises
    ------
    ProtocolError
        If another class is already registered under ``name``.
    """
    key = name or cls.__name__
    known = _TYPES.get(key)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ProtocolError(f"wire type name {key!r} is already taken by {known!r}; pass name=")
    _TYPES[key] = cls
    if legacy_module:
        _LEGACY_MODULES[cls] = legacy_module
    return cls


def registered_types() -> dict[str, type]:
    """Return the allow-list of classes :func:`loads` rebuilds (a copy).

    Returns
    -------
    dict of str to type
        Wire name to class.
    """
    return dict(_TYPES)


def _wire_name(cls: type) -> str | None:
    for key, known in _TYPES.items():
        if known is cls:
            return key
    return None


def _encode(obj: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ProtocolError(f"object nested deeper than {_MAX_DEPTH} levels cannot be encoded")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        name = _wire_name(type(obj))
        if name is None:
            raise ProtocolError(f"enum {type(obj).__qualname__} is not registered; call "
                                f"sedna_lib.transport.objects.register_type({type(obj).__name__})")
        return {"$enum": name, "value": _encode(obj.value, arrays, depth + 1)}
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            return {"$objarray": [_encode(x, arrays, depth + 1) for x in obj.tolist()]}
        arrays.append(obj)
        return {"$nd": len(arrays) - 1}
    if isinstance(obj, np.generic):
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return {"$np": obj.dtype.str, "v": obj.item()}
        arrays.append(np.asarray(obj))
        return {"$nd": len(arrays) - 1, "scalar": True}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, list):
        return [_encode(x, arrays, depth + 1) for x in obj]
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(x, arrays, depth + 1) for x in obj]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, arrays, depth + 1) for k, v in obj.items()}
        return {"$map": [[_encode(k, arrays, depth + 1), _encode(v, arrays, depth + 1)]
                         for k, v in obj.items()]}
    name = _wire_name(type(obj))
    if name is not None:
        return {"$obj": name, "state": _encode(vars(obj), arrays, depth + 1)}
    if hasattr(obj, "__array__"):  # torch/tensorflow tensors and other array-likes
        return _encode(np.asarray(obj), arrays, depth)
    raise ProtocolError(f"cannot encode an object of type {type(obj).__qualname__}; register it with "
                        f"sedna_lib.transport.objects.register_type, or send arrays, lists and dicts")


def _decode(node: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ProtocolError(f"message nested deeper than {_MAX_DEPTH} levels")
    if isinstance(node, list):
        return [_decode(x, arrays, depth + 1) for x in node]
    if not isinstance(node, dict):
        return node
    try:
        if "$nd" in node:
            arr = arrays[int(node["$nd"])]
            return arr[()] if node.get("scalar") else arr
        if "$np" in node:
            return _numpy_scalar(node["$np"], node["v"])
        if "$bytes" in node:
            return base64.b64decode(node["$bytes"], validate=True)
        if "$tuple" in node:
            return tuple(_decode(x, arrays, depth + 1) for x in node["$tuple"])
        if "$objarray" in node:
            items = [_decode(x, arrays, depth + 1) for x in node["$objarray"]]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        if "$map" in node:
            return {_hashable(_decode(k, arrays, depth + 1)): _decode(v, arrays, depth + 1)
                    for k, v in node["$map"]}
        if "$enum" in node:
            return _lookup(node["$enum"])(_decode(node["value"], arrays, depth + 1))
        if "$obj" in node:
            cls = _lookup(node["$obj"])
            state = _decode(node["state"], arrays, depth + 1)
            if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
                raise ProtocolError(f"state of {node['$obj']} must be an object of attributes")
            obj = cls.__new__(cls)
            obj.__dict__.update(state)
            return obj
    except ProtocolError:
        raise
    except (IndexError, KeyError, TypeError, ValueError, OverflowError) as exc:  # int(Infinity) overflows
        raise ProtocolError(f"malformed tagged value {str(node)[:80]!r}: {exc}") from None
    return {k: _decode(v, arrays, depth + 1) for k, v in node.items()}


# numpy scalars travel as {"$np": dtype, "v": value} only for booleans, integers and floats; any
# other kind (void, bytes, str, datetime, object) could declare its own size or hold code
_SCALAR_KINDS = frozenset("biuf")


def _numpy_scalar(tag: Any, value: Any) -> Any:
    try:
        dtype = np.dtype(tag) if isinstance(tag, str) else None
    except (TypeError, ValueError, SyntaxError):
        dtype = None
    if dtype is None or dtype.kind not in _SCALAR_KINDS or dtype.itemsize > 16:
        raise ProtocolError(f"{{'$np': {str(tag)[:40]!r}}} is not a numpy scalar this codec rebuilds; "
                            f"only booleans, integers and floats travel as scalars")
    if not isinstance(value, (bool, int, float)):
        raise ProtocolError(f"numpy scalar {dtype} needs a number, got {type(value).__name__}")
    try:
        return dtype.type(value)
    except (OverflowError, ValueError) as exc:
        raise ProtocolError(f"{value!r} is not a {dtype} scalar: {exc}") from None


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key


def _lookup(name: Any) -> type:
    cls = _TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ProtocolError(f"type {name!r} is not on the allow-list; registered: {sorted(_TYPES)}")
    return cls


def dumps(obj: Any, *, use_pickle: bool = False) -> bytes:
    """Encode an object tree.

    Parameters
    ----------
    obj : object
        None, bool, int, float, str, bytes, lists, tuples, dicts, numpy arrays and scalars,
        and instances of registered classes, nested.
    use_pickle : bool, default=False
        Produce a pickle instead (only for peers that are original Sedna components). Registered
        classes are named by their original Sedna module (``legacy_module``) and numpy's array
        functions by ``numpy.core``, so that an original peer, which has no sedna_lib, loads it.

    Returns
    -------
    bytes
        The message.

    Raises
    ------
    ProtocolError
        If the tree holds an object of an unregistered type.

    Examples
    --------
    >>> msg = dumps({"frame": 3, "features": np.ones((2, 4), "float32")})
    >>> loads(msg)["features"].shape
    (2, 4)
    """
    if use_pickle:
        out = io.BytesIO()
        _LegacyPickler(out, protocol=4).dump(obj)
        return out.getvalue()
    arrays: list[np.ndarray] = []
    meta = {"$v": 1, "obj": _encode(obj, arrays, 0)}
    return _codec.encode(arrays, meta)


class _LegacyPickler(pickle._Pickler):  # the Python pickler: its global names can be rewritten
    """Pickle with the module names an original Sedna peer has (``sedna.*``, ``numpy.core``)."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        """Write a class or function reference under its original module name."""
        module = _LEGACY_MODULES.get(obj) if isinstance(obj, type) else None
        qualname = name or getattr(obj, "__qualname__", None)
        if module is None and getattr(obj, "__module__", "").startswith("numpy._core"):
            module = "numpy.core" + obj.__module__[len("numpy._core"):]  # importable on numpy 1 and 2
        if module is None or not isinstance(qualname, str):
            super().save_global(obj, name)
            return
        self.save(module)
        self.save(qualname)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def is_pickle(data: bytes | bytearray | memoryview) -> bool:
    """Tell whether ``data`` looks like a pickle (protocol 2 or later starts with ``0x80``).

    Parameters
    ----------
    data : bytes-like
        A message body.

    Returns
    -------
    bool
        True for a pickle header.
    """
    return len(data) >= 2 and bytes(data[:1]) == b"\x80"


DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Bytes one legacy pickle may ask to allocate when the caller gives no limit (64 MiB)."""

_NDARRAY = {("numpy", "ndarray")}
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_SCALAR = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}
_FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}


class _RestrictedUnpickler(pickle._Unpickler):  # the Python unpickler: its BUILD step can be checked
    """Unpickle only allow-listed globals, and only up to ``max_bytes`` of declared allocations.

    A pickle can name a size without sending the bytes (``bytearray(n)``, ``ndarray(shape)``, an
    array's ``__setstate__`` shape, numpy's ``scalar(dtype)``): every such size is charged to one
    budget before numpy or Python allocates it.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: Any, max_bytes: int) -> None:
        super().__init__(file)
        self._left = max_bytes
        self._limit = max_bytes

    def _charge(self, nbytes: int, what: str) -> None:
        if nbytes > self._left:
            raise ProtocolError(f"legacy pickle asks for {nbytes} bytes ({what}), over the "
                                f"{self._limit}-byte limit of this request (SEDNA_MAX_REQUEST_BYTES)")
        self._left -= nbytes

    def _array_bytes(self, shape: Any, dtype: Any, what: str) -> None:
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ProtocolError(f"legacy pickle: {what} has a malformed shape {str(shape)[:80]}")
        itemsize = np.dtype(dtype).itemsize if dtype is not None else 8
        self._charge(math.prod(shape) * max(itemsize, 1), what)

    def _new_ndarray(self, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:
        # numpy.ndarray(shape, dtype) called by the pickle itself: allocates the whole shape
        self._array_bytes(shape, dtype, "numpy.ndarray(shape)")
        return np.ndarray(shape, dtype)

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype != self._new_ndarray:
            raise ProtocolError("legacy pickle: _reconstruct is accepted only for numpy.ndarray")
        self._array_bytes(shape, dtype, "numpy array reconstruction")
        return _numpy_reconstruct()(np.ndarray, shape, dtype)

    def _scalar(self, dtype: Any, *obj: Any) -> Any:
        if not isinstance(dtype, np.dtype):
            raise ProtocolError("legacy pickle: numpy scalar without a dtype")
        if not obj:  # numpy then allocates itemsize zero bytes
            self._charge(dtype.itemsize, f"numpy scalar of {dtype}")
        return _numpy_scalar_builder()(dtype, *obj)

    def _bytearray(self, *args: Any) -> bytearray:
        if args and isinstance(args[0], int):
            self._charge(args[0], "bytearray(n)")
        return bytearray(*args)

    def load_build(self) -> None:
        """Check an array's ``__setstate__`` shape before numpy allocates it, and a dtype's state."""
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray):
            self._check_array_state(state)
        if isinstance(inst, np.dtype):
            _check_dtype_state(inst, state)
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def _check_array_state(self, state: Any) -> None:
        """Accept an array's ``__setstate__`` only when its data matches its shape and dtype exactly.

        numpy copies an object array's items from the list without checking its length (a short
        list crashes the process), so every count is checked here, before numpy sees it.
        """
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise ProtocolError(f"legacy pickle: malformed numpy array state {str(state)[:80]}")
        shape, dtype, _, data = state[-4:]
        if not isinstance(dtype, np.dtype):
            raise ProtocolError("legacy pickle: numpy array state without a dtype")
        self._array_bytes(shape, dtype, "numpy array state")
        count = math.prod((shape,) if isinstance(shape, int) else shape)
        if dtype.hasobject:
            if not isinstance(data, list) or len(data) != count or dtype.fields is not None:
                raise ProtocolError(f"legacy pickle: object array of {count} items carries "
                                    f"{len(data) if isinstance(data, list) else type(data).__name__}")
        elif not isinstance(data, (bytes, bytearray)) or len(data) != count * dtype.itemsize:
            got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
            raise ProtocolError(f"legacy pickle: array of {count} x {dtype} carries {got} bytes")

    def _frombuffer(self, buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
        # protocol 5 (Python 3.14's default) pickles an array as numpy's _frombuffer(bytes, ...)
        if (not isinstance(buf, (bytes, bytearray)) or not isinstance(dtype, np.dtype) or dtype.hasobject
                or order not in ("C", "F") or not isinstance(shape, tuple)
                or not all(isinstance(n, int) and n >= 0 for n in shape)
                or math.prod(shape) * dtype.itemsize != len(buf) or dtype.itemsize == 0):
            raise ProtocolError("legacy pickle: malformed protocol-5 array")
        return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)

    def load_bytearray8(self) -> None:
        """Charge a ``bytearray8`` (protocol 5) to the budget before it is allocated."""
        size, = struct.unpack("<Q", self.read(8))
        self._charge(size, "bytearray8")
        buf = bytearray(size)
        if self.readinto(buf) != size:
            raise ProtocolError("legacy pickle: bytearray8 runs past the end of the body")
        self.append(buf)

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    @staticmethod
    def _encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        # protocol 2 writes bytes as _codecs.encode(str, "latin1"): no other codec is run
        if encoding not in ("latin1", "latin-1") or not isinstance(text, str) or errors != "strict":
            raise ProtocolError(f"legacy pickle: _codecs.encode is accepted only for latin1 text, "
                                f"got {str(encoding)[:40]!r}")
        return text.encode("latin1")

    def find_class(self, module: str, name: str) -> Any:
        """Resolve allow-listed globals only; numpy constructors are replaced by checked ones."""
        if self.proto < 3:  # protocol 2 pickles name Python 2 modules (__builtin__)
            import _compat_pickle

            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        key = (module, name)
        if key in _NDARRAY:
            return self._new_ndarray
        if key in _RECONSTRUCT:
            return self._reconstruct
        if key in _SCALAR:
            return self._scalar
        if key == ("builtins", "bytearray"):
            return self._bytearray
        if key == ("_codecs", "encode"):
            return self._encode
        if key in _FROMBUFFER:
            return self._frombuffer
        if key in _PICKLE_SAFE_GLOBALS:
            return super().find_class(module, name)
        for cls in _TYPES.values():
            if cls.__name__ == name and (cls.__module__ == module or module.endswith(
                    "." + cls.__module__.rsplit(".", 1)[-1])):
                return cls
        raise ProtocolError(f"legacy pickle names {module}.{name}, which is not on the allow-list")


def _check_dtype_state(dtype: np.dtype, state: Any) -> None:
    """Accept a dtype's pickled state only as numpy itself writes it for that dtype (byte order aside).

    numpy trusts this state (item size, alignment, flags); a forged one crashes the process.
    """
    expected = dtype.__reduce__()[2]
    if (not isinstance(state, tuple) or len(state) != len(expected) or len(state) < 2
            or state[1] not in ("<", ">", "=", "|") or state[0] != expected[0] or state[2:] != expected[2:]):
        raise ProtocolError(f"legacy pickle: malformed state for numpy dtype {dtype}: {str(state)[:80]}")


def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _numpy_scalar_builder() -> Any:
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    return scalar


def loads(data: bytes | bytearray | memoryview, *, allow_pickle: bool = False,
          max_bytes: int | None = None) -> Any:
    """Decode a message made by :func:`dumps`.

    Parameters
    ----------
    data : bytes-like
        The message.
    allow_pickle : bool, default=False
        Accept a pickle (original Sedna's wire). Even then only builtin containers, numpy arrays
        and registered classes are rebuilt. Enable only for trusted peers.
    max_bytes : int, default=None
        Most bytes a pickle may ask to allocate in all (array shapes, ``bytearray(n)``...),
        checked before allocating; :data:`DEFAULT_MAX_BYTES` when None. A message of this codec
        needs no such limit: its arrays may not overlap, so the array data it decodes to (copied
        once) is never longer than the message itself.

    Returns
    -------
    object
        The decoded tree (arrays are writable copies).

    Raises
    ------
    ProtocolError
        If ``data`` is not a message of this codec (or, with ``allow_pickle``, not an acceptable
        pickle), or names a type that is not registered.
    ParameterError
        If ``max_bytes`` is given for a pickle and is not a whole number >= 1.
    """
    if _codec.is_encoded(data):
        meta, arrays = _codec.decode(data, copy=True)
        if not isinstance(meta, dict) or "obj" not in meta:
            raise ProtocolError("binary message carries no object tree (missing 'obj')")
        return _decode(meta["obj"], arrays, 0)
    if is_pickle(data):
        if not allow_pickle:
            raise ProtocolError("pickle bodies are refused: they can run code. Set SEDNA_LEGACY_PICKLE=true "
                                "only to talk to trusted original Sedna components")
        # checked before the body is read: int() took 2.5 as 2, and a NaN was blamed on the body
        limit = DEFAULT_MAX_BYTES if max_bytes is None else check_count("max_bytes", max_bytes)
        try:
            return _RestrictedUnpickler(io.BytesIO(bytes(data)), limit).load()
        except ProtocolError:
            raise
        except RecursionError:
            raise ProtocolError("malformed pickle body: nested too deeply") from None
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, LookupError, TypeError,
                ValueError, OverflowError, SyntaxError, struct.error) as exc:
            raise ProtocolError(f"malformed pickle body: {exc}") from None
    raise ProtocolError(f"body is neither a {MEDIA_TYPE} message nor a pickle "
                        f"(starts with {bytes(data[:8])!r})")
