"""Edge inputs at the aggregators' public API: bad parameters, overflows, huge sample counts, odd weights."""

import numpy as np
import pytest

import sedna_lib.algorithms.aggregation as ag
from sedna_lib.base import AggClient, ClientUpdate
from sedna_lib.exceptions import AggregationError, ParameterError

FEDOPT = [ag.FedAdam, ag.FedYogi, ag.FedAdagrad]


@pytest.mark.parametrize("make, match", [
    *[(lambda c=c: c(tau=0.0), r"tau must be a finite number > 0, got 0.0") for c in FEDOPT],
    *[(lambda c=c: c(tau=float("nan")), r"tau must be a finite number > 0") for c in FEDOPT],
    *[(lambda c=c: c(eta=-1), r"eta must be a finite number > 0, got -1") for c in FEDOPT],
    *[(lambda c=c: c(eta=float("inf")), r"eta must be a finite number > 0") for c in FEDOPT],
    *[(lambda c=c: c(beta_1=1.0), r"beta_1 must be a finite number in \[0, 1\), got 1.0") for c in FEDOPT],
    *[(lambda c=c: c(beta_1=-0.1), r"beta_1 must be a finite number in \[0, 1\)") for c in FEDOPT],
    (lambda: ag.FedAdam(beta_2=2.0), r"beta_2 must be a finite number in \[0, 1\), got 2.0"),
    (lambda: ag.FedYogi(beta_2=float("nan")), r"beta_2 must be a finite number in \[0, 1\)"),
    (lambda: ag.FedAvgM(server_learning_rate=float("inf")),
     r"server_learning_rate must be a finite number > 0"),
    (lambda: ag.FedAvgM(server_learning_rate=0), r"server_learning_rate must be a finite number > 0"),
    (lambda: ag.FedAvgM(server_momentum=-5), r"server_momentum must be a finite number in \[0, 1\), got -5"),
    (lambda: ag.FedAvgM(server_momentum=1.0), r"server_momentum must be a finite number in \[0, 1\)"),
    (lambda: ag.FedProx(proximal_mu=float("nan")), r"proximal_mu must be a finite number >= 0, got nan"),
    (lambda: ag.FedProx(proximal_mu=-0.1), r"proximal_mu must be a finite number >= 0"),
])
def test_server_optimisers_refuse_bad_parameters_before_any_client_trains(make, match):
    aggregator = make()  # constructors only store
    with pytest.raises(ParameterError, match=match):
        aggregator.begin_round([np.zeros(2)])
    with pytest.raises(ParameterError, match=match):
        make().aggregate([AggClient(1, [[1.0, 2.0]])])


def test_fedadam_with_tau_0_no_longer_returns_nan_a_round_later():
    a = ag.FedAdam(tau=0.0)
    with pytest.raises(ParameterError, match="tau must be"):
        a.aggregate([AggClient(1, [[1.0, 2.0]])])


def test_a_parameter_set_during_a_round_is_checked_when_the_server_steps():
    a = ag.FedAvgM()
    a.aggregate([AggClient(1, [[1.0, 2.0]])])
    a.begin_round(a.global_weights_)
    a.add(AggClient(1, [[1.0, 3.0]]))
    a.set_params(server_momentum=1.5)
    with pytest.raises(ParameterError, match=r"server_momentum must be a finite number in \[0, 1\)"):
        a.finish()


def test_fedprox_checks_mu_before_sending_it_to_clients():
    with pytest.raises(ParameterError, match="proximal_mu must be a finite number >= 0"):
        ag.FedProx(proximal_mu=float("nan")).client_config()
    assert ag.FedProx(proximal_mu="0.5").client_config() == {"proximal_mu": 0.5}


@pytest.mark.parametrize("make", [lambda: ag.FedAdam(beta_1=0.0, beta_2=0.0, tau=1e-9),
                                  lambda: ag.FedAvgM(server_momentum=0.0, server_learning_rate=0.5),
                                  lambda: ag.FedProx(proximal_mu=0)])
