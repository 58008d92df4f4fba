"""The websocket fast path for large binary frames: same messages, same refusals, same bytes on the wire."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time

import numpy as np
import pytest

from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers._ws_frames import FAST_FRAME_MIN, REASSEMBLY, internals_fit
from sedna_lib.transport._wsframes import frame_header, mask_into
from tests.integration._floors_probe import two_chunked_updates_average_exactly

starlette = pytest.importorskip("starlette.applications")
ws_sync = pytest.importorskip("websockets.sync.client")
ws_exc = pytest.importorskip("websockets.exceptions")
from starlette.routing import WebSocketRoute  # noqa: E402
from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.utils import apply_mask  # noqa: E402

MAX = 2 * 2 ** 20


async def _echo(ws):
    """Answer each message with its kind, the Python type it arrived as, its length and its digest."""
    await ws.accept()
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            if msg["text"].startswith("send "):  # the server sends a binary message of that many bytes
                await ws.send_bytes(memoryview(_pattern(int(msg["text"].split()[1]))))
                continue
            await ws.send_text(json.dumps({"kind": "text", "n": len(msg["text"])}))
            continue
        data = msg["bytes"]
        await ws.send_text(json.dumps({"kind": "bytes", "type": type(data).__name__, "n": len(data),
                                       "sha": hashlib.sha256(data).hexdigest(),
                                       "writable": not memoryview(data).readonly}))


def _pattern(n: int) -> bytes:
    return (np.arange(n, dtype=np.uint64) * 2654435761 % 251).astype(np.uint8).tobytes()


def _served(handler):
    """A fixture serving ``handler`` on /echo, once through websockets' parser and once with the fast path."""
    @pytest.fixture(params=[False, True], ids=["parser", "fast"])
    def serve(request):
        if request.param and not internals_fit():
            pytest.skip("the installed uvicorn or websockets is older than the fast protocol's (uvicorn's own "
                        "protocol serves)")
        app = starlette.Starlette(routes=[WebSocketRoute("/echo", handler)])
        with ThreadedServer(app, ws_max_size=MAX, fast_binary_frames=request.param) as srv:
            srv.fast = request.param
            yield srv

    return serve


server = _served(_echo)


def _connect(server):
    return ws_sync.connect(f"ws://127.0.0.1:{server.port}/echo", max_size=None, compression=None, proxy=None)


def _sha(data) -> str:
    return hashlib.sha256(data).hexdigest()


# -- pieces -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 3, 4, 7, 8, 9, 125, 1000, 65537])
def test_masking_in_place_or_into_a_buffer_matches_the_websockets_reference(n):
    data, mask = os.urandom(n), os.urandom(4)
    buf, out = bytearray(data), bytearray(n)
    mask_into(buf, mask)
    mask_into(data, mask, out)
    assert bytes(buf) == bytes(out) == apply_mask(data, mask)


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536, 5 * 2 ** 20])
def test_frame_header_is_the_one_websockets_writes(n):
    payload = bytes(n)
    wire = Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])
    assert frame_header(n) + payload == wire


# -- through a real server ------------------------------------------------------------------------
@pytest.mark.parametrize("n", [100, FAST_FRAME_MIN, 1_000_003, MAX])
def test_a_binary_message_arrives_whole_and_exact(server, n):
    data = os.urandom(n)
    with _connect(server) as ws:
        ws.send(data)
        reply = json.loads(ws.recv(timeout=10))
    assert (reply["kind"], reply["n"], reply["sha"]) == ("bytes", n, _sha(data))
    fast = server.fast and n >= FAST_FRAME_MIN
    # a fast frame reaches the app as a writable view of its own buffer, without another copy
    assert reply["type"] == ("memoryview" if fast else "bytes") and reply["writable"] == fast


def test_mixed_traffic_keeps_its_order_text_pings_and_fragments_included(server):
    big, big2 = os.urandom(300_000), os.urandom(FAST_FRAME_MIN + 5)
    parts = [os.urandom(70_000), os.urandom(90_000)]
    with _connect(server) as ws:
        ws.send(big)
        ws.ping().wait(5)
        ws.send("hello")
        ws.send(parts)  # one message in two fragments: the parser's path
        ws.send(b"small")
        ws.send(big2)
        replies = [json.loads(ws.recv(timeout=10)) for _ in range(5)]
    assert [r.get("sha") for r in replies] == [_sha(big), None, _sha(b"".join(parts)), _sha(b"small"), _sha(big2)]
    assert replies[1] == {"kind": "text", "n": 5}


