"""Margin miner: a sample is hard when its top two class probabilities are close."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._budget import ScoredMiner, as_probabilities, check_unit

__all__ = ["MarginFilter"]


class MarginFilter(ScoredMiner):
    """Flag a classification as hard when the top-1 minus top-2 probability is below a threshold.

    The margin is the gap between the two largest class probabilities; a one-class vector's
    margin is its probability, and an empty vector is hard. The score is ``1 - margin``.

    Parameters
    ----------
    threshold_margin : float, default=0.2
        Margin under which a sample is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, flag the smallest-margin samples so that this share of a stream is flagged.

    References
    ----------
    .. [1] Scheffer, T., Decomain, C., Wrobel, S. "Active Hidden Markov Models for Information
       Extraction", IDA 2001 (margin sampling).

    Examples
    --------
    >>> MarginFilter(threshold_margin=0.2).is_hard([[0.5, 0.4, 0.1], [0.9, 0.05, 0.05]]).tolist()
    [True, False]
    """

    input_kind = "probabilities"

    def __init__(self, *, threshold_margin: float = 0.2, upload_ratio: float | None = None) -> None:
        self.threshold_margin = threshold_margin
        self.upload_ratio = upload_ratio

    def _decide_one(self, values: list[float], top: float) -> bool | None:
        ordered = sorted(values)
        return ordered[-1] - ordered[-2] < check_unit(self, "threshold_margin")

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold = check_unit(self, "threshold_margin")
        probs = as_probabilities(batch)
        n, k = probs.shape
        if k == 0:
            margin = np.zeros(n)
        elif k == 1:
            margin = probs[:, 0].copy()
        else:
            top2 = np.partition(probs, k - 2, axis=1)[:, k - 2:]
            margin = top2[:, 1] - top2[:, 0]
        return 1.0 - margin, margin < threshold
