"""The two trivial miners: everything stays at the edge, or everything goes to the cloud."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import HardExampleMiner

__all__ = ["EdgeOnlyFilter", "CloudOnlyFilter"]


class _ConstantFilter(HardExampleMiner):
    """A miner whose answer does not depend on the sample (``answer``, a class attribute)."""

    answer: bool

    def is_hard(self, batch: Any) -> np.ndarray:
        """Return the same decision for every sample.

        Parameters
        ----------
        batch : sized iterable
            The batch; only its length is used.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            ``answer`` for each sample.
        """
        return np.full(len(batch), self.answer, dtype=bool)


class EdgeOnlyFilter(_ConstantFilter):
    """Never flag a sample: joint inference answers with the edge model only.

    Examples
    --------
    >>> EdgeOnlyFilter()([0.1, 0.9])
    False
    """

    answer = False


class CloudOnlyFilter(_ConstantFilter):
    """Flag every sample: joint inference answers with the cloud model (the edge is the fallback).

    Examples
    --------
    >>> CloudOnlyFilter()([0.1, 0.9])
    True
    """

    answer = True
