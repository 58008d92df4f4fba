"""Websocket binary frame headers and masking with numpy (RFC 6455, sections 5.2 and 5.3).

Used by the two fast paths for large binary frames, the aggregation server's
(:mod:`sedna_lib.servers._ws_frames`) and the trainer's (:mod:`sedna_lib.transport._ws_recv`): a frame
header is read with :func:`parse_header`, a received frame is unmasked in place with one vectorised
XOR pass instead of into a new copy, and a binary message's header is written ahead of its payload
instead of copying both into one frame. The frames are the ones websockets writes and reads: final,
binary, uncompressed.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

__all__ = ["frame_header", "mask_into", "parse_header"]

OP_BINARY = 0x2
FIN_BINARY = 0x80 | OP_BINARY  # first byte of a final binary frame without RSV bits


def parse_header(data: Any) -> tuple[int, bool, int, int] | None:
    """Read the frame header at the start of ``data``.

    Parameters
    ----------
    data : bytes-like
        Received bytes, starting at a frame boundary.

    Returns
    -------
    tuple of (int, bool, int, int) or None
        The first byte (FIN, RSV bits and opcode), whether the frame is masked, the payload
        length and the header's size (the masking key is its last 4 bytes); None while
        ``data`` holds less than the whole header.
    """
    if len(data) < 2:
        return None
    first, second = data[0], data[1]
    length = second & 0x7F
    masked = bool(second & 0x80)
    size = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if masked else 0)
    if len(data) < size:
        return None
    if length == 126:
        length = struct.unpack_from("!H", data, 2)[0]
    elif length == 127:
        length = struct.unpack_from("!Q", data, 2)[0]
    return first, masked, length, size


def frame_header(length: int, key: bytes | None = None) -> bytes:
    """Return the header of a final binary frame carrying ``length`` bytes.

    Parameters
    ----------
    length : int
        Payload bytes.
    key : bytes, default=None
        The 4-byte masking key of a client's frame (the payload must then be masked with it);
        None for a server's unmasked frame.

    Returns
    -------
    bytes
        2, 4 or 10 bytes, 4 more with a key.
    """
    bit = 0x80 if key is not None else 0
    if length < 126:
        head = bytes((0x80 | OP_BINARY, bit | length))
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | OP_BINARY, bit | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | OP_BINARY, bit | 127, length)
    return head if key is None else head + key


def mask_into(src: Any, key: bytes, out: Any = None) -> None:
    """XOR ``src`` with a 4-byte masking key into ``out`` (in place when ``out`` is None).

    Masking and unmasking are the same operation; the key's phase starts at the first byte.

    Parameters
    ----------
    src : bytes-like
        The payload (writable when ``out`` is None).
    key : bytes
        The frame's masking key.
    out : writable bytes-like, default=None
        Where the result goes (as long as ``src``).
    """
    data = np.frombuffer(src, dtype=np.uint8)
    dest = data if out is None else np.frombuffer(out, dtype=np.uint8)
    n8 = len(data) // 8 * 8
    if n8:
        np.bitwise_xor(data[:n8].view(np.uint64), np.frombuffer(key * 2, dtype=np.uint64)[0],
                       out=dest[:n8].view(np.uint64))
    for i in range(n8, len(data)):
        dest[i] = data[i] ^ key[i % 4]
