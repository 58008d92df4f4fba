"""Cloud worker of the digits joint-inference example: serves a big model (k-nearest neighbours).

Configured only by the variables the control plane sets: BIG_MODEL_BIND_IP, BIG_MODEL_BIND_PORT,
SERVICE_NAME (and optionally SEDNA_AUTH_TOKEN). Run: python big_model.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from sedna.core.joint_inference import BigModelService
from sedna_lib.cli import serve_until_stopped


class Estimator:
    """The big model: trained on digits at start-up (offline data), answers class probabilities."""

    def __init__(self, **kwargs):
        x, y = load_digits(return_X_y=True)
        x_train, _, y_train, _ = train_test_split(x / 16.0, y, test_size=0.5, stratify=y, random_state=0)
        self.model = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(x_train, y_train)

    def predict(self, data, **kwargs):
        x = np.asarray(data, dtype=np.float32).reshape(-1, 64)
        return self.model.predict_proba(x)

    def load(self, model_url=""):
        """Accept the Model object's file (MODEL_URL); this model is fitted at start-up, so it is only a marker."""


if __name__ == "__main__":
    # serve until SIGTERM (the pod's stop) or Ctrl-C, then stop cleanly
    raise SystemExit(serve_until_stopped(BigModelService(estimator=Estimator)))
