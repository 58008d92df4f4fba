"""Random miner: each sample is hard with a fixed probability (the baseline of every curve)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import HardExampleMiner

from ._budget import STATE_LOCK, check_param, check_unit

__all__ = ["RandomFilter"]


class RandomFilter(HardExampleMiner):
    """Flag each sample as hard with probability ``random_ratio``, whatever its content.

    Parameters
    ----------
    random_ratio : float, default=0.3
        Probability that a sample is hard, in [0, 1] (a string from a CRD is converted).
    seed : int, default=None
        Seed of the random stream (a whole number >= 0), for reproducible runs.

    Examples
    --------
    >>> RandomFilter(random_ratio=1.0)("anything")
    True
    >>> int(RandomFilter(random_ratio=0.5, seed=0).is_hard([None] * 1000).sum())
    473
    """

    def __init__(self, *, random_ratio: float = 0.3, seed: int | None = None) -> None:
        self.random_ratio = random_ratio
        self.seed = seed

    def is_hard(self, batch: Any) -> np.ndarray:
        """Draw one decision per sample.

        Parameters
        ----------
        batch : sized iterable
            The batch; only its length is used.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            True where the sample goes to the cloud.

        Raises
        ------
        ParameterError
            If ``random_ratio`` is not in [0, 1], or ``seed`` is not a whole number >= 0.
        """
        ratio = check_unit(self, "random_ratio")
        with STATE_LOCK:  # a numpy Generator is not thread-safe: one draw at a time
            rng = getattr(self, "rng_", None)
            if rng is None:
                seed = None if self.seed is None else check_param(self, "seed", 0, count=True)
                rng = self.rng_ = np.random.default_rng(seed)
            draws = rng.random(len(batch))
        return draws < ratio
