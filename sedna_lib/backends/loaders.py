"""Load a model from the file a deployment names, chosen by the file's type."""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

from ..exceptions import BackendError, ConfigError, StorageNotFoundError, StoragePermissionError
from .files import is_remote

__all__ = ["check_model", "load_estimator", "load_model_file"]

_HUB_REPO = re.compile(r"^[a-zA-Z0-9][\w\-]*/[a-zA-Z0-9][\w\-.]*$")  # ``owner/name`` on a model hub


def load_model_file(job: Any) -> None:
    """Load the model the deployment names (``MODEL_PATH``/``MODEL_URL``), if it names one."""
    if job.estimator is None:
        return
    if not (job.config.model_url or job.config.get("model_path") or job.context.config.model_path):
        return  # the estimator is used as given (already trained, or it loads itself)
    path = job.model_path
    # a remote MODEL_URL (s3://, http(s)://) is fetched by the backend's load through the storage layer;
    # the local test said such a model "does not exist" whatever the storage's answer would have been
    if job.model_load_mode == "file" and not is_remote(path) and not os.path.exists(path):
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


def check_model(model: Any) -> Any:
    """Return ``model``; refuse None, which is what an unset ``MODEL_URL``/``MODEL_PATH`` gives.

    Parameters
    ----------
    model : object
        A model object, a model class or factory, or a path to a model file.

    Returns
    -------
    object
        ``model``, unchanged.

    Raises
    ------
    ConfigError
        If ``model`` is None (``variable`` is ``MODEL_URL``).
    """
    if model is None:
        raise ConfigError("no model: set MODEL_URL (or MODEL_PATH), or pass a model object or path",
                          variable="MODEL_URL")
    return model


def load_estimator(model_path: Any) -> Any:
    """Load a model object from a local file, chosen by extension; return any other object as is.

    Raises
    ------
    ConfigError
        If ``model_path`` is None (``MODEL_URL`` and ``MODEL_PATH`` unset) or the file type is unknown.
    StorageNotFoundError
        If the file does not exist.
    StoragePermissionError
        If the file cannot be read.
    BackendError
        If the file is not a model its framework can load (corrupt, or of another kind), or a torch
        file holds weights only (a ``state_dict``): the message names the file and the framework,
        and the loader's error is chained.
    """
    check_model(model_path)
    if not isinstance(model_path, (str, os.PathLike)):
        return model_path
    path = os.fspath(model_path)
    if not os.path.exists(path):
        raise StorageNotFoundError(f"model file {path!r} does not exist", uri=path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".pkl", ".joblib", ".pickle", ".skops"):
        if _is_zip(path):  # what save_model and SklearnBackend.save write, whatever the name
            from .sklearn import load_skops

            return _loaded(path, "a skops file (scikit-learn)", load_skops)
        if ext == ".skops":
            raise BackendError(f"cannot load {path!r} as a skops file (scikit-learn): it is not a skops "
                               "archive (a zip file): it is truncated or another kind of file")
        import joblib

        # a local file the deployment chose, never a network payload
        return _loaded(path, "a joblib/pickle file (scikit-learn)", joblib.load)
    if ext in (".pt", ".pth"):
        import torch

        if _is_torchscript(path):
            return _loaded(path, "a TorchScript file", torch.jit.load)
        model = _loaded(path, "a torch file", lambda p: torch.load(p, weights_only=False))
        if isinstance(model, Mapping):
            raise BackendError(_weights_only(path, model))
        return model
    if ext in (".keras", ".h5"):
        import keras

        return _loaded(path, "a Keras model", keras.models.load_model, _keras_note(path, ext))
    raise ConfigError(f"cannot tell how to load {path!r}; use .pkl/.joblib/.skops (scikit-learn), .pt "
                      f"(torch) or .keras (Keras), or pass the loaded model")


def _loaded(path: str, kind: str, load: Callable[[str], Any], note: str = "") -> Any:
    """Return ``load(path)``; a failure becomes a :class:`BackendError` naming the file, the cause chained.

    ``note`` replaces the loader's own words when they would mislead (Keras calls a file that is
    not a zip archive "not found").
    """
    try:
        return load(path)
    except PermissionError as exc:
        raise StoragePermissionError(f"cannot read model file {path!r}: {exc}", uri=path) from exc
    except Exception as exc:  # a corrupt or foreign file fails in whatever way its loader does
        cause = note or f"{type(exc).__name__}: {exc}"
        raise BackendError(f"cannot load {path!r} as {kind}: {cause}") from exc


def _keras_note(path: str, ext: str) -> str:
    """Say when a ``.keras`` file is not the zip archive that format is (Keras calls it not found)."""
    import zipfile

    if ext == ".keras" and not zipfile.is_zipfile(path):
        return ("the file exists but is not a .keras archive (a zip file): it is truncated or another "
                "kind of file")
    return ""


def _weights_only(path: str, content: Mapping[Any, Any]) -> str:
    """Explain a torch file that holds a dict (a ``state_dict`` or a checkpoint) rather than a module."""
    keys = ", ".join(repr(k) for k in list(content)[:4]) + (", ..." if len(content) > 4 else "")
    if all(hasattr(v, "shape") for v in content.values()):
        held = f"weights only (a state_dict with keys {keys or 'none'})"
    else:
        held = f"a dict with keys {keys or 'none'} (a checkpoint?)"
    return (f"{path!r} holds {held}, not a model: build the module, load the weights into it with "
            f"TorchBackend(module).load({path!r}) or module.load_state_dict(torch.load({path!r}, "
            f"weights_only=True)), and pass the module")


def _is_zip(path: str) -> bool:
    """Whether the file starts as a zip archive does (skops files are zip archives, pickles are not)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except PermissionError as exc:
        raise StoragePermissionError(f"cannot read model file {path!r}: {exc}", uri=path) from exc
    except IsADirectoryError:
        return False


def _is_torchscript(path: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith("constants.pkl") for name in zf.namelist())
    except zipfile.BadZipFile:
        return False
