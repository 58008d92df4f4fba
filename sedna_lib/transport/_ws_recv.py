"""The trainer's receive path for binary frames: from the socket straight into the reassembly buffer.

websockets' sync client reads its socket in 64 KiB pieces in a reader thread and parses every
frame; a chunked model then costs a join of the frame's pieces and a copy into the reassembly
buffer on top. Here the connection's socket is wrapped: the reader thread still calls ``recv``,
and gets every byte websockets needs (the handshake response, text and control frames, anything
fragmented, masked, RSV-flagged or over the size limit: its parser judges those, with its close
codes), while a final, unmasked, uncompressed binary frame arriving in the OPEN state is taken out
of the stream whole. A sedna_lib chunk's bytes are received with ``recv_into`` straight into their
place in the message's reassembly buffer (checked and reserved by :class:`messages.Reassembler`
from the chunk's head first, so a header claiming 2 GiB reserves nothing like it); any other binary
frame into a buffer of its own size. In the taken frame's place the parser gets a 16-byte binary
frame carrying a per-connection secret, so the finished message reaches websockets' message queue
in its turn among the parser's messages, and ``recv`` returns it without a copy; a refused chunk
(out of order, too large, malformed) is raised by ``recv`` in its turn, as
:class:`~sedna_lib.exceptions.ProtocolError`. Binary messages the parser delivers itself (a
fragmented one) go through the same reassembler, in the order of the wire. Control frames never
arrive inside a frame, so pings between the chunks of a large message reach the parser, which
answers them, as before.

Only plain ``ws://`` connections take this path (a TLS socket decrypts through its own buffer), and
only where websockets' sync client has the internals it was written against (checked once).
"""

from __future__ import annotations

import collections
import functools
import secrets
import select
import socket
from typing import Any

import numpy as np

from ..exceptions import ProtocolError
from . import messages as m
from ._wsframes import FIN_BINARY, frame_header, parse_header

__all__ = ["fast_connection_class"]

_READ = 256 * 1024  # socket read size outside a taken frame
_PEEK = 4096  # bytes of a large frame read first: a chunk's head is in them
_END_OF_RESPONSE = b"\r\n\r\n"


class _Closed(Exception):
    """The socket reached its end (or the connection is shutting down) inside a taken frame."""


