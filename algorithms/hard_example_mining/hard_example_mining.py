"""Sedna's module path ``sedna.algorithms.hard_example_mining.hard_example_mining``: the same miners."""

from __future__ import annotations

from sedna_lib.base import HardExampleMiner as BaseFilter

from . import (
    CloudOnlyFilter,
    CrossEntropyFilter,
    EdgeOnlyFilter,
    IBTFilter,
    MarginFilter,
    RandomFilter,
    ThresholdFilter,
)

__all__ = [
    "BaseFilter",
    "ThresholdFilter",
    "CrossEntropyFilter",
    "IBTFilter",
    "RandomFilter",
    "EdgeOnlyFilter",
    "CloudOnlyFilter",
    "MarginFilter",
]
