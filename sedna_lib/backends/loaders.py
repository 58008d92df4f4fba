"""Load a model from the file a deployment names, chosen by the file's type."""

from __future__ import annotations

import os
import re
from typing import Any

from ..exceptions import ConfigError, StorageNotFoundError

__all__ = ["load_estimator", "load_model_file"]

_HUB_REPO = re.compile(r"^[a-zA-Z0-9][\w\-]*/[a-zA-Z0-9][\w\-.]*$")  # ``owner/name`` on a model hub


def load_model_file(job: Any) -> None:
    """Load the model the deployment names (``MODEL_PATH``/``MODEL_URL``), if it names one."""
    if job.estimator is None:
        return
    if not (job.config.model_url or job.config.get("model_path") or job.context.config.model_path):
        return  # the estimator is used as given (already trained, or it loads itself)
    path = job.model_path
    if job.model_load_mode == "file" and not os.path.exists(path):
        load_as_given = getattr(job.estimator, "_load_file", None)
        if _HUB_REPO.match(path) and load_as_given is not None:
            # a model hub name such as ``Qwen/Qwen2.5-1.5B-Instruct`` (Sedna 0.6 accepts one, and
            # Ianvs's LLM examples set ``model_path`` to it): the estimator's own load fetches it
            load_as_given(path)
            job.estimator.has_load = True
            return
        raise StorageNotFoundError(f"model file {path!r} does not exist; check MODEL_URL/MODEL_PATH",
                                   uri=path)
    job.estimator.load(path)


def load_estimator(model_path: Any) -> Any:
    """Load a model object from a local file, chosen by extension; return any other object as is."""
    if not isinstance(model_path, (str, os.PathLike)):
        return model_path
    path = os.fspath(model_path)
    if not os.path.exists(path):
        raise StorageNotFoundError(f"model file {path!r} does not exist", uri=path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".pkl", ".joblib", ".pickle"):
        import joblib

        return joblib.load(path)  # a local file the deployment chose, never a network payload
    if ext in (".pt", ".pth"):
        import torch

        return torch.jit.load(path) if _is_torchscript(path) else torch.load(path, weights_only=False)
    if ext in (".keras", ".h5"):
        import keras

        return keras.models.load_model(path)
    raise ConfigError(f"cannot tell how to load {path!r}; use .pkl/.joblib (scikit-learn), .pt (torch) or "
                      f".keras (Keras), or pass the loaded model")


def _is_torchscript(path: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith("constants.pkl") for name in zf.namelist())
    except zipfile.BadZipFile:
        return False
