"""Framework backends: one estimator contract over scikit-learn, PyTorch and TensorFlow/Keras.

Importing this package imports no framework: each backend module imports its framework inside
the methods that need it, and :func:`set_backend` picks a backend by name or by the estimator's
class hierarchy (read by module name only).
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from typing import TYPE_CHECKING, Any, Mapping

from .._lazy import lazy_attributes
from ..context import resolve
from ..exceptions import BackendUnavailableError, NotRegisteredError, SednaWarning
from .base import Backend, framework_of, is_factory, parse_kwargs
from .estimator import EstimatorBackend

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config
    from ..context import Context

__all__ = [
    "Backend",
    "EstimatorBackend",
    "SklearnBackend",
    "TorchBackend",
    "TensorFlowBackend",
    "KerasBackend",
    "MindSporeBackend",
    "set_backend",
    "backend_class",
    "backend_options",
    "select_backend_class",
    "framework_of",
    "parse_kwargs",
    "BACKEND_TYPES",
]

#: ``BACKEND_TYPE`` values (upper case) and the registered backend name each selects.
BACKEND_TYPES: dict[str, str] = {
    "TENSORFLOW": "tensorflow",
    "TF": "tensorflow",
    "KERAS": "keras",
    "TORCH": "torch",
    "PYTORCH": "torch",
    "SKLEARN": "sklearn",
    "SCIKIT-LEARN": "sklearn",
    "SCIKIT_LEARN": "sklearn",
    "MINDSPORE": "mindspore",
    "ESTIMATOR": "estimator",
}

# The framework framework_of() detects -> backend name.
_DETECTED = {"torch": "torch", "keras": "keras", "sklearn": "sklearn"}

# Config fields a Sedna-style config object or mapping may override.
_CONFIG_FIELDS = ("backend_type", "model_url", "model_name", "model_load_mode", "device_category",
                  "cuda_visible_devices")


__getattr__, __dir__ = lazy_attributes(__name__, {
    "SklearnBackend": "sedna_lib.backends.sklearn:SklearnBackend",
    "TorchBackend": "sedna_lib.backends.torch:TorchBackend",
    "TensorFlowBackend": "sedna_lib.backends.tensorflow:TensorFlowBackend",
    "KerasBackend": "sedna_lib.backends.tensorflow:KerasBackend",
    "MindSporeBackend": "sedna_lib.backends.mindspore:MindSporeBackend",
})


def _as_config(config: Any, context: Context | None) -> Config:
    """Return a :class:`Config` from a Config, a Sedna-style config (mapping or object) or nothing."""
    import dataclasses

    from ..config import Config

    if isinstance(config, Config):
        return config
    if context is None:
        raise TypeError("the settings of a backend start from a context or a Config; pass one")
    base = context.config
    if config is None:
        return base
    overrides: dict[str, Any] = {}
    for name in _CONFIG_FIELDS:
        if isinstance(config, Mapping):
            value = config.get(name)
        else:  # a Sedna-style config object: its get() first, then the attribute
            getter = getattr(config, "get", None)
            value = getter(name) if callable(getter) else None
            if value is None:
                value = getattr(config, name, None)
        if value is not None and value != "":
            overrides[name] = value
    return dataclasses.replace(base, **overrides) if overrides else base


def backend_class(name: str, *, context: Context | None = None) -> type[Backend]:
    """Return the backend class registered as ``name`` (``'torch'``, ``'sklearn'``, ...).

    Parameters
    ----------
    name : str
        A registered backend name, or a ``BACKEND_TYPE`` value such as ``'PYTORCH'``.
    context : Context, default=None
        Whose registry to search; the default registry if omitted.

    Returns
    -------
    type
        The backend class (its module is imported, its framework is not).

    Raises
    ------
    NotRegisteredError
        If no backend has that name; the message lists the known names.
    """
    from ..registry import Kind, default_registry

    registry = context.registry if context is not None else default_registry
    key = BACKEND_TYPES.get(name.strip().upper(), name.strip())
    for candidate in (key, key.lower()):
        if registry.is_registered(Kind.BACKEND, candidate):
            return registry.get(Kind.BACKEND, candidate)
    known = ", ".join(registry.names(Kind.BACKEND)) or (
        "none: backends register through the installed package's entry points; install sedna_lib "
        "(pip install ./sedna_lib from a clone) rather than importing it from a source folder")
    raise NotRegisteredError(f"no backend named {name!r}; known names: {known}",
                             kind=Kind.BACKEND.value, name=name)


def set_backend(estimator: Any = None, config: Any = None, *,
                context: Context | None = None) -> Backend | None:
    """Wrap an estimator in the backend that fits it.

    ``BACKEND_TYPE`` picks the backend as in Sedna (``TENSORFLOW``, ``KERAS``, ``TORCH`` or
    ``PYTORCH``, ``SKLEARN``, ``MINDSPORE``; a registered third-party name; anything else gives
    :class:`EstimatorBackend` with a :class:`~sedna_lib.exceptions.SednaWarning`). A built-in
    framework named there but not installed (``BACKEND_TYPE=PYTORCH`` without torch) also gives
    :class:`EstimatorBackend`, with one warning per process and value, as Sedna 0.6 did. When it is
    empty (the default), the estimator's class decides: ``torch.nn.Module`` -> torch, a Keras
    ``Model`` -> keras, a scikit-learn estimator -> sklearn, anything else -> the generic
    :class:`EstimatorBackend`; a factory function that takes no arguments
    (``def Estimator(): return LogisticRegression()``) is called once and what it returns
    decides. No framework is imported to decide, and no environment variable is written.

    Parameters
    ----------
    estimator : object, default=None
        The estimator class, factory or instance; a :class:`Backend` (``TorchBackend(module,
        loss=...)``) is returned as it is, with its own options.
    config : Config or mapping, default=None
        Settings (``backend_type``, ``model_url``, ``model_name``, ...); a Sedna-style config
        object or mapping overrides those fields of the context's config. ``None``: the
        context's config, else the process environment read now.
    context : Context, default=None
        Gives the registry and the storage layer; the backend keeps it, so a model it saves to a
        remote URL goes to this context's storage whatever ``config`` says. When omitted, the
        environment's context, read here (or, when ``config`` is a Config, one built on it).

    Returns
    -------
    Backend or None
        The backend, or None when ``estimator`` is None (as in Sedna).

    Raises
    ------
    BackendUnavailableError
        If the framework of a detected, MindSpore or third-party backend is not installed; the
        message names the extra.

    Examples
    --------
    >>> from sedna_lib.config import Config
    >>> class Estimator:
    ...     def train(self, train_data): ...
    >>> set_backend(Estimator, Config()).framework
    ''
    """
    if estimator is None:
        return None
    if isinstance(estimator, Backend):  # already a backend, with its own options: used as it is (a
        return estimator                # generic wrapper around it hid what it is, e.g. from a warm start)
    from ..config import Config

    if not isinstance(config, Config):  # the settings start from the context's, the environment's if none
        context = resolve(context)
    cls, target, options = _resolve(estimator, config, context)
    return cls(target, **options)


def _resolve(estimator: Any, config: Any,
             context: Context | None) -> tuple[type[Backend], Any, dict[str, Any]]:
    """Return the backend class, what it wraps and its constructor options (``set_backend``'s steps)."""
    cfg = _as_config(config, context)
    context = _context_for(cfg, context)
    target = _detection_target(estimator, cfg)
    cls = select_backend_class(target, cfg, context=context)
    return cls, target, backend_options(cfg, context)


def _detection_target(estimator: Any, cfg: Config) -> Any:
    """Return what the backend should wrap so that its framework can be detected.

    A class tells its framework by itself, and so does a ``functools.partial`` of one. A
    factory *function* does not: when ``BACKEND_TYPE`` is empty and the function takes no
    arguments, it is called once here and the backend wraps what it built (one call, as the
    backend would have made on first use). A factory that takes arguments is left alone: the
    backend calls it later with the training options it accepts, as Sedna does.
    """
    if (cfg.backend_type or "").strip() or not is_factory(estimator) or framework_of(estimator) is not None:
        return estimator
    target = estimator.func if isinstance(estimator, functools.partial) else estimator
    if inspect.isclass(target):
        return estimator
    try:
        takes_arguments = bool(inspect.signature(estimator).parameters)
    except (TypeError, ValueError):  # a builtin without a signature
        return estimator
    return estimator if takes_arguments else estimator()


def _context_for(cfg: Config, context: Context | None) -> Context:
    """Return the caller's context (its registry and storage), else one built on ``cfg``."""
    if context is not None:
        return context
    from ..context import Context

    return Context(config=cfg)


def backend_options(cfg: Config, context: Context | None = None) -> dict[str, Any]:
    """Return the :class:`Backend` constructor options a config implies (Sedna's ``set_backend`` rule).

    Parameters
    ----------
    cfg : Config
        The settings: ``MODEL_URL`` is both the save path and the upload URL, ``MODEL_NAME``
        the file name, ``CUDA_VISIBLE_DEVICES`` enables CUDA, ``MODEL_LOAD_MODE`` is kept.
    context : Context, default=None
        Passed to the backend for storage access.

    Returns
    -------
    dict
        Keyword arguments for a backend constructor.
    """
    return {"model_save_path": cfg.model_url or None, "model_name": cfg.model_name or None,
            "model_save_url": cfg.model_url or None, "use_cuda": cfg.use_cuda,
            "model_load_mode": cfg.model_load_mode, "context": context}


def select_backend_class(estimator: Any, cfg: Config, *, context: Context | None = None) -> type[Backend]:
    """Pick the backend class for an estimator: by ``BACKEND_TYPE``, else by the estimator's type.

    Parameters
    ----------
    estimator : object
        The estimator class, factory or instance.
    cfg : Config
        Gives ``backend_type``.
    context : Context, default=None
        Whose registry to search.

    Returns
    -------
    type
        A :class:`Backend` subclass whose framework is installed.

    Raises
    ------
    BackendUnavailableError
        If the selected backend's framework is not installed (except for the built-in
        frameworks ``BACKEND_TYPE`` names, which fall back to :class:`EstimatorBackend`).
    """
    backend_type = (cfg.backend_type or "").strip()
    if backend_type:
        try:
            cls = backend_class(backend_type, context=context)
        except NotRegisteredError:
            warnings.warn(f"BACKEND_TYPE {backend_type!r} is not a known backend; using the estimator's own "
                          f"methods (EstimatorBackend)", SednaWarning, stacklevel=4)  # set_backend's caller
            cls = EstimatorBackend
        if backend_type.upper() in _FALLBACK_TYPES and cls.__module__.startswith(__name__ + "."):
            try:
                cls.check_available()
            except BackendUnavailableError as exc:
                _warn_fallback(backend_type.upper(), exc)
                return EstimatorBackend
    else:
        cls = backend_class(_DETECTED.get(framework_of(estimator) or "", "estimator"), context=context)
    cls.check_available()
    return cls


#: ``BACKEND_TYPE`` values that fall back to :class:`EstimatorBackend` when their framework is
#: missing (Sedna 0.6 did so for any type it did not know, and Ianvs's examples set them freely).
_FALLBACK_TYPES = frozenset({"TENSORFLOW", "TF", "KERAS", "TORCH", "PYTORCH", "SKLEARN", "SCIKIT-LEARN",
                             "SCIKIT_LEARN"})
_warned_fallback: set[str] = set()
_warned_lock = threading.Lock()


def _warn_fallback(backend_type: str, exc: BackendUnavailableError) -> None:
    """Warn once per process and ``BACKEND_TYPE`` that the plain backend is used instead."""
    with _warned_lock:
        if backend_type in _warned_fallback:
            return
        _warned_fallback.add(backend_type)
    warnings.warn(f"BACKEND_TYPE={backend_type}: {exc}; using the estimator's own methods "
                  f"(EstimatorBackend) instead", SednaWarning, stacklevel=5)  # set_backend's caller
