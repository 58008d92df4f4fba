"""uvicorn's websocket protocol with a fast path for large binary frames (the aggregation server's uploads).

uvicorn's sans-I/O websocket protocol reads a socket in 256 KiB pieces, appends them to the parser's
buffer, slices each frame's payload out of it and unmasks that into yet another copy: four passes
over every byte before the application sees a frame. This subclass receives a large binary frame
(a complete, masked, uncompressed frame within the size limit) with ``recv_into`` straight into a
buffer of the frame's size and unmasks it there, in place; every other frame (text, control,
fragmented, compressed, oversized, malformed) goes through the websockets parser as before, so its
checks, errors and close codes are unchanged. An app that hands its
:class:`~sedna_lib.transport.messages.Reassembler` to the :data:`REASSEMBLY` scope extension (the
aggregation server does) has every binary message fed to it here, in the order of the wire, and a
chunk's bytes go from the socket straight into their place in the message's buffer: the frame's
first bytes (the chunk's head) are read first, the chunk is checked and its bytes reserved, the
rest is received into the reserved slice and unmasked there; one pass by the kernel, one by the
unmask, no frame buffer and no copy. On the way out, a binary message's frame header is
written ahead of the payload instead of copying both into a new frame, so a model sent to many
peers is never copied per peer. The bytes on the wire are the same either way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from typing import Any

import numpy as np

from ..exceptions import ProtocolError
from ..transport import messages as m
from ..transport._wsframes import FIN_BINARY, frame_header, mask_into, parse_header

__all__ = ["FAST_FRAME_MIN", "REASSEMBLY", "binary_frames_protocol", "internals_fit"]

logger = logging.getLogger(__name__)

FAST_FRAME_MIN = 64 * 1024  # smaller frames are cheap enough through the parser
_SCRATCH = 256 * 1024  # socket read size outside a fast frame (uvicorn's too)
_PEEK = 4096  # a large frame's first bytes, read before the rest: a chunk's head is in them

ABORT = "sedna_lib.abort"
"""The ASGI scope extension that drops the connection at once (``transport.abort()``): a server gives up on a
peer that takes nothing sent to it without waiting for a close handshake it would never answer."""

REASSEMBLY = "sedna_lib.reassembly"
"""The ASGI scope extension (and receive-event key) of in-place reassembly.

