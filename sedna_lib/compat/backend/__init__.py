"""Sedna's ``sedna.backend``: ``set_backend`` and the backend classes."""

from __future__ import annotations

from typing import Any

from ...backends import _resolve

__all__ = ["set_backend"]

# sedna_lib backend class name -> (module of this package, Sedna-face class name)
_FACES = {
    "EstimatorBackend": ("base", "BackendBase"),
    "TensorFlowBackend": ("tensorflow", "TFBackend"),
    "KerasBackend": ("tensorflow", "KerasBackend"),
    "TorchBackend": ("torch", "TorchBackend"),
    "MindSporeBackend": ("mindspore", "MSBackend"),
}


def set_backend(estimator: Any = None, config: Any = None) -> Any:
    """Wrap an estimator in a backend, as Sedna's ``set_backend`` does.

    ``BACKEND_TYPE`` is read when called. ``TENSORFLOW`` gives :class:`TFBackend`, ``KERAS``
    :class:`KerasBackend`, ``TORCH``/``PYTORCH`` :class:`TorchBackend`, ``MINDSPORE``
    :class:`MSBackend`, ``SKLEARN`` the scikit-learn backend, and any other value
    :class:`BackendBase` with a warning. A framework named there that is not installed (except
    MindSpore) gives :class:`BackendBase` too, with one warning per process, as Sedna 0.6 did.
    Unlike Sedna, an unset ``BACKEND_TYPE`` does not mean TensorFlow: the estimator's type
    decides, and no environment variable is written.

    Parameters
    ----------
    estimator : object, default=None
        The estimator class, factory or instance.
    config : mapping or config object, default=None
        Sedna's ``BaseConfig`` (or a dict) whose ``backend_type``, ``model_url`` and
        ``model_name`` override the environment.

    Returns
    -------
    object or None
        The backend, or None when ``estimator`` is None.

    Raises
    ------
    BackendUnavailableError
        If MindSpore or a third-party backend's framework is not installed; the message names
        what to install.
    """
    if estimator is None:
        return None
    from ...config import Config
    from ...context import Context

    context = None if isinstance(config, Config) else Context.from_env()
    cls, target, options = _resolve(estimator, config, context)
    # A built-in backend is built as its Sedna face; a third-party one as it is.
    face = _FACES.get(cls.__name__) if cls.__module__.startswith("sedna_lib.backends.") else None
    if face is None:
        return cls(target, **options)
    import importlib

    face_cls = getattr(importlib.import_module(f"{__name__}.{face[0]}"), face[1])
    return face_cls(target, **options)
