"""Demo section: train a scikit-learn model through the backend and store it through the storage layer."""

from __future__ import annotations

import pathlib

from ..backends import set_backend
from ..config import Config
from ..context import Context


def run(workdir: pathlib.Path) -> None:
    """Train, save to local storage, load back into a fresh backend, and compare predictions."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    context = Context(config=Config(model_url=str(workdir / "models"), model_name="digits.pkl"))

    backend = set_backend(LogisticRegression(max_iter=300), context=context)
    backend.train((x_train, y_train))
    accuracy = float(np.mean(backend.predict(x_test) == y_test))
    path = backend.save()
    print(f"   trained {type(backend.estimator).__name__} through {type(backend).__name__}: "
          f"test accuracy {accuracy:.3f}")

    stored = context.storage.upload(path, str(workdir / "store" / "digits.pkl"))
    print(f"   saved to {path} and copied through the storage layer to {stored}")

    reloaded = set_backend(LogisticRegression(), context=context)
    reloaded.load(stored)
    same = bool(np.array_equal(reloaded.predict(x_test), backend.predict(x_test)))
    layers = [w.shape for w in reloaded.get_weights()]
    print(f"   reloaded model predicts identically: {same}; weights as numpy arrays: {layers}")
    info = reloaded.model_info(stored, result={"accuracy": [round(accuracy, 4)]})
    print(f"   model_info reported to the LocalController: {info}")