def test_a_frame_over_the_size_limit_is_closed_with_1009(server):
    sock = _handshake(server)
    try:  # the header alone is refused: the payload never has to be sent (no race with the close)
        sock.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, MAX + 1) + os.urandom(4))
        opcode, body = _read_frame(sock)
    finally:
        sock.close()
    assert opcode == 0x8 and struct.unpack("!H", body[:2])[0] == 1009


@pytest.mark.parametrize("n", [10, FAST_FRAME_MIN, 3 * 2 ** 20])
def test_a_binary_message_sent_by_the_server_arrives_exact(server, n):
    with _connect(server) as ws:
        ws.send(f"send {n}")
        got = ws.recv(timeout=10)
    assert got == _pattern(n)


# -- frames written by hand: split headers, several frames per read, malformed ones ----------------
def _handshake(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


def _client_frame(payload: bytes, *, first: int = 0x82, masked: bool = True) -> bytes:
    n = len(payload)
    head = bytes([first]) + (bytes([n | (0x80 if masked else 0)]) if n < 126 else
                             struct.pack("!BH", 126 | (0x80 if masked else 0), n) if n < 65536 else
                             struct.pack("!BQ", 127 | (0x80 if masked else 0), n))
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + apply_mask(payload, mask)


def _read_frame(sock) -> tuple[int, bytes]:
    def exact(k):
        out = b""
        while len(out) < k:
            got = sock.recv(k - len(out))
            if not got:
                raise ConnectionError("closed")
            out += got
        return out

    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    return b0 & 0x0F, exact(n)


def test_frames_split_anywhere_and_packed_together_are_all_received(server):
    payloads = [os.urandom(FAST_FRAME_MIN + 11), b"tiny", os.urandom(200_000)]
    wire = b"".join(_client_frame(p) for p in payloads)
    sock = _handshake(server)
    try:
        sock.sendall(wire[:1])  # a header one byte at a time, then the rest in odd pieces
        time.sleep(0.05)
        sock.sendall(wire[1:2])
        time.sleep(0.05)
        for i in range(2, len(wire), 77_777):
            sock.sendall(wire[i:i + 77_777])
        replies = [json.loads(_read_frame(sock)[1]) for _ in payloads]
    finally:
        sock.close()
    assert [r["sha"] for r in replies] == [_sha(p) for p in payloads]


@pytest.mark.parametrize("first, masked", [(0x82, False), (0xC2, True)], ids=["unmasked", "rsv1"])
def test_a_malformed_large_frame_is_refused_with_1002_as_by_the_parser(server, first, masked):
    sock = _handshake(server)
    try:
        sock.sendall(_client_frame(os.urandom(FAST_FRAME_MIN * 2), first=first, masked=masked))
        opcode, body = _read_frame(sock)
    finally:
        sock.close()
    assert opcode == 0x8 and struct.unpack("!H", body[:2])[0] == 1002


def test_a_pong_answered_while_a_large_message_is_sent_comes_after_it_never_inside(server):
    n = 8 * 2 ** 20
    sock = _handshake(server)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # the message waits for the reader
        sock.sendall(_client_frame(f"send {n}".encode(), first=0x81))
        time.sleep(0.3)  # the server is now in the middle of the message
        sock.sendall(_client_frame(b"are you there", first=0x89))
        frames = [_read_frame(sock), _read_frame(sock)]
    finally:
        sock.close()
    kinds = sorted(opcode for opcode, _ in frames)
    assert kinds == [0x2, 0xA]  # the whole binary message and the pong, each intact
    body = next(b for op, b in frames if op == 0x2)
    pong = next(b for op, b in frames if op == 0xA)
    assert body == _pattern(n) and pong == b"are you there"


def test_a_peer_leaving_in_the_middle_of_a_large_message_leaves_the_server_serving(server):
    sock = _handshake(server)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(_client_frame(b"send 33554432", first=0x81))
    sock.recv(1000)
    sock.close()  # 32 MiB were on their way
    time.sleep(0.2)
    with _connect(server) as ws:
        ws.send(b"still here")
        assert json.loads(ws.recv(timeout=10))["sha"] == _sha(b"still here")


# -- the aggregation server, whose uploads take the fast path --------------------------------------
@pytest.fixture
def aggregator():
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    servers = []

    def start(**kwargs):
        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config()), done_grace=1,
                                   **kwargs)
        servers.append(server.start(block=False))
        return server

    yield start
    for s in servers:
        s.stop()


def test_fedavg_over_chunked_fast_frames_is_exact(aggregator):
    two_chunked_updates_average_exactly(aggregator(exit_round=1, participants_count=2))


