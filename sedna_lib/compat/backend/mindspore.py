"""Sedna's ``sedna.backend.mindspore``: ``MSBackend``, which needs MindSpore installed."""

from __future__ import annotations

from typing import Any

from ...backends.mindspore import MindSporeBackend
from .base import BackendBase, sedna_options

__all__ = ["MSBackend"]


class MSBackend(MindSporeBackend):
    """Sedna's ``MSBackend``: a Sedna-style estimator run with MindSpore.

    Parameters
    ----------
    estimator : object
        The user's estimator class, factory or instance.
    fine_tune : bool, default=True
        Shapes the default model name (``model_finetune_mindspore.ckpt``).
    **kwargs : object
        Sedna's keywords (``use_cuda``, ``use_npu``, ``model_save_path``, ...).

    Raises
    ------
    BackendUnavailableError
        If MindSpore is not installed; the message says how to install it.
    """

    def __init__(self, estimator: Any, fine_tune: bool = True, **kwargs: Any) -> None:
        self.check_available()
        super().__init__(estimator, **sedna_options(MindSporeBackend, fine_tune, kwargs))
        self.use_npu = bool(kwargs.get("use_npu"))


BackendBase.register(MSBackend)
