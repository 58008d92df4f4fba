"""The compiled weighted sums (numba, the `fast` extra): the numbers they give and when they are used."""

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import FedAvg, _kernels
from sedna_lib.base import ClientUpdate

numba = pytest.importorskip("numba")


def _two_step(layers, weights, total):
    """The defined per-element steps in numpy: widen, multiply, add in update order, divide (each rounded once)."""
    acc = layers[0].astype(np.float64) * weights[0]
    for x, w in zip(layers[1:], weights[1:]):
        acc = acc + x.astype(np.float64) * w
    return acc / total


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 9, 11])  # each group size of the loops, and their remainders
def test_weighted_sum_gives_the_two_step_numbers_bit_for_bit(dtype, k):
    rng = np.random.default_rng(k)
    size = 3 * (_kernels._CHUNK_BYTES // np.dtype(dtype).itemsize) + 7  # several blocks and a short last one
    layers = [(rng.standard_normal(size) * 10).astype(dtype) for _ in range(k)]
    weights = rng.integers(1, 5000, k).astype(np.float64) / 7.0  # not exact in binary: rounding shows
    for out_dtype in (dtype, "float64"):
        out = np.empty(size, out_dtype)
        assert _kernels.weighted_sum(layers, weights, float(weights.sum()), out, {})
        expected = _two_step(layers, weights, weights.sum()).astype(out_dtype)
        assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fold_gives_the_two_step_numbers_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    x, y = (rng.standard_normal(_kernels.MIN_SIZE + 3).astype(dtype) for _ in range(2))
    acc = x.astype(np.float64) * 3.1
    _kernels.fold(acc, y, 0.7)
    assert acc.tobytes() == (x.astype(np.float64) * 3.1 + y.astype(np.float64) * 0.7).tobytes()


@pytest.mark.parametrize("k", [2, 6])  # the block's sums checked alone (finish) or in the last pass (end*)
@pytest.mark.parametrize("bad_at", [0, -1])  # a NaN in the first group of updates or in the last
def test_weighted_sum_reports_a_nan_and_an_overflow(k, bad_at):
    size = 2 * (_kernels._CHUNK_BYTES // 8) + 1
    finite = np.full(size, 1e308)
    out = np.empty(size)
    # the sum overflows before the division, as the running sum does: reported, the caller names the layer
    assert not _kernels.weighted_sum([finite] * k, [1.0] * k, 2.0, out, {})
    assert _kernels.weighted_sum([np.ones(size)] * k, [1.0] * k, 2.0, out, {})
    bad = finite.copy()
    bad[-1] = np.nan
    layers = [finite] * k
    layers[bad_at] = bad
    assert not _kernels.weighted_sum(layers, [1.0] * k, 2.0, out, {})


def test_which_layers_take_the_compiled_loops():
    big, bias = _kernels.MIN_SIZE - 3, np.ones(3)
    assert _kernels.update_size([np.ones(big), bias]) == _kernels.MIN_SIZE
    assert _kernels.takes(bias, _kernels.MIN_SIZE) and _kernels.takes(bias.astype(np.float32), _kernels.MIN_SIZE)
    assert not _kernels.takes(bias, _kernels.MIN_SIZE - 1)  # a small model: the numpy path, numba never imported
    assert not _kernels.takes(bias.astype(np.float16), big) and not _kernels.takes(bias.astype(np.int64), big)
    assert not _kernels.takes(np.ones((2, 8))[:, ::2], _kernels.MIN_SIZE)  # not contiguous
    with _kernels.disabled():
        assert not _kernels.takes(bias, _kernels.MIN_SIZE)
    assert _kernels.takes(bias, _kernels.MIN_SIZE)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_large_updates_small_layers_sum_the_same_bits_at_once_and_one_by_one(dtype):
    rng = np.random.default_rng(5)
    shapes = [(_kernels.MIN_SIZE,), (7,), (3, 2), ()]  # a bias, a small matrix, a scalar: all compiled
    updates = [ClientUpdate([rng.standard_normal(s).astype(dtype) for s in shapes], int(n), f"c{n}")
               for n in rng.integers(1, 500, 6)]
    at_once = FedAvg().aggregate(updates)
    running = FedAvg()
    running.begin_round(None)
    for u in updates:
        running.add(u)
    for a, b, s in zip(at_once, running.finish(), shapes):
        assert a.shape == b.shape == s and a.dtype == b.dtype == np.dtype(dtype)
        assert a.tobytes() == b.tobytes()
    total = float(sum(u.num_samples for u in updates))
    small = _two_step([u.weights[1] for u in updates], [float(u.num_samples) for u in updates], total)
    assert at_once[1].tobytes() == small.astype(dtype).tobytes()  # the compiled loops' steps, not axpy's


def test_fedavg_rounds_agree_with_and_without_the_compiled_loops_to_rounding():
    rng = np.random.default_rng(11)
    updates = [ClientUpdate([rng.standard_normal(_kernels.MIN_SIZE * 2).astype("float32"), rng.standard_normal(3)],
                            int(n), f"c{n}") for n in (5, 9, 13)]
    compiled = FedAvg().aggregate(updates)
    with _kernels.disabled():
        plain = FedAvg().aggregate(updates)
    for a, b in zip(compiled, plain):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_small_layers_and_import_leave_numba_unimported():
    import subprocess
    import sys

    code = ("import sys, numpy as np\nfrom sedna_lib.algorithms.aggregation import FedAvg\n"
            "from sedna_lib.base import ClientUpdate\n"
            "FedAvg().aggregate([ClientUpdate([np.ones(100, 'float32')], 2), ClientUpdate([np.ones(100)], 1)])\n"
            "print('numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
