"""The pure numpy aggregation math, tested alone."""

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import _math
from sedna_lib.exceptions import AggregationError


def test_weighted_average_matches_sedna_numbers():
    out = _math.weighted_average([([[1, 2], [3]], 1), ([[3, 4], [5]], 3)])
    assert [a.tolist() for a in out] == [[2.5, 3.5], [4.5]]


def test_weighted_average_sums_float32_updates_in_float64(rng):
    ups = [([rng.normal(size=(4, 3)).astype("float32")], 2) for _ in range(3)]
    out = _math.weighted_average(ups)
    assert out[0].dtype == np.float64
    np.testing.assert_allclose(out[0], np.mean([u[0][0].astype(np.float64) for u in ups], axis=0), rtol=1e-15)


def test_weighted_average_zero_samples_raises():
    with pytest.raises(AggregationError, match="add up to 0"):
        _math.weighted_average([([np.ones(2)], 0)])


def test_shape_mismatch_names_the_layer():
    with pytest.raises(AggregationError, match=r"layer 1 \('dense/bias'\) has shape \(3,\), expected \(2,\)"):
        _math.check_layers([np.ones((2, 2)), np.ones(3)], [(2, 2), (2,)], ["dense/kernel", "dense/bias"])


def test_layer_count_mismatch_raises():
    with pytest.raises(AggregationError, match="has 1 layers but the model has 2"):
        _math.check_layers([np.ones(2)], [(2,), (3,)])


def test_none_weights_raise_clear_error():
    with pytest.raises(AggregationError, match="a backend returning None"):
        _math.as_layers(None)


def test_accumulate_is_in_place_and_weighted():
    acc = _math.new_accumulator([np.zeros(3)])
    buf = acc[0]
    _math.accumulate(acc, [np.array([1.0, 2.0, 3.0])], 2.0)
    assert acc[0] is buf and acc[0].tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int32"])
