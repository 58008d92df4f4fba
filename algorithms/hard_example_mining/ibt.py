"""IBT miner (image-box threshold): a sample is hard when many of its boxes are uncertain."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._budget import ScoredMiner, as_detections, check_unit, per_sample

__all__ = ["IBTFilter"]


class IBTFilter(ScoredMiner):
    """Flag an image as hard when the share of its low-confidence boxes is large.

    A box is uncertain when its confidence is at most ``threshold_box``; the image is hard when
    uncertain boxes make up at least ``1 - threshold_img`` of its boxes. An image with no box is
    hard (Sedna's filter called it easy). A class-probability vector is read as one box whose
    confidence is the top probability.

    Parameters
    ----------
    threshold_img : float, default=0.5
        One minus the share of uncertain boxes from which an image is hard, in [0, 1].
    threshold_box : float, default=0.5
        Confidence at or under which a box is uncertain, in [0, 1].
    upload_ratio : float, default=None
        If set, flag the images with the largest share of uncertain boxes (ties broken by the
        mean confidence) so that this share of a stream is flagged.

    Examples
    --------
    >>> miner = IBTFilter(threshold_img=0.9, threshold_box=0.9)
    >>> miner([[0, 0, 4, 4, 0.95, 1], [1, 1, 3, 3, 0.6, 0]]), miner([[0, 0, 4, 4, 0.95, 1]])
    (True, False)
    """

    input_kind = "detections"

    def __init__(self, *, threshold_img: float = 0.5, threshold_box: float = 0.5,
                 upload_ratio: float | None = None) -> None:
        self.threshold_img = threshold_img
        self.threshold_box = threshold_box
        self.upload_ratio = upload_ratio

    def _decide_one(self, values: list[float], top: float) -> bool | None:
        # one box, the top probability: the share of uncertain boxes is 1.0 or 0.0
        threshold_img = check_unit(self, "threshold_img")
        share = 1.0 if top <= check_unit(self, "threshold_box") else 0.0
        return share >= 1.0 - threshold_img - 1e-12

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold_img = check_unit(self, "threshold_img")
        threshold_box = check_unit(self, "threshold_box")
        confidences, counts = as_detections(batch)
        low, safe = per_sample((confidences <= threshold_box).astype(np.float64), counts, empty=1.0)
        share = np.where(counts > 0, low / safe, 1.0)
        conf_sum, _ = per_sample(confidences, counts, empty=0.0)
        tie_break = 1e-6 * (1.0 - conf_sum / safe)
        return share + tie_break, share >= 1.0 - threshold_img - 1e-12
