"""EstimatorBackend: a user's Sedna-style estimator driven with Sedna's calling conventions."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sedna_lib.backends import EstimatorBackend, parse_kwargs
from sedna_lib.backends.arrays import split_xy
from sedna_lib.backends.base import framework_of, instantiate, is_factory
from sedna_lib.backends.files import remove_path_prefix
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import BackendError, StorageNotFoundError


class SednaEstimator:
    """Shaped like the estimators in Sedna's examples: train/predict/evaluate/load/save."""

    instances = 0

    def __init__(self, **kwargs):
        type(self).instances += 1
        self.init_kwargs = kwargs
        self.calls = []
        self.weights = [np.zeros(2), np.ones(3)]

    def train(self, train_data, valid_data=None, **kwargs):
        self.calls.append(("train", train_data, valid_data, kwargs))
        return {"trained": len(train_data)}

    def predict(self, data, **kwargs):
        self.calls.append(("predict", data, kwargs))
        return [x * 2 for x in data]

    def evaluate(self, data, **kwargs):
        self.calls.append(("evaluate", data, kwargs))
        return {"precision": [0.9], "recall": [0.8]}

    def load(self, model_url=""):
        with open(model_url, encoding="utf-8") as fh:
            self.loaded = fh.read()

    def save(self, model_path):
        with open(model_path, "w", encoding="utf-8") as fh:
            fh.write("weights")

    def get_weights(self):
        return [w.tolist() for w in self.weights]

    def set_weights(self, weights):
        self.weights = weights


class Narrow:
    """Narrow signatures: extras must be dropped, not passed."""

    def train(self, train_data):
        self.got = train_data
        return "ok"

    def predict(self, x):
        return ["p" for _ in x]


class FitOnly:
    def fit(self, X, y):
        self.n_ = len(X)
        self.labels_ = list(y)
        return self

    def predict(self, X):
        return [self.labels_[0]] * len(X)


class CallableInstance:
    """An instance with __call__ (as a Keras model is): it must not be called to 'instantiate' it."""

    def __call__(self, *args):
        raise AssertionError("the instance was called")

    def train(self, train_data, valid_data=None):
        return "trained"


def test_class_is_instantiated_once_with_the_kwargs_it_accepts():
    SednaEstimator.instances = 0
    backend = EstimatorBackend(SednaEstimator)

    backend.train([1, 2], epochs=3)
    backend.predict([1])

    assert SednaEstimator.instances == 1
    assert isinstance(backend.estimator, SednaEstimator)
    assert backend.estimator.init_kwargs == {"epochs": 3}


def test_train_and_predict_use_sedna_keywords_and_pass_extras_through_kwargs():
    backend = EstimatorBackend(SednaEstimator())

    result = backend.train([1, 2, 3], valid_data=[4], epochs=2)
    pred = backend.predict([1, 2], kwargs={"a": 1})
    metrics = backend.evaluate([5], metric_name="f1")

    est = backend.estimator
    assert result == {"trained": 3} and backend.has_load
    assert est.calls[0] == ("train", [1, 2, 3], [4], {"epochs": 2})
    assert pred == [2, 4] and est.calls[1] == ("predict", [1, 2], {"kwargs": {"a": 1}})
    assert metrics["precision"] == [0.9] and est.calls[2] == ("evaluate", [5], {"metric_name": "f1"})


def test_narrow_signatures_get_the_data_positionally_and_no_extras():
    backend = EstimatorBackend(Narrow)

    assert backend.train([1], valid_data=[2], epochs=5, lr=0.1) == "ok"
    assert backend.predict([1, 2], kwargs={}) == ["p", "p"]
    assert backend.estimator.got == [1]


def test_var_keyword_under_any_name_receives_every_extra():
    def train(train_data, **options):
        return options

    assert parse_kwargs(train, epochs=1, lr=2) == {"epochs": 1, "lr": 2}
    assert parse_kwargs(lambda data, epochs=1: None, epochs=3, lr=2) == {"epochs": 3}


def test_fit_only_estimator_trains_and_splits_x_y():
    backend = EstimatorBackend(FitOnly)

    backend.train(([[0], [1], [2]], [7, 8, 9]))

    assert backend.estimator.n_ == 3
    assert backend.predict([[5]]) == [7]


def test_callable_instance_is_used_as_given_not_called():
    est = CallableInstance()
    backend = EstimatorBackend(est)

    assert backend.train([1]) == "trained"
    assert backend.estimator is est
    assert is_factory(CallableInstance) and not is_factory(est)
    assert instantiate(est) is est


def test_missing_method_raises_backend_error_naming_it():
    backend = EstimatorBackend(Narrow())

    with pytest.raises(BackendError, match="Narrow has no evaluate method"):
        backend.evaluate([1])
    with pytest.raises(BackendError, match="no predict_proba"):
        backend.predict_proba([1])


