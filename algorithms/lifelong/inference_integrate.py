"""Inference integration: put the per-task predictions back in the samples' order."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import BaseAlgorithm

__all__ = ["DefaultInferenceIntegrate"]


class DefaultInferenceIntegrate(BaseAlgorithm):
    """Concatenate each task's predictions and restore the original order of the samples.

    Parameters
    ----------
    models : list, default=None
        The knowledge base's models (unused; kept for Sedna's calling convention).
    """

    def __init__(self, *, models: list | None = None) -> None:
        self.models = models

    def __call__(self, tasks: list, **kwargs: Any) -> np.ndarray:
        """Merge.

        Parameters
        ----------
        tasks : list of Task
            Tasks whose ``samples.inx`` are original positions and ``result`` their predictions.
        **kwargs : object
            Ignored.

        Returns
        -------
        numpy.ndarray
            Predictions in sample order (rows of probabilities stay rows).
        """
        pairs = []
        for task in tasks:
            result = task.result
            if result is None:
                continue
            rows = list(result) if not isinstance(result, np.ndarray) else list(result)
            pairs.extend(zip(task.samples.inx, rows))
        pairs.sort(key=lambda p: p[0])
        return np.asarray([r for _, r in pairs])
