"""Sizes a peer declares are checked before anything is allocated, on every decode path."""

import json
import pickle
import pickletools
import struct

import numpy as np
import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.transport import codec, objects


def _message(header, tail=b""):
    """A codec message with a hand-written JSON header (what a hostile peer can send)."""
    raw = json.dumps(header).encode()
    head = struct.pack("<4sB3xI", b"SDNA", 1, len(raw)) + raw
    return head + bytes(codec.pad(len(head))) + tail


def _tree(obj):
    return _message({"meta": {"$v": 1, "obj": obj}, "arrays": []})


def test_a_192_byte_body_cannot_declare_a_void_scalar_of_any_size():
    body = _tree({"$np": "V", "v": 900_000_000})
    body += b" " * (192 - len(body))  # the size of the body seen in the field

    with pytest.raises(ProtocolError, match="numpy scalar"):
        objects.loads(body)


@pytest.mark.parametrize("tag", ["V", "V8", "S5", "U3", "O", "M8[s]", "m8[s]", "<c16", [["a", "<f4"]], 5])
def test_only_plain_numeric_scalar_tags_are_rebuilt(tag):
    with pytest.raises(ProtocolError):
        objects.loads(_tree({"$np": tag, "v": 3}))


@pytest.mark.parametrize("value", [np.float32(1.5), np.int8(-3), np.uint64(2**63), np.bool_(True),
                                   np.float16(2)])
def test_numeric_scalars_still_round_trip(value):
    back = objects.loads(objects.dumps(value))

    assert type(back) is type(value) and back == value


@pytest.mark.parametrize("spec, match", [
    ({"dtype": "<f4", "shape": [2**32, 2**32], "offset": 0}, "too large"),
    ({"dtype": "<f4", "shape": [2**20, 2**20], "offset": 0}, "runs past the end"),
    ({"dtype": "<f4", "shape": [0, 2**62], "offset": 0}, "too large"),
    ({"dtype": "S0", "shape": [10**6], "offset": 0}, "zero-sized"),
    ({"dtype": "<f4", "shape": [1] * 70, "offset": 0}, "dimensions"),
    ({"dtype": "<f4", "shape": [-1, -1], "offset": 0}, "negative"),
])
def test_array_specs_that_overflow_or_cannot_be_built_are_protocol_errors(spec, match):
    with pytest.raises(ProtocolError, match=match):
        codec.decode(_message({"meta": None, "arrays": [spec]}))


@pytest.mark.parametrize("header", [
    {"meta": None, "arrays": {"dtype": "<f4"}},
    {"meta": None, "arrays": [5]},
    {"meta": None, "arrays": [{"dtype": {"names": 3}, "shape": [1], "offset": 0}]},
])
def test_malformed_array_lists_are_protocol_errors(header):
    with pytest.raises(ProtocolError):
        codec.decode(_message(header))


def test_deeply_nested_header_json_is_a_protocol_error_not_a_recursion_error():
    deep = ("[" * 200_000 + "]" * 200_000).encode()
    message = struct.pack("<4sB3xI", b"SDNA", 1, len(deep)) + deep

    with pytest.raises(ProtocolError, match="nested"):
        codec.decode(message)


def test_declared_header_length_beyond_the_message_is_refused():
    with pytest.raises(ProtocolError, match="truncated"):
        codec.decode(struct.pack("<4sB3xI", b"SDNA", 1, 2**31) + b"{}")


# -- the legacy pickle path: sizes inside the pickle are checked too ---------------------------------
def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _pickle_call(module, name, args_pickle):
    """PROTO 2, GLOBAL module.name, args tuple, REDUCE, STOP: one call of an allow-listed global."""
    return b"\x80\x02" + _global(module, name) + args_pickle + b"R."


