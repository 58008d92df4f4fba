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
    whatever the number of clients. Given a whole round, :meth:`aggregate` sums it block by
    block across the updates instead (each update read once from memory), with the same numbers
    bit for bit. Every layer is summed in float64 (float32 ones too), and
    the result has the widest dtype the round saw (a float32 model stays float32; a round
    mixing float32 binary peers with Sedna's float64 JSON peers gives float64; integer layers
    are rounded). An update holding a NaN or an infinity is refused before it is added
    (:class:`~sedna_lib.exceptions.AggregationError` naming the layer).

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
