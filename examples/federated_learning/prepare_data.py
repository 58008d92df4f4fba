"""Lay out scikit-learn's digits as per-node datasets, the way the LocalController mounts them.

Each client gets ``<out>/client-<i>/train.txt``: one ``images/<n>.npy <label>`` line per sample,
paths relative to the index file (Sedna's dataset index format), which is what a trainer's
``TRAIN_DATASET_URL`` points at. A held-out ``<out>/test/test.txt`` is written the same way.
``partition`` picks the split: ``iid`` (shuffled, equal shares) or ``noniid`` (label skew: each
client's class mix is drawn from a Dirichlet(``alpha``) distribution).

Run: python prepare_data.py [--out data] [--clients 2] [--partition iid|noniid] [--alpha 0.5]
(``partition``/``PARTITION``, ``alpha`` and ``clients`` may also come from the environment.)
"""

import argparse
import os

import numpy as np
from sklearn.datasets import load_digits

from sedna.common.config import Context


def split(y, clients, partition, alpha, rng):
    """Return one index array per client."""
    if partition == "iid":
        return np.array_split(rng.permutation(len(y)), clients)
    shares = [[] for _ in range(clients)]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        cuts = (np.cumsum(rng.dirichlet([alpha] * clients))[:-1] * len(idx)).astype(int)
        for share, part in zip(shares, np.split(idx, cuts)):
            share.extend(part.tolist())
    return [np.array(sorted(s), dtype=int) for s in shares]


def write_index(folder, x, y):
    """Write ``folder/images/<n>.npy`` and the index ``folder/<name>.txt``; return the index path."""
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    lines = []
    for n, (sample, label) in enumerate(zip(x, y)):
        rel = f"images/{n:05d}.npy"
        np.save(os.path.join(folder, rel), sample)
        lines.append(f"{rel} {int(label)}")
    index = os.path.join(folder, "test.txt" if os.path.basename(folder) == "test" else "train.txt")
    with open(index, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return index


def main():
    """Write the test set and one training index per client."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data")
    parser.add_argument("--clients", type=int, default=int(Context.get_parameters("clients", 2)))
    parser.add_argument("--partition", choices=["iid", "noniid"],
                        default=str(Context.get_parameters("partition", "iid")).lower())
    parser.add_argument("--alpha", type=float, default=float(Context.get_parameters("alpha", 0.5)))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    test, train = order[:360], order[360:]
    print(f"test   {write_index(os.path.join(args.out, 'test'), x[test], y[test])}  ({len(test)} samples)")
    for i, idx in enumerate(split(y[train], args.clients, args.partition, args.alpha, rng)):
        index = write_index(os.path.join(args.out, f"client-{i}"), x[train][idx], y[train][idx])
        counts = np.bincount(y[train][idx], minlength=10)
        print(f"client {i}  {index}  ({len(idx)} samples, per class {counts.tolist()})")


if __name__ == "__main__":
    main()
