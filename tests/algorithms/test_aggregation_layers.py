"""The layers of a round: their memory (the averaging aggregators stay within two model copies whatever
the number of clients, for float32 models too: their float64 sums are the two copies; and give the memory
back), and their dtypes (every layer comes back in its own dtype, integers rounded and within range).

Measured with tracemalloc (numpy reports its buffers to it), on the second round (the first one
compiles the optional loops and allocates server state such as momenta).
"""

import gc
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import (Bulyan, DPFedAvg, FedAdagrad, FedAdam, FedAvg, FedAvgM, FedBuff,
                                              FedProx, FedYogi, Krum, LocalDPFedAvg, Median, MultiKrum,
                                              TrimmedMean, _math, _privacy)

SHAPES = [(600, 1100), (1100,)]  # 661,100 parameters: several blocks, above the in-place threshold


def _model(rng, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _round_memory(aggregator, dtype, clients=6):
    """Return (peak, after) of the second round, in copies of the model in its own dtype, less ``fixed``.

    ``fixed``: numpy's 64 KiB buffer for mixed-dtype operations and the aggregator's cache-sized
    blocks, which do not grow with the model.
    """
    rng = np.random.default_rng(0)
    model_bytes = sum(int(np.prod(s)) for s in SHAPES) * np.dtype(dtype).itemsize
    glob = _model(rng, dtype)
    for traced in (False, True):
        updates = [SimpleNamespace(weights=[g + 0.01 * d for g, d in zip(glob, _model(rng, dtype))],
                                   num_samples=i + 1, client_id=f"c{i}") for i in range(clients)]
        gc.collect(1)  # the young generations: a full collection in a process holding the frameworks costs 0.3 s
        if traced:
            tracemalloc.start()
        aggregator.begin_round(glob)
        for update in updates:
            aggregator.add(update)
        glob = aggregator.finish()
        if traced:
            after, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert all(a.dtype == dtype and a.shape == s for a, s in zip(glob, SHAPES))
    return peak / model_bytes, after / model_bytes, model_bytes


# what does not grow with the model: numpy's buffer for a ufunc that casts an operand, the cast's head,
# a few small Python objects; and the one float64 block the adaptive server steps work in
NUMPY_BUFFER = (1 << 16) + _math._NARROW_HEAD * 4 + (16 << 10)
BLOCK_BYTES = _math._BLOCK * 8

AVERAGING = [FedAvg, FedProx, FedAvgM, FedAdam, FedYogi, FedAdagrad, lambda: FedBuff(buffer_size=6),
             lambda: LocalDPFedAvg(noise_multiplier=0.5, clipping_norm=10.0)]


@pytest.mark.parametrize("make", AVERAGING, ids=lambda make: type(make()).__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_round_of_the_averaging_aggregators_needs_two_model_copies_at_most(make, dtype):
    peak, after, model_bytes = _round_memory(make(), dtype)
    # float32: the float64 sums are the 2 copies (the mean is cast into their own memory); float64: 1
    fixed = NUMPY_BUFFER + (BLOCK_BYTES if make in (FedAdam, FedYogi, FedAdagrad) else 0)
    copies = 2.0 if dtype == np.float32 else 1.0
    assert peak <= copies + fixed / model_bytes, f"peak {peak:.3f} model copies"
    assert after <= 1.0 + NUMPY_BUFFER / model_bytes, f"{after:.3f} model copies held after the round"


def test_server_side_dp_needs_its_sum_and_one_difference():
    peak, after, model_bytes = _round_memory(DPFedAvg(noise_multiplier=0.5, clipping_norm=10.0), np.float64)
    assert peak <= 2.0 + NUMPY_BUFFER / model_bytes and after <= 1.0 + NUMPY_BUFFER / model_bytes


@pytest.mark.parametrize("n", [1, 1023, 1024, 1025, 4097, (1 << 16) - 1, 1 << 16, (1 << 16) + 3,
                               3 * (1 << 18) + 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_finish_layers_casts_in_the_sums_memory_exactly_as_a_division_then_a_cast(n, dtype):
    rng = np.random.default_rng(n)
    sums = rng.standard_normal(n) * 1e3
    expected = (sums / 7.0).astype(dtype)
    shape = (n,) if n % 5 else (5, n // 5)
    # the list holds the only reference to the sum
    out = _math.finish_layers([sums.reshape(shape).copy()], [dtype], 7.0)[0]
    assert out.dtype == dtype and out.shape == shape and out.flags.c_contiguous and out.flags.writeable
    assert out.reshape(-1).tobytes() == expected.tobytes()
    if n >= _math._NARROW_MIN:  # written over the sum, whose buffer was shrunk to the result's size
        assert out.base is not None and out.base.nbytes - out.nbytes < 8


def test_finish_layers_rounds_integer_layers_and_copies_what_it_does_not_own():
    sums = np.arange(6, dtype=np.float64) + 0.6
    view = np.repeat(sums, 20_000)[::2]  # not its own memory: cast into a new array, the input left as it was
    before = view.copy()
    ints, cast = _math.finish_layers([sums.copy(), view], [np.int64, np.float32], 2.0)
    assert ints.tolist() == np.rint((sums / 2.0)).astype(np.int64).tolist()
    assert cast.tobytes() == (before / 2.0).astype(np.float32).tobytes()


def test_a_server_step_that_keeps_what_it_returns_gets_its_results_copied():
    class Keeping(FedAvgM):
        def _server_step(self, average):
            self.kept_ = [np.array(a) for a in average]  # the step's own state, handed out as the model
            return self.kept_

    rng = np.random.default_rng(1)
    agg = Keeping()
    agg.begin_round(None)
    agg.add(SimpleNamespace(weights=_model(rng, np.float32), num_samples=2))
    agg.add(SimpleNamespace(weights=_model(rng, np.float32), num_samples=1))
    out = agg.finish()
    assert [k.dtype for k in agg.kept_] == [np.float64, np.float64]
    assert all(o.tobytes() == k.astype(np.float32).tobytes() for o, k in zip(out, agg.kept_))


@pytest.mark.parametrize("variant", ["adagrad", "adam", "yogi"])
def test_fedopt_step_in_place_gives_the_formula_bit_for_bit_and_copies_by_default(variant):
    rng = np.random.default_rng(2)
    n = 2 * _math._BLOCK + 17  # several blocks
    x, avg = [rng.standard_normal(n).astype(np.float32)], [rng.standard_normal(n)]
    m, v = [rng.standard_normal(n) * 0.1], [rng.random(n) * 0.1]
    b1, b2, eta, tau = 0.9, 0.99, 0.05, 1e-3
    delta = avg[0] - x[0].astype(np.float64)
    want_m = b1 * m[0] + (1 - b1) * delta
    d2 = delta * delta
    want_v = {"adagrad": lambda: v[0] + d2, "adam": lambda: b2 * v[0] + (1 - b2) * d2,
              "yogi": lambda: v[0] - (1 - b2) * d2 * np.sign(v[0] - d2)}[variant]()
    want_w = x[0].astype(np.float64) + eta * want_m / (np.sqrt(want_v) + tau)
    inputs = [a.copy() for a in (avg[0], m[0], v[0])]
    kw = dict(variant=variant, eta=eta, beta_1=b1, beta_2=b2, tau=tau)
    w1, m1, v1 = _math.fedopt_step(x, avg, m, v, **kw)
    assert all(np.array_equal(a, b) for a, b in zip((avg[0], m[0], v[0]), inputs))  # inputs untouched
    w2, m2, v2 = _math.fedopt_step(x, avg, m, v, overwrite=True, **kw)
    assert w2[0] is avg[0] and m2[0] is m[0] and v2[0] is v[0]
    for got in ((w1, m1, v1), (w2, m2, v2)):
        assert [g[0].tobytes() for g in got] == [want_w.tobytes(), want_m.tobytes(), want_v.tobytes()]


def test_fedavgm_step_in_place_gives_the_formula_bit_for_bit():
    rng = np.random.default_rng(3)
    x = [rng.standard_normal(1000).astype(np.float32)]
    avg, mom = [rng.standard_normal(1000)], [rng.random(1000)]
    d = x[0].astype(np.float64) - avg[0]
    want_v = 0.9 * mom[0] + d
    want_w = x[0] - 0.5 * want_v
    w, v = _math.fedavgm_step(x, [avg[0].copy()], [mom[0].copy()], server_learning_rate=0.5,
                              server_momentum=0.9)
    w2, v2 = _math.fedavgm_step(x, avg, mom, server_learning_rate=0.5, server_momentum=0.9, overwrite=True)
    assert v2[0] is mom[0] and w2[0] is avg[0]
    for ww, vv in ((w, v), (w2, v2)):
        assert ww[0].tobytes() == want_w.tobytes() and vv[0].tobytes() == want_v.tobytes()


def test_gaussian_noise_drawn_by_blocks_is_one_draw_of_the_whole_layer():
    layer = np.random.default_rng(4).standard_normal((3, _privacy._NOISE_BLOCK + 11))
    want = layer + np.random.default_rng(9).normal(0.0, 0.7, size=layer.shape)
    out = _privacy.add_gaussian_noise([layer], 0.7, np.random.default_rng(9))
    assert out[0] is layer and layer.tobytes() == want.tobytes()  # in place, as documented


@pytest.mark.parametrize("make", [Median, lambda: TrimmedMean(beta=0.2), lambda: Krum(num_byzantine=1),
                                  lambda: MultiKrum(num_byzantine=1), lambda: Bulyan(num_byzantine=0)],
                         ids=["Median", "TrimmedMean", "Krum", "MultiKrum", "Bulyan"])
@pytest.mark.parametrize("clients", [5, 6])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_robust_aggregators_stack_the_round_once_and_give_it_back(make, clients, dtype):
    # they keep every update by design; the stack (in the model's float32, or float64) is one copy per
    # update, sorted in place, and the new model must not be a view into it (an odd count's median row
    # was one, holding the whole stack); a float32 model's result is computed in float64 (2 copies) and cast
    peak, after, model_bytes = _round_memory(make(), dtype, clients=clients)
    blocks = 6 * clients * max(_math._COLUMNS * 8, _math._GRAM_COLUMNS * 8 // 6)  # column blocks, temporaries
    assert after <= 1.0 + NUMPY_BUFFER / model_bytes, f"{after:.2f} model copies held after the round"
    result = 1 if dtype == np.float64 else 3
    assert peak <= clients + result + (NUMPY_BUFFER + blocks) / model_bytes, f"peak {peak:.2f} model copies"


ALL_RULES = AVERAGING + [lambda: DPFedAvg(noise_multiplier=0.0, clipping_norm=100.0), Median,
                         lambda: TrimmedMean(beta=0.2), lambda: Krum(num_byzantine=1),
                         lambda: MultiKrum(num_byzantine=1), lambda: Bulyan(num_byzantine=0)]


@pytest.mark.parametrize("make", ALL_RULES, ids=lambda m: f"{type(m()).__name__}{ALL_RULES.index(m)}")
def test_every_layer_keeps_its_dtype_and_stays_an_array_round_after_round(make):
    # a torch state dict's num_batches_tracked (0-d int64), a Keras scalar variable (0-d float32),
    # an integer table and an empty layer: ufuncs hand 0-d arrays back as numpy scalars, which the
    # next round read as float64 (the int64 counter came back float64, or as a bare numpy scalar)
    rng = np.random.default_rng(5)

    def model():
        return [rng.standard_normal((4, 3)).astype(np.float32), np.array(7, dtype=np.int64),
                rng.standard_normal(()).astype(np.float32), rng.integers(0, 9, size=5).astype(np.int32),
                np.zeros((0, 2), dtype=np.float32)]

    aggregator, glob = make(), model()
    kinds = [(np.ndarray, a.dtype, a.shape) for a in glob]
    for _ in range(3):
        aggregator.begin_round(glob)
        for i in range(5):
            aggregator.add(SimpleNamespace(weights=model(), num_samples=i + 1, client_id=f"c{i}"))
        glob = aggregator.finish()
        assert [(type(a), a.dtype, a.shape) for a in glob] == kinds


@pytest.mark.parametrize("make", [FedAvgM, FedAdam, FedAvg])
def test_integer_and_bool_layers_stay_within_their_range(make):
    # server momentum overshoots: from 200 towards 0 a uint8 layer is sent to -180, which wrapped to 76;
    # an int8 at -333 wrapped to -77, a bool at -0.9 became True; now they stop at the range's end
    update = [np.array([0, 3], dtype=np.uint8), np.array([-128, 127], dtype=np.int8), np.array([False, True]),
              np.array([0.0, 0.5], dtype=np.float32)]
    aggregator = make()
    glob = [np.array([200, 3], dtype=np.uint8), np.array([100, 127], dtype=np.int8), np.array([True, True]),
            np.array([1.0, 0.5], dtype=np.float32)]
    for _ in range(2):
        aggregator.begin_round(glob)
        for i in range(3):
            aggregator.add(SimpleNamespace(weights=update, num_samples=i + 1))
        glob = aggregator.finish()
        assert [a.dtype for a in glob] == [np.uint8, np.int8, np.bool_, np.float32]
    if make is not FedAdam:  # FedAdam moves them by at most eta per round
        assert [a.tolist() for a in glob[:3]] == [[0, 3], [-128, 127], [False, True]]


def test_an_empty_layer_that_lost_its_shape_in_json_takes_the_models():
    # Sedna's JSON writes an empty (0, 3) layer as [], which reads back as (0,): the trainer was refused
    template = [np.zeros((2, 2), dtype=np.float32), np.zeros((0, 3), dtype=np.float32)]
    aggregator = FedAvg()
    aggregator.begin_round(template)
    aggregator.add(SimpleNamespace(weights=[np.ones((2, 2), dtype=np.float32), np.zeros((0, 3), np.float32)],
                                   num_samples=1))
    aggregator.add(SimpleNamespace(weights=[[[3.0, 3.0], [3.0, 3.0]], []], num_samples=1))  # as JSON gives
    out = aggregator.finish()
    assert out[1].shape == (0, 3) and out[0].tolist() == [[2.0, 2.0], [2.0, 2.0]]


@pytest.mark.parametrize("make", ALL_RULES, ids=lambda m: f"{type(m()).__name__}{ALL_RULES.index(m)}")
def test_a_refused_first_update_sets_neither_the_shapes_nor_the_dtypes_of_the_round(make):
    # with no template, a first update holding a NaN (refused) fixed the round's shapes and dtypes: every
    # good update after it was refused for a shape it had never claimed, or the mean came back float64
    from sedna_lib.exceptions import AggregationError

    aggregator = make()
    aggregator.begin_round(None)
    with pytest.raises(AggregationError, match="NaN|infinit|finite"):
        aggregator.add(SimpleNamespace(weights=[np.array([np.nan, 1.0, 2.0])], num_samples=1))
    for i in range(5):
        aggregator.add(SimpleNamespace(weights=[np.full(2, i, dtype=np.float32)], num_samples=1,
                                       client_id=f"c{i}"))
    (out,) = aggregator.finish()
    assert out.shape == (2,) and out.dtype == np.float32