def test_the_edges_of_the_valid_ranges_are_accepted(make):
    a = make()
    a.aggregate([AggClient(1, [[1.0, 2.0]])])
    assert np.isfinite(a.aggregate([AggClient(1, [[1.0, 3.0]])])[0]).all()


@pytest.mark.parametrize("size", [1, 3 * (1 << 17) + 5])  # one block; a layer the compiled loops take
@pytest.mark.parametrize("how", ["aggregate", "add"])
def test_an_overflowing_average_of_finite_updates_is_refused_naming_the_layer(size, how, sum_path):
    huge = np.full(size, 1.0)
    huge[-1] = 1.7e308
    updates = [ClientUpdate([np.ones(2), huge], 1, "a"), ClientUpdate([np.ones(2), huge.copy()], 1, "b")]
    agg = ag.FedAvg()
    with pytest.raises(AggregationError, match=r"layer 1 .*not finite.*overflow"):
        if how == "aggregate":
            agg.aggregate(updates)
        else:
            agg.begin_round(None)
            for u in updates:
                agg.add(u)
            agg.finish()
    assert getattr(agg, "global_weights_", None) is None


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_the_fuzzer_overflow_case_and_a_server_step_overflow_are_refused():
    with pytest.raises(AggregationError, match="layer 0"):
        ag.FedAvg().aggregate([AggClient(1, [[1.7e308]]), AggClient(1, [[1.7e308]])])
    m = ag.FedAvgM(server_learning_rate=1e308)
    m.aggregate([AggClient(1, [[0.0]])])
    with pytest.raises(AggregationError, match="layer 0"):
        m.aggregate([AggClient(1, [[10.0]])])


@pytest.mark.parametrize("make", [ag.FedAvg, ag.FedAdam, ag.Median, lambda: ag.FedBuff(buffer_size=2)])
@pytest.mark.parametrize("counts", [(1e308, 1e308), (10 ** 400, 1)])
def test_huge_sample_counts_are_refused_naming_the_client(make, counts):
    updates = [ClientUpdate([np.array([1.0])], counts[0], "a"),
               ClientUpdate([np.array([3.0])], counts[1], "b")]
    with pytest.raises(AggregationError, match=r"update from '[ab]'.*(num_samples|sample count)"):
        make().aggregate(updates)


def test_the_fuzzer_sample_count_cases_raise_aggregation_errors():
    with pytest.raises(AggregationError, match="too large"):
        ag.FedAvg().aggregate([AggClient(1e308, [[1.]]), AggClient(1e308, [[3.]])])
    with pytest.raises(AggregationError, match="too large"):
        ag.FedAvg().aggregate([AggClient(10 ** 400, [[1.]])])


def test_krum_needs_2f_plus_3_updates_as_multi_krum_does():
    with pytest.raises(AggregationError, match=r"Krum with num_byzantine=1 needs at least 5 updates"):
        ag.Krum(num_byzantine=1).aggregate([AggClient(1, [[1.0]]), AggClient(1, [[3.0]])])
    with pytest.raises(AggregationError, match=r"num_selected must be in \[1, 3\] for 3 updates, got 5"):
        ag.Krum(num_selected=5).aggregate([AggClient(1, [[float(v)]]) for v in range(3)])
    out = ag.Krum(num_byzantine=1).aggregate([AggClient(1, [[v]]) for v in (1.0, 1.1, 1.2, 0.9, 50.0)])
    assert out[0].tolist() == [1.0]


@pytest.mark.parametrize("weights, match", [
    ([None], r"layer 0 is None, not an array of numbers"),
    ([np.ones(2), None], r"layer 1 is None, not an array of numbers"),
    (["1.5"], r"layer 0 is a str, not an array of numbers"),
    ({"w": [1.0]}, r"weights must be a list of layer arrays.*got dict"),
    ("abc", r"weights must be a list of layer arrays.*got str"),
    (3.0, r"weights must be a list of layer arrays.*got float"),
    (np.array([1.0, 2.0]),
     r"weights must be a list of layer arrays, got one numpy array of shape \(2,\)"),
    ([np.ma.masked_array([1.0, 2.0], mask=[False, True])], r"layer 0 is a numpy masked array"),
])
@pytest.mark.parametrize("name", ["FedAvg", "Median"])
def test_weights_that_are_not_a_list_of_layer_arrays_are_refused_clearly(weights, match, name):
    good = AggClient(1, [np.ones(2)] if not isinstance(weights, list) or len(weights) == 1 else
                     [np.ones(2), np.ones(2)])
    with pytest.raises(AggregationError, match=match):
        getattr(ag, name)().aggregate([good, AggClient(1, weights)])