``scope["extensions"][REASSEMBLY]`` is a callable taking a :class:`~sedna_lib.transport.messages.Reassembler`:
from then on the server feeds every binary message of the connection to it as the bytes are read
(a chunk's straight into the reassembly buffer), in the order of the wire, and the app receives,
per binary frame, ``{"type": "websocket.receive", "bytes": b"", REASSEMBLY: (size, outcome)}``:
the frame's size and what the reassembler made of it (None while chunks are missing, the whole
message, or the :class:`~sedna_lib.exceptions.ProtocolError` that refused it).
"""


# What the protocol below uses of uvicorn's sans-I/O websocket protocol and of websockets' protocol state.
_UVICORN_HOOKS = ("handle_connect", "handle_bytes", "send_receive_event_to_app", "data_received", "send")
_WEBSOCKETS_STATE = ("state", "parser_exc", "extensions", "current_size", "reader", "max_message_size")
_UVICORN_FRAMES = (0, 50)  # uvicorn keeps a binary message's frames in ``frames`` from 0.50 on


def internals_fit() -> bool:
    """Return whether the installed uvicorn and websockets have what the fast protocol relies on.

    uvicorn's sans-I/O websocket protocol appeared in 0.35 and keeps a message's frames in a list
    from 0.50 on; websockets names its protocol's size state ``current_size`` and
    ``max_message_size`` from 16.0 on. Older (or differently built) versions serve through uvicorn's
    own protocol instead.
    """
    try:
        import uvicorn
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
        from websockets.server import ServerProtocol
    except ImportError:
        return False
    if _release(getattr(uvicorn, "__version__", "")) < _UVICORN_FRAMES:
        return False
    if not all(callable(getattr(WebSocketsSansIOProtocol, name, None)) for name in _UVICORN_HOOKS):
        return False
    try:
        probe = ServerProtocol()
    except Exception:  # noqa: BLE001 - a websockets whose protocol is built otherwise
        return False
    return all(hasattr(probe, name) for name in _WEBSOCKETS_STATE)


def _release(version: str) -> tuple[int, ...]:
    """``"0.55.0"`` -> ``(0, 55, 0)``: the leading release numbers (``"1.0rc1"`` -> ``(1, 0)``)."""
    found = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(x) for x in found.group().split(".")) if found else ()


@functools.lru_cache(maxsize=None)
def binary_frames_protocol() -> type | None:
    """Return the websocket protocol class (built on first use: uvicorn and websockets load lazily).

    Returns
    -------
    type or None
        A subclass of uvicorn's ``WebSocketsSansIOProtocol`` that is also an
        ``asyncio.BufferedProtocol``; pass it as uvicorn's ``ws``. None where the installed uvicorn
        or websockets lacks the internals it is written against (:func:`internals_fit`): uvicorn's
        own protocol then serves, and the app reassembles its messages itself (an INFO line says so,
        once: the class is built once per process).
    """
    if not internals_fit():
        logger.info("uvicorn's own websocket protocol serves here: large binary frames are received in place "
                    "with uvicorn>=0.50 and websockets>=16 (pip install -U uvicorn websockets)")
        return None
    from uvicorn.protocols.utils import ClientDisconnected
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State

    class BinaryFramesProtocol(WebSocketsSansIOProtocol, asyncio.BufferedProtocol):
        """uvicorn's websocket protocol, receiving large binary frames straight into their own buffer."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._scratch = bytearray(_SCRATCH)
            self._head = bytearray()  # an incomplete frame header, kept until the rest arrives
            self._forward = 0  # bytes of the current frame still owed to the websockets parser
            self._fill: np.ndarray | None = None  # where the current fast frame's next bytes go
            self._filled = 0
            self._key = b""  # the masking key for ``_fill``'s first byte (the frame's, rotated)
            self._skip = 0  # bytes of the current fast frame to read past (padding, a refused rest)
            self._then: Any = None  # what follows once ``_fill`` is full or the skip is done
            self._mask = b""
            self._length = 0  # the current fast frame's payload length
            self._reassembler: Any = None  # the app's, once it asks for in-place reassembly

        # -- the app's side -----------------------------------------------------------------------
        def handle_connect(self, event: Any) -> None:
            super().handle_connect(event)
            scope = getattr(self, "scope", None)
            if scope is not None:
                scope["extensions"][REASSEMBLY] = self._attach
                scope["extensions"][ABORT] = self.transport.abort  # drops a peer that takes no data

        def _attach(self, reassembler: Any) -> None:
            """From now on, binary messages are fed to ``reassembler`` here, as they are read."""
            self._reassembler = reassembler

        def send_receive_event_to_app(self) -> None:
            if self._reassembler is None or self.curr_msg_data_type != "bytes":
                return super().send_receive_event_to_app()
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            self.frames = []
            self._deliver(len(data), self._outcome(self._reassembler.feed, data))
            return None

        def _outcome(self, step: Any, *args: Any) -> Any:
            """Run one reassembly step: its result, or the :class:`ProtocolError` it ended with."""
            result = m.outcome(step, *args)
            if isinstance(result, ProtocolError):
                self._reassembler.drop()
            return result

        def _deliver(self, size: int, outcome: Any) -> None:
            if self.close_sent:  # the app is past its close: nothing more for it (as uvicorn does)
                return
            self.queue.put_nowait({"type": "websocket.receive", "bytes": b"", REASSEMBLY: (size, outcome)})
            if not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()

        # -- receiving --------------------------------------------------------------------------
        def get_buffer(self, sizehint: int) -> Any:
            if self._fill is not None:
                return memoryview(self._fill)[self._filled:]  # at most the frame's remaining bytes
            if self._skip:
                return memoryview(self._scratch)[:min(self._skip, _SCRATCH)]
            return self._scratch

        def buffer_updated(self, nbytes: int) -> None:
            if self._fill is not None:
                self._filled += nbytes
                if self._filled == len(self._fill):
                    self._filled_up()
            elif self._skip:
                self._skip -= nbytes
                if not self._skip:
                    self._then()
            else:
                self._stream(memoryview(self._scratch)[:nbytes])

        def data_received(self, data: bytes) -> None:
            self._stream(memoryview(data))

        def _to_parser(self, data: Any) -> None:
            super().data_received(bytes(data))

        def _fast_path_open(self) -> bool:
            conn = self.conn
            return (conn.state is State.OPEN and conn.parser_exc is None and not conn.extensions
                    and conn.current_size is None and not conn.reader.buffer)

        def _stream(self, data: memoryview) -> None:
            """Split received bytes between fast frames and the websockets parser, frame by frame."""
            while len(data):
                if self._fill is not None:  # a fast frame's bytes that came with its header
                    take = min(len(data), len(self._fill) - self._filled)
                    self._fill[self._filled:self._filled + take] = np.frombuffer(data[:take], dtype=np.uint8)
                    self._filled += take
                    data = data[take:]
                    if self._filled == len(self._fill):
                        self._filled_up()
                    continue
                if self._skip:
                    take = min(len(data), self._skip)
                    self._skip -= take
                    data = data[take:]
                    if not self._skip:
                        self._then()
                    continue
                if self._forward:
                    take = min(len(data), self._forward)
                    self._forward -= take
                    self._to_parser(data[:take])
                    data = data[take:]
                    continue
                if self._head:  # a header split across reads
                    data = memoryview(bytes(self._head) + bytes(data))
                    self._head = bytearray()
                if not self._fast_path_open():  # handshake, closing, failed, compressed, fragmented
                    self._to_parser(data)
                    return
                header = parse_header(data)
                if header is None:
                    self._head = bytearray(data)
                    return
                first, masked, length, size = header
                limit = self.conn.max_message_size
                if (first == FIN_BINARY and masked and length >= FAST_FRAME_MIN
                        and (limit is None or length <= limit)):
                    self._mask, self._length = bytes(data[size - 4:size]), length
                    if self._reassembler is None:
                        self._expect(np.empty(length, dtype=np.uint8), 0, self._whole)
                    else:
                        self._expect(np.empty(_PEEK, dtype=np.uint8), 0, self._peeked)
                else:  # the parser sees this frame whole, and judges it
                    self._forward = length
                    self._to_parser(data[:size])
                data = data[size:]

        # -- a fast frame, step by step -------------------------------------------------------------
        def _expect(self, buf: np.ndarray, offset: int, then: Any) -> None:
            """Receive the next ``len(buf)`` bytes (payload ``offset`` on) into ``buf``, then ``then``."""
            phase = offset % 4
            self._fill, self._filled, self._then = buf, 0, then
            self._key = self._mask[phase:] + self._mask[:phase]
            if not len(buf):
                self._filled_up()

        def _pass(self, nbytes: int, then: Any) -> None:
            """Read past the frame's next ``nbytes`` bytes, then ``then()``."""
            if nbytes <= 0:
                then()
            else:
                self._skip, self._then = nbytes, then

        def _filled_up(self) -> None:
            buf, then, self._fill = self._fill, self._then, None
            mask_into(buf, self._key)  # unmasked in place
            then(buf)

        def _whole(self, frame: np.ndarray) -> None:
            self.curr_msg_data_type = "bytes"
            self.frames = [memoryview(frame)]  # type: ignore[list-item]
            self.send_receive_event_to_app()

        def _peeked(self, peek: np.ndarray) -> None:
            """Place the frame from its first bytes: a chunk goes straight into the reassembly buffer."""
            length = self._length
            plan = self._outcome(self._reassembler.place, peek, length)
            if isinstance(plan, ProtocolError):  # refused: the rest of the frame is read past, unkept
                self._pass(length - _PEEK, lambda: self._deliver(length, plan))
                return
            if plan is None:  # not a chunk: the frame whole, fed as it is
                frame = np.empty(length, dtype=np.uint8)
                frame[:_PEEK] = peek
                self._expect(frame[_PEEK:], _PEEK, lambda _rest: self._whole(frame))
                return

            def done() -> None:
                self._deliver(length, self._outcome(self._reassembler.advance))

            def rest() -> None:
                self._expect(plan.rest, plan.offset, lambda _rest: self._pass(plan.after, done))

            self._pass(plan.before, rest)

        # -- sending ----------------------------------------------------------------------------
        async def send(self, message: Any) -> None:
            data = message.get("bytes") if message.get("type") == "websocket.send" else None
            if data is None or not self.handshake_complete or self.initial_response is not None:
                return await super().send(message)
            await self.writable.wait()
            if self.disconnected:
                raise ClientDisconnected()
            if self.close_sent or self.conn.state is not State.OPEN or self.conn.extensions:
                return await super().send(message)
            view = memoryview(data).cast("B")
            # the header with the payload's first bytes, then the payload itself: no frame-sized copy
            # of the payload per peer (the transport copies only what the socket does not take at once)
            self.transport.write(frame_header(len(view)) + view[:_SCRATCH])
            if len(view) > _SCRATCH:
                self.transport.write(view[_SCRATCH:])
            return None

    return BinaryFramesProtocol
