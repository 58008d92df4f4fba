import pickle

import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.multi_edge_inference import OP_MODE, DetTrackResult, Target, TargetImages
from sedna_lib.multi_edge_inference.codec import Codec, dumps, loads


class _Unknown:
    pass


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo should-never-run",))


def test_data_classes_round_trip_with_arrays_and_exact_attribute_names():
    det = DetTrackResult(frame_index=7, bbox=[np.ones((2, 2), "uint8")], camera=3, features=[np.arange(4.0)],
                         detection_time="Mon, 01 January 2024 10:00:00.000001", ID=["0001"])

    out = loads(dumps([det, Target("u", np.zeros(3)), TargetImages("u", [np.ones(2)]), OP_MODE.TRACKING]))

    got, target, images, mode = out
    assert vars(got).keys() == vars(det).keys()
    assert got.targetID == ["0001"] and got.tracklets == [] and got.image_key.endswith("_3")
    np.testing.assert_array_equal(got.features[0], np.arange(4.0))
    assert target.userid == "u" and target.targetid == "0000" and images.targets[0].shape == (2,)
    assert mode is OP_MODE.TRACKING


def test_tuples_bytes_non_string_keys_and_numpy_scalars_survive():
    value = {"t": (1, 2.5), "b": b"\x00\x01", "m": {1: "x"}, "s": np.float32(1.5)}

    out = loads(dumps(value))

    assert out == {"t": (1, 2.5), "b": b"\x00\x01", "m": {1: "x"}, "s": np.float32(1.5)}


def test_pickle_is_refused_without_opt_in():
    with pytest.raises(ProtocolError, match="pickle bodies are refused"):
        loads(pickle.dumps(DetTrackResult()))


def test_pickle_is_accepted_with_opt_in_for_allow_listed_classes():
    codec = Codec(legacy_pickle=True)

    out = codec.loads(codec.dumps(DetTrackResult(frame_index=2, bbox=[np.ones(3)])))

    assert out.frame_index == 2 and codec.media_type == "application/python-pickle"


def test_pickle_naming_other_globals_is_refused_even_with_opt_in():
    with pytest.raises(ProtocolError, match="not on the allow-list"):
        loads(pickle.dumps(_Evil()), legacy_pickle=True)


def test_unregistered_types_cannot_be_encoded():
    with pytest.raises(ProtocolError, match="register it"):
        dumps(_Unknown())


def test_unregistered_type_names_cannot_be_decoded():
    from sedna_lib.transport import codec

    msg = codec.encode([], {"$v": 1, "obj": {"$obj": "os.system", "state": {}}})

    with pytest.raises(ProtocolError, match="allow-list"):
        loads(msg)


def test_garbage_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="neither"):
        loads(b"hello")


@pytest.mark.parametrize("index", [float("inf"), float("-inf")])
def test_an_infinite_array_index_in_a_body_is_a_protocol_error(index):
    # JSON reads Infinity; int(Infinity) is an OverflowError, which answered 500 and escaped the clients
    from sedna_lib.transport import objects

    with pytest.raises(ProtocolError, match="malformed tagged value"):
        objects._decode({"$nd": index}, [np.zeros(1)], 0)


def test_an_infinite_shape_or_offset_in_a_codec_header_is_a_protocol_error():
    import json

    from sedna_lib.transport import codec

    body = codec.encode([np.zeros(2)], {"x": 1})
    meta, arrays = codec.decode(body)
    for field, value in (("shape", [float("inf")]), ("offset", float("inf"))):
        with pytest.raises(ProtocolError, match="malformed spec"):
            codec.decode(_with_spec(body, field, value, json))


def _with_spec(body, field, value, json):
    """The same message with one array spec field replaced (the header is JSON after a fixed prefix)."""
    start = body.index(b"{")
    depth, end = 0, start
    for end in range(start, len(body)):
        depth += {ord("{"): 1, ord("}"): -1}.get(body[end], 0)
        if depth == 0:
            break
    header = json.loads(body[start:end + 1])
    specs = header.get("arrays") or header.get("specs")
    specs[0][field] = value
    text = json.dumps(header).encode()
    return body[:start - 4] + len(text).to_bytes(4, "little") + text + body[end + 1:]
