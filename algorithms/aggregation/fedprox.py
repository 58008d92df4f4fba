"""FedProx: FedAvg on the server, plus a proximal term the clients add to their local loss.

References
----------
Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020,
https://arxiv.org/abs/1812.06127
"""

from __future__ import annotations

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
        Strength of the proximal term; 0 is FedAvg.

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

    def client_config(self) -> dict:
        """Return ``{"proximal_mu": mu}`` for the clients.

        Returns
        -------
        dict
            The clients' settings.
        """
        return {"proximal_mu": float(self.proximal_mu)}