def test_uvicorn_and_websockets_of_the_fast_protocols_versions_take_it():
    import uvicorn
    import websockets

    from sedna_lib.servers._ws_frames import _release, binary_frames_protocol

    recent = _release(uvicorn.__version__) >= (0, 50) and _release(websockets.__version__) >= (16,)
    assert internals_fit() is recent and (binary_frames_protocol() is not None) is recent
    assert _release("0.55.0") == (0, 55, 0) and _release("1.0rc1") == (1, 0) and _release("16") == (16,)
    assert _release("0.49.9") < (0, 50) <= _release("0.50.0")


def test_where_the_fast_protocol_cannot_apply_uvicorns_own_serves_and_a_line_says_so_once(aggregator, monkeypatch,
                                                                                        caplog):
    import logging

    from sedna_lib.servers import _ws_frames

    monkeypatch.setattr(_ws_frames, "internals_fit", lambda: False)  # as with uvicorn < 0.50
    _ws_frames.binary_frames_protocol.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger=_ws_frames.__name__):
            first = aggregator(exit_round=1, participants_count=2)
            aggregator(exit_round=1, participants_count=1)
            two_chunked_updates_average_exactly(first)  # the app reassembles the chunks itself
    finally:
        _ws_frames.binary_frames_protocol.cache_clear()  # the next server builds the fast protocol again

    said = [r.getMessage() for r in caplog.records if "uvicorn's own websocket protocol" in r.getMessage()]
    assert len(said) == 1 and "uvicorn>=0.50 and websockets>=16" in said[0]


@pytest.mark.parametrize("order, why", [([0, 2, 1], "out of order"), ([0, 1, 1], "out of order"),
                                        ([0, 0], "started before the previous one finished")],
                         ids=["out-of-order", "duplicate", "restarted"])
def test_chunks_out_of_order_or_repeated_are_still_refused(aggregator, order, why, eventually):
    from sedna_lib.transport import messages as m
    from sedna_lib.transport.ws import _connect_kwargs

    server = aggregator(exit_round=1, participants_count=2)
    update = m.UpdateWeight("x", [np.arange(50_000, dtype=np.float64)], 1, "job", 1)
    frames = m.encode_frames(update, 150_000)
    assert len(frames) == 3 and all(len(f) >= FAST_FRAME_MIN for f in frames)
    with ws_sync.connect(server.url, max_size=None, proxy=None, **_connect_kwargs()) as ws:
        ws.send(m.to_json(m.Subscribe("x", protocol=m.PROTOCOL, wire="binary", nonce="n" * 32)))
        for _ in range(2):  # the acknowledgement and the initial model, if any
            try:
                ws.recv(timeout=1)
            except TimeoutError:
                break
        for i in order:
            ws.send(bytes(frames[i]))
        replies = []
        with pytest.raises(ws_exc.ConnectionClosed):
            while True:
                replies.append(ws.recv(timeout=10))
    refusal = m.from_json(replies[-1])
    assert ws.close_code == 4400 and refusal.error == "ProtocolError" and why in refusal.message
    assert eventually(lambda: server.peers_ == {}) and server.round_ == 0


# -- in-place reassembly: a chunk's bytes go from the socket straight into the message's buffer ------
async def _reassembling_echo(ws):
    """Reassemble chunked messages as the aggregation server does; answer each message or refusal."""
    from sedna_lib.exceptions import ProtocolError
    from sedna_lib.transport import messages as m

    await ws.accept()
    reassembler = m.Reassembler(64 * 2 ** 20)
    attach = ws.scope.get("extensions", {}).get(REASSEMBLY)
    if attach is not None:
        attach(reassembler)
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if REASSEMBLY in msg:
            (size, out), how = msg[REASSEMBLY], "server"
        else:
            size, how = len(msg["bytes"]), "app"
            try:
                out = m.decoded(reassembler.feed, msg["bytes"])
            except ProtocolError as exc:
                reassembler.drop()
                out = exc
        if out is None:
            await ws.send_text(json.dumps({"frame": size, "how": how}))
        elif isinstance(out, ProtocolError):
            await ws.send_text(json.dumps({"frame": size, "how": how, "refused": str(out)}))
        else:
            await ws.send_text(json.dumps({"frame": size, "how": how, "sha": _sha(out), "n": len(out),
                                           "writable": not memoryview(out).readonly}))


reassembling = _served(_reassembling_echo)


def _message(nbytes: int, seed: int = 0) -> bytes:
    from sedna_lib.transport import codec

    data = np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8)
    return bytes(codec.encode([data], {"type": "blob", "seed": seed}))


def _replies(sock, frames: int) -> list:
    return [json.loads(_read_frame(sock)[1]) for _ in range(frames)]


