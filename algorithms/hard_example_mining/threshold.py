"""Threshold miner: a sample is hard when its mean detection confidence is low."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._budget import ScoredMiner, as_detections, check_unit, per_sample

__all__ = ["ThresholdFilter"]


class ThresholdFilter(ScoredMiner):
    """Flag a sample as hard when the mean confidence of its boxes is below ``threshold``.

    Reads detection results (boxes ``[x1, y1, x2, y2, score, label]``) or class-probability
    vectors (one box whose confidence is the top probability). Unlike Sedna's filter, a sample
    with no box at all is hard: nothing was recognised, so the cloud should look.

    Parameters
    ----------
    threshold : float, default=0.5
        Confidence under which a sample is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, ignore ``threshold`` and flag the hardest samples (lowest confidence) so that
        this share of a stream is flagged.

    Examples
    --------
    >>> miner = ThresholdFilter(threshold=0.5)
    >>> miner([[0, 0, 10, 10, 0.9, 1], [5, 5, 9, 9, 0.2, 0]]), miner([])
    (False, True)
    >>> miner.is_hard([[0.3, 0.7], [0.55, 0.45]]).tolist()
    [False, False]
    """

    input_kind = "detections"

    def __init__(self, *, threshold: float = 0.5, upload_ratio: float | None = None) -> None:
        self.threshold = threshold
        self.upload_ratio = upload_ratio

    def _decide_one(self, values: list[float], top: float) -> bool | None:
        return top < check_unit(self, "threshold")  # one box, the top probability: its mean is itself

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold = check_unit(self, "threshold")
        confidences, counts = as_detections(batch)
        sums, safe = per_sample(confidences, counts, empty=0.0)
        mean = sums / safe
        return 1.0 - mean, mean < threshold
