"""uvicorn's websocket protocol with a fast path for large binary frames (the aggregation server's uploads).

uvicorn's sans-I/O websocket protocol reads a socket in 256 KiB pieces, appends them to the parser's
buffer, slices each frame's payload out of it and unmasks that into yet another copy: four passes
over every byte before the application sees a frame. This subclass receives a large binary frame
(a complete, masked, uncompressed frame within the size limit) with ``recv_into`` straight into a
buffer of the frame's size and unmasks it there, in place; every other frame (text, control,
fragmented, compressed, oversized, malformed) goes through the websockets parser as before, so its
checks, errors and close codes are unchanged. On the way out, a binary message's frame header is
written ahead of the payload instead of copying both into a new frame, so a model sent to many
peers is never copied per peer. The bytes on the wire are the same either way.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import numpy as np

from ..transport._wsframes import FIN_BINARY, frame_header, mask_into, parse_header

__all__ = ["FAST_FRAME_MIN", "binary_frames_protocol"]

FAST_FRAME_MIN = 64 * 1024  # smaller frames are cheap enough through the parser
_SCRATCH = 256 * 1024  # socket read size outside a fast frame (uvicorn's too)


@functools.lru_cache(maxsize=None)
def binary_frames_protocol() -> type:
    """Return the websocket protocol class (built on first use: uvicorn and websockets load lazily).

    Returns
    -------
    type
        A subclass of uvicorn's ``WebSocketsSansIOProtocol`` that is also an
        ``asyncio.BufferedProtocol``; pass it as uvicorn's ``ws``.
    """
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
            self._frame: np.ndarray | None = None  # the fast frame being received
            self._filled = 0
            self._mask = b""

        # -- receiving --------------------------------------------------------------------------
        def get_buffer(self, sizehint: int) -> Any:
            if self._frame is not None:
                return memoryview(self._frame)[self._filled:]  # at most the frame's remaining bytes
            return self._scratch

        def buffer_updated(self, nbytes: int) -> None:
            if self._frame is not None:
                self._filled += nbytes
                if self._filled == len(self._frame):
                    self._frame_done()
                return
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
                if self._frame is not None:  # the start of a fast frame's payload came with its header
                    take = min(len(data), len(self._frame) - self._filled)
                    self._frame[self._filled:self._filled + take] = np.frombuffer(data[:take], dtype=np.uint8)
                    self._filled += take
                    data = data[take:]
                    if self._filled == len(self._frame):
                        self._frame_done()
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
                    self._mask = bytes(data[size - 4:size])
                    self._frame = np.empty(length, dtype=np.uint8)
                    self._filled = 0
                else:  # the parser sees this frame whole, and judges it
                    self._forward = length
                    self._to_parser(data[:size])
                data = data[size:]

        def _frame_done(self) -> None:
            frame, self._frame = self._frame, None
            mask_into(frame, self._mask)  # unmasked in place
            self.curr_msg_data_type = "bytes"
            self.frames = [memoryview(frame)]  # type: ignore[list-item]
            self.send_receive_event_to_app()

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