def test_start_accumulator_equals_accumulating_into_zeros(rng, dtype):
    layers = [(rng.standard_normal((3, _math._BLOCK // 2 + 7)) * 100).astype(dtype),
              np.arange(4).astype(dtype)]
    zeros = _math.new_accumulator(layers)
    _math.accumulate(zeros, layers, 7.0)

    started = _math.start_accumulator(layers, 7.0)

    for a, b in zip(started, zeros):
        assert a.dtype == np.float64 and a.flags.c_contiguous
        np.testing.assert_array_equal(a, b)


def test_start_accumulator_takes_the_dtype_of_the_template_and_c_order():
    fortran = np.asfortranarray(np.ones((3, 4), "float32"))
    out = _math.start_accumulator([fortran], 2.0, template=[np.zeros((3, 4), "complex64")])
    assert out[0].dtype == np.complex128 and out[0].flags.c_contiguous and (out[0] == 2.0).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_accumulate_adds_each_weighted_update_within_one_rounding_of_the_exact_sum(rng, dtype):
    from fractions import Fraction

    layer = rng.standard_normal(_math._BLOCK + 3).astype(dtype)  # the float32 path spans two blocks
    acc = _math.start_accumulator([rng.standard_normal(layer.size)], 1.0)
    start = acc[0].copy()

    _math.accumulate(acc, [layer], 37.0)

    idx = np.r_[0:50, layer.size - 50:layer.size]  # both ends of the layer, where kernels change
    exact = np.array([float(Fraction(float(s)) + 37 * Fraction(float(x)))
                      for s, x in zip(start[idx], layer[idx])])
    ulp = np.spacing(np.abs(exact))
    assert (np.abs(acc[0][idx] - exact) <= ulp).all()
    if dtype == "float32":  # the float32 product is exact in float64: one rounding, as with numpy's formula
        np.testing.assert_array_equal(acc[0], start + layer.astype(np.float64) * 37.0)


def test_accumulate_adds_into_the_given_arrays_even_when_they_are_views():
    base = np.zeros(10)
    acc = [base[2:8]]
    _math.accumulate(acc, [np.ones(6)], 3.0)
    assert base.tolist() == [0, 0, 3, 3, 3, 3, 3, 3, 0, 0]


def test_accumulate_reads_a_misaligned_wire_buffer_without_a_full_size_copy():
    import tracemalloc

    values = np.arange(300_000, dtype=np.float64)
    raw = b"xyz" + values.tobytes()  # a float64 layer 3 bytes into a received frame: read-only, misaligned
    layer = np.frombuffer(raw, dtype=np.float64, offset=3)
    assert not layer.flags.aligned
    acc = _math.start_accumulator([np.ones(layer.size)], 1.0)
    scratch: dict = {}
    _math.accumulate(acc, [layer], 2.0, scratch)  # imports and the block buffer outside the measurement
    tracemalloc.start()
    _math.accumulate(acc, [layer], 2.0, scratch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(acc[0], 1.0 + 4.0 * values)
    assert peak < layer.nbytes / 4


def test_one_blas_thread_restores_the_thread_counts_and_nests():
    pools = _math._blas_pools()
    before = [p.num_threads for p in pools]
    with _math.one_blas_thread():
        with _math.one_blas_thread():
            assert all(p.num_threads == 1 for p in pools)
        assert all(p.num_threads == 1 for p in pools)
    assert [p.num_threads for p in pools] == before


def test_small_updates_skip_the_blas_thread_limits_and_nesting_skips_them_too():
    small, big = [np.ones((64, 10)), np.ones(10)], [np.ones(10), np.ones(_math._THREADED)]
    assert not _math.blas_may_thread(small) and _math.blas_may_thread(big)
    with _math.one_blas_thread():
        assert not _math.blas_may_thread(big)  # already limited: nothing to set again


def test_fedavgm_step_moves_along_momentum():
    x, avg = [np.array([1.0])], [np.array([0.0])]
    new, v = _math.fedavgm_step(x, avg, None, server_learning_rate=1.0, server_momentum=0.9)
    assert new[0].tolist() == [0.0] and v[0].tolist() == [1.0]
    new2, v2 = _math.fedavgm_step(new, [np.array([-1.0])], v, server_learning_rate=1.0, server_momentum=0.9)
    assert v2[0].tolist() == pytest.approx([1.9]) and new2[0].tolist() == pytest.approx([-1.9])


@pytest.mark.parametrize("variant", ["adagrad", "adam", "yogi"])
def test_fedopt_step_moves_towards_the_average(variant):
    x, avg = [np.zeros(2)], [np.ones(2)]
    new, m, v = _math.fedopt_step(x, avg, None, None, variant=variant, eta=0.1)
    assert np.all(new[0] > 0) and np.all(new[0] <= 1.0 + 1e-9)


def test_fedopt_unknown_variant_raises():
    with pytest.raises(ValueError, match="variant must be"):
        _math.fedopt_step([np.zeros(1)], [np.ones(1)], None, None, variant="sgd")


def test_krum_ignores_an_outlier():
    good = [[np.full(3, 1.0 + 0.01 * i)] for i in range(5)]
    out = _math.krum(good + [[np.full(3, 100.0)]], num_byzantine=1)
    assert np.all(out[0] < 2)


def test_median_and_trimmed_mean_resist_an_outlier():
    ups = [[np.array([v])] for v in (1.0, 2.0, 3.0, 4.0, 1000.0)]
    assert _math.coordinate_median(ups)[0].tolist() == [3.0]
    assert _math.trimmed_mean(ups, beta=0.2)[0].tolist() == [3.0]


def test_trimmed_mean_beta_out_of_range_raises():
    with pytest.raises(AggregationError, match="beta must be in"):
        _math.trimmed_mean([[np.ones(1)]], beta=0.5)


def test_randomized_response_without_budget_is_identity(rng):
    bits = _math.binarize(rng.normal(size=(10, 8)))
    assert np.array_equal(_math.randomized_response(bits, None, rng), bits)


def test_randomized_response_flip_rate_matches_epsilon(rng):
    bits = np.ones((200, 100), dtype=np.uint8)
    p, q = _math.sue_probabilities(1.0)
    kept = _math.randomized_response(bits, 1.0, rng).mean()
    assert kept == pytest.approx(p, abs=0.01) and p + q == pytest.approx(1.0)


def test_flatten_unflatten_round_trip(rng):
    layers = [rng.normal(size=(2, 3)), rng.normal(size=4)]
    back = _math.unflatten(_math.flatten(layers), layers)
    assert all(np.array_equal(a, b) for a, b in zip(layers, back))


def test_accumulate_across_block_boundaries_matches_the_plain_product(rng):
    layer = rng.standard_normal((3, _math._BLOCK // 2 + 7))  # spans two blocks
    acc = _math.new_accumulator([layer])
    scratch: dict = {}

    _math.accumulate(acc, [layer], 3.0, scratch)
    _math.accumulate(acc, [layer.T.copy().T], 2.0, scratch)  # a Fortran-ordered update

    np.testing.assert_array_equal(acc[0], 3.0 * layer + 2.0 * layer)
    assert all(buf.size <= _math._BLOCK for buf in scratch.values())


@pytest.mark.parametrize("n", [4, 5])
def test_coordinate_median_equals_numpy_median_for_even_and_odd_counts(rng, n):
    ups = [[rng.standard_normal((3, 2)), rng.standard_normal(2)] for _ in range(n)]

    out = _math.coordinate_median(ups)

    for i, layer in enumerate(out):
        np.testing.assert_array_equal(layer, np.median([u[i] for u in ups], axis=0))


def _flat(values):
    return np.array([[v] for v in values], dtype=float)


def test_multi_krum_select_keeps_the_central_rows():
    # scores (f=1, n-f-2=3 nearest): the two far rows score highest and are dropped
    points = _flat([0.0, 1.0, 2.0, 3.0, 50.0, -40.0])
    assert sorted(_math.multi_krum_select(points, num_byzantine=1, num_selected=4).tolist()) == [0, 1, 2, 3]


def test_multi_krum_default_keeps_n_minus_f_and_averages_them():
    ups = [[np.array([v, -v])] for v in (1.0, 2.0, 3.0, 4.0, 1000.0)]
    out = _math.multi_krum(ups, num_byzantine=1)  # keeps 4 of 5
    assert out[0].tolist() == [2.5, -2.5]


def test_multi_krum_scores_match_hand_computed_values():
    points = _flat([0.0, 1.0, 3.0, 6.0, 10.0])
    # f=1 -> sum of the 2 smallest squared distances to the others
    # 0: 1, 9 -> 10; 1: 1, 4 -> 5; 3: 4, 9 -> 13; 6: 9, 16 -> 25; 10: 16, 49 -> 65
    assert _math.multi_krum_select(points, num_byzantine=1, num_selected=5).tolist() == [1, 0, 2, 3, 4]


@pytest.mark.parametrize("n, f", [(4, 1), (6, 2)])
def test_multi_krum_needs_2f_plus_3_updates(n, f):
    with pytest.raises(AggregationError, match=r"Multi-Krum with num_byzantine=\d needs at least \d+ upd"):
        _math.multi_krum([[np.ones(2)]] * n, num_byzantine=f)


def test_multi_krum_rejects_a_bad_num_selected():
    with pytest.raises(AggregationError, match=r"num_selected must be in \[1, 5\]"):
        _math.multi_krum([[np.ones(2)]] * 5, num_byzantine=1, num_selected=6)


def test_bulyan_select_picks_n_minus_2f_by_repeated_krum():
    points = _flat([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0])
    # worked by hand (f=1): 3 (tie with 4, lower index), then 4, 2, 5, 1
    assert _math.bulyan_select(points, num_byzantine=1).tolist() == [2, 3, 1, 4, 0]


def test_bulyan_trims_around_the_median_per_coordinate():
    rng = np.random.default_rng(0)
    honest = [[rng.normal(0.0, 0.1, size=(2, 3))] for _ in range(9)]
    byzantine = [[np.full((2, 3), 1e3)], [np.full((2, 3), -1e3)]]
    out = _math.bulyan(honest + byzantine, num_byzantine=2)
    assert out[0].shape == (2, 3) and np.all(np.abs(out[0]) < 0.3)
    # one coordinate attacked alone (a small-norm attack Krum cannot see) is still trimmed
    sneaky = [[np.where(np.arange(6).reshape(2, 3) == 0, 5.0, 0.0)]] * 2
    out = _math.bulyan(honest + sneaky, num_byzantine=2)
    assert abs(out[0][0, 0]) < 0.3


def test_bulyan_of_identical_updates_is_that_update():
    w = [np.arange(6.0).reshape(2, 3), np.array([7.0])]
    out = _math.bulyan([w] * 7, num_byzantine=1)
    assert [a.tolist() for a in out] == [a.tolist() for a in w]


def test_bulyan_needs_4f_plus_3_updates():
    with pytest.raises(AggregationError,
                       match=r"Bulyan with num_byzantine=1 needs at least 7 updates \(n >= 4 f \+ 3\)"):
        _math.bulyan([[np.ones(2)]] * 6, num_byzantine=1)


def test_check_finite_names_the_layer_and_counts_bad_values():
    layers = [np.ones(3, "float32"), np.array([1.0, np.inf, np.nan])]
    with pytest.raises(AggregationError, match=r"update from 'c1': layer 1 \('dense/bias'\) has 2 non-finite"):
        _math.check_finite(layers, ["dense/kernel", "dense/bias"], who="update from 'c1'")


def test_check_finite_accepts_huge_finite_values_whose_squares_overflow():
    _math.check_finite([np.array([3e38, -3e38], "float32"), np.array([1e300, 1e300])])


def test_float32_sums_do_not_overflow_where_the_mean_is_finite():
    acc = _math.new_accumulator([np.zeros(2, "float32")])
    for _ in range(3):
        _math.accumulate(acc, [np.array([3e38, 1.0], "float32")], 2.0)
    assert acc[0].dtype == np.float64 and np.isfinite(acc[0]).all()
