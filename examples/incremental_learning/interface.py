"""The estimator and data loading shared by the train, eval and inference scripts."""

import functools
import os

import numpy as np
from sklearn.linear_model import LogisticRegression

from sedna.common.config import Context
from sedna.datasources import TxtDataParse


# A factory of a scikit-learn model: the backend builds a fresh one from it when it needs to.
Estimator = functools.partial(LogisticRegression, max_iter=1000)


def load_index(index_url):
    """Read a 'samples/<id>.npy <label>' index (paths relative to ORIGINAL_DATASET_URL's folder)."""
    root = os.path.dirname(Context.get_parameters("original_dataset_url", index_url))
    parsed = TxtDataParse(data_type="train")
    parsed.parse(index_url)
    x = np.stack([np.load(os.path.join(root, p), allow_pickle=False).ravel() for p in parsed.x])
    return x, parsed.y.astype(int)


def prepare(folder):
    """Write digits as .npy samples plus train/test index files (the control plane's layout)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    os.makedirs(os.path.join(folder, "samples"), exist_ok=True)
    lines = []
    for i, (sample, label) in enumerate(zip(x / 16.0, y)):
        np.save(os.path.join(folder, "samples", f"{i}.npy"), sample.reshape(8, 8))
        lines.append(f"samples/{i}.npy {label}")
    for name, part in (("train.txt", lines[:300]), ("test.txt", lines[1400:])):
        with open(os.path.join(folder, name), "w") as fh:
            fh.write("\n".join(part) + "\n")
