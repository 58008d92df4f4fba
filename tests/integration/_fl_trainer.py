"""A Sedna-style federated trainer script, configured by environment variables only (run as a process)."""

import os
import signal

import numpy as np
from sklearn.datasets import load_digits

from sedna.common.config import Context
from sedna.core.federated_learning import FederatedLearning


class SoftmaxRegression:
    """A numpy softmax classifier with the Sedna estimator methods."""

    def __init__(self):
        self.w = np.zeros((64, 10))
        self.b = np.zeros(10)
        self.rounds = 0

    def train(self, train_data, valid_data=None, epochs=1, **kwargs):
        self.rounds += 1
        if self.rounds == int(os.environ.get("DIE_IN_ROUND", "0")):
            os.kill(os.getpid(), signal.SIGKILL)
        x, y = train_data
        rng = np.random.default_rng(self.rounds)
        for _ in range(int(epochs)):
            for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // 16)):
                p = self.predict(x[idx])
                p[np.arange(len(idx)), y[idx]] -= 1
                self.w -= 0.5 * x[idx].T @ p / len(idx)
                self.b -= 0.5 * p.mean(axis=0)
        return {"accuracy": float(np.mean(self.predict(x).argmax(1) == y))}

    def predict(self, data, **kwargs):
        z = data @ self.w + self.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def get_weights(self):
        return [self.w, self.b]

    def set_weights(self, weights):
        self.w, self.b = np.array(weights[0]), np.array(weights[1])

    def save(self, model_path):
        np.savez(model_path, w=self.w, b=self.b)

    def load(self, model_url):
        pass


if __name__ == "__main__":
    part, parts = int(os.environ["PART"]), int(os.environ["PARTS"])
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    idx = np.array_split(np.arange(1400), parts)[part]
    job = FederatedLearning(estimator=SoftmaxRegression(),
                            aggregation=Context.get_parameters("aggregation_algorithm", "FedAvg"))
    job.train(train_data=(x[idx], y[idx]), epochs=int(Context.get_parameters("epochs", 1)))
    model = job.estimator.estimator
    acc = float(np.mean(model.predict(x[1400:]).argmax(1) == y[1400:]))
    print(f"ACCURACY {acc:.4f}", flush=True)
