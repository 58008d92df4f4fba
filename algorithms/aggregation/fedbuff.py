"""FedBuff: buffered asynchronous aggregation with staleness weighting.

References
----------
Nguyen et al., "Federated Learning with Buffered Asynchronous Aggregation", AISTATS 2022,
https://arxiv.org/abs/2106.06639
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sedna_lib.base import Aggregator, check_count, check_number
from sedna_lib.exceptions import AggregationError, ParameterError

from . import _math
from ._streaming import _add_count, _unpack

__all__ = ["FedBuff", "staleness_weight"]


def staleness_weight(staleness: float, exponent: float = 0.5) -> float:
    """Return the FedBuff discount of an update computed ``staleness`` model versions ago.

    ``s(tau) = (1 + tau) ** -exponent`` (the paper's polynomial discount, exponent 1/2).

    Parameters
    ----------
    staleness : float
        ``tau`` >= 0: server updates between the model the client started from and now.
    exponent : float, default=0.5
        The discount's exponent, >= 0 (0: no discount).

    Returns
    -------
    float
        The weight in (0, 1].

    Raises
    ------
    AggregationError
        If ``staleness`` is negative, NaN or infinite (it comes from a client).
    ParameterError
        If ``exponent`` is negative, NaN or infinite (a negative one would favour stale updates).

    Examples
    --------
    >>> staleness_weight(0), staleness_weight(3)
    (1.0, 0.5)
    """
    exponent = check_number("staleness_exponent", exponent, 0)
    if not (math.isfinite(staleness) and staleness >= 0):
        raise AggregationError(f"staleness must be a finite number >= 0, got {staleness}")
    return float((1.0 + staleness) ** -exponent)


class FedBuff(Aggregator):
    """Buffered asynchronous FedAvg: apply every ``buffer_size`` client updates, discounted by staleness [1]_.

    Clients train whenever they are free, from whatever model is current, and upload the
    *change* they made (``delta``, with ``metrics['staleness']``, the number of server updates
    since the model they started from). Each buffer of ``K = buffer_size`` updates moves the
    model: ``x <- x + lr * sum_k n_k s(tau_k) delta_k / sum_k n_k`` with ``s(tau) = (1 + tau)^-a``,
    so a stale update counts less. A buffer is one "round" of this aggregator. The asynchronous
    loop that produces the updates is the simulation's (``simulate`` runs it when the aggregator
    is ``asynchronous``, modelling uneven client speeds).

    Parameters
    ----------
    buffer_size : int, default=5
        ``K``: updates per server step (a whole number >= 1).
    staleness_exponent : float, default=0.5
        ``a`` in the discount ``(1 + tau)^-a``, >= 0 (0: no discount; a negative one would give
        stale updates more weight than fresh ones, and is refused).
    server_learning_rate : float, default=1.0
        ``lr`` > 0.

    Raises
    ------
    ParameterError
        When a buffer begins (the first one before any client trains; the constructor only
        stores), if a parameter is NaN, infinite or out of its range.

    Attributes
    ----------
    global_weights_ : list of numpy.ndarray
        The model after the last buffer.
    mean_staleness_ : float
        The last buffer's mean staleness.

    References
    ----------
    .. [1] Nguyen et al., "Federated Learning with Buffered Asynchronous Aggregation", AISTATS 2022,
       https://arxiv.org/abs/2106.06639
    """

    asynchronous = True

    def __init__(self, *, buffer_size: int = 5, staleness_exponent: float = 0.5,
                 server_learning_rate: float = 1.0) -> None:
        self.buffer_size = buffer_size
        self.staleness_exponent = staleness_exponent
        self.server_learning_rate = server_learning_rate

    def _validate(self) -> None:
        check_count("buffer_size", self.buffer_size)
        self._exponent = check_number("staleness_exponent", self.staleness_exponent, 0)  # once a buffer
        check_number("server_learning_rate", self.server_learning_rate, 0, low_open=True)

    def begin_round(self, template: list | None = None) -> None:
        """Start a buffer from the current model; see :meth:`sedna_lib.base.Aggregator.begin_round`."""
        self._validate()
        self._base = None if template is None else _math.as_layers(template)
        self._acc: list[np.ndarray] | None = None
        self._total = 0.0
        self._count = 0
        self._staleness = 0.0

    def add(self, update: Any) -> None:
        """Add one client's change; see :meth:`sedna_lib.base.Aggregator.add`.

        ``update.weights`` is the change the client made (its model minus the model it started
        from); ``update.metrics['staleness']`` its staleness (0 when absent).
        """
        if not hasattr(self, "_count"):
            self.begin_round(None)
        layers, n, who = _unpack(update)
        shapes = [a.shape for a in (self._base if self._base is not None else layers)]
        names = _math.layer_names(self, update)
        _math.check_layers(layers, shapes, names, who=who)
        _math.check_finite(layers, names, who=who)
        reported = (getattr(update, "metrics", None) or {}).get("staleness", 0)
        try:
            tau = check_number("staleness", reported, 0)
        except ParameterError:
            raise AggregationError(f"{who} reports staleness {reported!r}: a finite number >= 0 of server "
                                   "steps is needed") from None
        total = _add_count(self._total, n, who)
        if self._acc is None:
            self._acc = [np.zeros(s, dtype=np.float64) for s in shapes]
            if self._base is None:  # no model yet: the changes apply to zeros, in the updates' dtypes
                self._base = [np.zeros(a.shape, dtype=a.dtype) for a in layers]
        _math.accumulate(self._acc, layers, n * (1.0 + tau) ** -self._exponent)  # both checked already
        self._total = total
        self._count += 1
        self._staleness += tau

    @property
    def full(self) -> bool:
        """Whether the buffer holds ``buffer_size`` updates (time for :meth:`finish`)."""
        return getattr(self, "_count", 0) >= int(self.buffer_size)

    def finish(self) -> list:
        """Apply the buffered changes; see :meth:`sedna_lib.base.Aggregator.finish`."""
        if not getattr(self, "_count", 0) or self._acc is None:
            raise AggregationError("no client update was added to the buffer")
        if self._total <= 0:
            raise AggregationError("the buffer's sample counts add up to 0; cannot weight the updates")
        base = self._base
        lr = float(self.server_learning_rate)
        sums, self._acc = self._acc, None
        for b, a in zip(base, sums):  # b + lr * a / total, in the sums' own memory
            a *= lr
            a /= self._total
            a += b
        result = _math.finish_layers(sums, [np.asarray(b).dtype for b in base])
        _math.check_result_finite(result, getattr(self, "names_", None))  # an overflow of finite updates
        self.mean_staleness_ = self._staleness / self._count
        self.global_weights_ = result
        self.total_samples_ = int(self._total)
        self.round_ = getattr(self, "round_", 0) + 1
        del self._count
        return result
