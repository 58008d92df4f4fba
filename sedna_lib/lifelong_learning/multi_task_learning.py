"""Sedna's older multi-task learning API (``MulTaskLearning``), on top of :class:`SeenTaskLearning`."""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..registry import Kind
from .seen_task_learning import SeenTaskLearning

__all__ = ["MulTaskLearning"]


class MulTaskLearning(SeenTaskLearning):
    """Multi-task learning with Sedna's pre-2022 keywords; algorithms come from ``multi_task_learening``.

    Parameters
    ----------
    estimator : object
        The base model.
    task_definition, task_relationship_discovery, task_remodeling, inference_integrate : dict, default=None
        As in :class:`SeenTaskLearning`.
    task_mining : dict, default=None
        The allocation step; defaults to the pair of the task definition
        (``TaskDefinitionBySVC`` -> ``TaskMiningBySVC``, otherwise ``TaskMiningByDataAttr``).
    context : Context, default=None
        Configuration and registry; the environment's context when omitted.
    work_dir : str, default=None
        Where models are written.
    """

    kind = Kind.MULTI_TASK_LEARNING

    def __init__(self, estimator: Any = None, task_definition: Any = None,
                 task_relationship_discovery: Any = None,
                 task_mining: Any = None, task_remodeling: Any = None, inference_integrate: Any = None, *,
                 context: Context | None = None, work_dir: str | None = None) -> None:
        if task_mining is None:
            method = (task_definition or {}).get("method") if isinstance(task_definition,
                                                                         dict) else task_definition
            pair = "TaskMiningBySVC" if method == "TaskDefinitionBySVC" else "TaskMiningByDataAttr"
            params = (task_definition or {}).get("param") if isinstance(task_definition, dict) else None
            task_mining = {"method": pair, "param": params if pair == "TaskMiningByDataAttr" else None}
        super().__init__(estimator, task_definition, task_relationship_discovery, task_mining,
                         task_remodeling,
                         inference_integrate, context=context, work_dir=work_dir)
        self.task_mining = task_mining