@pytest.mark.parametrize("payload", [
    # bytearray(3_000_000_000): a builtin on the allow-list asked for 3 GB of zeros
    _pickle_call("builtins", "bytearray", pickle.dumps((3_000_000_000,), protocol=2)[2:-1]),
    # numpy.ndarray((10**10,), 'u1') called directly
    _pickle_call("numpy", "ndarray", pickle.dumps(((10**10,), "u1"), protocol=2)[2:-1]),
])
def test_legacy_pickle_cannot_declare_huge_allocations(payload):
    pickletools.dis(payload, out=open("/dev/null", "w"))  # a well-formed pickle

    with pytest.raises(ProtocolError, match="limit"):
        objects.loads(payload, allow_pickle=True, max_bytes=1 << 20)


def test_legacy_pickle_cannot_reconstruct_an_array_larger_than_the_limit():
    big = np.zeros(2 << 20, dtype=np.uint8)  # 2 MiB, honest, over a 1 MiB limit

    with pytest.raises(ProtocolError, match="limit"):
        objects.loads(pickle.dumps(big, protocol=4), allow_pickle=True, max_bytes=1 << 20)


def test_legacy_pickle_void_scalar_without_data_is_refused():
    # numpy's scalar(dtype('V2000000000')) with no data allocates 2 GB of zeros
    dtype_pickle = pickle.dumps(np.dtype("V2000000000"), protocol=2)[2:-1]
    payload = b"\x80\x02" + _global("numpy.core.multiarray", "scalar") + dtype_pickle + b"\x85R."

    with pytest.raises(ProtocolError, match="limit"):
        objects.loads(payload, allow_pickle=True, max_bytes=1 << 20)


def test_legacy_pickle_of_honest_arrays_within_the_limit_still_loads():
    data = {"frame": np.arange(12, dtype=np.float32).reshape(3, 4), "id": np.int64(7),
            "raw": bytearray(b"ab")}

    back = objects.loads(pickle.dumps(data, protocol=4), allow_pickle=True, max_bytes=1 << 20)

    assert back["frame"].tolist() == data["frame"].tolist() and back["id"] == 7 and back["raw"] == b"ab"


# -- forged numpy state crashes numpy itself: refused before numpy sees it ------------------------
# Each body is loaded in a child process: if it got through, numpy would kill the process, not raise.
FORGED = {
    # dtype('f4') then BUILD with a state numpy never writes (byte order 'N', item size -1)
    "dtype-state": (b"\x80\x02cnumpy._core.multiarray\nscalar\nq\x00cnumpy\ndtype\nq\x01"
                    b"X\x02\x00\x00\x00f4q\x02\x89\x88\x87q\x03Rq\x04(K\x03X\x01\x00\x00\x00NN"
                    b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x06bc_codecs\nencode\nq\x07"
                    b"X\x04\x00\x00\x00\x00\x00\x00@q\x08X\x06\x00\x00\x00latin1q\t\x86q\nRq\x0b"
                    b"\x86q\x0cRq\r."),
}


def _object_array_with_short_list():
    body = pickle.dumps(np.array([1, "a", None], dtype=object), protocol=4)
    return body.replace(b"K\x03\x85", b"K\xe2\x85", 1)  # shape (226,), still 3 items


