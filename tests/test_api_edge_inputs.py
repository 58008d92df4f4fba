"""Odd inputs at the public surface give typed errors that say what is wrong, never raw ones.

The simulation (wrong model, bad client shards, bad starting weights, shards that miss classes), the
binary codec (metadata that JSON cannot hold, something that is not bytes), the storage layer
(text for bytes, a path with a NUL) and the token-entropy router (NaN among the alternatives).
"""

import math

import numpy as np
import pytest

import algorithms.hard_example_mining as hem
from sedna_lib import collaborative_training
from sedna_lib.exceptions import DataError, ParameterError, ProtocolError, StorageError
from sedna_lib.storage.router import StorageRouter
from sedna_lib.transport import codec

NAN = float("nan")


# -- simulate: the model and the clients' data are checked before any training ----------------------

@pytest.fixture(scope="module")
def shards(digits):
    """Three IID shards of 100 digits."""
    x, y, _, _ = digits
    return [(x[i * 100:(i + 1) * 100], y[i * 100:(i + 1) * 100]) for i in range(3)]


@pytest.fixture
def model(digits):
    """A LogisticRegression fitted once on all ten digits (its weights have ten rows)."""
    from sklearn.linear_model import LogisticRegression

    x, y, _, _ = digits
    return LogisticRegression(max_iter=500).fit(x[1000:1400], y[1000:1400])


def _backend(model):
    from sedna_lib.backends import set_backend

    return set_backend(model)


def test_simulate_wraps_a_bare_model_as_fit_does(model, shards):
    result = collaborative_training.simulate(model, shards, "FedAvg", rounds=1)
    assert len(result.history) == 1
    assert [w.shape for w in result.weights] == [(10, 64), (10,)]


def test_simulate_without_a_model_says_to_give_one(shards):
    with pytest.raises(ParameterError, match=r"simulate needs a model.*set_backend"):
        collaborative_training.simulate(None, shards, "FedAvg", rounds=1)


@pytest.mark.parametrize("bad, what", [
    (None, r"client_data\[1\] \(client-1\) is None"),
    ("short", r"client_data\[1\] \(client-1\) has 100 inputs but 50 labels"),
    ("nan", r"client_data\[1\] \(client-1\): its inputs hold NaN or infinite values"),
    ("nan-label", r"client_data\[1\] \(client-1\): its labels hold NaN or infinite values"),
    ("empty", r"client_data\[1\] \(client-1\) holds no samples"),
])
def test_simulate_refuses_a_bad_shard_naming_the_client_before_training(model, shards, bad, what):
    backend = _backend(model)
    before = [w.copy() for w in backend.get_weights()]
    x, y = shards[1]
    shard = {None: None, "short": (x, y[:50]), "empty": (x[:0], y[:0])}.get(bad)
    if bad == "nan":
        x = x.copy()
        x[3, 5] = NAN
        shard = (x, y)
    elif bad == "nan-label":
        shard = (x, np.where(np.arange(len(y)) == 7, NAN, y.astype("float64")))
    with pytest.raises(DataError, match=what):
        collaborative_training.simulate(backend, [shards[0], shard, shards[2]], "FedAvg", rounds=1)
    assert all(np.array_equal(a, b) for a, b in zip(backend.get_weights(), before))  # nothing trained


@pytest.mark.parametrize("fill", [NAN, math.inf])
def test_simulate_refuses_initial_weights_that_are_not_finite(model, shards, fill):
    backend = _backend(model)
    start = [np.full_like(w, fill) for w in backend.get_weights()]
    with pytest.raises(ParameterError, match=r"initial_weights\[0\] holds NaN or infinite values"):
        collaborative_training.simulate(backend, shards, "FedAvg", rounds=1, initial_weights=start)


@pytest.mark.parametrize("classes", [[3], [0, 1, 2, 3, 4]])
def test_simulate_refuses_a_shard_that_misses_classes_the_model_knows(model, shards, classes):
    backend = _backend(model)
    x, y = shards[0]
    keep = np.isin(y, classes)
    with pytest.raises(DataError, match=r"client_data\[0\] \(client-0\): LogisticRegression cannot go on "
                                        r"training from its weights on labels without the classes "
                                        r"\[.*9\] it already knows"):
        collaborative_training.simulate(backend, [(x[keep], y[keep])] + shards[1:], "FedAvg", rounds=1)


