"""The calls Ianvs core makes into ``sedna`` (the 0.6 build it ships), each as Ianvs makes it.

Ianvs imports its whole paradigm layer at start-up, builds algorithm modules through Sedna's
ClassFactory (with keyword arguments), reads its datasets with Sedna's parsers by file format,
hands a hard-example miner over as ``{"method": name, "param": {...}}``, drives incremental
learning one sample at a time with ``job.inference([path])`` under ``MODEL_URL`` and
``LOCAL_TEST=TRUE``, and subclasses ``JobBase`` for its federated client. The joint-inference
calls are in ``tests/integration/test_joint_inference_sedna06.py``.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from sedna_lib.registry import default_registry


def test_every_import_ianvs_core_makes_at_start_up_resolves():
    code = (
        "from sedna.datasources import (BaseDataSource, CSVDataParse, TxtDataParse, JSONDataParse, "
        "JsonlDataParse, JSONMetaDataParse)\n"
        "from sedna.common.class_factory import ClassFactory, ClassType\n"
        "from sedna.core.incremental_learning import IncrementalLearning\n"
        "from sedna.core.lifelong_learning import LifelongLearning\n"
        "from sedna.core.joint_inference import JointInference\n"
        "from sedna.core.base import JobBase\n"
        "from sedna.algorithms.aggregation import AggClient\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_class_factory_lookups_take_ianvs_keywords():
    from sedna.common.class_factory import ClassFactory, ClassType

    with default_registry.scope():
        @ClassFactory.register(ClassType.GENERAL, alias="tests.IanvsBaseModel")
        class BaseModel:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        @ClassFactory.register(ClassType.GENERAL, alias="tests.f1")
        def f1(y_true, y_pred):
            return 1.0

        built = ClassFactory.get_cls(type_name=ClassType.GENERAL, t_cls_name="tests.IanvsBaseModel")(lr=0.1)
        metric = ClassFactory.get_cls(ClassType.GENERAL, "tests.f1")

    assert isinstance(built, BaseModel) and built.kwargs == {"lr": 0.1}
    assert metric([1], [1]) == 1.0


def test_ianvs_load_data_calls_for_each_format(tmp_path):
    from sedna.datasources import CSVDataParse, JsonlDataParse, JSONMetaDataParse, TxtDataParse

    (tmp_path / "index.txt").write_text("a.png 1\nb.png 0\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text("f0,city,label\n0.5,real,1\n0.1,sim,0\n", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(json.dumps({"question": "q", "answer": "a"}) + "\n", encoding="utf-8")
    (tmp_path / "metadata.json").write_text(json.dumps(
        {"dataset": "d", "description": "x", "level_1_dim": "1", "level_2_dim": "2"}), encoding="utf-8")
    (tmp_path / "data.jsonl").write_text(json.dumps(
        {"query": "q", "response": "r", "level_3_dim": "3", "level_4_dim": "4"}) + "\n", encoding="utf-8")

    csv = CSVDataParse(data_type="train", func=None)
    csv.parse(str(tmp_path / "d.csv"), label="label")
    txt = TxtDataParse(data_type="inference", func=None)
    txt.parse(str(tmp_path / "index.txt"), use_raw=False)
    jsonl = JsonlDataParse(data_type="test", func=None)
    jsonl.parse(str(tmp_path / "q.jsonl"))
    meta = JSONMetaDataParse(data_type="inference", func=None)
    meta.parse(str(tmp_path / "metadata.json"))

    assert list(csv.x.columns) == ["f0", "city"] and csv.y.tolist() == [1, 0]
    assert txt.x.tolist() == ["a.png", "b.png"] and txt.y.tolist() == ["1", "0"]
    assert jsonl.x.tolist() == ["q"] and jsonl.y.tolist() == ["a"]
    assert hasattr(meta, "need_other_info") and meta.x.tolist() == ["q"] and meta.y.tolist() == ["r"]


class _IanvsBaseModel:
    """An Ianvs example base model: predict returns ``{image name: [{"bbox": array}]}``."""

    def __init__(self, **kwargs):
        self.loaded_from = None

    def load(self, model_url=None):
        with open(model_url, "rb") as fh:
            self.loaded_from, self.threshold = model_url, pickle.load(fh)["threshold"]

    def predict(self, data, **kwargs):
        return {os.path.basename(p): [{"bbox": np.array([[0, 0, 1, 1, 0.95 if "easy" in p else 0.3, 1]])}]
                for p in data}


@pytest.fixture
def ianvs_incremental_env(monkeypatch, tmp_path):
    model = tmp_path / "initial_model" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(pickle.dumps({"threshold": 0.5}))
    monkeypatch.setenv("LOCAL_TEST", "TRUE")  # ParadigmBase sets it
    monkeypatch.setenv("MODEL_URL", str(model))  # IncrementalLearning._prepare_inference sets it
    monkeypatch.setenv("RESULT_SAVED_URL", str(tmp_path / "results"))
    monkeypatch.setenv("LC_SERVER", "http://127.0.0.1:9")  # nothing listens: reports must not fail the job
    return model


def test_incremental_inference_one_path_at_a_time_with_a_dict_miner(ianvs_incremental_env, tmp_path):
    from sedna.common.class_factory import ClassFactory, ClassType
    from sedna.core.incremental_learning import IncrementalLearning

    with default_registry.scope():
        @ClassFactory.register(ClassType.HEM, alias="tests.BoxScore")
        class BoxScore:
            def __init__(self, threshold_box=0.5, **kwargs):
                self.threshold_box = float(threshold_box)

            def __call__(self, infer_result=None):
                scores = [b[4] for v in infer_result.values() for item in v for b in item["bbox"].tolist()]
                return bool(scores) and min(scores) < self.threshold_box

        miner = {"method": "tests.BoxScore", "param": {"threshold_box": 0.9}}
        job = IncrementalLearning(estimator=_IanvsBaseModel(), hard_example_mining=miner)
        results, hard = {}, []
        for data in ("/data/easy_1.png", "/data/hard_2.png"):
            res, _, is_hard_example = job.inference([data])
            results.update(res)
            if is_hard_example:
                hard.append(data)
        job.close()

    assert sorted(results) == ["easy_1.png", "hard_2.png"]
    assert hard == ["/data/hard_2.png"]
    assert job.estimator.estimator.loaded_from == str(ianvs_incremental_env)


def test_federated_client_subclasses_job_base_with_an_estimator_instance():
    import copy

    from sedna.core.base import JobBase

    class Estimator:
        def __init__(self):
            self.weights = [np.zeros(2)]

        def train(self, train_data, valid_data=None, **kwargs):
            self.weights = [w + 1 for w in self.weights]
            return {"num_samples": len(train_data)}

        def get_weights(self):
            return self.weights

        def set_weights(self, weights):
            self.weights = weights

    class FederatedLearning(JobBase):  # Ianvs's sedna_federated_learning.FederatedLearning, in short
        def __init__(self, estimator):
            super().__init__(estimator)
            self.estimator = copy.deepcopy(estimator)

        def train(self, train_data, valid_data, **kwargs):
            return self.estimator.train(train_data, valid_data, **kwargs)

    original = Estimator()
    client = FederatedLearning(estimator=original)
    info = client.train([1, 2, 3], None)
    client.estimator.set_weights([np.full(2, 5.0)])

    assert info == {"num_samples": 3}
    assert client.estimator.get_weights()[0].tolist() == [5.0, 5.0]
    assert original.weights[0].tolist() == [0.0, 0.0]  # Ianvs trains a copy per client


def test_federated_round_as_ianvs_runs_it_with_an_upstream_style_fedavg():
    import copy

    from sedna.algorithms.aggregation import AggClient
    from sedna.algorithms.aggregation.aggregation import BaseAggregation
    from sedna.common.class_factory import ClassFactory, ClassType
    from sedna.core.base import JobBase

    class Estimator:
        def __init__(self):
            self.weights = [np.zeros(2), np.zeros(1)]

        def train(self, train_data, valid_data=None, **kwargs):
            x, _ = train_data
            self.weights = [self.weights[0] + x.mean(axis=0), self.weights[1] + 1]
            return {"num_samples": len(x)}

        def get_weights(self):
            return self.weights

        def set_weights(self, weights):
            self.weights = [np.asarray(w) for w in weights]

        def predict(self, data, **kwargs):
            return [float(np.dot(row, self.weights[0]) + self.weights[1][0]) for row in data]

    class Client(JobBase):  # Ianvs's sedna_federated_learning.FederatedLearning
        def __init__(self, estimator):
            super().__init__(estimator)
            self.estimator = copy.deepcopy(estimator)

        def train(self, train_data, valid_data, **kwargs):
            return self.estimator.train(train_data, valid_data, **kwargs)

        def get_weights(self):
            return self.estimator.get_weights()

        def set_weights(self, weights):
            self.estimator.set_weights(weights)

    with default_registry.scope():
        @ClassFactory.register(ClassType.FL_AGG, "tests.IanvsFedAvg")
        class FedAvg(BaseAggregation):  # the shape of Ianvs's examples' aggregation.py
            def aggregate(self, clients):
                self.total_size = sum(c.num_samples for c in clients)
                updates = []
                for i, layer in enumerate(clients[0].weights):
                    row = np.zeros(np.shape(layer))
                    for c in clients:
                        row += np.asarray(c.weights[i]) * c.num_samples / self.total_size
                    updates.append(row.tolist())
                self.weights = updates
                return updates

        aggregator = ClassFactory.get_cls(type_name=ClassType.FL_AGG, t_cls_name="tests.IanvsFedAvg")()

    clients = [Client(Estimator()) for _ in range(2)]
    data = [(np.ones((1, 2)), np.zeros(1)), (np.full((3, 2), 3.0), np.zeros(3))]
    uploads = []
    for client, part in zip(clients, data):
        info = client.train(part, None)
        agg_client = AggClient()
        agg_client.num_samples = info["num_samples"]
        agg_client.weights = client.get_weights()
        uploads.append(agg_client)
    global_weights = aggregator.aggregate(uploads)
    for client in clients:
        client.set_weights(global_weights)
    answer = clients[0].inference([[1.0, 1.0]])

    assert (aggregator.total_size, global_weights) == (4, [[2.5, 2.5], [1.0]])  # (1*1 + 3*3) / 4
    assert np.asarray(answer).ravel().tolist() == [6.0]
