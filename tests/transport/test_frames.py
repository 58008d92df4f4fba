"""Chunked binary frames: built one at a time, reassembled into the same message."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.transport import codec
from sedna_lib.transport import messages as m


@pytest.fixture
def payload(rng):
    weights = [rng.random((40, 30)), rng.random(30)]
    return m.to_binary(m.UpdateWeight("c1", weights, 12, "job", 3, {}, None)), weights


def test_iter_frames_is_lazy_and_reassembles_to_the_payload(payload):
    data, weights = payload

    frames = m.iter_frames(data, chunk_size=1000)
    first = next(frames)
    rest = list(frames)
    r = m.Reassembler()
    out = [r.feed(f) for f in [first, *rest]]

    assert len(rest) + 1 == -(-len(data) // 1000)
    assert out[:-1] == [None] * len(rest) and bytes(out[-1]) == data
    msg = m.from_binary(out[-1])
    assert msg.round_number == 3 and all(np.array_equal(a, b) for a, b in zip(msg.weights, weights))


def test_iter_frames_yields_a_small_payload_unchanged_as_to_frames_does(payload):
    data, _ = payload

    assert list(m.iter_frames(data, chunk_size=len(data))) == m.to_frames(data, len(data)) == [data]


def test_reassembler_refuses_frames_of_two_interleaved_messages(payload):
    data, _ = payload
    a, b = m.iter_frames(data, chunk_size=1000), m.iter_frames(data, chunk_size=1000)
    r = m.Reassembler()
    r.feed(next(a))

    with pytest.raises(ProtocolError, match="chunk"):
        r.feed(next(b))


@pytest.mark.parametrize("chunk_size", [64, 1000, 10 ** 6])
def test_encode_frames_reassemble_to_the_bytes_of_to_binary(rng, chunk_size):
    weights = [rng.random((40, 30)), np.arange(7, dtype="int32"), np.zeros(0)]
    msg = m.RecvWeight(weights, 12, 3, config={"mu": 1})

    frames = m.encode_frames(msg, chunk_size)
    r = m.Reassembler()
    out = [r.feed(f) for f in frames]

    assert len(frames) == len(list(m.iter_frames(m.to_binary(msg), chunk_size)))
    assert bytes(out[-1]) == m.to_binary(msg) and out[:-1] == [None] * (len(frames) - 1)


def test_a_chunked_message_decodes_into_writable_arrays(rng):
    weights = [rng.random((40, 30)), rng.random(30)]
    frames = m.encode_frames(m.RecvWeight(weights, 5, 1), chunk_size=1000)
    r = m.Reassembler()

    payload = [r.feed(f) for f in frames][-1]
    msg = m.from_binary(payload)

    assert all(w.flags.writeable for w in msg.weights)
    assert all(np.array_equal(a, b) for a, b in zip(msg.weights, weights))


def _chunk(index, count, size, piece, msg_id="m1"):
    return codec.encode([np.frombuffer(piece, dtype=np.uint8)],
                        {"type": "chunk", "id": msg_id, "index": index, "count": count, "size": size})


def test_a_chunk_header_claiming_2_gib_reserves_only_what_arrived():
    import tracemalloc

    size = 2 ** 31  # within the default limit, and consistent with 1 MiB chunks
    r = m.Reassembler()
    tracemalloc.start()
    try:
        assert r.feed(_chunk(0, size // 2 ** 20, size, bytes(2 ** 20))) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2 ** 20, f"reserved {peak} bytes for a 1 MiB chunk"


def test_a_declared_size_over_the_limit_is_refused_before_allocation():
    with pytest.raises(ProtocolError, match="exceeds the limit of 1000 bytes"):
        m.Reassembler(max_bytes=1000).feed(_chunk(0, 2, 2000, bytes(1000)))


@pytest.mark.parametrize("count, size", [(1, 2 ** 31 - 1), (3, 200), (2, 40), (10 ** 30, 50), (0, 10)])
def test_a_chunk_header_that_does_not_add_up_is_a_protocol_error(count, size):
    with pytest.raises(ProtocolError, match="does not add up|declares size"):
        m.Reassembler().feed(_chunk(0, count, size, bytes(40)))


def test_a_message_growing_past_its_first_reserve_is_rebuilt_exactly():
    payload = codec.encode([np.arange(3 * 2 ** 20, dtype=np.uint8)], {"type": "x"})
    r = m.Reassembler()
    frames = m.to_frames(payload, chunk_size=2 ** 16)  # 8 chunks reserved first, then grown
    out = [r.feed(f) for f in frames]
    assert out[-1] is not None and bytes(out[-1]) == payload and all(o is None for o in out[:-1])


def test_a_model_of_up_to_four_chunks_is_written_once_into_one_buffer():
    payload = codec.encode([np.arange(int(3.5 * 2 ** 20), dtype=np.uint8)], {"type": "x"})
    r = m.Reassembler()
    frames = m.to_frames(payload, chunk_size=2 ** 20)  # 4 chunks: reserved in full by the first
    assert r.feed(frames[0]) is None
    first = r._buf
    out = [r.feed(f) for f in frames[1:]]
    assert bytes(out[-1]) == payload and out[-1].obj is first  # never grown, never copied
