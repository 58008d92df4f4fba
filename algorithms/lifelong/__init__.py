"""Lifelong-learning task algorithms under Sedna's registered names (seen and unseen tasks)."""

from .inference_integrate import DefaultInferenceIntegrate
from .task_allocation import (
    TaskAllocationByDataAttr,
    TaskAllocationByNearestTask,
    TaskAllocationByOrigin,
    TaskAllocationBySVC,
    TaskAllocationDefault,
    TaskAllocationStream,
    TaskMiningByDataAttr,
    TaskMiningBySVC,
)
from .task_definition import (
    TaskDefinitionByCluster,
    TaskDefinitionByDataAttr,
    TaskDefinitionByOrigin,
    TaskDefinitionBySVC,
)
from .task_relation import DefaultTaskRelationDiscover
from .task_remodeling import DefaultTaskRemodeling
from .task_update_decision import UpdateStrategyByFinetune, UpdateStrategyDefault
from .unseen import (
    ModelProbeFilter,
    SampleReRegonitionDefault,
    SampleRegonitionDefault,
    TaskAttrFilter,
    UnseenTaskAllocationDefault,
)

__all__ = [
    "DefaultInferenceIntegrate",
    "DefaultTaskRelationDiscover",
    "DefaultTaskRemodeling",
    "ModelProbeFilter",
    "SampleReRegonitionDefault",
    "SampleRegonitionDefault",
    "TaskAllocationByDataAttr",
    "TaskAllocationByNearestTask",
    "TaskAllocationByOrigin",
    "TaskAllocationBySVC",
    "TaskAllocationDefault",
    "TaskAllocationStream",
    "TaskAttrFilter",
    "TaskDefinitionByCluster",
    "TaskDefinitionByDataAttr",
    "TaskDefinitionByOrigin",
    "TaskDefinitionBySVC",
    "TaskMiningByDataAttr",
    "TaskMiningBySVC",
    "UnseenTaskAllocationDefault",
    "UpdateStrategyByFinetune",
    "UpdateStrategyDefault",
]
