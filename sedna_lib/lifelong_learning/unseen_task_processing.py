"""Unseen-task processing: what happens to samples of tasks the knowledge base does not know."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from ..context import Context, resolve
from ..registry import Kind, build, parse_spec
from ._data import as_samples

__all__ = ["UnseenTaskProcessing"]


class UnseenTaskProcessing:
    """Predict for unseen samples with an optional fallback estimator (Sedna's ``UnseenTaskProcessing``).

    Parameters
    ----------
    estimator : object, default=None
        What answers for unseen samples: None (no answer: results are None), a function called
        with the samples' inputs, or a model (wrapped by a backend; it must already be trained).
    unseen_task_allocation : dict, default=None
        Default ``UnseenTaskAllocationDefault``.
    context : Context, default=None
        Configuration and registry; the environment's context when omitted (a
        ``LifelongLearning`` job passes its own).
    """

    def __init__(self, estimator: Any = None, unseen_task_allocation: Any = None, *,
                 context: Context | None = None) -> None:
        self.estimator = estimator
        self.unseen_task_allocation = unseen_task_allocation
        self.context = resolve(context)

    def train(self, *args: Any, **kwargs: Any) -> tuple[dict, dict]:
        """Nothing is trained for unseen tasks (they are learned once labelled, through ``update``).

        Parameters
        ----------
        *args, **kwargs : object
            Ignored.

        Returns
        -------
        feedback, task_index
            ``{}`` and an empty unseen-task index.
        """
        return {}, {"extractor": None, "task_groups": []}

    update = train

    def _backend(self) -> Any:
        if not hasattr(self, "backend_"):
            from ..backends import set_backend

            self.backend_ = set_backend(self.estimator, context=self.context)
        return self.backend_

    def predict(self, data: Any, post_process: Callable[..., Any] | None = None,
                **kwargs: Any) -> tuple[Any, list]:
        """Answer for unseen samples.

        Parameters
        ----------
        data : data source or array-like
            The unseen samples.
        post_process : callable, default=None
            Applied to the result.
        **kwargs : object
            Ignored.

        Returns
        -------
        result : numpy.ndarray or list
            The fallback's predictions, or ``None`` per sample without a fallback.
        tasks : list
            Empty (unseen samples belong to no known task).
        """
        samples = as_samples(data, data_type="test")
        n = len(samples.x)
        if self.unseen_task_allocation is not None:
            allocation = build(self.context.registry, Kind.UNSEEN_TASK_PROCESSING,
                               parse_spec(self.unseen_task_allocation, None, label="unseen_task_allocation"))
            samples, _ = allocation(samples)
        if n == 0:
            result: Any = np.asarray([])
        elif self.estimator is None:
            result = [None] * n
        elif (callable(self.estimator) and not inspect.isclass(self.estimator)
              and not hasattr(self.estimator, "predict")):
            result = self.estimator(samples.x)
        else:
            result = self._backend().predict(samples.x)
        if callable(post_process):
            result = post_process(result)
        return result, []
