"""The estimator and a synthetic thermal-comfort dataset shaped like ASHRAE Thermal Comfort DB II (offline)."""

import csv
import os

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

FEATURES = ["Air temperature (C)", "Relative humidity (%)", "Air velocity (m/s)", "Clo", "Met"]
LABEL = "Thermal preference"
CITIES = {"Berkeley": 0.0, "Sydney": 1.5, "Bangkok": 3.0, "Oslo": -2.5}  # each city prefers its own warmth


def feature_process(frame):
    """Keep the model's columns (the city stays: the task definition reads it)."""
    return frame[[c for c in ["City", *FEATURES, LABEL] if c in frame.columns]]


class Estimator:
    """A Sedna-style estimator (train/predict/evaluate/load/save), as in the published ATCII example."""

    def __init__(self, **kwargs):
        self.model = GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=0)

    def train(self, train_data, valid_data=None, **kwargs):
        self.model.fit(train_data.x, train_data.y)
        return {"train_accuracy": float(self.model.score(train_data.x, train_data.y))}

    def predict(self, datas, **kwargs):
        return self.model.predict(datas)

    def predict_proba(self, datas, **kwargs):
        return self.model.predict_proba(datas)

    def evaluate(self, test_data, **kwargs):
        return {"accuracy": float(self.model.score(test_data.x, test_data.y))}

    def load(self, model_url):
        import joblib  # a model file the job itself wrote (never bytes from the network)

        self.model = joblib.load(model_url)

    def save(self, model_path):
        import joblib

        joblib.dump(self.model, model_path)
        return model_path


def make_dataset(folder, n_per_city=300, seed=0, cities=None):
    """Write train.csv and test.csv: preference (0 cooler, 1 no change, 2 warmer) depends on the city."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for city in cities or CITIES:
        temp = rng.normal(24, 4, n_per_city)
        hum = rng.uniform(20, 80, n_per_city)
        vel = rng.exponential(0.2, n_per_city)
        clo = rng.uniform(0.3, 1.2, n_per_city)
        met = rng.uniform(1.0, 1.6, n_per_city)
        comfort = temp + 2.5 * clo + 1.5 * (met - 1.2) - 3 * vel + 0.02 * (hum - 50) - (24 + CITIES[city])
        pref = np.where(comfort > 1.5, 0, np.where(comfort < -1.5, 2, 1))
        rows += [[city, *map(lambda v: round(float(v), 3), r), int(p)]
                 for r, p in zip(zip(temp, hum, vel, clo, met), pref)]
    order = rng.permutation(len(rows))
    split = int(0.75 * len(rows))
    for name, part in (("train.csv", order[:split]), ("test.csv", order[split:])):
        with open(os.path.join(folder, name), "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["City", *FEATURES, LABEL])
            writer.writerows(rows[i] for i in part)
    return os.path.join(folder, "train.csv"), os.path.join(folder, "test.csv")
