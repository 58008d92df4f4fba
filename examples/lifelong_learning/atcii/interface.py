"""Thermal-comfort classifier and a synthetic dataset with the columns of ASHRAE Thermal Comfort DB II.

Tasks are the (Season, cooling strategy) pairs: each pair prefers a different warmth, so one
model per task beats one model for all. The estimator stores its model with skops (a format that
is loaded without unpickling) and keeps the train/predict/evaluate/load/save shape Sedna's
backends call.
"""

import csv
import os

import numpy as np

os.environ.setdefault("BACKEND_TYPE", "SKLEARN")  # what the ATCII workers run on

DATACONF = {
    "ATTRIBUTES": ["Season", "Cooling startegy_building level"],  # the column name as the dataset spells it
    "LABEL": "Thermal preference",
}
FEATURES = ["Air temperature (C)", "Relative humidity (%)", "Air velocity (m/s)", "Clo", "Met"]
SEASONS = {"Summer": 1.0, "Winter": -1.0}
STRATEGIES = {1: 0.0, 2: 1.5}  # 1 air conditioned, 2 naturally ventilated: people there accept more warmth


def feature_process(frame):
    """Numbers as floats, the label as an int; the city (not a feature) is dropped, the season kept."""
    frame = frame.drop(columns=[c for c in ("City",) if c in frame.columns])
    for name in frame.columns:
        if name == "Season":
            continue
        values = frame[name].map(lambda v: float(v) if v not in ("", None) else float("nan"))
        frame[name] = values.astype(int) if name == DATACONF["LABEL"] else values
    return frame


class Estimator:
    """Gradient-boosted trees (scikit-learn) with early stopping, in Sedna's estimator shape."""

    def __init__(self, **kwargs):
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.model = HistGradientBoostingClassifier(max_iter=60, max_depth=3, learning_rate=0.2,
                                                    min_samples_leaf=5, random_state=27)

    def train(self, train_data, valid_data=None, save_best=True, metric_name="mlogloss",
              early_stopping_rounds=100, **kwargs):
        scoring = "neg_log_loss" if metric_name == "mlogloss" else metric_name
        self.model.set_params(early_stopping=len(train_data.x) >= 200, scoring=scoring,
                              n_iter_no_change=int(early_stopping_rounds))
        self.model.fit(train_data.x, train_data.y)
        loss = getattr(self.model, "validation_score_", [])
        return {metric_name: float(-loss[-1]) if len(loss) else None, "iterations": int(self.model.n_iter_)}

    def predict(self, datas, **kwargs):
        return self.model.predict(datas)

    def predict_proba(self, datas, **kwargs):
        return self.model.predict_proba(datas)

    def evaluate(self, test_data, **kwargs):
        from sklearn.metrics import precision_score

        return precision_score(test_data.y, self.predict(test_data.x), average="micro")

    def load(self, model_url):
        from sedna_lib.backends.sklearn import load_skops  # scikit-learn types only, nothing unpickled

        self.model = load_skops(model_url)
        return self

    def save(self, model_path=None):
        import skops.io

        skops.io.dump(self.model, model_path)
        return model_path


def make_dataset(folder, n_per_task=60, seed=0, seasons=None):
    """Write trainData.csv, testData.csv and inferData.csv (labels 0 cooler, 1 no change, 2 warmer)."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for season in seasons or SEASONS:
        for strategy, tolerance in STRATEGIES.items():
            temp = rng.normal(24 + SEASONS.get(season, 3.0), 3.5, n_per_task)
            hum = rng.uniform(20, 80, n_per_task)
            vel = rng.exponential(0.2, n_per_task)
            clo = rng.uniform(0.3, 1.2, n_per_task)
            met = rng.uniform(1.0, 1.6, n_per_task)
            comfort = temp + 2 * clo - 3 * vel - 24 - SEASONS.get(season, 3.0) - tolerance
            pref = np.where(comfort > 1.0, 0, np.where(comfort < -1.0, 2, 1))
            cities = rng.choice(["Berkeley", "Sydney", "Bangkok"], n_per_task)
            rows += [[season, strategy, city, *(round(float(v), 3) for v in r), int(p)]
                     for city, r, p in zip(cities, zip(temp, hum, vel, clo, met), pref)]
    order = rng.permutation(len(rows))
    cut1, cut2 = int(0.7 * len(rows)), int(0.9 * len(rows))
    paths = []
    for name, part in (("trainData.csv", order[:cut1]), ("testData.csv", order[cut1:cut2]),
                       ("inferData.csv", order[cut2:])):
        paths.append(os.path.join(folder, name))
        with open(paths[-1], "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Season", DATACONF["ATTRIBUTES"][1], "City", *FEATURES, DATACONF["LABEL"]])
            writer.writerows(rows[i] for i in part)
    return tuple(paths)