def test_none_weights_still_say_a_backend_returning_none_cannot_be_federated():
    with pytest.raises(AggregationError, match="weights is None.*a backend returning None cannot be"):
        ag.FedAvg().aggregate([AggClient(1, None)])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("make, n", [(lambda: ag.Krum(num_selected=3), 3),
                                     (lambda: ag.MultiKrum(num_byzantine=0), 3),
                                     (lambda: ag.Bulyan(num_byzantine=0), 3),
                                     (lambda: ag.Median(), 2), (lambda: ag.TrimmedMean(beta=0.0), 2)])
def test_an_overflowing_robust_mean_of_finite_updates_is_refused_naming_the_layer(make, n):
    agg = make()
    with pytest.raises(AggregationError, match=r"layer 1 .*not finite.*overflow"):
        agg.aggregate([AggClient(1, [np.ones(2), np.array([1.7e308])]) for _ in range(n)])
    assert getattr(agg, "global_weights_", None) is None


@pytest.mark.parametrize("weights, where", [([[1.0, None]], "layer 0"), ([[1.0], [[2.0, None]]], "layer 1")])
def test_a_none_inside_a_nested_list_layer_is_named_not_called_non_finite(weights, where):
    good = AggClient(1, [[1.0, 2.0]] if len(weights) == 1 else [[1.0], [[2.0, 3.0]]])
    for make in (ag.FedAvg, ag.Median):
        with pytest.raises(AggregationError, match=where + r" holds a None.*not an array of numbers"):
            make().aggregate([good, AggClient(1, weights)])
    nan = [[1.0, float("nan")]] if len(weights) == 1 else [[1.0], [[2.0, float("nan")]]]
    with pytest.raises(AggregationError, match="non-finite"):  # a real NaN is still non-finite
        ag.FedAvg().aggregate([good, AggClient(1, nan)])


class _UserMean(ag.BaseAggregation):
    def aggregate(self, clients):
        self.total_size = sum(c.num_samples for c in clients)
        return ag._math.weighted_average([(c.weights, c.num_samples) for c in clients])


@pytest.mark.parametrize("counts", [(1e308, 1e308), (10 ** 400, 1), (float("nan"), 1), (-1, 1), ("x", 1)])
def test_a_user_written_aggregation_refuses_bad_sample_counts_naming_the_client(counts):
    updates = [ClientUpdate([np.array([1.0])], counts[0], "a"),
               ClientUpdate([np.array([3.0])], counts[1], "b")]
    agg = _UserMean()  # as the server runs it: the round's updates are added, then finish() aggregates
    agg.begin_round(None)
    with pytest.raises(AggregationError, match=r"update from '[ab]'.*num_samples"):
        for u in updates:
            agg.add(u)
        agg.finish()
    agg.begin_round(None)
    for u in (AggClient(1, [[1.0]]), AggClient(3, [[3.0]])):
        agg.add(u)
    assert agg.finish()[0].tolist() == [2.5] and agg.total_samples_ == 4


@pytest.mark.parametrize("weights", [np.ones((2, 3)), np.ones((2, 2, 2)), np.ones((1, 3), dtype=np.float32)])
@pytest.mark.parametrize("name", ["FedAvg", "Median"])
def test_a_numpy_array_of_any_ndim_as_the_whole_weights_is_refused(weights, name):
    with pytest.raises(AggregationError, match=r"weights must be a list of layer arrays, got one numpy array "
                                               r"of shape \(" + ", ".join(map(str, weights.shape))):
        getattr(ag, name)().aggregate([AggClient(1, weights), AggClient(1, weights)])
