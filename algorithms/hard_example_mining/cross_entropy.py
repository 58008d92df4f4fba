"""Cross-entropy miner: a sample is hard when its class distribution is close to uniform."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._budget import ScoredMiner, as_probabilities, check_unit

__all__ = ["CrossEntropyFilter"]


class CrossEntropyFilter(ScoredMiner):
    """Flag a sample as hard when its normalised entropy is high (confidence ``1 - H/ln k`` low).

    The confidence of a probability vector ``p`` over ``k`` classes is
    ``1 + sum(p * ln p) / ln k``; the sample is hard when it is below
    ``threshold_cross_entropy``. A zero probability contributes nothing (``0 ln 0 = 0``), a
    one-class vector is certain, and an empty vector is hard.

    Parameters
    ----------
    threshold_cross_entropy : float, default=0.5
        Confidence under which a sample is hard, in [0, 1].
    upload_ratio : float, default=None
        If set, flag the highest-entropy samples so that this share of a stream is flagged.

    References
    ----------
    .. [1] Settles, B. "Active Learning Literature Survey", 2009, section 3.1 (entropy sampling).

    Examples
    --------
    >>> CrossEntropyFilter()([0.5, 0.5]), CrossEntropyFilter()([1.0, 0.0, 0.0])
    (True, False)
    """

    input_kind = "probabilities"

    def __init__(self, *, threshold_cross_entropy: float = 0.5, upload_ratio: float | None = None) -> None:
        self.threshold_cross_entropy = threshold_cross_entropy
        self.upload_ratio = upload_ratio

    def _evaluate(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        threshold = check_unit(self, "threshold_cross_entropy")
        probs = as_probabilities(batch)
        n, k = probs.shape
        if k == 0:
            entropy = np.ones(n)
        elif k == 1:
            entropy = np.zeros(n)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(probs > 0, probs * np.log(np.where(probs > 0, probs, 1.0)), 0.0)
            entropy = np.clip(-terms.sum(axis=1) / np.log(k), 0.0, 1.0)
        return entropy, (1.0 - entropy) < threshold
