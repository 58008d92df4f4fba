"""The trainer's fast paths for binary frames: the same messages and the same refusals, on and off.

A scripted websocket server on 127.0.0.1 (port 0) answers the handshake and the sedna_lib
subscribe, then writes raw frames exactly as the test lays them out (chunks, pings between them,
fragments, truncations, closes); an ``AggregationClient`` reads them with the fast receive path
on and off, and both must see the same sequence of messages and errors. The send path is checked the
same way: the server must read the same frames and messages from the client with it on and off.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading

import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError, TransportError
from sedna_lib.transport import messages as m
from sedna_lib.transport._wsframes import frame_header

pytest.importorskip("websockets.sync.client")
from sedna_lib.transport.ws import AggregationClient  # noqa: E402
from websockets.utils import accept_key  # noqa: E402


def _frame(payload: bytes, first: int = 0x82) -> bytes:
    """A server's (unmasked) frame."""
    if first == 0x82:
        return frame_header(len(payload)) + bytes(payload)
    n = len(payload)
    head = bytes([first]) + (bytes([n]) if n < 126 else struct.pack("!BH", 126, n) if n < 65536
                             else struct.pack("!BQ", 127, n))
    return head + bytes(payload)


def _model(n: int, rnd: int, seed: int = 0) -> m.RecvWeight:
    w = np.random.default_rng(seed).normal(size=n)
    return m.RecvWeight(weights=[w, np.arange(7, dtype=np.int32)], total_sample=3, round_number=rnd)


def _frames(msg, chunk_size: int) -> list[bytes]:
    return [bytes(f) for f in m.encode_frames(msg, chunk_size)]


class ScriptedServer:
    """One connection: the handshake, the subscribe acknowledgement, then ``script(self)``."""

    def __init__(self, script) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.received: list[tuple[int, bytes]] = []
        self.error: BaseException | None = None
        self.conn: socket.socket | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agg"

    def _exact(self, k: int) -> bytes:
        out = b""
        while len(out) < k:
            got = self.conn.recv(k - len(out))
            if not got:
                raise ConnectionError("the client closed")
            out += got
        return out

    def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the client (unmasked)."""
        b0, b1 = self._exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._exact(8))[0]
        key = self._exact(4)
        data = np.frombuffer(self._exact(n), dtype=np.uint8) ^ np.resize(np.frombuffer(key, dtype=np.uint8), n)
        self.received.append((b0 & 0x0F, data.tobytes()))
        return b0 & 0x0F, data.tobytes()

    def send(self, *frames: bytes) -> None:
        self.conn.sendall(b"".join(frames))

    def _serve(self) -> None:
        try:
            self.conn, _ = self.listener.accept()
            request = b""
            while b"\r\n\r\n" not in request:
                request += self.conn.recv(1)
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key"))
            accept = accept_key(key.decode()).encode()
            self.conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            _, sub = self.read_frame()
            nonce = json.loads(sub)["nonce"]
            ack = m.Subscribe("c1", protocol=m.PROTOCOL, wire="binary", server=m.PROTOCOL, ack=nonce)
            self.send(_frame(m.to_json(ack).encode(), 0x81))
            self.script(self)
        except BaseException as exc:  # reported by the test
            self.error = exc
            return
        try:  # then answer the client's close, as a server does
            while self.read_frame()[0] != 0x8:
                pass
            self.send(_frame(struct.pack("!H", 1000), 0x88))
            self.conn.shutdown(socket.SHUT_RDWR)  # the server closes the TCP connection first
        except OSError:
            pass

    def close(self) -> None:
        self.thread.join(10)
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()


def _outcome(client: AggregationClient, timeout: float = 10) -> tuple:
    try:
        msg = client.recv_message(timeout)
    except (ProtocolError, TransportError) as exc:
        return (type(exc).__name__, str(exc).replace(client.url, "URL"))
    if isinstance(msg, m.RecvWeight):
        return ("model", msg.round_number, tuple(hashlib.sha256(np.ascontiguousarray(w)).hexdigest()
                                                 for w in msg.weights))
    return (type(msg).__name__, getattr(msg, "client_id", None))


def _run(script, n: int, fast: bool, **kwargs) -> tuple[list, ScriptedServer]:
    server = ScriptedServer(script)
    client = AggregationClient(server.url, "c1", fast_receive=fast, connect_timeout=10, **kwargs)
    try:
        client.connect()
        assert (type(client._ws).__name__ == "FastClientConnection") is fast
        got = [_outcome(client) for _ in range(n)]
    finally:
        client.close()
        server.close()
    assert server.error is None, server.error
    return got, server


def _both(script, n: int, **kwargs) -> list:
    """The outcomes with the fast path on, after checking they are the parser's."""
    parsed, _ = _run(script, n, False, **kwargs)
    fast, _ = _run(script, n, True, **kwargs)
    assert fast == parsed
    return fast


