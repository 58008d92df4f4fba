"""A saved hard example names the model version that answered it, even when a swap lands mid-prediction."""

from __future__ import annotations

import json

import numpy as np

from sedna_lib.backends import set_backend
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.incremental_learning import IncrementalLearning


class _Versioned:
    """A model that answers with its own version, and lets the next version be deployed while it predicts."""

    def __init__(self, version, during_predict=None):
        self.version = version
        self.during_predict = during_predict

    def load(self, model_url=None):
        pass

    def predict(self, data, **kwargs):
        if self.during_predict is not None:
            self.during_predict(self.version)  # the hot-update thread swaps here, in production
        return [self.version]


def _always_hard(result):
    return True


def test_each_hard_example_records_the_version_that_answered_under_swaps(tmp_path):
    cfg = Config(model_url=str(tmp_path / "model.pkl"), work_dir=str(tmp_path / "work"),
                 lc_server="http://127.0.0.1:9", max_retries=0, connect_timeout_s=0.2)
    (tmp_path / "model.pkl").write_bytes(b"v1")
    out = tmp_path / "hard"
    job = IncrementalLearning(estimator=_Versioned("v1"), context=Context(cfg),
                              hard_example_mining=_always_hard, hard_example_output=str(out))

    def deploy_next(answering: str) -> None:
        number = int(answering[1:]) + 1
        job.slot.swap(set_backend(_Versioned(f"v{number}", deploy_next), Config()), version=f"v{number}")

    job.start()
    job.slot.swap(set_backend(_Versioned("v1", deploy_next), Config()), version="v1")
    answered = [job.inference(np.array([float(i)]))[0][0] for i in range(6)]
    assert job.hard_examples_.flush(timeout=10)
    job.close()

    records = [json.loads(p.read_text()) for p in sorted((out).glob("*/predictions/*.json"))]
    assert answered == ["v1", "v2", "v3", "v4", "v5", "v6"]
    assert sorted(r["meta"]["model_version"] for r in records) == answered
    for record in records:  # the prediction saved with the example came from the version it names
        assert record["prediction"] == [record["meta"]["model_version"]]
