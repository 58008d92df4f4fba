"""Sedna's ``sedna.backend.tensorflow``: ``TFBackend`` and ``KerasBackend``, importable without TensorFlow."""

from __future__ import annotations

from typing import Any

from ...backends import tensorflow as _tf
from .base import BackendBase, sedna_options

__all__ = ["TFBackend", "KerasBackend"]


class TFBackend(_tf.TensorFlowBackend):
    """Sedna's ``TFBackend``: :class:`sedna_lib.backends.TensorFlowBackend` with Sedna's constructor.

    No TensorFlow 1 session or graph is created (TensorFlow 2 runs eagerly), and weights work
    (Sedna's returned None).

    Parameters
    ----------
    estimator : object
        A Keras model, or a Sedna-style estimator class, factory or instance.
    fine_tune : bool, default=True
        Shapes the default model name.
    **kwargs : object
        Sedna's keywords (``use_cuda``, ``model_save_path``, ``model_name``, ``model_save_url``)
        and :class:`~sedna_lib.backends.TensorFlowBackend` options (``loss``, ``epochs``, ...).
    """

    def __init__(self, estimator: Any, fine_tune: bool = True, **kwargs: Any) -> None:
        super().__init__(estimator, **sedna_options(_tf.TensorFlowBackend, fine_tune, kwargs))


class KerasBackend(_tf.KerasBackend):
    """Sedna's ``KerasBackend``: :class:`sedna_lib.backends.KerasBackend` with Sedna's constructor.

    Parameters
    ----------
    estimator : object
        A Keras model, or a Sedna-style estimator class, factory or instance.
    fine_tune : bool, default=True
        Shapes the default model name.
    **kwargs : object
        As for :class:`TFBackend`.
    """

    def __init__(self, estimator: Any, fine_tune: bool = True, **kwargs: Any) -> None:
        super().__init__(estimator, **sedna_options(_tf.KerasBackend, fine_tune, kwargs))

    def finetune(self) -> None:
        """Load the saved weights, if any (Sedna's ``KerasBackend.finetune``)."""
        self.load_weights()

    def load_weights(self) -> None:
        """Load ``model_save_path``/``model_name`` into the model when that file exists."""
        import os

        folder, name = self._save_dir()
        path = os.path.join(folder, name or self.model_name)
        if os.path.exists(path):
            self.load(path)


BackendBase.register(TFBackend)
BackendBase.register(KerasBackend)
