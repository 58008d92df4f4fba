"""Chunked binary frames: built one at a time, reassembled into the same message."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError
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
