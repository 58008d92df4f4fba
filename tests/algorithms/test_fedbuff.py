"""FedBuff's buffer step and staleness discount, alone."""

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import FedBuff
from sedna_lib.algorithms.aggregation.fedbuff import staleness_weight
from sedna_lib.backends import set_backend
from sedna_lib.base import ClientUpdate
from sedna_lib.collaborative_training import simulate
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import AggregationError, ParameterError
from sedna_lib.testing import check_aggregator


def test_staleness_weight_is_the_papers_polynomial_discount():
    assert [staleness_weight(t) for t in (0, 1, 3, 8)] == [1.0, 2 ** -0.5, 0.5, 1 / 3]
    assert staleness_weight(5, exponent=0.0) == 1.0
    with pytest.raises(AggregationError, match="staleness must be a finite number >= 0"):
        staleness_weight(-1)


def test_a_buffer_applies_sample_weighted_discounted_changes():
    agg = FedBuff(buffer_size=2, server_learning_rate=0.5)
    agg.begin_round([np.array([1.0, 1.0], dtype=np.float32)])
    agg.add(ClientUpdate([np.array([2.0, 0.0])], 1, "fresh", {"staleness": 0}))
    assert not agg.full
    agg.add(ClientUpdate([np.array([0.0, 4.0])], 3, "stale", {"staleness": 3}))  # weight 3 * 0.5
    assert agg.full
    out = agg.finish()
    # x + lr * (1 * 1 * [2, 0] + 3 * 0.5 * [0, 4]) / (1 + 3)
    np.testing.assert_allclose(out[0], [1.0 + 0.5 * 2 / 4, 1.0 + 0.5 * 6 / 4])
    assert out[0].dtype == np.float32 and agg.mean_staleness_ == 1.5 and agg.total_samples_ == 4


def test_fedbuff_meets_the_contract_and_checks_its_buffer_size():
    check_aggregator(FedBuff())
    assert FedBuff.asynchronous and not FedBuff.linear
    with pytest.raises(ParameterError, match="buffer_size must be a whole number >= 1"):
        FedBuff(buffer_size=0).begin_round(None)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"staleness_exponent": NAN}, "staleness_exponent must be a finite number >= 0, got nan"),
    ({"staleness_exponent": INF}, "staleness_exponent must be a finite number >= 0, got inf"),
    ({"staleness_exponent": -1.0}, "staleness_exponent must be a finite number >= 0, got -1.0"),
    ({"server_learning_rate": NAN}, "server_learning_rate must be a finite number > 0, got nan"),
    ({"server_learning_rate": INF}, "server_learning_rate must be a finite number > 0, got inf"),
    ({"server_learning_rate": 0.0}, "server_learning_rate must be a finite number > 0, got 0.0"),
    ({"server_learning_rate": -0.5}, "server_learning_rate must be a finite number > 0, got -0.5"),
    ({"buffer_size": 2.5}, "buffer_size must be a whole number >= 1, got 2.5"),
    ({"buffer_size": True}, "buffer_size must be a whole number >= 1, got True"),
    ({"buffer_size": 0}, "buffer_size must be a whole number >= 1, got 0"),
])
def test_fedbuff_refuses_a_parameter_out_of_range_when_a_buffer_begins(kwargs, message):
    agg = FedBuff(**kwargs)  # the constructor only stores
    with pytest.raises(ParameterError, match=message):
        agg.begin_round([np.zeros(2)])


def test_fedbuff_parameters_changed_after_construction_are_checked_at_the_next_buffer():
    agg = FedBuff().set_params(staleness_exponent=-1.0)
    with pytest.raises(ParameterError, match="staleness_exponent must be a finite number >= 0, got -1.0"):
        agg.begin_round([np.zeros(2)])


def test_fedbuff_takes_parameters_as_text():
    agg = FedBuff(buffer_size="2", staleness_exponent="0.5", server_learning_rate="1.0")
    agg.begin_round([np.zeros(1)])
    agg.add(ClientUpdate([np.array([3.0])], 1, "stale", {"staleness": 3}))
    agg.add(ClientUpdate([np.array([1.0])], 1, "fresh"))
    assert agg.full and agg.finish()[0].tolist() == [(3.0 * 0.5 + 1.0) / 2]


def test_staleness_weight_never_favours_a_stale_update():
    with pytest.raises(ParameterError, match="staleness_exponent must be a finite number >= 0, got -1.0"):
        staleness_weight(3, exponent=-1.0)
    with pytest.raises(ParameterError, match="staleness_exponent must be a finite number >= 0, got nan"):
        staleness_weight(3, exponent=NAN)
    with pytest.raises(AggregationError, match="staleness must be a finite number >= 0, got nan"):
        staleness_weight(NAN)


def test_fedbuff_refuses_an_update_whose_staleness_is_not_a_number():
    agg = FedBuff(buffer_size=2)
    agg.begin_round([np.zeros(2)])
    for bad in (NAN, INF, "soon"):
        with pytest.raises(AggregationError, match=r"update from 'late' reports staleness .*: a finite "
                           r"number >= 0 of server steps is needed"):
            agg.add(ClientUpdate([np.ones(2)], 1, "late", {"staleness": bad}))
    assert not agg.full


@pytest.mark.parametrize("speeds", [[1.0, NAN], [INF, 1.0], [1.0, 0.0], [-2.0, 1.0], [1.0, True]])
def test_simulate_refuses_a_client_speed_that_is_not_a_finite_positive_number(speeds):
    backend = set_backend(_Constant(), context=Context(Config(backend_type="ESTIMATOR")))
    with pytest.raises(ParameterError, match=r"client_speeds\[\d\] \(simulated seconds per local round\) "
                       r"must be a finite number > 0, got "):
        simulate(backend, [(np.zeros((2, 1)), np.zeros(2))] * 2, FedBuff(buffer_size=1), rounds=1,
                 client_speeds=speeds)


class _Constant:
    """A one-weight model that trains to nothing: the simulation refuses before any training."""

    def __init__(self):
        self.w = np.zeros(1)

    def train(self, train_data, valid_data=None, **kwargs):
        return {}

    def predict(self, data, **kwargs):
        return np.zeros(len(data))

    def get_weights(self):
        return [self.w]

    def set_weights(self, weights):
        self.w = np.asarray(weights[0])


@pytest.mark.integration
def test_the_async_page_example_runs_and_prints_what_the_page_shows(tmp_path):
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "federated-async.md").read_text("utf-8")
    code, shown = re.search(r"^```python\n(.*?)^```\n\n```text\n(.*?)^```", page, re.S | re.M).groups()
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == shown
