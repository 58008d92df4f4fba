"""The model the federated-learning scripts train: a small MLP on 8x8 digits, in PyTorch or Keras.

``BACKEND_TYPE`` picks the framework as in Sedna's examples: ``TORCH``/``PYTORCH`` (the
default) or ``KERAS``/``TENSORFLOW``. The Keras model ends in a softmax, the PyTorch one gives
logits; the matching losses are ``SparseCategoricalCrossentropy()`` and ``CrossEntropyLoss``.
"""

import numpy as np

from sedna.common.config import Context


def framework():
    """Return ``'keras'`` or ``'torch'`` from ``BACKEND_TYPE``."""
    backend = str(Context.get_parameters("BACKEND_TYPE", "") or "TORCH").upper()
    return "keras" if backend in ("KERAS", "TENSORFLOW") else "torch"


def Estimator(hidden=32, seed=0):  # noqa: N802 - Sedna scripts call the model factory Estimator
    """Build the model (the same initial weights on every node, given the same seed)."""
    if framework() == "keras":
        import keras

        keras.utils.set_random_seed(seed)
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(hidden, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def accuracy(model, x, y):
    """Accuracy of ``model`` (either framework) on ``(x, y)``."""
    x = np.asarray(x, dtype=np.float32)
    if framework() == "keras":
        scores = model.predict(x, verbose=0)
    else:
        import torch

        with torch.no_grad():
            scores = model(torch.from_numpy(x)).numpy()
    return float(np.mean(scores.argmax(axis=1) == np.asarray(y)))


def load_samples(x):
    """Turn index entries (paths of ``.npy`` images) into an array; arrays pass through."""
    x = np.asarray(x)
    if x.dtype.kind in "USO":
        return np.stack([np.load(str(p), allow_pickle=False) for p in x])
    return x
