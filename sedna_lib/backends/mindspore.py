"""The MindSpore backend: a Sedna-style estimator run with MindSpore installed."""

from __future__ import annotations

from .estimator import EstimatorBackend

__all__ = ["MindSporeBackend"]


class MindSporeBackend(EstimatorBackend):
    """Drive a Sedna-style estimator that uses MindSpore (``BACKEND_TYPE=MINDSPORE``).

    The estimator's own ``train``/``predict``/``evaluate``/``load``/``save`` do the work, as
    with :class:`~sedna_lib.backends.EstimatorBackend`; the default file name is Sedna's
    ``model_finetune_mindspore.ckpt``. :func:`~sedna_lib.backends.set_backend` refuses to build
    it when MindSpore is not installed, and names how to install it. Unlike Sedna, it sets no
    global MindSpore context: the estimator chooses its device.

    Parameters
    ----------
    estimator : object
        The user's estimator class, factory or instance.
    model_save_path, model_name, model_save_url, use_cuda, fine_tune, model_load_mode, context
        The :class:`~sedna_lib.backends.Backend` options.
    """

    framework = "mindspore"
    requires = ("mindspore", "mindspore (see https://www.mindspore.cn/install)")
