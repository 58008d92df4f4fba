"""Hard-example miners: decide which inference results go to the cloud (Sedna's names and formulas)."""

from __future__ import annotations

from .cross_entropy import CrossEntropyFilter
from .edge_cloud_only import CloudOnlyFilter, EdgeOnlyFilter
from .ibt import IBTFilter
from .learned_router import LearnedRouter
from .llm_confidence import MeanLogProbRouter, MinLogProbRouter, SelfConsistencyRouter, TokenEntropyRouter
from .margin import MarginFilter
from .oracle import OracleRouter
from .random_filter import RandomFilter
from .threshold import ThresholdFilter

__all__ = [
    "ThresholdFilter",
    "CrossEntropyFilter",
    "IBTFilter",
    "RandomFilter",
    "EdgeOnlyFilter",
    "CloudOnlyFilter",
    "MarginFilter",
    "OracleRouter",
    "MeanLogProbRouter",
    "MinLogProbRouter",
    "TokenEntropyRouter",
    "SelfConsistencyRouter",
    "LearnedRouter",
]
