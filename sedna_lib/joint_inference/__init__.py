"""Joint inference: easy samples are answered at the edge, hard ones by a big model in the cloud.

Two faces share one implementation:

- Sedna's: ``JointInference(estimator, hard_example_mining)`` on the edge, whose
  ``inference(x)`` returns ``is_hard, final, edge, cloud``, and ``BigModelService(estimator).start()``
  in the cloud;
- solar_corona's: ``load_model(model_path, pre_fun, post_fun, cloud_offload_algorithm=IBT(upload_ratio=0.5),
  big_model_endpoint=get_big_model_endpoint())`` whose ``predict(x)`` runs the whole path.

A cloud that refuses, hangs or is slow costs at most one timeout (a circuit breaker then answers
at once from the edge); the hard examples it could not take wait in a bounded on-disk queue and
are sent when it is back, also after a restart of the edge process.
"""

from __future__ import annotations

from typing import Any

from ..base import InferenceResult
from ..registry import Kind
from .cloud import BigModelService, get_big_model_endpoint
from .edge import DeadLetter, JointInference, OffloadedExample
from .model import JointModel, load_model

# solar_corona names the miners directly (``joint_inference.IBT(upload_ratio=0.5)``): any name the
# registry knows as a hard-example miner is served on first access (module ``__getattr__``), so
# this module imports no preset; the names below are the ones ``import *`` gives.
_MINER_NAMES = ("IBT", "Threshold", "CrossEntropy", "Random", "EdgeOnly", "CloudOnly", "Margin")

__all__ = [
    "BigModelService",
    "DeadLetter",
    "JointInference",
    "JointModel",
    "OffloadedExample",
    "InferenceResult",
    "get_big_model_endpoint",
    "load_model",
    *_MINER_NAMES,  # unpacked, as pyflakes cannot see names a module __getattr__ provides (F822)
]


def __getattr__(name: str) -> Any:
    """Return the miner class registered as ``name`` (``IBT``, ``Threshold``...), as solar_corona names it."""
    from ..registry import default_registry

    if not name.startswith("_") and default_registry.is_registered(Kind.HARD_EXAMPLE_MINING, name):
        return default_registry.get(Kind.HARD_EXAMPLE_MINING, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
