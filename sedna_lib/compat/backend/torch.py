"""Sedna's ``sedna.backend.torch``: ``TorchBackend``, importable without PyTorch."""

from __future__ import annotations

from typing import Any

from ...backends import torch as _torch
from .base import BackendBase, sedna_options

__all__ = ["TorchBackend"]


class TorchBackend(_torch.TorchBackend):
    """Sedna's ``TorchBackend``: :class:`sedna_lib.backends.TorchBackend` with Sedna's constructor.

    Unlike Sedna's, :meth:`train` trains (a ``torch.nn.Module`` with a real loop, or the user
    estimator's ``train``), and :meth:`load` passes the model path and fails loudly.

    Parameters
    ----------
    estimator : object
        A ``torch.nn.Module``, or a Sedna-style estimator class, factory or instance.
    fine_tune : bool, default=True
        Shapes the default model name.
    **kwargs : object
        Sedna's keywords and :class:`~sedna_lib.backends.TorchBackend` options (``loss``,
        ``optimizer``, ``epochs``, ...).
    """

    def __init__(self, estimator: Any, fine_tune: bool = True, **kwargs: Any) -> None:
        super().__init__(estimator, **sedna_options(_torch.TorchBackend, fine_tune, kwargs))


BackendBase.register(TorchBackend)
