"""Sedna's module ``sedna.algorithms.aggregation.aggregation``: ``BaseAggregation`` and ``AggClient``.

Upstream scripts (Sedna 0.4 and the 0.6 build Ianvs ships) subclass ``BaseAggregation`` and write
only ``aggregate(clients)``, a whole round over a list of :class:`AggClient`; the base sets
``total_size = 0`` and ``weights = None``. Such a class runs on the aggregation server as any
aggregator does: the round's updates are kept, then ``aggregate`` is called once.
"""

from __future__ import annotations

import abc
from typing import Any

from sedna_lib.base import AggClient, Aggregator
from sedna_lib.exceptions import AggregationError

from . import _math
from ._streaming import _add_count, _unpack
from .fedavg import FedAvg
from .fedavg_v2 import FedAvgV2
from .mistnet import MistNet

__all__ = ["AggClient", "BaseAggregation", "FedAvg", "FedAvgV2", "MistNet"]


class BaseAggregation(Aggregator):
    """Sedna's aggregation base: subclasses implement ``aggregate(clients)`` and nothing else.

    ``total_size`` and ``weights`` are plain attributes here (Sedna's ``aggregate`` sets them);
    the round methods of :class:`~sedna_lib.base.Aggregator` keep the round's updates as
    :class:`AggClient` objects and call ``aggregate`` once in :meth:`finish`.

    Attributes
    ----------
    total_size : int
        Samples behind the last aggregate (0 before the first), as ``aggregate`` sets it.
    weights : list or None
        The last aggregate, as ``aggregate`` keeps it (None before the first).

    Examples
    --------
    >>> import numpy as np
    >>> class Mean(BaseAggregation):
    ...     def aggregate(self, clients):
    ...         self.total_size = sum(c.num_samples for c in clients)
    ...         return [sum(np.asarray(c.weights[0]) * c.num_samples for c in clients) / self.total_size]
    >>> agg = Mean()
    >>> agg.total_size, agg.weights
    (0, None)
    >>> [w.tolist() for w in agg.aggregate([AggClient(1, [[1.0]]), AggClient(3, [[3.0]])])]
    [[2.5]]
    """

    streaming = False
    total_size: Any = 0  # plain attributes: Sedna's subclasses assign them
    weights: Any = None

    def __init__(self) -> None:
        self.total_size = 0
        self.weights = None

    @abc.abstractmethod
    def aggregate(self, clients: Any) -> Any:
        """Aggregate a whole round (the one method a Sedna aggregation writes).

        Parameters
        ----------
        clients : list of AggClient
            The round's updates (``num_samples``, ``weights``).

        Returns
        -------
        list
            The new global model, one array-like per layer.
        """

    def begin_round(self, template: list | None = None) -> None:
        """Start a round; see :meth:`sedna_lib.base.Aggregator.begin_round`."""
        self._clients: list[AggClient] = []
        self._total = 0.0

    def add(self, update: Any) -> None:
        """Keep one update for :meth:`finish`; see :meth:`sedna_lib.base.Aggregator.add`."""
        if not hasattr(self, "_clients"):
            self.begin_round(None)
        layers, count, who = _unpack(update)  # a count that is not a finite number >= 0 is refused
        _math.check_finite(layers, _math.layer_names(self, update), who=who)
        total = _add_count(self._total, count, who)  # as is one that makes the round's total overflow
        self._clients.append(AggClient(update.num_samples, update.weights))
        self._total = total

    def finish(self) -> list:
        """Call ``aggregate`` on the round's updates and return its model as arrays.

        Returns
        -------
        list of numpy.ndarray
            The new global model.

        Raises
        ------
        AggregationError
            If no update was added, or ``aggregate`` returned no model.
        """
        clients = getattr(self, "_clients", None)
        if not clients:
            raise AggregationError("no client update was added this round")
        result = self.aggregate(clients)
        if result is None:
            raise AggregationError(f"{type(self).__name__}.aggregate returned None; it must return the new "
                                   "model (one array or nested list per layer)")
        layers = _math.as_layers(result)
        self.global_weights_ = layers
        self.total_samples_ = int(self.total_size or sum(float(c.num_samples) for c in clients))
        self.round_ = getattr(self, "round_", 0) + 1
        del self._clients
        return layers
