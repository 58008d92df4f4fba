"""Algorithm modules of the small Ianvs jobs run by test_ianvs_cli.py, written as Ianvs examples write theirs.

Ianvs loads this file by path and builds each module through Sedna's ClassFactory.
"""

import os

import numpy as np

from sedna.algorithms.aggregation.aggregation import BaseAggregation
from sedna.common.class_factory import ClassFactory, ClassType

os.environ.setdefault("BACKEND_TYPE", "PYTORCH")  # as many Ianvs examples set it, whatever the model


def _features(paths):
    return np.stack([np.load(p).mean(axis=0) for p in paths])


@ClassFactory.register(ClassType.GENERAL, alias="TinyLinear")
class TinyLinear:
    """A logistic regression by gradient steps over ``.npy`` feature files; weights are two arrays."""

    def __init__(self, **kwargs):
        self.learning_rate = float(kwargs.get("learning_rate", 0.5))
        self.epochs = int(kwargs.get("epochs", 20))
        self.w, self.b = np.zeros(4), np.zeros(1)

    def preprocess(self, **kwargs):
        return None

    def _fit(self, x, y):
        for _ in range(self.epochs):
            p = 1 / (1 + np.exp(-(x @ self.w + self.b)))
            self.w = self.w - self.learning_rate * x.T @ (p - y) / len(y)
            self.b = self.b - self.learning_rate * np.mean(p - y, keepdims=True)

    def train(self, train_data, valid_data=None, **kwargs):
        if isinstance(train_data, (tuple, list)):  # federated learning: (x, y) arrays, one row per sample
            x, y = train_data
        else:  # single-task learning: a TxtDataParse of feature files
            x, y = _features(train_data.x), np.asarray(train_data.y).astype(int)
        self._fit(x, y)
        return {"num_samples": len(y)}

    def save(self, model_path):
        os.makedirs(model_path, exist_ok=True)
        path = os.path.join(model_path, "model.npz")
        np.savez(path, w=self.w, b=self.b)
        return path

    def load(self, model_url=None):
        if model_url and os.path.isfile(model_url):
            with np.load(model_url) as saved:
                self.w, self.b = saved["w"], saved["b"]

    def get_weights(self):
        return [self.w, self.b]

    def set_weights(self, weights):
        self.w, self.b = np.asarray(weights[0], dtype=float), np.asarray(weights[1], dtype=float)

    def predict(self, data, **kwargs):
        return [int(v > 0) for v in _features(data) @ self.w + self.b]


@ClassFactory.register(ClassType.GENERAL, alias="accuracy")
def accuracy(y_true, y_pred):
    return float(np.mean(np.asarray(y_true).astype(int) == np.asarray(y_pred).astype(int)))


@ClassFactory.register(ClassType.FL_AGG, "TinyFedAvg")
class TinyFedAvg(BaseAggregation):
    """Sample-weighted mean of the clients' weights (the shape of Ianvs's aggregation examples)."""

    def aggregate(self, clients):
        self.total_size = sum(c.num_samples for c in clients)
        self.weights = [sum(np.asarray(c.weights[i], dtype=float) * c.num_samples for c in clients)
                        / self.total_size for i in range(len(clients[0].weights))]
        return self.weights


@ClassFactory.register(ClassType.GENERAL, alias="SumEdge")
class SumEdge:
    """An edge "language model" that adds one-digit numbers right and gets larger ones wrong."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def load(self, **kwargs):
        pass

    def predict(self, data, **kwargs):
        a, b = (int(t) for t in data.split("+"))
        return {"completion": str(a + b if a < 10 else a)}

    def cleanup(self):
        pass


@ClassFactory.register(ClassType.GENERAL, alias="SumCloud")
class SumCloud:
    """A cloud model that always adds right, reached through its own ``inference``."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def inference(self, data, **kwargs):
        a, b = (int(t) for t in data.split("+"))
        return {"completion": str(a + b)}

    def cleanup(self):
        pass


@ClassFactory.register(ClassType.HEM, alias="LongQueryRouter")
class LongQueryRouter:
    """Route a query longer than ``limit`` characters to the cloud."""

    def __init__(self, **kwargs):
        self.limit = int(kwargs.get("limit", 3))

    def __call__(self, data=None):
        return len(data) > self.limit


@ClassFactory.register(ClassType.GENERAL, alias="answer_accuracy")
def answer_accuracy(y_true, y_pred):
    answers = [r[1]["completion"] for r in y_pred]
    return sum(a == y for a, y in zip(answers, y_true)) / len(y_true)


@ClassFactory.register(ClassType.GENERAL, alias="cloud_share")
def cloud_share(y_true, y_pred):
    return sum(1 for r in y_pred if r[0]) / len(y_pred)