class FrameSocket:
    """A connection's socket, seen by websockets' reader thread through ``recv``.

    Parameters
    ----------
    sock : socket.socket
        The connected (plain TCP) socket; everything but ``recv`` goes to it unchanged.
    max_bytes : int
        Largest message accepted (the client's ``max_message_bytes``).
    """

    def __init__(self, sock: socket.socket, max_bytes: int) -> None:
        self._sock = sock
        self.conn: Any = None  # the websockets connection reading this socket
        self.reassembler = m.Reassembler(max_bytes)
        self._scratch = bytearray(_READ)
        self._pending = memoryview(b"")  # bytes read and not handed on yet (a view of the scratch)
        self._http = True  # until the end of the handshake response
        self._tail = b""  # the response's last bytes read, in case its end is split across reads
        self._forward = 0  # bytes of the current frame still owed to the parser
        self._token = bytes(bytearray(b"sedna_lib fast frame"))  # a bytes object only this reader puts
        self.secret = secrets.token_bytes(16)  # a taken frame's stand-in for the parser
        self._marker = frame_header(16) + self.secret
        self.stash: collections.deque = collections.deque()  # taken frames' outcomes, till their turn
        self.delivered: collections.deque = collections.deque()  # outcomes in turn, for ``recv``
        self._eof = False
        self._fragmented = False  # a fragmented message is being handed to the parser
        self._parser_has_binary = False
        self._parser_done = False
        self.taken = 0  # frames received past the parser
        self._poll: Any = None
        self._junk: bytearray | None = None
        self._fragments: list | None = None
        self._watcher = -1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    # -- what websockets' reader thread calls -----------------------------------------------------
    def recv(self, bufsize: int = _READ, flags: int = 0) -> bytes:
        """Return the next bytes for websockets' parser (b'' at the end), taking binary frames out.

        Every byte read is handed on or taken before this returns (but an incomplete frame header,
        whose rest is on its way): websockets waits for the socket to be readable before calling
        again, so nothing may be left waiting here.
        """
        if self._eof:
            return b""
        out: list = []
        if not self._forward:  # every binary frame handed on so far is whole, and parsed by now
            self._parser_has_binary = False
        try:
            while True:
                if not self._pending:
                    self._read_into_scratch(0)
                if self._http:
                    out.append(self._through_response())
                if not self._http:
                    self._split(out)
                if any(out):
                    return b"".join(out)
                if self._pending:  # a frame header split across reads: read on behind its start
                    self._read_into_scratch(len(self._pending))
        except _Closed:
            self._eof, self._pending = True, memoryview(b"")
            return b"".join(out)

    def _read_into_scratch(self, keep: int) -> None:
        """Read from the socket after the last ``keep`` pending bytes (moved to the scratch's start)."""
        if keep:
            self._scratch[:keep] = bytes(self._pending[-keep:])
        self._wait_readable()
        n = self._sock.recv_into(memoryview(self._scratch)[keep:])
        if n == 0:
            raise _Closed()
        self._pending = memoryview(self._scratch)[:keep + n]

    # -- the stream, frame by frame ---------------------------------------------------------------
    def _through_response(self) -> bytes:
        pending = bytes(self._pending)
        end = (self._tail + pending).find(_END_OF_RESPONSE)
        if end < 0:
            self._tail = (self._tail + pending)[-3:]
            self._pending = memoryview(b"")
            return pending
        cut = end + len(_END_OF_RESPONSE) - len(self._tail)
        self._pending = self._pending[cut:]
        self._http, self._tail = False, b""
        return pending[:cut]

    def _split(self, out: list) -> None:
        """Hand whole frames (or the current frame's rest) on to ``out``; take binary frames out.

        A taken frame leaves a 16-byte binary frame carrying this reader's secret in its place,
        so that the parser puts its message in line with the others.
        """
        while self._pending:
            if self._forward:
                take = min(len(self._pending), self._forward)
                out.append(bytes(self._pending[:take]))
                self._pending = self._pending[take:]
                self._forward -= take
                continue
            header = parse_header(self._pending)
            if header is None:
                return  # its rest is on its way
            first, masked, length, size = header
            if first == FIN_BINARY and not masked and self._takes(length):
                if out:  # the frames before this one reach the parser before it blocks on the socket
                    self.conn.feed_parser(b"".join(out))
                    out.clear()
                self._pending = self._pending[size:]
                self.taken += 1
                if self._take(length):
                    out.append(self._marker)
                continue
            self._track(first, masked)
            self._forward = size + length

    def _track(self, first: int, masked: bool) -> None:
        """Follow what the parser will make of a frame handed on to it."""
        opcode = first & 0x0F
        if opcode in (0x0, 0x2):
            self._parser_has_binary = True  # the reassembler sees it after the parser: take nothing more now
        if opcode in (0x1, 0x2):
            self._fragmented = not first & 0x80
        elif opcode == 0x0 and first & 0x80:
            self._fragmented = False
        if opcode == 0x8 or first & 0x70 or masked or opcode not in (0x0, 0x1, 0x2, 0x8, 0x9, 0xA):
            self._parser_done = True  # a close, or a frame the parser fails the connection for

    def _takes(self, length: int) -> bool:
        """Whether websockets would deliver this final binary frame as a message of its own, in turn."""
        if self._parser_done or self._fragmented or self._parser_has_binary or self.conn is None:
            return False
        proto = self.conn.protocol
        from websockets.protocol import State

        limit = getattr(proto, "max_message_size", getattr(proto, "max_size", None))
        return (proto.state is State.OPEN and getattr(proto, "parser_exc", None) is None
                and not getattr(proto, "extensions", None) and (limit is None or length <= limit))

    # -- a taken frame --------------------------------------------------------------------------
    def _fill(self, dest: Any) -> None:
        """Fill ``dest`` from the pending bytes, then from the socket straight into it."""
        dest = memoryview(dest).cast("B")
        have = min(len(dest), len(self._pending))
        dest[:have] = self._pending[:have]
        self._pending = self._pending[have:]
        while have < len(dest):
            self._wait_readable()
            n = self._sock.recv_into(dest[have:])
            if n == 0:
                raise _Closed()
            have += n

    def _skip(self, n: int) -> None:
        """Receive and drop ``n`` bytes (padding, or a refused frame's rest)."""
        if n and self._junk is None:
            self._junk = bytearray(_READ)
        while n:
            take = min(n, len(self._junk))
            self._fill(memoryview(self._junk)[:take])
            n -= take

    def _wait_readable(self) -> None:
        """Block until the socket is readable; a closing connection's shutdown notice ends the frame."""
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(self._sock.fileno(), select.POLLIN)
            watcher = getattr(self.conn, "shutdown_watcher", None)
            if watcher is not None:  # older websockets shut the socket down instead, which wakes it
                self._watcher = watcher.fileno()
                self._poll.register(self._watcher, select.POLLIN)
        while True:
            events = self._poll.poll()
            if any(fd == self._watcher or flag & select.POLLNVAL for fd, flag in events):
                raise _Closed()
            if events:
                return

    def _take(self, length: int) -> bool:
        """Receive a binary frame's ``length`` payload bytes; tell whether a message (or refusal) is due."""
        try:
            message = self._receive(length)
        except ProtocolError as exc:
            self.reassembler.drop()
            self.stash.append(exc)
            return True
        if message is None:
            return False
        self.stash.append(message)
        return True

    def parsed(self, frame: Any) -> None:
        """Take a binary message's frame that websockets' parser delivered (a fragmented one's pieces).

        The same reassembler sees every binary message, whichever way it came, in the order of
        the wire.
        """
        if frame.opcode.name == "BINARY":
            self._fragments = [frame.data]
        else:
            self._fragments.append(frame.data)
        if not frame.fin:
            return
        data, self._fragments = b"".join(self._fragments), None
        try:
            message = self.reassembler.feed(memoryview(data))
        except ProtocolError as exc:
            self._refuse(exc)
            return
        if message is not None:
            self._deliver(message)

    @property
    def in_fragments(self) -> bool:
        """Whether a fragmented binary message is partly parsed."""
        return self._fragments is not None

    def _refuse(self, exc: ProtocolError) -> None:
        self.reassembler.drop()
        self._deliver(exc)

    def stand_in(self) -> None:
        """Deliver a taken frame's outcome: the parser reached its stand-in."""
        self._deliver(self.stash.popleft())

    def _receive(self, length: int) -> Any:
        if length > self.reassembler.max_bytes:  # no chunk is this long either: refused unread
            self._skip(length)
            limit = self.reassembler.max_bytes
            raise ProtocolError(f"message of {length} bytes exceeds the limit of {limit} bytes")
        if length <= _PEEK:
            frame = np.empty(length, dtype=np.uint8)
            self._fill(frame)
            return self.reassembler.feed(memoryview(frame))
        peek = bytearray(_PEEK)
        self._fill(peek)
        try:
            plan = self.reassembler.place(peek, length)
        except ProtocolError:
            self._skip(length - _PEEK)
            raise
        if plan is None:
            frame = np.empty(length, dtype=np.uint8)
            frame[:_PEEK] = np.frombuffer(peek, dtype=np.uint8)
            self._fill(memoryview(frame)[_PEEK:])
            return self.reassembler.feed(memoryview(frame))
        self._skip(plan.before)
        self._fill(plan.rest)
        self._skip(plan.after)
        return self.reassembler.advance()

    def _deliver(self, item: Any) -> None:
        from websockets.frames import Frame, Opcode

        self.delivered.append(item)
        self.conn.process_event(Frame(Opcode.BINARY, self._token))