def test_simulate_refuses_a_shard_with_a_class_the_model_does_not_know(model, shards):
    x, y = shards[0]
    y = y.copy()
    y[0] = 10
    with pytest.raises(DataError, match=r"client_data\[0\] \(client-0\): LogisticRegression knows the "
                                        r"classes \[0, .*, 9\], and these labels add \[10\]"):
        collaborative_training.simulate(_backend(model), [(x, y)] + shards[1:], "FedAvg", rounds=1)


def test_federated_learning_simulate_is_the_engines_module_and_says_where_the_function_is():
    from sedna_lib.federated_learning import simulate as engines

    assert "sedna_lib.collaborative_training.simulate" in engines.__doc__.splitlines()[0]


# -- the binary codec ------------------------------------------------------------------------------

def test_encode_turns_numpy_scalars_of_meta_into_json_numbers():
    meta = {"x": np.int64(3), "f": np.float32(0.5), "ok": np.bool_(True), "nested": [{"n": np.uint8(7)}]}
    decoded, _ = codec.decode(codec.encode([], meta))
    assert decoded == {"x": 3, "f": 0.5, "ok": True, "nested": [{"n": 7}]}
    assert codec.encoded_size([], meta) == len(codec.encode([], meta))


@pytest.mark.parametrize("value, where, kind", [
    (b"raw", r"meta\['x'\]", "bytes"), ({1, 2}, r"meta\['x'\]", "set"),
    ([1, object()], r"meta\['x'\]\[1\]", "object"),
    ({"a": np.zeros(2)}, r"meta\['x'\]\['a'\]", "ndarray"),
    ({np.int64(1): 2}, r"a key of meta\['x'\]", "int64"),
])
def test_encode_refuses_meta_json_cannot_hold_naming_the_key(value, where, kind):
    for call in (codec.encode, codec.encoded_size, codec.plan):
        with pytest.raises(ProtocolError, match=rf"{where} is (a|an) {kind}, which JSON cannot hold"):
            call([], {"x": value})


@pytest.mark.parametrize("data", [None, "SDNA", 42, ["S", "D"]])
def test_decode_refuses_what_is_not_bytes_and_is_encoded_says_no(data):
    with pytest.raises(ProtocolError, match=r"a binary message must be bytes-like"):
        codec.decode(data)
    assert codec.is_encoded(data) is False


# -- storage ---------------------------------------------------------------------------------------

def test_write_bytes_refuses_text_saying_bytes_are_expected(tmp_path):
    target = str(tmp_path / "x")
    with pytest.raises(DataError, match=r"write_bytes needs bytes .*got str"):
        StorageRouter().write_bytes(target, "text")
    StorageRouter().write_bytes(target, bytearray(b"ok"))
    assert StorageRouter().read_bytes(target) == b"ok"


@pytest.mark.parametrize("action", ["read", "write", "list", "delete"])
def test_a_path_with_a_nul_is_a_storage_error_naming_it(tmp_path, action):
    path = str(tmp_path / "a\x00b")
    router = StorageRouter()
    call = {"read": lambda: router.read_bytes(path), "write": lambda: router.write_bytes(path, b"x"),
            "list": lambda: router.listdir(path), "delete": lambda: router.delete(path)}[action]
    with pytest.raises(StorageError, match=r"NUL") as info:
        call()
    assert info.value.uri == path
    assert router.exists(path) is False


# -- the token-entropy router ----------------------------------------------------------------------

@pytest.mark.parametrize("top", [{"a": NAN}, {"a": -0.1, "b": 0.5}, {"a": "low"}])
def test_token_entropy_router_refuses_top_logprobs_that_are_not_log_probabilities(top):
    router = hem.TokenEntropyRouter()
    with pytest.raises(DataError, match=r"top_logprobs\[0\] must be"):
        router({"text": "x", "token_logprobs": [-0.1], "top_logprobs": [top]})