def _expect(msg: m.RecvWeight) -> tuple:
    return ("model", msg.round_number, tuple(hashlib.sha256(np.ascontiguousarray(w)).hexdigest()
                                             for w in msg.weights))


# -- the same messages ----------------------------------------------------------------------------
def test_mixed_traffic_arrives_the_same_with_the_fast_path_on_and_off():
    small, whole, chunked, fragmented = _model(50, 1), _model(40_000, 2), _model(100_000, 3), _model(60_000, 4)
    chunks = _frames(chunked, 300_000)
    frag = _frames(fragmented, 200_000)
    assert len(chunks) == 3 and len(frag) == 3

    def script(srv):
        srv.send(_frame(_frames(small, 1 << 20)[0]))  # one small binary frame
        srv.send(_frame(_frames(whole, 1 << 20)[0]))  # one large frame, not chunked
        srv.send(_frame(chunks[0]), _frame(b"mid", 0x89), _frame(chunks[1]), _frame(chunks[2]))
        srv.send(_frame(m.to_json(m.ClientJoin("c2")).encode(), 0x81))
        # chunks of one message, one of them fragmented into two websocket frames around a ping
        half = len(frag[1]) // 2
        srv.send(_frame(frag[0]), _frame(frag[1][:half], 0x02), _frame(b"p2", 0x89), _frame(frag[1][half:], 0x80),
                 _frame(frag[2]))
        assert srv.read_frame() == (0xA, b"mid")  # the ping between two chunks is answered
        assert srv.read_frame() == (0xA, b"p2")

    got = _both(script, 5)
    assert got == [_expect(small), _expect(whole), _expect(chunked), ("ClientJoin", "c2"), _expect(fragmented)]


def test_a_model_in_frames_split_across_reads_anywhere_arrives_exact():
    model = _model(50_000, 1)
    frames = b"".join(_frame(f) for f in _frames(model, 70_000)) + _frame(_frames(_model(10, 2), 1 << 20)[0])

    def dribble(srv):  # the same bytes, a few at a time at the awkward places
        pos = 0
        for cut in (1, 2, 3, 9, 10, 11, 4096, 70_000, 70_010, 140_020, len(frames)):
            srv.send(frames[pos:cut])
            pos = cut

    assert _both(dribble, 2) == [_expect(model), _expect(_model(10, 2))]


def test_chunks_arrive_straight_in_one_writable_buffer():
    model = _model(200_000, 1)
    frames = _frames(model, 500_000)

    def script(srv):
        srv.send(*(_frame(f) for f in frames))

    server = ScriptedServer(script)
    with AggregationClient(server.url, "c1", connect_timeout=10) as client:
        msg = client.recv_weights(10)
        assert all(w.flags.writeable for w in msg.weights)  # a view of the reassembly buffer
        assert np.array_equal(msg.weights[0], model.weights[0])
        assert client._ws._frames.taken == len(frames) == 4  # the chunk frames went past websockets' parser
    server.close()


# -- the same refusals ----------------------------------------------------------------------------
def test_a_chunked_message_over_the_limit_is_refused_and_the_connection_keeps_serving():
    big, after = _model(100_000, 1), _model(20, 2)
    frames = [_frame(f) for f in _frames(big, 300_000)] + [_frame(_frames(after, 1 << 20)[0])]

    def script(srv):
        srv.send(*frames)

    got = _both(script, 4, max_message_bytes=500_000)
    assert got[0][0] == "ProtocolError" and "exceeds the limit of 500000" in got[0][1]
    assert all(g[0] == "ProtocolError" and "out of order" in g[1] for g in got[1:3])
    assert got[3] == _expect(after)


def test_a_whole_frame_over_the_limit_is_refused():
    def script(srv):
        srv.send(_frame(_frames(_model(100_000, 1), 1 << 20)[0]))
        srv.send(_frame(_frames(_model(20, 2), 1 << 20)[0]))

    got = _both(script, 2, max_message_bytes=500_000)
    assert got[0][0] == "ProtocolError" and "exceeds the limit" in got[0][1]
    assert got[1] == _expect(_model(20, 2))


@pytest.mark.parametrize("order", [[0, 2, 1], [1, 0, 2], [0, 0, 1, 2]], ids=["swapped", "late-start", "repeated"])
def test_chunks_out_of_order_are_refused_as_before(order):
    chunks = _frames(_model(100_000, 1), 300_000)

    def script(srv):
        srv.send(*(_frame(chunks[i]) for i in order))

    got = _both(script, len(order) - 1)
    assert any(g[0] == "ProtocolError" for g in got)


_CHUNK = {"type": "chunk", "id": "x", "index": 0, "count": 2, "size": 500_000}


