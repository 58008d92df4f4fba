"""Every registered aggregator meets the contract; the algorithm-specific behaviours."""

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import FedAvg, FedProx, MistNet
from sedna_lib.algorithms.client_choose import SimpleClientChoose
from sedna_lib.base import AggClient, ClientUpdate
from sedna_lib.exceptions import AggregationError, ParameterError
from sedna_lib.registry import Kind, create, names
from sedna_lib.testing import check_aggregator

EXPECTED = {"FedAvg", "FedAvgM", "FedProx", "FedAdam", "FedYogi", "Krum", "TrimmedMean", "Median", "MistNet",
            "FedAvgV2", "MultiKrum", "Bulyan"}


def test_all_aggregators_are_registered():
    assert EXPECTED <= set(names(Kind.AGGREGATION))


@pytest.mark.parametrize("name", sorted(EXPECTED | {"FedAdagrad"}))
def test_registered_aggregator_meets_the_contract(name):
    # Bulyan's default f=1 needs 4 f + 3 = 7 updates a round
    check_aggregator(create(Kind.AGGREGATION, name), n_clients=7 if name == "Bulyan" else 5)


def test_fedavg_accepts_sedna_aggclients_and_keeps_total_size():
    agg = FedAvg()
    out = agg.aggregate([AggClient(1, [[1, 2], [3]]), AggClient(3, [[3, 4], [5]])])
    assert [a.tolist() for a in out] == [[2.5, 3.5], [4.5]] and agg.total_size == 4 and agg.weights is out


def test_fedavg_empty_round_returns_previous_model():
    agg = FedAvg()
    first = agg.aggregate([AggClient(1, [[1.0]])])
    assert agg.aggregate([]) is first


def test_fedavg_negative_samples_raise():
    agg = FedAvg()
    with pytest.raises(AggregationError, match="num_samples must be a finite count"):
        agg.add(ClientUpdate([np.ones(2)], -1))


def test_fedprox_sends_mu_to_clients():
    assert FedProx(proximal_mu=0.5).client_config() == {"proximal_mu": 0.5}


def test_mistnet_parses_string_epsilon_and_cut_layer_correctly():
    assert MistNet(cut_layer="3", epsilon="0.5").parameters == {"type": "mistnet", "cut_layer": 3,
                                                                "epsilon": 0.5}
    assert MistNet(cut_layer="conv2", epsilon="inf").parameters["epsilon"] is None


@pytest.mark.parametrize("value", [2.5, "2.5", np.float64(1.5)])
def test_mistnet_fractional_cut_layer_is_refused_and_integral_floats_are_indices(value):
    # 2.5 was read as a layer named "2.5", and 2.0 as a layer named "2.0"
    with pytest.raises(ParameterError, match="cut_layer must be a whole layer index"):
        _ = MistNet(cut_layer=value).parameters
    assert MistNet(cut_layer=2.0).parameters["cut_layer"] == 2
    assert MistNet(cut_layer="2.0").parameters["cut_layer"] == 2


def test_mistnet_bad_epsilon_raises():
    with pytest.raises(ParameterError, match="epsilon must be"):
        _ = MistNet(epsilon="-1").parameters


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mistnet_sklearn_head_learns_from_client_features(digits):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    x, y, xt, yt = digits
    extractor = MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=0).fit(x[:300], y[:300])
    agg = MistNet(cut_layer=1, epsilon=None, seed=0).bind_head(LogisticRegression(max_iter=300))
    agg.begin_round()
    for part in np.array_split(np.arange(300, 1400), 3):
        agg.add(agg.client_update(extractor, x[part], y[part]))
    agg.finish()
    feats = agg.encode(__import__("sedna_lib.algorithms.aggregation.mistnet", fromlist=["forward_to"])
                       .forward_to(extractor, xt, 1))
    assert agg.head_.score(feats, yt) > 0.5  # chance is 0.1


