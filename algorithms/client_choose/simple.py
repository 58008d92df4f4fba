"""Random client selection: a fixed number, or a fraction with a minimum, per round."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sedna_lib.base import BaseAlgorithm, check_count, check_number

__all__ = ["SimpleClientChoose"]


class SimpleClientChoose(BaseAlgorithm):
    """Pick the clients that train in a round, uniformly at random.

    Parameters
    ----------
    per_round : int, default=1
        Clients per round (Sedna's parameter), a whole number >= 1. Ignored when ``fraction`` is set.
    fraction : float or None, default=None
        Share of the available clients per round, in (0, 1].
    min_clients : int, default=1
        Lower bound on the number picked, a whole number >= 0.
    seed : int or None, default=None
        Seed, a whole number >= 0; round ``r`` uses ``seed + r`` so picks are reproducible.

    Examples
    --------
    >>> chooser = SimpleClientChoose(per_round=2, seed=0)
    >>> picks = chooser.choose(["a", "b", "c"], round_number=1)
    >>> len(picks), set(picks) <= {"a", "b", "c"}, picks == chooser.choose(["a", "b", "c"], round_number=1)
    (2, True, True)
    >>> SimpleClientChoose(per_round=2).parameters
    {'per_round': 2}
    """

    def __init__(self, *, per_round: int = 1, fraction: float | None = None, min_clients: int = 1,
                 seed: int | None = None) -> None:
        self.per_round = per_round
        self.fraction = fraction
        self.min_clients = min_clients
        self.seed = seed

    @property
    def parameters(self) -> dict:
        """Sedna's parameter dict, ``{"per_round": n}``."""
        return {"per_round": check_count("per_round", self.per_round)}

    def count(self, available: int) -> int:
        """Return how many of ``available`` clients a round uses.

        Parameters
        ----------
        available : int
            Clients connected.

        Returns
        -------
        int
            The number to pick, at most ``available``.

        Raises
        ------
        ParameterError
            If ``fraction``, ``per_round`` or ``min_clients`` is out of range (2.5 clients are not
            truncated to 2, nor is ``True`` one).
        """
        if self.fraction is not None:
            n = math.ceil(check_number("fraction", self.fraction, 0, 1, low_open=True) * available)
        else:
            n = check_count("per_round", self.per_round)
        return min(available, max(n, check_count("min_clients", self.min_clients, 0)))

    def choose(self, clients: Sequence[str], round_number: int = 0) -> list[str]:
        """Pick this round's clients.

        Parameters
        ----------
        clients : sequence of str
            Available client ids.
        round_number : int, default=0
            The round (mixes into the seed).

        Returns
        -------
        list of str
            The chosen ids, in their original order.

        Raises
        ------
        ParameterError
            If a parameter is out of range, or ``seed`` or ``round_number`` is not a whole number >= 0.
        """
        ids = sorted(clients)
        k = self.count(len(ids))
        round_number = check_count("round_number", round_number, 0)
        seed = None if self.seed is None else check_count("seed", self.seed, 0) + round_number
        picked = np.random.default_rng(seed).choice(len(ids), size=k, replace=False) if ids else []
        return [ids[i] for i in sorted(picked)]
