"""The training history of a native loop: per-batch losses and hits summed into per-epoch metrics."""

from __future__ import annotations

from typing import Any

__all__ = ["EpochMetrics", "extend_history"]


class EpochMetrics:
    """Sample-weighted mean loss, and accuracy where counted, over the batches of one pass.

    Examples
    --------
    >>> stats = EpochMetrics()
    >>> stats.add(1.0, 2, hits=1); stats.add(0.5, 2, hits=2)
    >>> stats.metrics()
    {'loss': 0.75, 'accuracy': 0.75}
    """

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.seen = 0
        self.correct = 0
        self.counted = False

    def add(self, loss: float, n: int, hits: int | None) -> None:
        """Count a batch of ``n`` samples: mean ``loss`` and ``hits`` right answers (None: none counted)."""
        self.loss_sum += loss * n
        self.seen += n
        if hits is not None:
            self.correct += hits
            self.counted = True

    def metrics(self) -> dict[str, float]:
        """Return ``{"loss": ...}``, with ``"accuracy"`` when hits were counted."""
        seen = max(self.seen, 1)
        out = {"loss": self.loss_sum / seen}
        if self.counted:
            out["accuracy"] = self.correct / seen
        return out


def extend_history(history: dict[str, Any], metrics: dict[str, float], prefix: str = "") -> None:
    """Append one epoch's ``metrics`` to the per-epoch lists of ``history`` (keys get ``prefix``).

    Examples
    --------
    >>> history = {}
    >>> extend_history(history, {"loss": 0.5}); extend_history(history, {"loss": 0.25}, "val_")
    >>> history
    {'loss': [0.5], 'val_loss': [0.25]}
    """
    for key, value in metrics.items():
        history.setdefault(prefix + key, []).append(value)