def test_simple_client_choose_fraction_with_minimum():
    chooser = SimpleClientChoose(fraction=0.1, min_clients=2, seed=1)
    picked = chooser.choose([f"c{i}" for i in range(10)], round_number=3)
    assert len(picked) == 2 and picked == chooser.choose([f"c{i}" for i in range(10)], round_number=3)


def test_simple_client_choose_bad_fraction_raises():
    with pytest.raises(ParameterError, match=r"fraction must be a finite number in \(0, 1\]"):
        SimpleClientChoose(fraction=2.0).count(5)


@pytest.mark.parametrize("name", ["FedAvg", "FedAvgM", "FedAdam", "Krum", "Median", "TrimmedMean"])
def test_an_update_with_nan_or_inf_is_refused_and_leaves_the_round_intact(name):
    from sedna_lib.base import ClientUpdate
    from sedna_lib.registry import Kind, default_registry

    agg = default_registry.create(Kind.AGGREGATION, name)
    agg.begin_round([np.zeros((2, 2)), np.zeros(2)])
    agg.add(ClientUpdate([np.ones((2, 2)), np.ones(2)], 1, "a"))
    bad = ClientUpdate([np.full((2, 2), 1e300), np.array([1.0, np.nan])], 5, "bad")  # huge first, NaN later
    with pytest.raises(AggregationError, match=r"update from 'bad': layer 1 has 1 non-finite"):
        agg.add(bad)
    agg.add(ClientUpdate([np.full((2, 2), 3.0), np.full(2, 3.0)], 1, "b"))
    if name == "Krum":  # Krum needs n >= 2 f + 3 updates, 3 with f = 0
        agg.add(ClientUpdate([np.full((2, 2), 2.0), np.full(2, 2.0)], 1, "c"))
    out = agg.finish()
    assert all(np.isfinite(w).all() for w in out)
    if name == "FedAvg":
        assert [w.tolist() for w in out] == [[[2.0, 2.0], [2.0, 2.0]], [2.0, 2.0]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_nan_in_the_last_block_of_an_update_leaves_the_running_sum_exactly_as_before(dtype, sum_path):
    from sedna_lib.algorithms.aggregation import _math

    size = 2 * _math._BLOCK + 5  # three blocks: the NaN is in the last, huge finite values in the first
    agg = FedAvg()
    agg.begin_round(None)
    agg.add(ClientUpdate([np.ones(size, dtype), np.ones(3, dtype)], 1, "a"))
    before = [a.copy() for a in agg._acc]
    bad = np.full(size, 3e38 if dtype == "float32" else 1e300, dtype)
    bad[-1] = np.nan
    with pytest.raises(AggregationError, match=r"update from 'bad': layer 0 has 1 non-finite"):
        agg.add(ClientUpdate([bad, np.full(3, 1e30, dtype)], 5, "bad"))
    # bit for bit: subtracting the huge first blocks back out would leave 0 where 1 was
    assert all(np.array_equal(a.view(np.int64), b.view(np.int64)) for a, b in zip(agg._acc, before))
    agg.add(ClientUpdate([np.full(size, 3.0, dtype), np.full(3, 3.0, dtype)], 1, "b"))
    out = agg.finish()
    assert out[0].dtype == np.dtype(dtype) and (out[0] == 2.0).all() and (out[1] == 2.0).all()


def test_fedavg_sums_float32_in_float64_and_keeps_float32():
    from sedna_lib.algorithms.aggregation import FedAvg
    from sedna_lib.base import ClientUpdate

    agg = FedAvg()
    agg.begin_round(None)
    for cid in ("a", "b", "c"):  # a float32 running sum would overflow to inf on the second add
        agg.add(ClientUpdate([np.array([3e38, 1.0 + 2 ** -23], "float32")], 2, cid))
    out = agg.finish()
    assert out[0].dtype == np.float32 and out[0].tolist() == [np.float32(3e38), np.float32(1.0 + 2 ** -23)]


def test_fedavg_of_float32_and_float64_peers_is_float64_whatever_arrives_first():
    from sedna_lib.algorithms.aggregation import FedAvg
    from sedna_lib.base import ClientUpdate

    f32 = ClientUpdate([np.array([0.1, 0.7], "float32")], 3, "binary")
    f64 = ClientUpdate([[0.3, 0.9]], 1, "json")  # what Sedna's JSON carries
    expected = (np.array([0.1, 0.7], "float32").astype(np.float64) * 3 + np.array([0.3, 0.9])) / 4
    for order in ((f32, f64), (f64, f32)):
        agg = FedAvg()
        agg.begin_round(None)
        for u in order:
            agg.add(u)
        out = agg.finish()
        assert out[0].dtype == np.float64
        np.testing.assert_array_equal(out[0], expected)


def _fold_one_by_one(cls, updates, template=None):
    agg = cls()
    if template is not None:
        agg.global_weights_ = template
    agg.begin_round(template)
    for u in updates:
        agg.add(u)
    return agg.finish()


def _bits(a):
    return a.dtype, a.shape, a.tobytes()


@pytest.mark.parametrize("name", ["FedAvg", "FedAvgM", "FedAdam"])
@pytest.mark.parametrize("dtypes", [("float64",), ("float32",), ("float32", "float64"),
                                    ("float16", "float32")])
def test_aggregate_of_a_whole_round_equals_adding_the_updates_one_by_one_bit_for_bit(name, dtypes, sum_path):
    from sedna_lib.algorithms.aggregation import _math
    from sedna_lib.registry import default_registry

    rng = np.random.default_rng(7)
    shapes = [(2 * _math._MEAN_BLOCK + 17,), (_math._BLOCK + 333,), (129, 7), (3,), (0,)]
    updates = [ClientUpdate([(rng.standard_normal(s) * 10).astype(dtypes[k % len(dtypes)]) for s in shapes],
                            int(rng.integers(1, 1000)), f"c{k}") for k in range(5)]
    template = [np.zeros(s, dtypes[0]) for s in shapes]
    one_by_one = default_registry.create(Kind.AGGREGATION, name)
    one_by_one.global_weights_ = template
    one_by_one.begin_round(template)
    for u in updates:
        one_by_one.add(u)
    expected = one_by_one.finish()
    agg = default_registry.create(Kind.AGGREGATION, name)
    agg.global_weights_ = template
    out = agg.aggregate(updates)
    assert [_bits(a) for a in out] == [_bits(b) for b in expected]
    assert agg.total_samples_ == one_by_one.total_samples_ and agg.global_weights_ is out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_aggregate_refuses_a_nan_in_the_last_block_by_name_as_add_does(dtype, sum_path):
    from sedna_lib.algorithms.aggregation import _math

    size = 2 * _math._MEAN_BLOCK + 5  # three blocks: huge finite values in the first, the NaN in the last
    bad = np.full(size, 3e38 if dtype == "float32" else 1e300, dtype)
    bad[-1] = np.nan
    updates = [ClientUpdate([np.ones(size, dtype)], 1, "a"), ClientUpdate([bad], 5, "bad"),
               ClientUpdate([np.full(size, np.inf, dtype)], 1, "later")]
    with pytest.raises(AggregationError, match=r"update from 'bad': layer 0 has 1 non-finite"):
        FedAvg().aggregate(updates)
    # without the bad ones, the same numbers as folding the good ones in one by one
    good = [updates[0], ClientUpdate([np.full(size, 3.0, dtype)], 1, "b")]
    assert [_bits(a) for a in FedAvg().aggregate(good)] == [_bits(b) for b in _fold_one_by_one(FedAvg, good)]


@pytest.mark.parametrize("size", [4, 3 * (1 << 17) + 5])  # one block; a layer the compiled loops take
def test_aggregate_refuses_an_overflow_of_finite_updates_as_add_does(size, sum_path):
    finite = np.full(size, 1.0)
    finite[-size // 3:] = 1.5e308  # only the last blocks overflow
    updates = [ClientUpdate([finite], 1, "a"), ClientUpdate([finite.copy()], 1, "b")]
    for run in (lambda: FedAvg().aggregate(updates), lambda: _fold_one_by_one(FedAvg, updates)):
        with pytest.raises(AggregationError, match=r"layer 0 of the round's result is not finite"):
            run()


def test_aggregate_of_float32_updates_holds_one_model_copy_beside_the_result(sum_path):
    import tracemalloc

    updates = [ClientUpdate([np.full(600_000, float(k), "float32")], k + 1, f"c{k}") for k in range(4)]
    model_bytes = updates[0].weights[0].nbytes
    agg = FedAvg()
    agg.aggregate(updates)  # first use: imports, block buffers
    tracemalloc.start()
    try:
        out = agg.aggregate(updates)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the running sum holds a float64 sum (2 copies) and the float32 result; the blocks, the result
    assert peak < 1.5 * model_bytes and out[0].dtype == np.float32
    assert out[0][0] == np.float32((0 * 1 + 1 * 2 + 2 * 3 + 3 * 4) / 10)


@pytest.mark.parametrize("make, match", [
    (lambda a: a.Krum(num_byzantine=-1), "num_byzantine must be a whole number >= 0"),
    (lambda a: a.Krum(num_byzantine=1.5), "num_byzantine must be a whole number >= 0"),
    (lambda a: a.Krum(num_selected=0), "num_selected must be a whole number >= 1"),
    (lambda a: a.MultiKrum(num_selected=2.5), "num_selected must be a whole number >= 1"),
    (lambda a: a.MultiKrum(num_byzantine=True), "num_byzantine must be a whole number >= 0"),
    (lambda a: a.Bulyan(num_byzantine=float("nan")), "num_byzantine must be a whole number >= 0"),
    (lambda a: a.TrimmedMean(beta=float("nan")), r"beta must be a finite number in \[0, 0.5\)"),
    (lambda a: a.TrimmedMean(beta=0.5), r"beta must be a finite number in \[0, 0.5\)"),
])
def test_robust_aggregators_refuse_bad_parameters_when_a_round_begins(make, match):
    # a fraction of an adversary was truncated (1.5 -> 1) and a bad value surfaced only when the round
    # ended, after every client had trained; now the round's start, before any training, refuses it
    import sedna_lib.algorithms.aggregation as agg

    aggregator = make(agg)  # constructors only store
    with pytest.raises(ParameterError, match=match):
        aggregator.begin_round([np.zeros(2)])


def test_robust_aggregators_take_whole_numbers_as_a_control_plane_writes_them():
    import sedna_lib.algorithms.aggregation as agg

    rng = np.random.default_rng(0)
    updates = [ClientUpdate([rng.normal(size=3)], 1) for _ in range(7)]
    a, b = agg.MultiKrum(num_byzantine="1", num_selected=4.0), agg.MultiKrum(num_byzantine=1, num_selected=4)
    assert np.array_equal(a.aggregate(updates)[0], b.aggregate(updates)[0])


def test_a_robust_parameter_set_during_a_round_is_checked_and_used_when_it_ends():
    import sedna_lib.algorithms.aggregation as agg

    updates = [ClientUpdate([np.array([float(v)])], 1) for v in (0, 1, 2, 3, 100)]
    trimmed = agg.TrimmedMean(beta=0.0)
    trimmed.begin_round(None)
    for update in updates:
        trimmed.add(update)
    trimmed.set_params(beta=0.2)  # the value the round ends with is the one combined
    assert trimmed.finish()[0].tolist() == [2.0]
    trimmed.begin_round(None)
    trimmed.add(updates[0])
    trimmed.set_params(beta=0.5)
    with pytest.raises(ParameterError, match=r"beta must be a finite number in \[0, 0.5\)"):
        trimmed.finish()
