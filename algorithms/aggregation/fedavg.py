"""FedAvg: the sample-weighted mean of client models, streamed in place.

References
----------
McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data",
AISTATS 2017, https://arxiv.org/abs/1602.05629
"""

from __future__ import annotations

from ._streaming import StreamingMean

__all__ = ["FedAvg"]


class FedAvg(StreamingMean):
    """Federated averaging: ``w = sum_k n_k w_k / sum_k n_k``, layer by layer [1]_.

    Updates are folded into one running sum as they arrive, so the server holds one model
    whatever the number of clients. float32 models are summed in float32, others in float64;
    each layer keeps its dtype (integer layers are rounded).

    Attributes
    ----------
    global_weights_ : list of numpy.ndarray
        The last aggregated model.
    total_samples_ : int
        Samples behind it (reported to clients as ``total_sample``).

    References
    ----------
    .. [1] McMahan et al., "Communication-Efficient Learning of Deep Networks from
       Decentralized Data", AISTATS 2017, https://arxiv.org/abs/1602.05629

    Examples
    --------
    >>> from sedna_lib.base import AggClient
    >>> agg = FedAvg()
    >>> [w.tolist() for w in agg.aggregate([AggClient(1, [[1, 2], [3]]), AggClient(3, [[3, 4], [5]])])]
    [[2.5, 3.5], [4.5]]
    >>> agg.total_size
    4
    """

    def __init__(self) -> None:
        pass
