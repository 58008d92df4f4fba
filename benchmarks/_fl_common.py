"""Shared pieces of the federated benchmarks F1-F7: digits splits, the NumPy MLP, its training function, timing.

This module imports only numpy at import time, so the Flower side (which runs in its own venv,
see ``_flower_venv.py``) uses the very same training function, partitions and seeds as the
sedna_lib side. The workload follows ``federated-anchors.md`` section 4.3: digits split with
seed 0 into 1,437 train / 360 test samples, 10 clients, MLP 64-32-10 (float64), one local epoch
of SGD with lr 0.1 and batch 16, seed ``round * 100 + client id``, FedAvg over all clients.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

PARTITIONS = ("iid", "dir0.5", "shards2")


# -- data --------------------------------------------------------------------------------------
def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], split 1,437 / 360 with ``seed`` (needs scikit-learn)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:360], order[360:]
    return x[train], y[train].astype(np.int64), x[test], y[test].astype(np.int64)


def save_data(path: str, seed: int = 0) -> str:
    """Write the split to an ``.npz`` so that the Flower venv needs no scikit-learn."""
    xtr, ytr, xte, yte = load_digits_split(seed)
    np.savez(path, xtr=xtr, ytr=ytr, xte=xte, yte=yte)
    return path


def load_data(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read what :func:`save_data` wrote."""
    with np.load(path) as d:
        return d["xtr"], d["ytr"], d["xte"], d["yte"]


def partition(y: np.ndarray, kind: str, n_clients: int = 10, seed: int = 0) -> list[np.ndarray]:
    """Index sets per client: ``iid``, ``dir0.5`` (NIID-Bench label Dirichlet) or ``shards2`` (McMahan).

    Parameters
    ----------
    y : numpy.ndarray
        Training labels.
    kind : str
        One of :data:`PARTITIONS` (``dirA`` takes any concentration ``A``).
    n_clients : int, default=10
        Clients.
    seed : int, default=0
        Randomness.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    if kind == "iid":
        return [np.sort(p) for p in np.array_split(rng.permutation(n), n_clients)]
    if kind.startswith("dir"):
        alpha = float(kind[3:])
        classes = np.unique(y)
        min_size = min(10, n // n_clients)
        while True:
            parts: list[list[int]] = [[] for _ in range(n_clients)]
            for k in classes:
                idx = rng.permutation(np.flatnonzero(y == k))
                props = rng.dirichlet(np.full(n_clients, alpha))
                cuts = (np.cumsum(props) * len(idx)).astype(int)[:-1]
                for c, piece in enumerate(np.split(idx, cuts)):
                    parts[c].extend(piece.tolist())
            if min(len(p) for p in parts) >= min_size:
                return [np.sort(np.array(p, dtype=np.int64)) for p in parts]
    if kind == "shards2":
        order = np.argsort(y, kind="stable")
        shards = np.array_split(order, 2 * n_clients)
        pick = rng.permutation(2 * n_clients)
        return [np.sort(np.concatenate([shards[pick[2 * c]], shards[pick[2 * c + 1]]])) for c in range(n_clients)]
    raise ValueError(f"unknown partition {kind!r}; use one of {PARTITIONS}")


@dataclass
class ClientData:
    """One client's local data; ``cid`` seeds its local training."""

    x: np.ndarray
    y: np.ndarray
    cid: int

    def __len__(self) -> int:
        return len(self.y)


def client_datasets(xtr: np.ndarray, ytr: np.ndarray, kind: str, n_clients: int = 10,
                    seed: int = 0) -> list[ClientData]:
    """The clients' local datasets for a partition."""
    return [ClientData(xtr[p], ytr[p], c) for c, p in enumerate(partition(ytr, kind, n_clients, seed))]


