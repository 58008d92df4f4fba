"""Byzantine-robust aggregators: Krum, Multi-Krum, Bulyan, coordinate-wise median and trimmed mean.

These must see every update of a round at once, so the server keeps all of them until the
round ends: memory grows with the number of clients (n models), unlike FedAvg's one.

References
----------
Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent",
NeurIPS 2017; Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
Rates", ICML 2018, https://arxiv.org/abs/1803.01498; El Mhamdi, Guerraoui and Rouault, "The
Hidden Vulnerability of Distributed Learning in Byzantium", ICML 2018,
https://arxiv.org/abs/1802.07927
"""

from __future__ import annotations

import numpy as np

from sedna_lib.base import check_count, check_number

from . import _math
from ._streaming import BufferedRound

__all__ = ["Bulyan", "Krum", "Median", "MultiKrum", "TrimmedMean"]


def _checked(aggregator: BufferedRound, result: list[np.ndarray]) -> list[np.ndarray]:
    """Return ``result``, refusing it when the mean of the selected (finite) updates overflowed."""
    _math.check_result_finite(result, getattr(aggregator, "names_", None))
    return result


class Krum(BufferedRound):
    """(Multi-)Krum: keep the update(s) closest to their ``n - f - 2`` nearest neighbours [1]_.

    A round with fewer than ``2 f + 3`` updates (Krum needs ``n > 2 f + 2``, 3 even with ``f = 0``),
    or with fewer updates than ``num_selected``, fails with
    :class:`~sedna_lib.exceptions.AggregationError`, as :class:`MultiKrum`'s does.
    Memory: all ``n`` updates of the round, plus an ``n x n`` distance matrix.

    Parameters
    ----------
    num_byzantine : int, default=0
        ``f``, adversarial clients tolerated (needs ``n >= 2 f + 3`` updates per round).
    num_selected : int, default=1
        ``m`` in ``[1, n]``: 1 is Krum; more averages the ``m`` best (Multi-Krum).

    References
    ----------
    .. [1] Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
       Descent", NeurIPS 2017
    """

    def __init__(self, *, num_byzantine: int = 0, num_selected: int = 1) -> None:
        self.num_byzantine = num_byzantine
        self.num_selected = num_selected

    def _check_params(self) -> dict[str, int]:
        return {"num_byzantine": check_count("num_byzantine", self.num_byzantine, 0),
                "num_selected": check_count("num_selected", self.num_selected, 1)}

    def _combine(self, updates: list, ns: list, *, num_byzantine: int, num_selected: int) -> list[np.ndarray]:
        return _checked(self, _math.krum(updates, num_byzantine=num_byzantine, num_selected=num_selected))


class Median(BufferedRound):
    """Coordinate-wise median of the round's updates [1]_.

    Memory: all ``n`` updates of the round.

    References
    ----------
    .. [1] Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
       Rates", ICML 2018, https://arxiv.org/abs/1803.01498
    """

    def __init__(self) -> None:
        pass

    def _combine(self, updates: list, ns: list) -> list[np.ndarray]:
        return _checked(self, _math.coordinate_median(updates))


class TrimmedMean(BufferedRound):
    """Coordinate-wise trimmed mean: drop the ``beta`` share at each end, average the rest [1]_.

    Memory: all ``n`` updates of the round.

    Parameters
    ----------
    beta : float, default=0.1
        Share trimmed at each end, in [0, 0.5).

    References
    ----------
    .. [1] Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
       Rates", ICML 2018, https://arxiv.org/abs/1803.01498
    """

    def __init__(self, *, beta: float = 0.1) -> None:
        self.beta = beta

    def _check_params(self) -> dict[str, float]:
        return {"beta": check_number("beta", self.beta, 0, 0.5, high_open=True)}

    def _combine(self, updates: list, ns: list, *, beta: float) -> list[np.ndarray]:
        return _checked(self, _math.trimmed_mean(updates, beta=beta))


class MultiKrum(BufferedRound):
    """Multi-Krum: average the ``m`` updates with the lowest Krum scores [1]_.

    Each update's score is the sum of squared distances to its ``n - f - 2`` nearest
    neighbours; the ``m`` most central ones are averaged (plain mean, as in the paper). A round
    with fewer than ``2 f + 3`` updates fails with :class:`~sedna_lib.exceptions.AggregationError`.
    Memory: all ``n`` updates of the round, plus an ``n x n`` distance matrix.

    Parameters
    ----------
    num_byzantine : int, default=1
        ``f``, adversarial clients tolerated (needs ``n >= 2 f + 3`` updates per round).
    num_selected : int, default=None
        ``m``, updates averaged (None: ``n - f``).

    References
    ----------
    .. [1] Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
       Descent", NeurIPS 2017
    """

    def __init__(self, *, num_byzantine: int = 1, num_selected: int | None = None) -> None:
        self.num_byzantine = num_byzantine
        self.num_selected = num_selected

    def _check_params(self) -> dict[str, int | None]:
        m = self.num_selected
        return {"num_byzantine": check_count("num_byzantine", self.num_byzantine, 0),
                "num_selected": None if m is None else check_count("num_selected", m, 1)}

    def _combine(self, updates: list, ns: list, *, num_byzantine: int,
                 num_selected: int | None) -> list[np.ndarray]:
        return _checked(self, _math.multi_krum(updates, num_byzantine=num_byzantine,
                                               num_selected=num_selected))


class Bulyan(BufferedRound):
    """Bulyan: Krum-select ``n - 2 f`` updates, then a coordinate-wise mean around the median [1]_.

    Stage one picks ``theta = n - 2 f`` updates by running Krum repeatedly on those not yet
    picked; stage two keeps, per coordinate, the ``theta - 2 f`` values closest to the median
    of the picked ones and averages them. A round with fewer than ``4 f + 3`` updates fails with
    :class:`~sedna_lib.exceptions.AggregationError`. Memory: all ``n`` updates of the round.

    Parameters
    ----------
    num_byzantine : int, default=1
        ``f``, adversarial clients tolerated (needs ``n >= 4 f + 3`` updates per round).

    References
    ----------
    .. [1] El Mhamdi, Guerraoui and Rouault, "The Hidden Vulnerability of Distributed Learning in
       Byzantium", ICML 2018, https://arxiv.org/abs/1802.07927
    """

    def __init__(self, *, num_byzantine: int = 1) -> None:
        self.num_byzantine = num_byzantine

    def _check_params(self) -> dict[str, int]:
        return {"num_byzantine": check_count("num_byzantine", self.num_byzantine, 0)}

    def _combine(self, updates: list, ns: list, *, num_byzantine: int) -> list[np.ndarray]:
        return _checked(self, _math.bulyan(updates, num_byzantine=num_byzantine))
