"""solar_corona's ``load_model``: what the edge model returns, batches, labels and the arguments it checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import sedna_lib
from sedna_lib.algorithms import hard_example_mining as h
from sedna_lib.base import HardExampleMiner
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, DataError, NotRegisteredError
from sedna_lib.joint_inference import BigModelService

OFFLINE = "http://127.0.0.1:9/s"  # nothing listens on port 9: a hard sample is queued


def ctx() -> Context:
    return Context(Config(lc_server="http://127.0.0.1:9"))


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    edge = LogisticRegression().fit(x, y)
    cloud = LogisticRegression().fit(x, 1 - y)  # answers the opposite label: its answers can be told apart
    # rows 0 and 2 are far from the boundary (easy for Margin), rows 1 and 3 on it (hard)
    batch = np.array([[-4.0, 0.0], [0.01, 0.0], [4.0, 0.0], [-0.01, 0.0]])
    return edge, cloud, batch


@pytest.fixture(scope="module")
def cloud_url(models):
    _, cloud, _ = models
    with BigModelService(cloud, context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        yield service.url + "/ji-svc"


def load(model, miner, endpoint, tmp_path, **kwargs):
    return sedna_lib.load_model(model, cloud_offload_algorithm=miner, big_model_endpoint=endpoint,
                                context=ctx(), offload_dir=str(tmp_path / "queue"), report=False, **kwargs)


class BadShape:
    """A classifier whose predict_proba answers one row whatever it is given."""

    classes_ = np.arange(3)

    def predict(self, x):
        return np.zeros(len(x), int)

    def predict_proba(self, x):
        return np.full((1, 3), 1 / 3)


def test_an_edge_model_answering_fewer_rows_than_samples_is_a_data_error(tmp_path):
    x = np.random.default_rng(1).normal(size=(4, 3))
    with load(BadShape(), h.EdgeOnlyFilter(), OFFLINE, tmp_path) as model:
        with pytest.raises(DataError, match="returned 1 row for 4 samples"):
            model.predict(x)
        assert model.predict(x[0]) == 0  # one sample, one row: fine


class TwoRows(BadShape):
    def predict_proba(self, x):
        return np.full((2, 3), 1 / 3)


def test_an_edge_model_answering_two_rows_for_one_sample_is_a_data_error(tmp_path):
    with load(TwoRows(), h.EdgeOnlyFilter(), OFFLINE, tmp_path) as model:
        with pytest.raises(DataError, match="returned 2 rows for 1 sample:"):
            model.predict(np.zeros(3))


def test_a_batch_is_routed_per_sample_and_merged_in_order(models, cloud_url, tmp_path):
    edge, cloud, batch = models
    with load(edge, h.MarginFilter(threshold_margin=0.2), cloud_url, tmp_path) as model:
        details = model.predict_details(batch)
        assert details.is_hard.tolist() == [False, True, False, True]
        expected = edge.predict(batch)
        expected[[1, 3]] = cloud.predict(batch[[1, 3]])
        assert details.result.tolist() == expected.tolist()
        assert details.edge.shape == (4, 2)
        assert details.cloud[0] is None and details.cloud[2] is None
        assert [details.cloud[1], details.cloud[3]] == cloud.predict(batch[[1, 3]]).tolist()
        assert model.predict(batch).tolist() == expected.tolist()
        stats = model.stats
        assert (stats["inferences"], stats["hard"], stats["cloud_ok"]) == (8, 4, 4)
        # one sample still gives one label and one decision
        one = model.predict_details(batch[1])
        assert one.is_hard is True and one.result == cloud.predict(batch[1:2])[0]
        assert model.predict(batch[0]) == edge.predict(batch[:1])[0]


def test_only_the_hard_rows_of_a_batch_are_kept_for_an_absent_cloud(models, tmp_path):
    edge, _, batch = models
    with load(edge, h.MarginFilter(threshold_margin=0.2), OFFLINE, tmp_path) as model:
        details = model.predict_details(batch)
        assert details.is_hard.tolist() == [False, True, False, True] and details.cloud is None
        assert details.result.tolist() == edge.predict(batch).tolist()  # the edge answers every row
        assert model.joint.pending_offloads == 2
        kept = sorted(np.asarray(item.data).ravel().tolist() for item in model.joint.queue.due(limit=10))
        assert kept == sorted(batch[[1, 3]].ravel().reshape(2, 2).tolist())


def test_an_all_easy_batch_never_asks_the_cloud(models, tmp_path):
    edge, _, batch = models
    with load(edge, h.EdgeOnlyFilter(), OFFLINE, tmp_path) as model:
        details = model.predict_details(batch)
        assert details.is_hard.tolist() == [False] * 4 and details.cloud is None
        assert details.result.tolist() == edge.predict(batch).tolist()
        assert model.stats["inferences"] == 4 and model.joint.pending_offloads == 0


class NoClasses:
    """A predict_proba model without ``classes_`` (a hand-written wrapper)."""

    def __init__(self, model):
        self.model = model

    def predict_proba(self, x):
        return self.model.predict_proba(x)


def test_a_model_without_classes_answers_labels_not_probabilities(models, tmp_path):
    edge, _, batch = models
    with load(NoClasses(edge), h.EdgeOnlyFilter(), OFFLINE, tmp_path) as model:
        labels = model.predict(batch)
        assert labels.ndim == 1 and labels.tolist() == edge.predict(batch).tolist()
        one = model.predict(batch[2])
        assert isinstance(one, int) and one == 1


@pytest.mark.parametrize("endpoint", ["ftp://x", "", "http://"])
def test_load_model_refuses_a_bad_endpoint_at_once(models, endpoint, tmp_path):
    edge, _, _ = models
    with pytest.raises(ConfigError, match="big_model_endpoint must be an http"):
        load(edge, h.EdgeOnlyFilter(), endpoint, tmp_path)


def test_load_model_refuses_an_unknown_miner_at_once(models, tmp_path):
    edge, _, _ = models
    with pytest.raises(NotRegisteredError, match="NoSuchMiner"):
        load(edge, "NoSuchMiner", OFFLINE, tmp_path)
    with pytest.raises(NotRegisteredError, match="NoSuchMiner"):
        load(edge, {"method": "NoSuchMiner"}, OFFLINE, tmp_path)


class NearBoundary(HardExampleMiner):
    """Reads the raw input (mining-then-inference): a row near x0 = 0 is hard."""

    def is_hard(self, batch):
        return np.abs(np.asarray(batch, dtype=float)[:, 0]) < 1


def test_mining_then_inference_routes_a_batch_per_sample(models, cloud_url, tmp_path):
    edge, cloud, batch = models
    context = Context(Config(lc_server="http://127.0.0.1:9", mining_mode="mining-then-inference"))
    with sedna_lib.load_model(edge, cloud_offload_algorithm=NearBoundary(), big_model_endpoint=cloud_url,
                              context=context, offload_dir=str(tmp_path / "q"), report=False) as model:
        details = model.predict_details(batch)
        assert details.is_hard.tolist() == [False, True, False, True]
        expected = edge.predict(batch)
        expected[[1, 3]] = cloud.predict(batch[[1, 3]])
        assert details.result.tolist() == expected.tolist()
        # the edge model ran on the easy rows only
        assert np.isnan(details.edge[[1, 3]]).all() and not np.isnan(details.edge[[0, 2]]).any()