def test_save_writes_through_the_estimator_and_load_passes_model_url(tmp_path):
    backend = EstimatorBackend(SednaEstimator, model_save_path=str(tmp_path))

    path = backend.save()
    fresh = EstimatorBackend(SednaEstimator, model_save_path=str(tmp_path))
    fresh.load()

    assert path == os.path.join(str(tmp_path), "model_finetune_.pkl")
    assert fresh.estimator.loaded == "weights" and fresh.has_load


def test_save_to_a_folder_url_and_a_file_url(tmp_path):
    backend = EstimatorBackend(SednaEstimator())

    in_folder = backend.save(str(tmp_path / "out") + "/", model_name="m.bin")
    as_file = backend.save(f"file://{tmp_path}/direct.bin")

    assert in_folder == str(tmp_path / "out" / "m.bin") and os.path.isfile(in_folder)
    assert as_file == f"{tmp_path}/direct.bin" and os.path.isfile(as_file)


def test_load_of_a_missing_file_raises_storage_not_found(tmp_path):
    backend = EstimatorBackend(SednaEstimator)

    with pytest.raises(StorageNotFoundError, match="does not exist") as info:
        backend.load(str(tmp_path / "nope.pkl"))
    assert info.value.uri == str(tmp_path / "nope.pkl")
    assert not backend.has_load


def test_load_mode_other_than_file_lets_the_estimator_load_itself(tmp_path):
    class HubLoader:
        def load(self, model_url=""):
            self.asked = model_url

    backend = EstimatorBackend(HubLoader, model_load_mode="hub")

    backend.load(str(tmp_path / "remote-name"))

    assert backend.estimator.asked == str(tmp_path / "remote-name")


def test_weights_come_back_as_numpy_arrays():
    backend = EstimatorBackend(SednaEstimator())

    weights = backend.get_weights()
    backend.set_weights([[1.0, 2.0]])

    assert all(isinstance(w, np.ndarray) for w in weights)
    assert isinstance(backend.estimator.weights[0], np.ndarray)


def test_model_name_defaults_follow_sedna():
    assert EstimatorBackend(SednaEstimator).model_name == "model_finetune_.pkl"
    assert EstimatorBackend(SednaEstimator, fine_tune=False).model_name == "model.pkl"
    assert EstimatorBackend(SednaEstimator, model_name="m.pb").model_name == "m.pb"


def test_model_info_strips_the_data_path_prefix_and_makes_metrics_json():
    backend = EstimatorBackend(SednaEstimator)

    info = backend.model_info("/home/data/job/model.PB", relpath="/home/data",
                              result={"precision": np.array([0.5, 0.25]), "n": np.int64(3)})

    assert info == [{"format": "pb", "url": "/job/model.PB", "metrics": {"precision": [0.5, 0.25], "n": 3}}]
    json.dumps(info)
    assert backend.model_info("/other/m.pkl", relpath="/home/data")[0]["url"] == "/other/m.pkl"


def test_tensorflow_backend_reports_a_ckpt_entry_for_pb_models():
    from sedna_lib.backends.tensorflow import TensorFlowBackend

    info = TensorFlowBackend(SednaEstimator).model_info("/home/data/out/model.pb", relpath="/home/data",
                                                        result={"acc": [1.0]})

    assert info == [{"format": "pb", "url": "/out/model.pb", "metrics": {"acc": [1.0]}},
                    {"format": "ckpt", "url": "/out", "metrics": {"acc": [1.0]}}]


def test_update_falls_back_to_train():
    backend = EstimatorBackend(SednaEstimator)

    assert backend.update([1, 2]) == {"trained": 2}


def test_helpers_split_data_and_strip_prefixes():
    class Source:
        x = [[1.0]]
        y = [0]

    assert split_xy(Source()) == ([[1.0]], [0])
    assert split_xy({"x": [1], "y": [2]}) == ([1], [2])
    assert split_xy(np.zeros((2, 2)))[1] is None
    assert remove_path_prefix("/home/data", "/home/data/") == "/"
    assert remove_path_prefix("/x", "") == "/x"
    assert framework_of(SednaEstimator) is None and framework_of(lambda: None) is None


@pytest.mark.s3
def test_save_and_load_through_s3(s3_config, tmp_path):
    context = Context(config=s3_config)
    client = context.storage.s3._client()
    if not client.bucket_exists("backend-tests"):
        client.make_bucket("backend-tests")
    backend = EstimatorBackend(SednaEstimator, model_save_path=str(tmp_path / "local"), context=context)

    url = backend.save("s3://backend-tests/models/")
    fresh = EstimatorBackend(SednaEstimator, model_save_path=str(tmp_path / "dl"), context=context)
    fresh.load(url)

    assert url == "s3://backend-tests/models/model_finetune_.pkl"
    assert fresh.estimator.loaded == "weights"


