"""Adaptive server optimisers: FedAdagrad, FedAdam and FedYogi.

References
----------
Reddi et al., "Adaptive Federated Optimization", ICLR 2021, https://arxiv.org/abs/2003.00295
"""

from __future__ import annotations

import numpy as np

from sedna_lib.base import check_number

from . import _math
from ._streaming import StreamingMean

__all__ = ["FedAdagrad", "FedAdam", "FedYogi"]


class _FedOpt(StreamingMean):
    _variant = "adam"
    _step_gives_away = True  # the step returns the average's own arrays or new ones

    def __init__(self, *, eta: float = 0.01, beta_1: float = 0.9, beta_2: float = 0.99,
                 tau: float = 1e-3) -> None:
        self.eta = eta
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.tau = tau

    def _check_params(self) -> dict[str, float]:
        return {"eta": check_number("eta", self.eta, 0, low_open=True),
                "beta_1": check_number("beta_1", self.beta_1, 0, 1, high_open=True),
                "beta_2": check_number("beta_2", self.beta_2, 0, 1, high_open=True),
                "tau": check_number("tau", self.tau, 0, low_open=True)}

    def _server_step(self, average: list[np.ndarray]) -> list[np.ndarray]:
        params = self._check_params()  # again: set_params may have changed them
        if self._template is None:
            return average
        new, self.m_, self.v_ = _math.fedopt_step(
            self._template, average, getattr(self, "m_", None), getattr(self, "v_", None),
            variant=self._variant, overwrite=True, **params)  # the average and the moments are its own
        return new


_DOC = """{name}: the clients' average is a pseudo-gradient for a server-side {rule} step [1]_.

    With ``delta = avg - x``: ``m = b1 m + (1 - b1) delta``, {vrule}, and
    ``x = x + eta m / (sqrt(v) + tau)``. The first round (no global model yet) returns the
    plain average.

    Parameters
    ----------
    eta : float, default=0.01
        Server learning rate, a finite number > 0.
    beta_1 : float, default=0.9
        First-moment decay, in [0, 1) (0: no momentum).
    beta_2 : float, default=0.99
        Second-moment decay, in [0, 1) (unused by FedAdagrad, checked all the same).
    tau : float, default=1e-3
        Adaptivity (the denominator's floor, and ``sqrt`` of the second moment's start), a finite
        number > 0: with 0 a coordinate that has not moved divides 0 by 0.

    Raises
    ------
    ParameterError
        When a round begins (before any client trains; the constructor only stores) and when the
        server steps, if a parameter is NaN, infinite or out of its range (the ranges of [1]_,
        Algorithm 2: ``beta_1, beta_2`` in [0, 1), ``tau`` > 0).

    Attributes
    ----------
    m_, v_ : list of numpy.ndarray
        The server moments.

    References
    ----------
    .. [1] Reddi et al., "Adaptive Federated Optimization", ICLR 2021,
       https://arxiv.org/abs/2003.00295
    """


class FedAdam(_FedOpt):  # noqa: D101 - the docstring is _DOC, filled in below
    __doc__ = _DOC.format(name="FedAdam", rule="Adam", vrule="``v = b2 v + (1 - b2) delta^2``")
    _variant = "adam"
    _step_gives_away = True  # the step returns the average's own arrays or new ones


class FedYogi(_FedOpt):  # noqa: D101 - the docstring is _DOC, filled in below
    __doc__ = _DOC.format(name="FedYogi", rule="Yogi",
                          vrule="``v = v - (1 - b2) delta^2 sign(v - delta^2)``")
    _variant = "yogi"


class FedAdagrad(_FedOpt):  # noqa: D101 - the docstring is _DOC, filled in below
    __doc__ = _DOC.format(name="FedAdagrad", rule="Adagrad", vrule="``v = v + delta^2``")
    _variant = "adagrad"
