"""A deployed trainer whose shard lacks classes of the global model stops with a DataError before training."""

import warnings

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import DataError
from sedna_lib.servers.aggregation import AggregationServer

pytestmark = pytest.mark.integration


def _fitted(x, y):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(max_iter=20).fit(x, y)


def test_deployed_trainer_refuses_a_shard_without_the_global_models_classes(digits):
    from sedna_lib import collaborative_training

    x, y, _, _ = digits
    global_model = _fitted(x[:300], y[:300])  # knows the ten digits
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=2, participants_count=1,
                               done_grace=1, context=Context(Config()),
                               initial_weights=[global_model.coef_, global_model.intercept_])
    server.start(block=False)
    low = y < 5
    shard = (x[low][:150], y[low][:150])  # digits 0-4 only
    trained = []
    try:
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name="client-0")
        with pytest.raises(DataError, match=r"cannot go on training .* labels without the classes "
                                            r"\[5, 6, 7, 8, 9\] it already knows"):
            collaborative_training.fit(shard, None, _fitted(x[:300], y[:300]), context=Context(cfg),
                                       progress=False, on_round=trained.append)
    finally:
        server.stop()
    assert trained == []  # refused before the first local training, not by the server after it
    assert np.asarray(global_model.coef_).shape == (10, 64)