@pytest.mark.s3
def test_a_remote_model_save_path_is_the_upload_and_download_target(s3_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    context = Context(config=s3_config)
    client = context.storage.s3._client()
    if not client.bucket_exists("backend-tests"):
        client.make_bucket("backend-tests")
    backend = EstimatorBackend(SednaEstimator, model_save_path="s3://backend-tests/auto", context=context)

    url = backend.save()
    fresh = EstimatorBackend(SednaEstimator, model_save_path="s3://backend-tests/auto", context=context)
    fresh.load()

    assert url == "s3://backend-tests/auto/model_finetune_.pkl"
    assert fresh.estimator.loaded == "weights"


@pytest.mark.s3
@pytest.mark.parametrize("config", [Config(model_url="s3://backend-tests/ctx/"), {"model_url": "s3://backend-tests/ctx/"}],
                         ids=["Config", "mapping"])
def test_a_backend_given_a_context_uploads_to_that_contexts_storage(config, s3_config, tmp_path, monkeypatch):
    # the environment names another store; the backend must use the context it was given
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ACCESS_KEY_ID", "someone-else")
    monkeypatch.chdir(tmp_path)
    context = Context(config=s3_config)
    client = context.storage.s3._client()
    if not client.bucket_exists("backend-tests"):
        client.make_bucket("backend-tests")
    from sedna_lib.backends import set_backend

    backend = set_backend(SednaEstimator, config, context=context)
    url = backend.save()

    assert backend.context is context
    assert url == "s3://backend-tests/ctx/model_finetune_.pkl"
    assert client.stat_object("backend-tests", "ctx/model_finetune_.pkl").size > 0


def test_a_backend_given_no_context_reads_the_environment_when_it_uploads(tmp_path, monkeypatch):
    from sedna_lib.exceptions import StorageError

    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MAX_RETRIES", "0")
    backend = EstimatorBackend(SednaEstimator, model_save_path=str(tmp_path))

    with pytest.raises(StorageError, match="127.0.0.1:9"):
        backend.save("s3://nowhere/models/")


def test_set_backend_passes_model_url_and_name_from_config(tmp_path):
    from sedna_lib.backends import set_backend

    backend = set_backend(SednaEstimator, Config(model_url=str(tmp_path), model_name="m.bin"))
    path = backend.save()

    assert path == str(tmp_path / "m.bin") and os.path.isfile(path)


class NumpyLogistic:
    """A complete Sedna-style estimator in plain numpy: it must pass the backend contract too."""

    def __init__(self, lr=0.5, epochs=50):
        self.lr, self.epochs = lr, epochs
        self.w = np.zeros(4)
        self.b = np.zeros(1)

    def train(self, train_data, valid_data=None, **kwargs):
        x, y = train_data
        for _ in range(self.epochs):
            p = 1.0 / (1.0 + np.exp(-(x @ self.w + self.b[0])))
            self.w = self.w - self.lr * x.T @ (p - y) / len(y)
            self.b = self.b - self.lr * np.array([np.mean(p - y)])
        return {"epochs": self.epochs}

    def predict(self, data, **kwargs):
        return (np.asarray(data) @ self.w + self.b[0] > 0).astype(int)

    def evaluate(self, data, **kwargs):
        x, y = data
        return {"accuracy": float(np.mean(self.predict(x) == y))}

    def get_weights(self):
        return [self.w, self.b]

    def set_weights(self, weights):
        if len(weights) != 2:
            raise ValueError(f"expected 2 arrays, got {len(weights)}")
        self.w, self.b = np.asarray(weights[0], float), np.asarray(weights[1], float)

    def save(self, model_path):
        with open(model_path, "wb") as fh:
            np.savez(fh, w=self.w, b=self.b)

    def load(self, model_url=""):
        with np.load(model_url) as data:
            self.w, self.b = data["w"], data["b"]


def test_a_complete_sedna_style_estimator_passes_the_backend_contract():
    from sedna_lib.testing import check_backend

    check_backend(lambda: EstimatorBackend(NumpyLogistic))


def test_repeated_predicts_follow_a_swapped_estimator_and_a_replaced_method():
    class ByName:
        def __init__(self, tag="built"):
            self.tag = tag

        def predict(self, data, **kwargs):  # takes data= by name (Sedna's convention)
            return (self.tag, data, kwargs)

    class Positional:
        def predict(self, x):  # another name: data goes positionally
            return ("positional", x)

    backend = EstimatorBackend(ByName("first"))
    assert [backend.predict(1), backend.predict(2)] == [("first", 1, {}), ("first", 2, {})]
    assert backend.predict(3, scale=2) == ("first", 3, {"scale": 2})

    backend.estimator = ByName("second")  # a hot swap
    assert backend.predict(4) == ("second", 4, {})

    backend.estimator = ByName  # a class again: built before it predicts
    assert [backend.predict(5), backend.predict(6)] == [("built", 5, {}), ("built", 6, {})]

    backend.estimator.predict = lambda x: ("replaced", x)  # a method set on the instance, another name
    assert [backend.predict(7), backend.predict(8)] == [("replaced", 7), ("replaced", 8)]

    backend.estimator = Positional()
    assert [backend.predict(9), backend.predict(10)] == [("positional", 9), ("positional", 10)]
    backend.estimator.predict = lambda *, data: ("keyword only", data)
    assert backend.predict(11) == ("keyword only", 11)
