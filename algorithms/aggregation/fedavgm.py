"""FedAvgM: FedAvg with server momentum on the pseudo-gradient.

References
----------
Hsu et al., "Measuring the Effects of Non-Identical Data Distribution for Federated Visual
Classification", 2019, https://arxiv.org/abs/1909.06335
"""

from __future__ import annotations

import numpy as np

from sedna_lib.base import check_number

from . import _math
from ._streaming import StreamingMean

__all__ = ["FedAvgM"]


class FedAvgM(StreamingMean):
    """FedAvg with server momentum: ``v = beta v + (x - avg)``, ``x = x - lr v`` [1]_.

    The first round (no global model yet) returns the plain average, which becomes ``x``.

    Parameters
    ----------
    server_learning_rate : float, default=1.0
        Server step size, a finite number > 0 (1.0 with no momentum is FedAvg).
    server_momentum : float, default=0.9
        Momentum ``beta``, in [0, 1) (0: no momentum; 1 or more never lets a past step decay).

    Raises
    ------
    ParameterError
        When a round begins (before any client trains; the constructor only stores) and when the
        server steps, if a parameter is NaN, infinite or out of its range.

    Attributes
    ----------
    momentum_ : list of numpy.ndarray
        The server momentum.

    References
    ----------
    .. [1] Hsu et al., "Measuring the Effects of Non-Identical Data Distribution for
       Federated Visual Classification", 2019, https://arxiv.org/abs/1909.06335
    """

    _step_gives_away = True  # the step returns the average's own arrays or new ones

    def __init__(self, *, server_learning_rate: float = 1.0, server_momentum: float = 0.9) -> None:
        self.server_learning_rate = server_learning_rate
        self.server_momentum = server_momentum

    def _check_params(self) -> dict[str, float]:
        return {"server_learning_rate": check_number("server_learning_rate", self.server_learning_rate, 0,
                                                     low_open=True),
                "server_momentum": check_number("server_momentum", self.server_momentum, 0, 1,
                                                high_open=True)}

    def _server_step(self, average: list[np.ndarray]) -> list[np.ndarray]:
        params = self._check_params()  # again: set_params may have changed them
        if self._template is None:
            return average
        new, self.momentum_ = _math.fedavgm_step(
            self._template, average, getattr(self, "momentum_", None), overwrite=True,
            **params)  # the average and the momentum are its own
        return new
