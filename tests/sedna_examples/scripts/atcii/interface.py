"""Stub thermal-comfort classifier for the atcii lifelong-learning workers: fixed predictions."""

import json
import os

import numpy as np

os.environ["BACKEND_TYPE"] = "SKLEARN"

DATACONF = {"ATTRIBUTES": ["Season", "Cooling startegy_building level"], "LABEL": "Thermal preference"}


def feature_process(df):
    if "City" in df.columns:
        pass  # the task definition reads City, so it stays
    return df


class Estimator:
    """Predicts the majority label it saw in training; keeps the training options it was given."""

    def __init__(self, **kwargs):
        self.majority = 0
        self.options = {}

    def train(self, train_data, valid_data=None, metric_name="mlogloss", early_stopping_rounds=100, **kwargs):
        y = np.asarray(train_data.y if hasattr(train_data, "y") else train_data[1]).astype(int)
        self.majority = int(np.bincount(y).argmax())
        self.options = {"metric_name": metric_name, "early_stopping_rounds": early_stopping_rounds}
        print("TRAIN " + json.dumps({"samples": len(y), **self.options}), flush=True)
        return self

    def predict(self, datas, **kwargs):
        return np.full(len(datas), self.majority)

    def predict_proba(self, datas, **kwargs):
        proba = np.zeros((len(datas), 3))
        proba[:, self.majority] = 1.0
        return proba

    def evaluate(self, test_data, **kwargs):
        return float(np.mean(self.predict(test_data.x) == np.asarray(test_data.y).astype(int)))

    def load(self, model_url):
        with open(model_url) as model:
            self.majority = json.load(model)["majority"]

    def save(self, model_path):
        with open(model_path, "w") as out:
            json.dump({"majority": self.majority, **self.options}, out)
        return model_path