def _token_passes_through() -> bool:
    """Whether a one-frame message reaches ``recv`` as the very bytes object that was queued."""
    token = bytes(bytearray(b"probe"))
    return b"".join(x for x in [token]) is token


@functools.lru_cache(maxsize=None)
def fast_connection_class() -> type | None:
    """Return websockets' sync client connection with this receive path (None where it cannot apply).

    Returns
    -------
    type or None
        A ``ClientConnection`` subclass taking a ``max_bytes`` keyword, for ``connect``'s
        ``create_connection``; None when this websockets' internals differ from the ones this
        path was written against (then websockets reads every frame itself).
    """
    from websockets.frames import Frame, Opcode
    from websockets.sync.client import ClientConnection

    needed = ("process_event", "recv", "send_data", "recv_events")
    if not (_token_passes_through() and hasattr(select, "poll")
            and all(hasattr(ClientConnection, name) for name in needed)):
        return None

    class FastClientConnection(ClientConnection):
        """websockets' sync client connection, its binary frames received by :class:`FrameSocket`."""

        def __init__(self, sock: Any, protocol: Any, *args: Any, max_bytes: int = m.MAX_MESSAGE_BYTES,
                     **kwargs: Any) -> None:
            self._frames = None
            if type(sock) is socket.socket:  # plain TCP: TLS decrypts through its own buffer
                self._frames = sock = FrameSocket(sock, max_bytes)
                sock.conn = self
            super().__init__(sock, protocol, *args, **kwargs)

        def feed_parser(self, data: bytes) -> None:
            """Hand ``data`` to the parser and process its events, as the reader thread's loop does."""
            with self.protocol_mutex:
                self.protocol.receive_data(data)
                events = self.protocol.events_received()
                self.send_data()
            for event in events:
                self.process_event(event)

        def process_event(self, event: Any) -> None:
            frames = self._frames
            if frames is not None and isinstance(event, Frame) and event.data is not frames._token:
                if event.opcode is Opcode.BINARY and event.data == frames.secret:
                    frames.stand_in()
                    return
                if event.opcode is Opcode.BINARY or (event.opcode is Opcode.CONT and frames.in_fragments):
                    frames.parsed(event)
                    return
            super().process_event(event)

        def recv(self, *args: Any, **kwargs: Any) -> Any:
            data = super().recv(*args, **kwargs)
            if self._frames is not None and data is self._frames._token:
                item = self._frames.delivered.popleft()
                if isinstance(item, BaseException):
                    raise item
                return item
            return data

    return FastClientConnection
