"""FedAvgV2: the V2 API's name for FedAvg (aggregated by sedna_lib itself, no external engine)."""

from __future__ import annotations

from .fedavg import FedAvg

__all__ = ["FedAvgV2"]


class FedAvgV2(FedAvg):
    """FedAvg under the V2 API's name; aggregates like :class:`FedAvg`.

    Examples
    --------
    >>> FedAvgV2().parameters
    {'type': 'fedavg'}
    """

    @property
    def parameters(self) -> dict:
        """Sedna's parameter dict, ``{"type": "fedavg"}``."""
        return {"type": "fedavg"}
