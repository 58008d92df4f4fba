"""Binary codec for numpy payloads: a JSON header plus raw array bytes, never pickle.

Layout of one message::

    b"SDNA" | version u8 | reserved 3 bytes | header length u32 LE | header (UTF-8 JSON) | padding
    | array 0 bytes | padding | array 1 bytes | ...

The header is ``{"meta": <any JSON>, "arrays": [{"dtype": "<f4", "shape": [..], "offset": n}, ...]}``;
offsets are relative to the start of the data section and 64-byte aligned, so decoding is
zero-copy (:func:`numpy.frombuffer`). Arrays follow one another in order and never share bytes:
a decoder refuses a header whose arrays overlap, so the arrays of a message hold at most as many
bytes as the message itself. Only numeric, boolean and fixed-width string dtypes are
allowed; object arrays are refused, so nothing executable can travel.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, Iterable, Sequence

import numpy as np

from .._json import json_default
from ..exceptions import ProtocolError
from ._numbers import whole

__all__ = ["MEDIA_TYPE", "MAGIC", "encode", "decode", "encoded_size", "is_encoded", "plan", "bytes_head",
           "pad", "read_head"]

MEDIA_TYPE = "application/x-sedna-arrays"
"""Content-Type of the binary codec (HTTP) and of binary websocket frames."""

MAGIC = b"SDNA"
VERSION = 1
_PREFIX = struct.Struct("<4sB3xI")
_ALIGN = 64
_ALLOWED_KINDS = set("biufcSU")


def _pad(n: int) -> int:
    return (-n) % _ALIGN


def _check_dtype(dtype: np.dtype) -> str:
    if dtype.kind not in _ALLOWED_KINDS or dtype.hasobject or dtype.fields is not None:
        raise ProtocolError(f"arrays of dtype {dtype} cannot be encoded; use numeric arrays")
    return dtype.str


def pad(n: int) -> int:
    """Return the zero bytes that follow ``n`` bytes of a message section (64-byte alignment).

    Parameters
    ----------
    n : int
        Length of the section (the head, or one array's bytes).

    Returns
    -------
    int
        Padding length, 0 to 63.
    """
    return _pad(n)


def _plain(value: Any) -> Any:
    """Return a numpy scalar of the metadata as the Python number it is (``json.dumps``'s ``default``).

    Arrays are refused: they travel in the message's array section, not in its JSON header.
    """
    if isinstance(value, np.ndarray):
        raise TypeError("ndarray")
    return json_default(value)


_JSON_KEYS = (str, int, float, bool, type(None))


def _unjsonable(value: Any, where: str) -> str | None:
    """Return where in ``value`` (and what) JSON cannot hold, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, _JSON_KEYS):
                return f"a key of {where} is {_a(key)}, which JSON cannot hold"
            found = _unjsonable(item, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            found = _unjsonable(item, f"{where}[{k}]")
            if found:
                return found
        return None
    if isinstance(value, _JSON_KEYS):
        return None
    try:
        _plain(value)
    except TypeError:
        return f"{where} is {_a(value)}, which JSON cannot hold"
    return None


def _a(value: Any) -> str:
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _dumps(document: dict) -> bytes:
    """Write a header as compact JSON; numpy scalars of ``meta`` become Python numbers.

    Raises
    ------
    ProtocolError
        Naming the first key of ``meta`` whose value JSON cannot hold (bytes, a set, an object...).
    """
    try:
        return json.dumps(document, separators=(",", ":"), default=_plain).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        try:
            where = _unjsonable(document.get("meta"), "meta") or str(exc)
        except RecursionError:  # a list that holds itself, or nesting deeper than JSON is written
            where = str(exc) or "it nests too deeply"
        raise ProtocolError(f"the message's metadata cannot be encoded: {where}; send numbers, strings, "
                            "booleans, None, lists and dicts with string keys") from None


def _head(header: bytes) -> bytes:
    head = _PREFIX.pack(MAGIC, VERSION, len(header)) + header
    return head + bytes(_pad(len(head)))


def plan(arrays: Iterable[np.ndarray] = (), meta: Any = None) -> tuple[bytes, list[np.ndarray]]:
    """Lay a message out without copying its arrays: its head, then each array and its padding.

    The message :func:`encode` returns is ``head``, then for each array its bytes followed by
    ``pad(nbytes)`` zero bytes; a writer that places these sections straight into its own
    buffer (e.g. websocket frames) builds the same bytes with one copy of the data.

    Parameters
    ----------
    arrays : iterable of numpy.ndarray, default=()
        The arrays, kept in order.
    meta : object, default=None
        Anything ``json.dumps`` accepts; numpy scalars are written as the numbers they hold.

    Returns
    -------
    head : bytes
        Prefix, JSON header and padding.
    arrays : list of numpy.ndarray
        The arrays, C-contiguous (copied only where they were not).

    Raises
    ------
    ProtocolError
        If an array has an object or structured dtype, or ``meta`` holds what JSON cannot (bytes, a
        set, an object).
    """
    header, contiguous, _ = _layout([np.asarray(a) for a in arrays], meta)
    return _head(header), contiguous


def bytes_head(meta: Any, nbytes: int) -> bytes:
    """Return the head of a message that carries one ``uint8`` array of ``nbytes`` bytes.

    Parameters
    ----------
    meta : object
        The JSON metadata.
    nbytes : int
        Length of the byte array that follows the head (then ``pad(nbytes)`` zero bytes).

    Returns
    -------
    bytes
        Prefix, JSON header and padding, as :func:`encode` writes them for that array.
    """
    spec = {"dtype": np.dtype(np.uint8).str, "shape": [int(nbytes)], "offset": 0}
    return _head(_dumps({"meta": meta, "arrays": [spec]}))


def _layout(arrays: Sequence[np.ndarray], meta: Any) -> tuple[bytes, list[np.ndarray], int]:
    specs, contiguous, offset = [], [], 0
    for arr in arrays:
        a = arr if arr.flags.c_contiguous else np.array(arr, order="C")
        specs.append({"dtype": _check_dtype(a.dtype), "shape": list(a.shape), "offset": offset})
        contiguous.append(a)
        offset += a.nbytes + _pad(a.nbytes)
    return _dumps({"meta": meta, "arrays": specs}), contiguous, offset


def encode(arrays: Iterable[np.ndarray] = (), meta: Any = None) -> bytes:
    """Encode arrays and a JSON-able ``meta`` object into one message.

    Parameters
    ----------
    arrays : iterable of numpy.ndarray, default=()
        The arrays, kept in order.
    meta : object, default=None
        Anything ``json.dumps`` accepts (message type, round number, sample counts...); numpy
        scalars (``np.int64(3)``) are written as the numbers they hold.

    Returns
    -------
    bytes
        The encoded message.

    Raises
    ------
    ProtocolError
        If an array has an object or structured dtype, or ``meta`` holds what JSON cannot (bytes, a
        set, an object); the message names its key.

    Examples
    --------
    >>> msg = encode([np.arange(3, dtype="float32")], {"type": "demo"})
    >>> meta, (arr,) = decode(msg)
    >>> meta, arr.tolist()
    ({'type': 'demo'}, [0.0, 1.0, 2.0])
    """
    arrays = [np.asarray(a) for a in arrays]
    header, contiguous, _ = _layout(arrays, meta)
    head_len = _PREFIX.size + len(header)
    # one join: the message is allocated and written once (no bytearray-then-bytes second copy)
    parts: list[Any] = [_PREFIX.pack(MAGIC, VERSION, len(header)), header, bytes(_pad(head_len))]
    for a in contiguous:
        n = a.nbytes
        if n:
            parts.append(memoryview(a).cast("B"))
        parts.append(bytes(_pad(n)))
    return b"".join(parts)


def encoded_size(arrays: Iterable[np.ndarray] = (), meta: Any = None) -> int:
    """Return the size in bytes that :func:`encode` would produce, without copying the data.

    Parameters
    ----------
    arrays : iterable of numpy.ndarray, default=()
        The arrays.
    meta : object, default=None
        The JSON metadata.

    Returns
    -------
    int
        Message size in bytes.
    """
    header, _, data_len = _layout([np.asarray(a) for a in arrays], meta)
    head_len = _PREFIX.size + len(header)
    return head_len + _pad(head_len) + data_len


def is_encoded(data: bytes | bytearray | memoryview) -> bool:
    """Tell whether ``data`` starts like a message of this codec.

    Parameters
    ----------
    data : bytes-like
        Candidate message.

    Returns
    -------
    bool
        True if the magic bytes match; False for anything that is not bytes-like (None, a str).
    """
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        return False
    return bytes(view[:4]) == MAGIC


def decode(data: bytes | bytearray | memoryview, *, copy: bool = False) -> tuple[Any, list[np.ndarray]]:
    """Decode a message made by :func:`encode`.

    Parameters
    ----------
    data : bytes-like
        The message.
    copy : bool, default=False
        Copy the arrays out of ``data`` (otherwise they are read-only views into it).

    Returns
    -------
    meta : object
        The JSON metadata.
    arrays : list of numpy.ndarray
        The arrays, in order.

    Raises
    ------
    ProtocolError
        If ``data`` is not bytes-like, or the message is truncated, has a bad magic/version or a
        malformed header, or declares arrays that overlap (see :func:`read_head`).
    """
    buf = _bytes_view(data)
    meta, specs = read_head(buf, len(buf))
    arrays = []
    for i, (spec, (dtype, shape, offset)) in enumerate(specs):
        try:
            arr = np.frombuffer(buf, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
        except ValueError as exc:
            raise ProtocolError(f"array {i} ({_short(spec)}) cannot be built: {exc}") from None
        arrays.append(arr.copy() if copy else arr)
    return meta, arrays


def read_head(data: bytes | bytearray | memoryview, total: int | None = None) -> tuple[Any, list]:
    """Read a message's head (prefix and JSON header) without its arrays.

    ``data`` needs to hold the head only: a receiver can learn where each array lies before the
    array bytes have arrived (the trainer's websocket reader places a chunk's bytes straight into
    the reassembly buffer this way).

    Parameters
    ----------
    data : bytes-like
        The start of a message, at least its head.
    total : int, default=None
        The whole message's length, when known: every array must end within it.

    Returns
    -------
    meta : object
        The JSON metadata.
    arrays : list of (dict, (numpy.dtype, tuple, int))
        Each array's spec as sent, with its checked dtype, shape and byte offset from the start of
        the message.

    Raises
    ------
    ProtocolError
        If ``data`` is not bytes-like, the head is truncated, has a bad magic/version or a malformed
        header, an array ends past ``total``, or an array starts before the previous one ends
        (arrays that overlap, share bytes or come out of order).
    """
    buf = _bytes_view(data)
    if len(buf) < _PREFIX.size:
        raise ProtocolError(f"binary message too short ({len(buf)} bytes)")
    magic, version, header_len = _PREFIX.unpack_from(buf, 0)
    if magic != MAGIC:
        raise ProtocolError("not a sedna_lib binary message (bad magic bytes)")
    if version != VERSION:
        raise ProtocolError(f"unsupported binary message version {version}; expected {VERSION}")
    head_end = _PREFIX.size + header_len
    if head_end > len(buf):
        raise ProtocolError(f"binary message truncated inside its header (declares {header_len} header "
                            f"bytes, {len(buf) - _PREFIX.size} sent)")
    header = _json_header(buf[_PREFIX.size:head_end])
    try:
        meta, specs = header["meta"], header["arrays"]
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"malformed binary message header: missing {exc}") from None
    if not isinstance(specs, list):
        raise ProtocolError(f"malformed binary message header: 'arrays' must be a list, "
                            f"got {type(specs).__name__}")
    base = head_end + _pad(head_end)
    out = []
    previous_end = base
    for i, spec in enumerate(specs):
        dtype, shape, offset = _array_spec(i, spec, base)
        # exact integer arithmetic: a declared shape cannot wrap around to a small size
        end = offset + math.prod(shape) * dtype.itemsize
        if offset < base or (total is not None and end > total):
            sent = "?" if total is None else total - base
            raise ProtocolError(f"array {i} ({_short(spec)}) runs past the end of the message "
                                f"({end - base} bytes declared, {sent} sent)")
        # arrays lie one after another, in order, without sharing bytes: the bytes they declare add
        # up to at most the message's length, so decoding (and copying) them allocates no more
        if offset < previous_end:
            raise ProtocolError(f"array {i} ({_short(spec)}) starts at data offset {offset - base}, inside "
                                f"the bytes of the arrays before it (which end at {previous_end - base}); "
                                f"arrays must follow one another without overlapping")
        previous_end = end
        out.append((spec, (dtype, shape, offset)))
    return meta, out


_MAX_NDIM = 32


def _bytes_view(data: Any) -> memoryview:
    """Return ``data`` as a flat byte view; what is not bytes-like (None, a str) is a ProtocolError."""
    if isinstance(data, bytes):
        return memoryview(data)
    try:
        return memoryview(data).cast("B")
    except TypeError:
        raise ProtocolError(f"a binary message must be bytes-like (bytes, bytearray, memoryview), got "
                            f"{type(data).__name__}") from None


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _json_header(raw: memoryview) -> Any:
    """Parse a message's JSON header; every failure (nesting too) is a :class:`ProtocolError`."""
    try:
        return json.loads(bytes(raw))
    except RecursionError:
        raise ProtocolError("malformed binary message header: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed binary message header: {exc}") from None


def _array_spec(i: int, spec: Any, base: int) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check one array spec of a header: an allowed non-empty dtype, a sane shape, an offset."""
    try:
        dtype = np.dtype(spec["dtype"])
        raw_shape = spec["shape"]
        if not isinstance(raw_shape, list):
            raise TypeError(f"shape must be a list, got {type(raw_shape).__name__}")
        dims = [whole(s) for s in raw_shape]
        start = whole(spec["offset"])
        if start is None or None in dims:  # a bare int() read a dimension of 2.5 as 2 and True as 1
            raise TypeError(f"shape and offset must be whole numbers, got {_short(raw_shape)} and "
                            f"{_short(spec['offset'])}")
        shape, offset = tuple(dims), base + start
    except (KeyError, TypeError, ValueError, SyntaxError, RecursionError, OverflowError) as exc:
        raise ProtocolError(f"malformed spec for array {i}: {_short(exc)}") from None
    _check_dtype(dtype)
    if dtype.itemsize == 0:
        raise ProtocolError(f"array {i} has a zero-sized dtype {dtype}; give strings a length (e.g. 'S8')")
    if len(shape) > _MAX_NDIM:
        raise ProtocolError(f"array {i} has {len(shape)} dimensions; at most {_MAX_NDIM} are accepted")
    if any(s < 0 for s in shape):
        raise ProtocolError(f"array {i} has a negative dimension {_short(shape)}")
    if any(s > np.iinfo(np.intp).max for s in shape) or math.prod(s for s in shape if s) * dtype.itemsize \
            > np.iinfo(np.intp).max:
        raise ProtocolError(f"array {i} declares a shape too large for any message {_short(shape)}")
    return dtype, shape, offset
