"""Task update decision: after initial training, decide how new samples change the knowledge base.

References
----------
.. [1] Chen, Z. and Liu, B., *Lifelong Machine Learning*, 2nd ed., 2018, ch. 1 (knowledge-base update).
"""

from __future__ import annotations

from typing import Any

from sedna_lib.base import BaseAlgorithm, Task

from .task_definition import TaskDefinitionByOrigin

__all__ = ["UpdateStrategyDefault", "UpdateStrategyByFinetune", "FINETUNE", "NEW"]

FINETUNE = "finetune"
NEW = "new"


def known_entries(task_index: Any) -> set[str]:
    """Names of the task groups (and their tasks) in a knowledge-base index."""
    if not isinstance(task_index, dict):
        return set()
    seen = task_index.get("seen_task", task_index)
    names: set[str] = set()
    for group in (seen or {}).get("task_groups", []) or []:
        names.add(str(group.entry))
        names.update(str(t.entry) for t in getattr(group, "tasks", []) or [])
    return names


class UpdateStrategyDefault(BaseAlgorithm):
    """Fine-tune the tasks the knowledge base knows; create the tasks it does not.

    The new samples are split with the same task definition as the initial training (the
    caller passes those ``tasks``). A task whose name is in the knowledge base is marked
    ``"finetune"``: its model is retrained on its stored samples plus the new ones. Any other
    task is marked ``"new"``: the knowledge base grows by one task and one model.

    Parameters
    ----------
    task_index : dict, default=None
        The current knowledge-base index.
    """

    def __init__(self, *, task_index: Any = None) -> None:
        self.task_index = task_index

    def __call__(self, samples: Any, task_type: str = "seen_task", *, tasks: list | None = None,
                 **kwargs: Any) -> tuple[list, dict]:
        """Decide.

        Parameters
        ----------
        samples : data source
            The new samples.
        task_type : {'seen_task', 'unseen_task'}, default='seen_task'
            Which part of the knowledge base is updated.
        tasks : list of Task, default=None
            The new samples split into tasks; without it all samples form one new task ``update``.
        **kwargs : object
            Ignored.

        Returns
        -------
        tasks : list of Task
            The tasks to train.
        strategies : dict
            ``{entry: "finetune" | "new"}``.
        """
        if tasks is None:
            tasks = [Task(entry="update", samples=samples)]
        known = known_entries(self.task_index)
        return tasks, {t.entry: FINETUNE if t.entry in known else NEW for t in tasks}


class UpdateStrategyByFinetune(BaseAlgorithm):
    """Split new samples by origin (Sedna's ``attribute``/``city`` rule) and fine-tune each origin's model.

    Parameters
    ----------
    task_index : dict, default=None
        The current knowledge-base index.
    attribute : list of str or str, default=('real', 'sim')
        Origin names (``"real, sim"`` as Sedna 0.6 passes them).
    city : str, default='berlin'
        Substring that marks the first origin.
    """

    def __init__(self, *, task_index: Any = None, attribute: list | str = ("real", "sim"),
                 city: str = "berlin") -> None:
        self.task_index = task_index
        self.attribute = attribute
        self.city = city

    def __call__(self, samples: Any, task_type: str = "seen_task", **kwargs: Any) -> tuple[list, dict]:
        """Decide.

        Parameters
        ----------
        samples : data source
            The new samples.
        task_type : str, default='seen_task'
            Which part of the knowledge base is updated.
        **kwargs : object
            ``origin=`` per-sample origins (optional).

        Returns
        -------
        tasks, strategies
            One task per origin; ``"finetune"`` for origins the knowledge base has, else ``"new"``.
        """
        kwargs.pop("tasks", None)
        tasks, _, _ = TaskDefinitionByOrigin(attribute=self.attribute, city=self.city)(samples, **kwargs)
        known = known_entries(self.task_index)
        return tasks, {t.entry: FINETUNE if t.entry in known else NEW for t in tasks}
