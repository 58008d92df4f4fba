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
    assert MistNet(cut_layer="3", epsilon="0.5").parameters == {"type": "mistnet", "cut_layer": 3, "epsilon": 0.5}
    assert MistNet(cut_layer="conv2", epsilon="inf").parameters["epsilon"] is None


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
    with pytest.raises(ParameterError, match="fraction must be in"):
        SimpleClientChoose(fraction=2.0).count(5)
