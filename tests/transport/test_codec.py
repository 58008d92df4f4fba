import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.transport import codec


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "uint8", "bool", "complex64"])
def test_round_trip_keeps_dtype_shape_and_values(dtype, rng):
    arrays = [(rng.standard_normal((3, 5)) * 10).astype(dtype), np.zeros((0, 2), dtype), np.array(7, dtype)]
    meta, out = codec.decode(codec.encode(arrays, {"round": 3}))
    assert meta == {"round": 3}
    for a, b in zip(arrays, out):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_decode_is_zero_copy_and_read_only_unless_asked():
    msg = codec.encode([np.arange(10, dtype="float32")])
    _, (view,) = codec.decode(msg)
    assert not view.flags.writeable
    _, (copy,) = codec.decode(msg, copy=True)
    copy[0] = 5
    assert copy.flags.writeable


def test_non_contiguous_input_is_encoded_correctly():
    a = np.arange(12, dtype="float64").reshape(3, 4)[:, ::2]
    _, (b,) = codec.decode(codec.encode([a]))
    assert np.array_equal(a, b)


def test_encoded_size_matches_and_overhead_is_small():
    arrays = [np.ones((1000, 100), "float32"), np.ones(100, "float32")]
    msg = codec.encode(arrays, {"type": "update"})
    assert codec.encoded_size(arrays, {"type": "update"}) == len(msg)
    raw = sum(a.nbytes for a in arrays)
    assert len(msg) <= raw * 1.01 + 512


def test_object_arrays_are_refused():
    with pytest.raises(ProtocolError, match="dtype object cannot be encoded"):
        codec.encode([np.array([{"a": 1}], dtype=object)])


@pytest.mark.parametrize("mutate, match", [
    (lambda m: m[:5], "too short"),
    (lambda m: b"XXXX" + m[4:], "bad magic"),
    (lambda m: m[:4] + b"\x09" + m[5:], "unsupported binary message version 9"),
    (lambda m: m[:40], "truncated|runs past"),
    (lambda m: m[:-8], "runs past the end"),
])
def test_malformed_messages_raise_protocol_error(mutate, match):
    msg = codec.encode([np.arange(16, dtype="float64")], {"k": "v"})
    with pytest.raises(ProtocolError, match=match):
        codec.decode(mutate(msg))


def test_header_claiming_object_dtype_is_refused():
    msg = bytearray(codec.encode([np.arange(2, dtype="int64")]))
    msg = bytes(msg).replace(b'"<i8"', b'"|O8"', 1)
    with pytest.raises(ProtocolError):
        codec.decode(msg)


def test_is_encoded():
    assert codec.is_encoded(codec.encode([]))
    assert not codec.is_encoded(b'{"data": []}')


_DTYPES = ["<f2", "<f4", ">f4", "<f8", "|i1", "<i2", ">i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1",
           "<c8", "<c16", "|S1", "|S7", "<U3"]


def _random_array(rng):
    dtype = np.dtype(_DTYPES[rng.integers(len(_DTYPES))])
    shape = tuple(int(d) for d in rng.integers(0, 6, size=rng.integers(0, 4)))
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    if dtype.kind == "U":  # valid code points only
        points = rng.integers(32, 0xD800, size=int(np.prod(shape)) * 3)
        return points.astype("<u4").view(dtype).reshape(shape)
    if dtype.kind == "b":
        raw = raw % 2
    return raw.view(dtype).reshape(shape)


def test_every_message_the_encoder_writes_decodes_to_the_same_arrays():
    rng = np.random.default_rng(7)
    for trial in range(300):
        arrays = [_random_array(rng) for _ in range(rng.integers(0, 7))]
        if arrays and trial % 5 == 0:  # a non-contiguous view, copied into place by the encoder
            arrays[0] = np.atleast_1d(arrays[0])[::-1]
        meta = {"trial": trial, "pad": "x" * int(rng.integers(0, 130))}  # every header alignment
        message = codec.encode(arrays, meta)
        head, contiguous = codec.plan(arrays, meta)
        planned = head + b"".join(a.tobytes() + bytes(codec.pad(a.nbytes)) for a in contiguous)

        assert planned == message and len(message) == codec.encoded_size(arrays, meta)
        for copy in (False, True):
            back_meta, back = codec.decode(message, copy=copy)
            assert back_meta == meta and len(back) == len(arrays)
            for a, b in zip(arrays, back):
                assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_a_chunk_head_and_its_bytes_decode():
    for nbytes in (0, 1, 63, 64, 65, 1000):
        data = bytes(range(256)) * 4
        message = codec.bytes_head({"i": nbytes}, nbytes) + data[:nbytes] + bytes(codec.pad(nbytes))

        meta, (arr,) = codec.decode(message)

        assert meta == {"i": nbytes} and arr.tobytes() == data[:nbytes]
