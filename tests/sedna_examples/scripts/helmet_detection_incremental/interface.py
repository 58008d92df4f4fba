"""Stub helmet detector for the incremental-learning workers: a ``.pb`` file holding a version string."""

import os

import numpy as np

os.environ["BACKEND_TYPE"] = "TENSORFLOW"


class Estimator:
    """Training writes ``helmet-v<n>`` into a small ``.pb`` file; predictions carry the loaded version."""

    def __init__(self, **kwargs):
        self.version = "untrained"

    def train(self, train_data, valid_data=None, **kwargs):
        self.version = f"helmet-v{len(train_data.x)}"
        self.train_kwargs = sorted(kwargs)
        return {"loss": 0.5}

    def save(self, model_path=None):
        with open(model_path, "w") as out:
            out.write(self.version)
        return model_path

    def load(self, model_url):
        with open(model_url) as model:
            self.version = model.read()

    def evaluate(self, valid_data, model_path="", class_names="", input_shape=(352, 640)):
        self.load(model_path)
        score = float(self.version.rsplit("v", 1)[-1]) / 10
        return {"recall": [score] * len(class_names), "precision": [score / 2] * len(class_names)}

    def predict(self, data, input_shape=None, **kwargs):
        frame = np.asarray(data)
        return [[0, 0, frame.shape[1], frame.shape[0], 0.3, 0, self.version]]
