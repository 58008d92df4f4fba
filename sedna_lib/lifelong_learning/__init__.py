"""Lifelong learning: a knowledge base of task-specific models that routes, detects unseen tasks and grows.

This package is also Sedna's ``sedna.core.lifelong_learning`` and
``sedna.algorithms.seen_task_learning`` (through the ``sedna`` alias package).
"""

from __future__ import annotations

from ..base import Model, Task, TaskGroup
from ..transport.kb import KBClient
from ._data import Samples
from ._job import LifelongLearning
from .knowledge_management import (
    BaseKnowledgeManagement,
    CloudKnowledgeManagement,
    EdgeKnowledgeManagement,
    push_kb,
)
from .seen_task_learning import SeenTaskLearning
from .unseen_task_processing import UnseenTaskProcessing

__all__ = [
    "LifelongLearning",
    "SeenTaskLearning",
    "UnseenTaskProcessing",
    "BaseKnowledgeManagement",
    "CloudKnowledgeManagement",
    "EdgeKnowledgeManagement",
    "push_kb",
    "KBClient",
    "Samples",
    "Task",
    "TaskGroup",
    "Model",
]
