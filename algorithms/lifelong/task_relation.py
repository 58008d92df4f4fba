"""Task relationship discovery: which tasks share a model.

References
----------
.. [1] Zhang, Y. and Yang, Q., "A survey on multi-task learning", IEEE TKDE 34(12), 2022.
"""

from __future__ import annotations

from typing import Any

from sedna_lib.base import BaseAlgorithm, TaskGroup

__all__ = ["DefaultTaskRelationDiscover"]


class DefaultTaskRelationDiscover(BaseAlgorithm):
    """Every task is its own group (no sharing); the group's samples are the task's samples."""

    def __call__(self, tasks: list, **kwargs: Any) -> list[TaskGroup]:
        """Group the tasks.

        Parameters
        ----------
        tasks : list of Task
            Defined tasks.
        **kwargs : object
            Ignored.

        Returns
        -------
        list of TaskGroup
            One group per task, named after it.
        """
        groups = []
        for task in tasks:
            group = TaskGroup(entry=task.entry, tasks=[task])
            group.samples = task.samples
            groups.append(group)
        return groups
