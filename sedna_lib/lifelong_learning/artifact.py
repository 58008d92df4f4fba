"""Knowledge-base artifacts under Sedna's pickled path ``sedna.algorithms.seen_task_learning.artifact``."""

from ..base import Model, Task, TaskGroup

__all__ = ["Task", "TaskGroup", "Model"]