@pytest.mark.parametrize("payload, why", [
    (b"NOPE" + bytes(300_000), "bad magic"),
    (m.codec.bytes_head({"type": "chunk"}, 8) + bytes(200_000), "malformed chunk header"),
    (m.codec.bytes_head(_CHUNK, 300_000) + bytes(100_000), "runs past the end"),
    (m.codec.bytes_head({**_CHUNK, "size": 2 ** 40}, 100_000) + bytes(100_000), "exceeds the limit"),
], ids=["bad-magic", "malformed-chunk", "chunk-past-its-frame", "declares-1-TiB"])
def test_a_malformed_binary_frame_is_refused_as_before(payload, why):
    def script(srv):
        srv.send(_frame(payload), _frame(_frames(_model(20, 2), 1 << 20)[0]))

    got = _both(script, 2)
    assert got[0][0] == "ProtocolError" and why in got[0][1]
    assert got[1] == _expect(_model(20, 2))


@pytest.mark.parametrize("first", [0xC2, 0x02 | 0x80 | 0x10], ids=["rsv1", "rsv3"])
def test_a_large_frame_with_reserved_bits_fails_the_connection_as_before(first):
    def script(srv):
        srv.send(_frame(bytes(300_000), first))

    got = _both(script, 1)
    assert got[0][0] == "TransportError"


def test_a_masked_frame_from_the_server_fails_the_connection_as_before():
    def script(srv):
        payload = bytes(300_000)
        srv.send(bytes([0x82, 127 | 0x80]) + struct.pack("!Q", len(payload)) + b"\0\0\0\0" + payload)

    assert _both(script, 1)[0][0] == "TransportError"


# -- ends in the middle of a message ---------------------------------------------------------------
@pytest.mark.parametrize("cut", [2, 10, 5000, 299_000], ids=["in-header", "after-header", "in-peek", "in-payload"])
def test_a_truncated_frame_ends_the_connection_as_before(cut):
    frame = _frame(_frames(_model(100_000, 1), 300_000)[0])

    def script(srv):
        srv.send(frame[:cut])
        srv.conn.shutdown(socket.SHUT_RDWR)

    got = _both(script, 1)
    assert got[0][0] == "TransportError" and "(1006)" in got[0][1]


def test_a_close_during_a_chunked_message_reaches_the_caller_with_its_code():
    chunks = _frames(_model(100_000, 1), 300_000)

    def script(srv):
        srv.send(_frame(chunks[0]), _frame(struct.pack("!H", 4001) + b"round cancelled", 0x88))
        assert srv.read_frame()[0] == 0x8  # the client answers the close
        srv.conn.shutdown(socket.SHUT_RDWR)

    got = _both(script, 1)
    assert got == [("RemoteError", "the aggregator closed the connection (4001): round cancelled")]


