"""A federated trainer as the original: it fine-tunes from MODEL_URL/MODEL_NAME and reports round starts."""

from __future__ import annotations

import datetime
import importlib.util
import time

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.federated_learning import FederatedLearning
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.aggregation import AggregationServer

pytestmark = pytest.mark.integration


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class KerasStyleEstimator:
    """The shape of Sedna's Keras example estimator: weights as lists, ``load_weights``, ``save``."""

    def __init__(self):
        self.weights = [np.zeros((2, 2)), np.zeros(2)]
        self.loaded_from = None
        self.train_starts = []

    def train(self, train_data, valid_data=None, **kwargs):
        self.train_starts.append(_stamp())
        self.weights = [w + 1.0 for w in self.weights]
        if len(self.train_starts) == 1:  # round 1 ends just after a second boundary: round 2 starts later
            while _stamp() == self.train_starts[0]:
                time.sleep(0.02)
        return {"loss": 0.5}

    def get_weights(self):
        return [w.tolist() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=float) for w in weights]

    def load_weights(self, path):
        data = np.load(path)
        self.weights = [data["w"], data["b"]]
        self.loaded_from = path

    def load(self, model_url):
        return self.load_weights(model_url)

    def predict(self, data, **kwargs):
        return data

    def save(self, model_path=None):
        np.savez(model_path, w=self.weights[0], b=self.weights[1])


@pytest.fixture
def lc_server():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    reports = []

    async def info(request):
        reports.append(await request.json())
        return JSONResponse({"Status": 200, "Message": "OK"})

    app = Starlette(routes=[Route("/sedna/workers/{name}/info", info, methods=["POST"])])
    with ThreadedServer(app) as srv:
        yield srv.url, reports


def _run_job(tmp_path, lc_url, rounds, **config):
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=rounds,
                               participants_count=1, done_grace=2, context=Context(Config()))
    server.start(block=False)
    try:
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name="w0", job_name="fl-job",
                     lc_server=lc_url, connect_timeout=10, model_url=str(tmp_path), **config)
        est = KerasStyleEstimator()
        job = FederatedLearning(est, context=Context(cfg))
        job.train((np.zeros((4, 2)), np.zeros(4)))
        assert server.wait(10)
        return est, job, server
    finally:
        server.stop()


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                    reason="BACKEND_TYPE=KERAS needs TensorFlow, which is not installed")
def test_keras_trainer_fine_tunes_from_the_model_at_model_url_before_round_one(tmp_path, lc_server):
    np.savez(tmp_path / "start.npz", w=np.full((2, 2), 10.0), b=np.full(2, 20.0))

    est, _, server = _run_job(tmp_path, lc_server[0], 1, backend_type="KERAS", model_name="start.npz")

    assert est.loaded_from == str(tmp_path / "start.npz")
    # round 1 trained from the saved model (+1), not from the estimator's zeros
    assert [w.tolist() for w in server.global_weights_] == [[[11.0, 11.0], [11.0, 11.0]], [21.0, 21.0]]


def test_no_model_at_model_url_trains_from_the_estimator_as_built(tmp_path, lc_server):
    est, _, server = _run_job(tmp_path, lc_server[0], 1, backend_type="KERAS", model_name="absent.npz")

    assert est.loaded_from is None
    assert [w.tolist() for w in server.global_weights_] == [[[1.0, 1.0], [1.0, 1.0]], [1.0, 1.0]]


def test_each_round_report_carries_that_rounds_start_time(tmp_path, lc_server):
    lc_url, reports = lc_server

    est, _, _ = _run_job(tmp_path, lc_url, 2, model_name="m.npz")

    train = [r for r in reports if r["kind"] == "train"]
    assert [r["ownerInfo"]["currentRound"] for r in train] == [1, 2]
    assert [r["ownerInfo"]["startTime"] for r in train] == est.train_starts
    assert train[0]["ownerInfo"]["startTime"] != train[1]["ownerInfo"]["startTime"]
