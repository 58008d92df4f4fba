"""FedBuff's buffer step and staleness discount, alone."""

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import FedBuff
from sedna_lib.algorithms.aggregation.fedbuff import staleness_weight
from sedna_lib.base import ClientUpdate
from sedna_lib.exceptions import AggregationError, ParameterError
from sedna_lib.testing import check_aggregator


def test_staleness_weight_is_the_papers_polynomial_discount():
    assert [staleness_weight(t) for t in (0, 1, 3, 8)] == [1.0, 2 ** -0.5, 0.5, 1 / 3]
    assert staleness_weight(5, exponent=0.0) == 1.0
    with pytest.raises(AggregationError, match="staleness must be >= 0"):
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
    with pytest.raises(ParameterError, match="buffer_size must be >= 1"):
        FedBuff(buffer_size=0).begin_round(None)
