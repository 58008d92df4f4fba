"""Sedna's ``sedna.backend.base``: ``BackendBase``, the backend for a user's own estimator."""

from __future__ import annotations

from typing import Any

from ...backends.base import Backend
from ...backends.estimator import EstimatorBackend, named_params

__all__ = ["BackendBase"]

# Sedna's constructor keywords and the sedna_lib option each one sets.
_SEDNA_KEYS = ("use_cuda", "model_save_path", "model_name", "model_save_url", "model_load_mode", "context")


def sedna_options(cls: type[Backend], fine_tune: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Translate Sedna's ``(fine_tune=True, **kwargs)`` constructor arguments into sedna_lib options.

    Parameters
    ----------
    cls : type
        The sedna_lib backend class being built.
    fine_tune : bool
        Sedna's flag (it only shapes the default model name).
    kwargs : dict
        Sedna's keywords (``use_cuda``, ``use_npu``, ``model_save_path``, ``model_name``,
        ``model_save_url``); keywords the class does not take (``use_npu``) are dropped.

    Returns
    -------
    dict
        Keyword arguments for ``cls``.
    """
    options = {k: kwargs[k] for k in _SEDNA_KEYS if k in kwargs}
    options["use_cuda"] = bool(options.get("use_cuda"))
    options["fine_tune"] = bool(fine_tune)
    named = named_params(cls.__init__) - set(named_params(Backend.__init__))
    options.update({k: v for k, v in kwargs.items() if k in named})
    return options


class BackendBase(EstimatorBackend):
    """Sedna's ``BackendBase``: run the user's estimator through its own methods.

    This is :class:`sedna_lib.backends.EstimatorBackend` with Sedna's constructor. Compared
    with Sedna: an estimator *instance* that defines ``__call__`` is not called, a fit-only
    estimator trains, keyword arguments pass through ``**kwargs`` under any name, ``load``
    raises :class:`~sedna_lib.exceptions.StorageNotFoundError` for a missing file instead of
    returning None, and ``get_weights``/``set_weights`` use the estimator's own methods.

    Parameters
    ----------
    estimator : object
        The estimator class, factory or instance.
    fine_tune : bool, default=True
        Shapes the default model name (``model_finetune_...``).
    **kwargs : object
        Sedna's keywords: ``use_cuda``, ``use_npu`` (ignored), ``model_save_path``,
        ``model_name``, ``model_save_url``.
    """

    def __init__(self, estimator: Any, fine_tune: bool = True, **kwargs: Any) -> None:
        super().__init__(estimator, **sedna_options(EstimatorBackend, fine_tune, kwargs))
        self.use_npu = bool(kwargs.get("use_npu"))
