"""FedProx: FedAvg on the server, plus a proximal term the clients add to their local loss.

References
----------
Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020,
https://arxiv.org/abs/1812.06127
"""

from __future__ import annotations

from sedna_lib.base import check_number

from ._streaming import StreamingMean

__all__ = ["FedProx"]


class FedProx(StreamingMean):
    """FedAvg whose clients minimise ``loss + mu / 2 * ||w - w_global||^2`` [1]_.

    The server step is FedAvg's. ``proximal_mu`` travels to clients with each round
    (:meth:`client_config`), and sedna_lib's training loops (``FederatedLearning.train`` and
    ``collaborative_training.fit``) apply the term inside the framework's own training, for
    PyTorch and Keras alike.

    Parameters
    ----------
    proximal_mu : float, default=0.01
        Strength of the proximal term, a finite number >= 0; 0 is FedAvg.

    Raises
    ------
    ParameterError
        When a round begins or the clients' settings are made (the constructor only stores), if
        ``proximal_mu`` is NaN, infinite or negative.

    References
    ----------
    .. [1] Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020,
       https://arxiv.org/abs/1812.06127

    Examples
    --------
    >>> FedProx(proximal_mu=0.1).client_config()
    {'proximal_mu': 0.1}
    """

    def __init__(self, *, proximal_mu: float = 0.01) -> None:
        self.proximal_mu = proximal_mu

    def _check_params(self) -> dict[str, float]:
        return {"proximal_mu": check_number("proximal_mu", self.proximal_mu, 0)}

    def client_config(self) -> dict:
        """Return ``{"proximal_mu": mu}`` for the clients.

        Returns
        -------
        dict
            The clients' settings.

        Raises
        ------
        ParameterError
            If ``proximal_mu`` is NaN, infinite or negative.
        """
        return self._check_params()
