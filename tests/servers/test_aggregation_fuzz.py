"""Websocket fuzz of the aggregation server: every malformed frame gets an error frame and 4400, never a 1006.

The frames are generated from a fixed seed (random bytes, codec messages with broken headers, truncated
updates, broken chunk headers, JSON that is not a message, nested past the interpreter's limit, or with
fields of the wrong type), each sent on its own connection after a valid subscribe. The server must
answer each with ``{"type": "error", ...}`` and close with 4400, and still serve a real round after.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.transport import codec
from sedna_lib.transport import messages as m
from sedna_lib.transport.ws import AggregationClient, _connect_kwargs

pytestmark = pytest.mark.integration
ws_sync = pytest.importorskip("websockets.sync.client")
ws_exc = pytest.importorskip("websockets.exceptions")

SEED = 1234


def _update(rng: random.Random, **meta) -> bytes:
    base = {"type": "update_weight", "client": "f", "num_samples": 3, "job_name": "", "round_number": 1,
            "metrics": {}, "names": None}
    base.update(meta)
    return codec.encode([np.ones((2, 2), "float32"), np.ones(2, "float32")], base)


def malformed_frames() -> list:
    """Frames that no server may accept (each paired with a short label for the failure message)."""
    rng = random.Random(SEED)
    frames: list = []
    for i in range(40):  # random bytes, with and without the codec's magic
        n = rng.randint(1, 300)
        body = bytes(rng.getrandbits(8) for _ in range(n))
        frames.append((f"random-{i}", body if i % 2 else codec.MAGIC + body))
    valid = _update(rng)
    for i in range(20):  # a real update cut short (inside its data: the last 64 bytes may be padding)
        frames.append((f"truncated-{i}", valid[:rng.randint(1, len(valid) - 64)]))
    bad_meta = [{"num_samples": "many"}, {"num_samples": 1e400}, {"num_samples": None}, {"round_number": "x"},
                {"round_number": 1e400}, {"metrics": "fast"}, {"metrics": [1, 2]}, {"names": 5},
                {"names": [1, 2]}, {"type": "recv_weight", "total_sample": "x"}, {"type": "nope"}]
    for i, meta in enumerate(bad_meta):
        frames.append((f"meta-{i}", _update(rng, **meta)))
    bad_specs = [{"dtype": "O", "shape": [2], "offset": 0}, {"dtype": "<f4", "shape": [-1], "offset": 0},
                 {"dtype": "<f4", "shape": [2 ** 62], "offset": 0}, {"dtype": "<f4", "shape": [4], "offset": 10 ** 9},
                 {"dtype": "V0", "shape": [1], "offset": 0}, {"dtype": "<f4", "shape": "2", "offset": 0},
                 {"dtype": 7, "shape": [1], "offset": 0}, {"shape": [1], "offset": 0}]
    for i, spec in enumerate(bad_specs):
        header = json.dumps({"meta": {"type": "update_weight", "num_samples": 1}, "arrays": [spec]}).encode()
        frames.append((f"spec-{i}", codec._head(header) + bytes(64)))
    for i, header in enumerate([b"[" * 50000 + b"]" * 50000, b"not json", b"{\"meta\": 1}", b"\xff\xfe"]):
        frames.append((f"header-{i}", codec._head(header) + bytes(64)))
    chunk = {"type": "chunk", "id": "x", "index": 0, "count": 2, "size": 1024}
    for i, change in enumerate([{"size": 2 ** 40}, {"size": -5}, {"count": 10 ** 9}, {"index": 3},
                                {"count": 1, "size": 10 ** 6}, {"id": None, "index": "a"}]):
        frames.append((f"chunk-{i}", codec.encode([np.zeros(600, np.uint8)], {**chunk, **change})))
    texts = ["not json", "[1, 2, 3]", "null", "[" * 100000, '{"type": "update_weight"}',
             '{"type": "update_weight", "data": 5}', '{"type": "update_weight", "data": {"weights": 1}}',
             '{"type": "update_weight", "data": {"num_samples": 1, "weights": [[1], [1, 2, "x"]]}}',
             '{"type": "update_weight", "data": {"num_samples": "x", "weights": [[1.0]]}}',
             '{"type": "update_weight", "data": {"num_samples": 1e400, "weights": [[1.0]]}}',
             '{"type": "update_weight", "data": {"num_samples": 1, "weights": [[NaN]]}}',
             '{"type": "update_weight", "data": {"num_samples": 1, "weights": [' + "[" * 5000 + "]" * 5000 + "]}}",
             '{"type": "update_weight", "round_number": {"a": 1}, "data": {"num_samples": 1, "weights": [[1.0]]}}',
             '{"type": "recv_weight", "data": {"weights": 3}}']
    frames.extend((f"text-{i}", t) for i, t in enumerate(texts))
    for i in range(30):  # random printable text, mostly not JSON at all
        frames.append((f"random-text-{i}", "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 80)))))
    return frames


def _raw(url):
    return ws_sync.connect(url, max_size=None, proxy=None, open_timeout=5, **_connect_kwargs())


def test_every_malformed_frame_gets_an_error_frame_and_4400():
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=1, participants_count=1000,
                               done_grace=1, context=Context(Config()))
    server.start(block=False)
    failures = []
    frames = malformed_frames()
    try:
        for label, frame in frames:
            ws = _raw(server.url)
            ws.send(json.dumps({"type": "subscribe", "client_id": f"fuzz-{label}"}))
            ws.recv(timeout=5)  # the echo
            ws.send(frame)
            try:
                reply = m.from_json(ws.recv(timeout=5))
            except (ws_exc.ConnectionClosed, TimeoutError) as exc:
                failures.append(f"{label}: no error frame ({exc!r})")
                continue
            with pytest.raises(ws_exc.ConnectionClosed):
                ws.recv(timeout=5)
            if not isinstance(reply, m.ErrorMessage) or reply.code != 4400 or ws.close_code != 4400:
                failures.append(f"{label}: {reply!r}, close {ws.close_code}")
        assert not failures, f"{len(failures)} of {len(frames)} frames were not refused properly: {failures[:10]}"
        with AggregationClient(server.url, "real", connect_timeout=5, recv_timeout=5) as client:
            assert server.peers_.keys() == {"real"}  # every fuzzed connection is gone
            client.send_update([np.ones(2)], 1, round_number=1)
    finally:
        server.stop()
    assert len(frames) >= 120


@pytest.mark.parametrize("first", ["[" * 100000, b"\x00\x01", '{"type": "subscribe", "client_id": {"a": ' * 3000])
def test_a_malformed_first_frame_gets_an_error_frame_not_1006(first):
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, done_grace=1, context=Context(Config()))
    server.start(block=False)
    try:
        ws = _raw(server.url)
        ws.send(first)
        reply = m.from_json(ws.recv(timeout=5))
        with pytest.raises(ws_exc.ConnectionClosed):
            ws.recv(timeout=5)
    finally:
        server.stop()
    assert isinstance(reply, m.ErrorMessage) and reply.error == "ProtocolError"
    assert ws.close_code == 1003
