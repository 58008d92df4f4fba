"""The two trivial miners: everything stays at the edge, or everything goes to the cloud."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import HardExampleMiner

__all__ = ["EdgeOnlyFilter", "CloudOnlyFilter"]


class EdgeOnlyFilter(HardExampleMiner):
    """Never flag a sample: joint inference answers with the edge model only.

    Examples
    --------
    >>> EdgeOnlyFilter()([0.1, 0.9])
    False
    """

    def is_hard(self, batch: Any) -> np.ndarray:
        """Return all False.

        Parameters
        ----------
        batch : sized iterable
            The batch; only its length is used.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            All False.
        """
        return np.zeros(len(batch), dtype=bool)


class CloudOnlyFilter(HardExampleMiner):
    """Flag every sample: joint inference answers with the cloud model (the edge is the fallback).

    Examples
    --------
    >>> CloudOnlyFilter()([0.1, 0.9])
    True
    """

    def is_hard(self, batch: Any) -> np.ndarray:
        """Return all True.

        Parameters
        ----------
        batch : sized iterable
            The batch; only its length is used.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            All True.
        """
        return np.ones(len(batch), dtype=bool)