@pytest.mark.parametrize("nbytes, chunk", [(1_000_000, 300_000), (1_000_000, 100_000), (700_001, 699_999),
                                           (5 * 2 ** 20, 2 ** 20)],
                         ids=["small-last-chunk", "eleven-chunks", "one-byte-last", "5MiB"])
def test_chunked_messages_are_reassembled_exactly_in_place_when_the_server_offers_it(reassembling, nbytes,
                                                                                     chunk):
    from sedna_lib.transport import messages as m

    message = _message(nbytes)
    frames = m.to_frames(message, chunk)
    assert len(frames) > 1
    with _connect(reassembling) as ws:
        for frame in frames:
            ws.send(frame)
        replies = [json.loads(ws.recv(timeout=10)) for _ in frames]
    assert [r["frame"] for r in replies] == [len(f) for f in frames]
    assert replies[-1]["sha"] == _sha(message) and replies[-1]["n"] == len(message)
    assert replies[-1]["writable"]
    # with the fast protocol the server feeds every frame, large or not, in the order of the wire
    assert {r["how"] for r in replies} == {"server" if reassembling.fast else "app"}


def test_in_place_reassembly_keeps_the_wire_order_of_small_large_and_split_frames(reassembling):
    from sedna_lib.transport import messages as m

    first, second, single = _message(600_000, 1), _message(900_000, 2), _message(FAST_FRAME_MIN + 99, 3)
    frames = m.to_frames(first, 250_000) + [single] + m.to_frames(second, 120_000) + [_message(10, 4)]
    wire = b"".join(_client_frame(bytes(f)) for f in frames)
    sock = _handshake(reassembling)
    try:
        sock.sendall(wire[:3])  # headers and chunk heads split across reads, frames packed together
        time.sleep(0.05)
        for i in range(3, len(wire), 4097):
            sock.sendall(wire[i:i + 4097])
        replies = _replies(sock, len(frames))
    finally:
        sock.close()
    done = [r["sha"] for r in replies if "sha" in r]
    assert done == [_sha(first), _sha(single), _sha(second), _sha(_message(10, 4))]
    assert not any("refused" in r for r in replies)


@pytest.mark.parametrize("case", ["out-of-order", "restarted", "too-large", "not-codec", "bad-head"])
def test_a_refused_chunk_is_answered_in_turn_and_the_connection_keeps_reading(reassembling, case):
    from sedna_lib.transport import messages as m

    frames = m.to_frames(_message(900_000), 300_000)
    bad = {"out-of-order": [frames[0], frames[2]],
           "restarted": [frames[0], frames[0]],
           "too-large": [m.to_frames(_message(70 * 2 ** 20 // 64 * 64), 2 ** 20)[0]],
           "not-codec": [os.urandom(FAST_FRAME_MIN * 2)],
           "bad-head": [bytes(frames[0]).replace(b'"index":0,', b'"index":[,', 1)]}[case]
    good = _message(FAST_FRAME_MIN * 3, 7)
    with _connect(reassembling) as ws:
        for frame in bad:
            ws.send(frame)
        replies = [json.loads(ws.recv(timeout=10)) for _ in bad]
        ws.send(good)  # the next message is read and answered as usual
        after = json.loads(ws.recv(timeout=10))
    refused = replies[-1].get("refused", "")
    why = {"out-of-order": "out of order", "restarted": "started before the previous one finished",
           "too-large": "exceeds the limit", "not-codec": "bad magic bytes", "bad-head": "malformed"}[case]
    assert why in refused, replies
    assert after["sha"] == _sha(good)


def test_a_chunk_arrives_in_place_without_a_frame_sized_buffer_of_its_own(reassembling):
    """Fast protocol: a 4 MiB chunk costs the reassembly buffer only, not a frame buffer and a copy."""
    import tracemalloc

    from sedna_lib.transport import messages as m

    message = _message(16 * 2 ** 20, 5)
    frames = m.to_frames(message, 2 ** 20 * 15 // 8)  # a large first chunk: the buffer reserves four of them
    wire = [_client_frame(bytes(f)) for f in frames]  # masked before the measurement
    sock = _handshake(reassembling)
    try:
        sock.sendall(wire[0])  # the first chunk reserves the message buffer
        _replies(sock, 1)
        tracemalloc.start()
        try:
            sock.sendall(wire[1])
            _replies(sock, 1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        for frame in wire[2:]:
            sock.sendall(frame)
        replies = _replies(sock, len(wire) - 2)
    finally:
        sock.close()
    assert replies[-1]["sha"] == _sha(message)
    if reassembling.fast:
        assert peak < len(frames[1]) // 4, peak  # the frame went into the reserved buffer
    else:
        assert peak > len(frames[1]), peak  # the parser's path holds the frame (and copies it)