# -- model and training function ----------------------------------------------------------------
def init_mlp(hidden: int = 32, seed: int = 0, n_in: int = 64, n_out: int = 10) -> list[np.ndarray]:
    """He-initialised MLP ``n_in -> hidden -> n_out`` as ``[W1, b1, W2, b2]`` (float64)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, hidden)), np.zeros(hidden),
            rng.normal(0.0, np.sqrt(2.0 / hidden), (hidden, n_out)), np.zeros(n_out)]


def n_params(weights: list[np.ndarray]) -> int:
    """Total parameters."""
    return int(sum(w.size for w in weights))


def train_mlp(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, epochs: int = 1, batch_size: int = 16,
              lr: float = 0.1, seed: int = 0) -> list[np.ndarray]:
    """The one local training function both frameworks call: SGD on softmax cross-entropy.

    Returns new arrays (the inputs are not modified).
    """
    w1, b1, w2, b2 = (np.array(w, dtype=np.float64) for w in weights)
    rng = np.random.default_rng(seed)
    n = len(x)
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        for s in range(0, n, int(batch_size)):
            idx = order[s:s + int(batch_size)]
            xb, yb = x[idx], y[idx]
            h = xb @ w1 + b1
            a = np.maximum(h, 0.0)
            z = a @ w2 + b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), yb] -= 1.0
            p /= len(idx)
            gw2, gb2 = a.T @ p, p.sum(axis=0)
            da = p @ w2.T
            da[h <= 0] = 0.0
            gw1, gb1 = xb.T @ da, da.sum(axis=0)
            w1 -= lr * gw1
            b1 -= lr * gb1
            w2 -= lr * gw2
            b2 -= lr * gb2
    return [w1, b1, w2, b2]


def accuracy(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy of an MLP."""
    w1, b1, w2, b2 = weights
    return float(np.mean((np.maximum(x @ w1 + b1, 0.0) @ w2 + b2).argmax(axis=1) == y))


def seed_for(round_number: int, cid: int) -> int:
    """Per-client, per-round seed of local training (rounds count from 1)."""
    return int(round_number) * 100 + int(cid)


class MLPEstimator:
    """A Sedna-style estimator around :func:`train_mlp` (``train``/``predict``/``get_weights``/``set_weights``).

    ``round`` is the round being trained (the benchmark advances it from ``on_round``); the
    training data is a :class:`ClientData` whose ``cid`` completes the seed.
    """

    def __init__(self, hidden: int = 32, seed: int = 0, epochs: int = 1, batch_size: int = 16, lr: float = 0.1):
        self.weights = init_mlp(hidden, seed)
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.round = 1

    def train(self, train_data: ClientData, valid_data=None, **kwargs):
        self.weights = train_mlp(self.weights, train_data.x, train_data.y, epochs=self.epochs,
                                 batch_size=self.batch_size, lr=self.lr, seed=seed_for(self.round, train_data.cid))
        return {}

    def predict(self, data):
        w1, b1, w2, b2 = self.weights
        return (np.maximum(np.asarray(data) @ w1 + b1, 0.0) @ w2 + b2).argmax(axis=1)

    def forward_to(self, x, cut_layer):
        """Activations after the first layer (MistNet's cut)."""
        w1, b1 = self.weights[:2]
        return np.maximum(np.asarray(x, dtype=np.float64) @ w1 + b1, 0.0)

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = [np.asarray(w) for w in weights]


def plain_fedavg(data: list[ClientData], xte: np.ndarray, yte: np.ndarray, rounds: int, hidden: int = 32,
                 seed: int = 0) -> dict:
    """The plain single-process FedAvg loop of the anchors (lower bound of any framework's cost)."""
    weights = init_mlp(hidden, seed)
    accs, stamps = [], [time.perf_counter()]
    total = sum(len(d) for d in data)
    for r in range(1, rounds + 1):
        acc = [np.zeros_like(w) for w in weights]
        for d in data:
            local = train_mlp(weights, d.x, d.y, seed=seed_for(r, d.cid))
            for a, w in zip(acc, local):
                a += w * len(d)
        weights = [a / total for a in acc]
        accs.append(accuracy(weights, xte, yte))
        stamps.append(time.perf_counter())
    return {"accuracy": accs, "round_seconds": list(np.diff(stamps))}


def synthetic_updates(n_updates: int, hidden: int, dtype: str, seed: int = 0):
    """``n_updates`` MLP-shaped updates (64-hidden-10) and their sample counts (same on both sides)."""
    rng = np.random.default_rng(seed)
    base = init_mlp(hidden, seed)
    updates = [[(w + rng.standard_normal(w.shape) * 0.01).astype(dtype) for w in base] for _ in range(n_updates)]
    ns = [int(n) for n in rng.integers(50, 200, n_updates)]
    return updates, ns


# -- timing helpers ------------------------------------------------------------------------------
def median(values) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(list(values)))


def fmt_ms(seconds: float) -> str:
    """Seconds as a short millisecond string."""
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def table(headers: list[str], rows: list[list]) -> str:
    """A GitHub-markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
