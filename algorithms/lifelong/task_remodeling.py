"""Task remodeling: cut the allocated samples into one subset per model."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import BaseAlgorithm
from sedna_lib.exceptions import ParameterError

from ._data import take

__all__ = ["DefaultTaskRemodeling"]


class DefaultTaskRemodeling(BaseAlgorithm):
    """One subset of samples per allocated task, each paired with that task's model.

    Parameters
    ----------
    models : list, default=None
        The knowledge base's models, by task index.
    """

    def __init__(self, *, models: list | None = None) -> None:
        self.models = models

    def __call__(self, samples: Any, mappings: Any, **kwargs: Any) -> tuple[list, list]:
        """Split by allocation.

        Parameters
        ----------
        samples : data source
            Allocated samples.
        mappings : sequence of int
            Task index of each sample.
        **kwargs : object
            Ignored.

        Returns
        -------
        subsets : list of data source
            One per distinct task index, ``inx`` holding the original row positions.
        models : list
            The model of each subset (``models[m]``, or the first model when ``m`` is out of range).

        Raises
        ------
        ParameterError
            If there are no models.
        """
        if not self.models:
            raise ParameterError("DefaultTaskRemodeling needs models=[...] (the knowledge base is empty)")
        mappings = np.asarray(mappings, dtype=int)
        subsets, models = [], []
        for m in sorted(set(mappings.tolist())):
            subsets.append(take(samples, np.flatnonzero(mappings == m)))
            models.append(self.models[m] if 0 <= m < len(self.models) and self.models[m] is not None
                          else self.models[0])
        return subsets, models