def test_a_client_closing_while_a_large_frame_streams_in_returns_promptly():
    import time

    frame = _frame(_frames(_model(100_000, 1), 1 << 20)[0])
    sent = threading.Event()

    def script(srv):
        srv.send(frame[:len(frame) // 2])  # and then nothing: the frame stays unfinished
        sent.set()
        try:
            while True:
                srv.read_frame()
        except (ConnectionError, OSError):
            pass

    server = ScriptedServer(script)
    client = AggregationClient(server.url, "c1", connect_timeout=10).connect()
    sent.wait(10)
    t = time.monotonic()
    ws = client._ws
    ws.close_timeout = 1
    client.close()
    assert time.monotonic() - t < 5
    assert not ws.recv_events_thread.is_alive()
    server.close()


def test_a_message_before_a_slow_large_frame_is_not_held_back():
    model = _model(100_000, 1)
    frame = _frame(_frames(model, 1 << 20)[0])
    half = threading.Event()

    def script(srv):
        srv.send(_frame(m.to_json(m.ClientJoin("c2")).encode(), 0x81), frame[:len(frame) // 2])
        half.wait(10)
        srv.send(frame[len(frame) // 2:])

    server = ScriptedServer(script)
    with AggregationClient(server.url, "c1", connect_timeout=10) as client:
        assert _outcome(client, 5) == ("ClientJoin", "c2")  # while the model is still half-way
        half.set()
        assert _outcome(client, 10) == _expect(model)
    server.close()


# -- the send path: large binary frames masked once, straight after the header (fast_send) ----------
def _sent(fast: bool, script_after, weights, chunk_size: int, *, n_pings: int = 0) -> tuple[list, list]:
    """Send an update with the send path on or off; return what the server read and the reply's outcome."""
    def script(srv):
        for i in range(n_pings):  # pings before the upload: answered in order, between the client's frames
            srv.send(_frame(b"ping%d" % i, 0x89))
        frames, whole = [], m.Reassembler()
        while True:
            op, data = srv.read_frame()
            if op == 0xA:
                frames.append(("pong", data))
                continue
            frames.append((op, len(data)))  # the bytes themselves differ by the message id in chunk heads
            done = whole.feed(data) if op == 0x2 else None
            if done is not None:
                msg = m.from_binary(bytes(done))
                frames.append(("update", msg.num_samples, tuple(hashlib.sha256(np.ascontiguousarray(w)).hexdigest()
                                                               for w in msg.weights)))
                break
        while sum(1 for f in frames if f[0] == "pong") < n_pings:  # pongs may also follow the upload
            op, data = srv.read_frame()
            frames.append(("pong", data))
        srv.frames = frames
        script_after(srv)

    server = ScriptedServer(script)
    client = AggregationClient(server.url, "c1", fast_send=fast, chunk_size=chunk_size, connect_timeout=10)
    outcome = []
    try:
        client.connect()
        assert (client._sender is not None) is fast
        client.send_update(weights, 5, round_number=1)
        outcome.append(_outcome(client, 10))
    finally:
        client.close()
        server.close()
    assert server.error is None, server.error
    return server.frames, outcome


def _digest(weights) -> tuple:
    return tuple(hashlib.sha256(np.ascontiguousarray(w)).hexdigest() for w in weights)


@pytest.mark.parametrize("n", [4_001, 40_001, 300_003])  # under and over 64 KiB; odd lengths: the tail masked too
def test_an_update_reaches_the_server_the_same_with_the_send_path_on_and_off(n):
    weights = [np.random.default_rng(n).normal(size=n), np.arange(n % 97, dtype=np.int16)]
    reply = _model(10, 2)

    def answer(srv):
        srv.send(_frame(_frames(reply, 1 << 20)[0]))

    plain, got_plain = _sent(False, answer, weights, 65_536 + 8)
    fast, got_fast = _sent(True, answer, weights, 65_536 + 8)
    assert fast == plain and got_fast == got_plain == [_expect(reply)]
    assert fast[-1] == ("update", 5, _digest(weights))
    lengths = [f[1] for f in fast if f[0] == 0x2]
    assert max(lengths) >= 65_536 if n > 4_001 else max(lengths) < 65_536  # each length encoding, each path


def test_pings_arriving_during_an_upload_are_answered_and_frames_stay_whole():
    weights = [np.random.default_rng(1).normal(size=600_000)]
    frames, got = _sent(True, lambda srv: srv.send(_frame(_frames(_model(3, 2), 1 << 20)[0])), weights,
                        1 << 20, n_pings=5)
    assert [f for f in frames if f[0] == "pong"] == [("pong", b"ping%d" % i) for i in range(5)]
    assert sum(1 for f in frames if f[0] == 0x2) == 5  # 4.8 MB in 1 MiB chunks, none torn by a pong
    assert [f for f in frames if f[0] != "pong"][-1] == ("update", 5, _digest(weights))
    assert got == [_expect(_model(3, 2))]


def test_the_send_buffer_is_reused_and_later_frames_are_not_corrupted_by_it():
    first, second = np.random.default_rng(2).normal(size=100_000), np.random.default_rng(3).normal(size=30_000)
    seen = []

    def script(srv):
        whole = m.Reassembler()
        while len(seen) < 2:
            op, data = srv.read_frame()
            done = whole.feed(data) if op == 0x2 else None
            if done is not None:
                seen.append(_digest(m.from_binary(bytes(done)).weights))

    server = ScriptedServer(script)
    client = AggregationClient(server.url, "c1", chunk_size=1 << 20, connect_timeout=10)
    try:
        client.connect()
        client.send_update([first], 1, round_number=1)
        buf = client._sender.buf
        client.send_update([second], 1, round_number=2)  # a shorter frame, written over the start of the buffer
        assert client._sender.buf is buf
    finally:
        client.close()
        server.close()
    assert server.error is None, server.error
    assert seen == [_digest([first]), _digest([second])]


@pytest.mark.parametrize("fast", [False, True], ids=["websockets", "send-path"])
def test_an_upload_on_a_lost_connection_fails_with_the_same_transport_error(fast):
    def script(srv):
        srv.conn.shutdown(socket.SHUT_RDWR)  # gone without a close frame

    server = ScriptedServer(script)
    client = AggregationClient(server.url, "c1", fast_send=fast, connect_timeout=10)
    try:
        client.connect()
        client._ws.recv_events_thread.join(5)  # the client has seen the end of the stream
        with pytest.raises(TransportError) as caught:
            client._send_raw(bytes(100_000))
        assert str(caught.value).replace(client.url, "URL") == "connection to URL closed (1006): connection lost"
    finally:
        client.close()
        server.close()
