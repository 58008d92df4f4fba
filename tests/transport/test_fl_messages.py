"""The federated-learning websocket's sedna_lib-only messages, as the wire-format page writes them."""

import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.transport import codec
from sedna_lib.transport import messages as m


def test_an_evaluation_frame_is_the_documented_json():
    text = ('{"type": "evaluation", "round_number": 5, "data": {"num_samples": 200, '
            '"metrics": {"accuracy": 0.91, "loss": 0.27}}}')

    msg = m.from_json(text)

    assert msg == m.Evaluation(5, 200, {"accuracy": 0.91, "loss": 0.27})
    assert m.to_json(msg) == text


def test_a_secure_aggregation_step_is_the_documented_json():
    text = ('{"type": "secagg", "stage": "unmask", "round_number": 3, '
            '"data": {"survivors": ["a"], "dropped": ["b"]}}')

    msg = m.from_json(text)

    assert msg == m.SecAgg(m.SecAggStage.UNMASK, 3, {"survivors": ["a"], "dropped": ["b"]})
    assert m.to_json(msg) == text


@pytest.mark.parametrize("text, match", [
    ('{"type": "secagg", "stage": "steal", "round_number": 1, "data": {}}', "stage must be one of"),
    ('{"type": "secagg", "stage": "keys", "data": {}}', "round_number"),
    ('{"type": "secagg", "stage": "keys", "round_number": 1, "data": []}', "data"),
    ('{"type": "evaluation", "round_number": 1, "data": {"metrics": {}}}', "num_samples"),
])
def test_malformed_sedna_lib_messages_are_protocol_errors(text, match):
    with pytest.raises(ProtocolError, match=match):
        m.from_json(text)


def test_a_masked_input_round_trips_through_its_frames():
    masked = np.arange(13, dtype=np.uint64) * np.uint64(2 ** 61)
    msg = m.SecAggMasked(2, masked, [[3, 4]])

    frames = m.encode_frames(msg, chunk_size=64)
    reassembler = m.Reassembler(1 << 20)
    whole = [reassembler.feed(bytes(f)) for f in frames][-1]
    got = m.from_binary(whole)

    assert len(frames) > 1 and bytes(whole) == m.to_binary(msg)
    assert got.round_number == 2 and got.shapes == [[3, 4]] and got.dtypes is None
    assert np.array_equal(got.masked, masked)


def test_a_masked_input_carries_its_layers_dtypes_and_refuses_odd_ones():
    masked = np.zeros(14, dtype=np.uint64)
    msg = m.SecAggMasked(1, masked, [[3, 4], []], ["<f4", "<i8"])
    assert m.from_binary(m.to_binary(msg)).dtypes == ["<f4", "<i8"]
    for dtypes in (["<f4"], ["<f4", "object"], ["<f4", "no-such-type"], "f4", ["<f4", 5]):
        bad = m.to_binary(m.SecAggMasked(1, masked, [[3, 4], []], None))
        header = codec.decode(bad)[0]
        header["dtypes"] = dtypes
        with pytest.raises(ProtocolError, match="dtypes"):
            m.from_binary(codec.encode([masked], header))


@pytest.mark.parametrize("arrays, meta", [
    ([np.zeros(3, dtype=np.float64)], {"type": "secagg_masked", "round_number": 1, "shapes": [[2]]}),
    ([np.zeros(3, dtype=np.uint64)], {"type": "secagg_masked", "round_number": 1, "shapes": [[-1]]}),
    ([], {"type": "secagg_masked", "round_number": 1, "shapes": []}),
])
def test_a_malformed_masked_input_is_a_protocol_error(arrays, meta):
    with pytest.raises(ProtocolError, match="secagg_masked carries one 1-d uint64 array"):
        m.from_binary(codec.encode(arrays, meta))