@pytest.mark.parametrize("name", ["dtype-state", "object-array"])
def test_forged_numpy_state_is_refused_without_crashing(name, tmp_path):
    import subprocess
    import sys

    body = FORGED[name] if name in FORGED else _object_array_with_short_list()
    (tmp_path / "body.pkl").write_bytes(body)
    child = ("import sys; from sedna_lib.transport.objects import loads; from sedna_lib.exceptions import "
             "ProtocolError\ntry:\n    loads(open(sys.argv[1], 'rb').read(), allow_pickle=True)\n"
             "except ProtocolError as exc:\n    print('refused:', exc)")

    done = subprocess.run([sys.executable, "-c", child, str(tmp_path / "body.pkl")], capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.startswith("refused: legacy pickle")


def test_a_bytearray8_declaring_more_than_the_limit_is_refused_before_allocation():
    body = b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b"ab."

    with pytest.raises(ProtocolError, match="limit"):
        objects.loads(body, allow_pickle=True, max_bytes=1 << 20)


def test_legacy_pickles_run_no_codec_but_latin1():
    body = pickle.dumps(b"abc", protocol=2).replace(b"latin1", b"rot_13")

    with pytest.raises(ProtocolError, match="latin1"):
        objects.loads(body, allow_pickle=True)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_legacy_pickles_of_arrays_load_in_every_protocol(protocol):
    data = {"c": np.arange(6.0).reshape(2, 3), "f": np.zeros((2, 3), order="F"),
            "o": np.array([1, "a", None], dtype=object), "b": bytearray(b"xy")}

    back = objects.loads(pickle.dumps(data, protocol=protocol), allow_pickle=True)

    assert back["c"].tolist() == data["c"].tolist() and back["f"].flags.f_contiguous
    assert back["o"].tolist() == [1, "a", None] and back["b"] == b"xy"


# -- arrays that overlap: each spec names its own offset, so several could name the same bytes ------
def _spec(shape, offset, dtype="|u1"):
    return {"dtype": dtype, "shape": shape, "offset": offset}


@pytest.mark.parametrize("specs", [
    [_spec([64], 0), _spec([64], 0)],  # the same bytes twice
    [_spec([128], 0), _spec([8], 64)],  # the second inside the first
    [_spec([8], 64), _spec([8], 0)],  # out of order: the second before the first
    [_spec([16], 0, "<f4"), _spec([2], 56, "<f8")],  # the second starts inside the first's last bytes
], ids=["same-offset", "inside", "out-of-order", "partial"])
def test_arrays_that_overlap_are_refused(specs):
    body = _message({"meta": {"$v": 1, "obj": None}, "arrays": specs}, bytes(256))

    for decode in (codec.decode, lambda b: codec.decode(b, copy=True), objects.loads,
                   lambda b: codec.read_head(b, len(b))):
        with pytest.raises(ProtocolError, match="overlapping"):
            decode(body)


def test_arrays_declaring_more_bytes_than_the_message_holds_are_refused_before_allocating():
    # 4000 arrays of 200 kB, all at offset 0, in a 400 kB body: copied one by one they made 800 MB
    body = _message({"meta": None, "arrays": [_spec([200_000], 0)] * 4000}, bytes(200_000))

    with pytest.raises(ProtocolError, match="array 1 .* overlapping"):
        codec.decode(body, copy=True)


def test_empty_arrays_between_others_still_decode():
    arrays = [np.arange(3, dtype="<i4"), np.zeros(0, "<f8"), np.zeros((2, 0), "u1"), np.ones(5, "u1")]

    _, back = codec.decode(codec.encode(arrays))

    assert [b.shape for b in back] == [a.shape for a in arrays] and np.array_equal(back[3], arrays[3])


@pytest.fixture(scope="module")
def overlapping_body():
    return _message({"meta": {"$v": 1, "obj": None, "callback": None},
                     "arrays": [_spec([64], 0), _spec([64], 0)]}, bytes(64))


def _post(url, body):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": codec.MEDIA_TYPE})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _Sink:
    def put(self, data):
        return None


@pytest.mark.integration
def test_an_inference_server_answers_400_to_overlapping_arrays(overlapping_body):
    from sedna_lib.servers.inference import InferenceServer

    with InferenceServer(lambda x: [1], "s", http_port=0) as server:
        status, text = _post(server.url + "/s/predict", overlapping_body)

    assert status == 400 and b"overlapping" in text


@pytest.mark.integration
def test_a_multi_edge_server_answers_400_to_overlapping_arrays(overlapping_body):
    from sedna_lib.servers.multi_edge import DetectionServer

    server = DetectionServer(_Sink(), "det", port=0).start()
    try:
        status, text = _post(server.url + "/det/video_analytics", overlapping_body)
    finally:
        server.stop()

    assert status == 400 and b"overlapping" in text
