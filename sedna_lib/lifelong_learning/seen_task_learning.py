"""Seen-task learning: define tasks, train one model per task group, route samples to their model."""

from __future__ import annotations

import copy
import inspect
import logging
import os
import tempfile
import threading
from typing import Any, Callable

import numpy as np

from ..base import Model, Task, TaskGroup, check_count, check_variable
from ..context import Context, resolve
from ..exceptions import DataError, NotFittedError, ParameterError
from ..observability.progress import progress as progress_report
from ..registry import Kind, build, parse_spec
from ._data import as_samples, build_profiles

__all__ = ["SeenTaskLearning", "concat_samples", "fresh_estimator"]

logger = logging.getLogger(__name__)


def _shown(result: Any) -> dict[str, Any]:
    """Return the numbers of a training result for its progress line (none when it is not a mapping)."""
    if not isinstance(result, dict):
        return {}
    return {str(k): v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("task", "samples", "num_samples")}


STP = Kind.SEEN_TASK_PROCESSING


def fresh_estimator(estimator: Any) -> Any:
    """Return an untrained copy of ``estimator`` (classes as is, scikit-learn clones, else deep copies).

    Parameters
    ----------
    estimator : object
        Class, factory or instance.

    Returns
    -------
    object
        Something a new backend can train without touching ``estimator``.
    """
    if inspect.isclass(estimator) or inspect.isfunction(estimator):
        return estimator
    if hasattr(estimator, "get_params") and hasattr(estimator, "fit"):
        try:
            from sklearn.base import clone

            return clone(estimator)
        except (ImportError, TypeError, RuntimeError):
            pass  # not a real scikit-learn estimator: fall through to a deep copy
    return copy.deepcopy(estimator)


def _concat(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if type(a).__name__ == "DataFrame":
        import pandas as pd

        return pd.concat([a, b], ignore_index=True)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.concatenate([np.asarray(a), np.asarray(b)])
    return list(a) + list(b)


def concat_samples(a: Any, b: Any) -> Any:
    """Return the samples of ``a`` followed by those of ``b`` (a data source of ``b``'s type).

    Parameters
    ----------
    a, b : data source or None
        Samples with ``x`` and ``y``.

    Returns
    -------
    data source
        The union.
    """
    if a is None:
        return b
    if b is None:
        return a
    out = copy.copy(b)
    out.x = _concat(a.x, b.x)
    out.y = _concat(getattr(a, "y", None), getattr(b, "y", None))
    out.meta_attr = None
    out.inx = None
    return out


def _storable(result: Any) -> Any:
    """Return a training result the knowledge-base index can hold, or None.

    Estimators often return what they trained (``XGBClassifier.fit`` returns the classifier, as
    in Sedna's atcii example); the model file already holds that, and the index stores no
    objects (it is never pickled), so such a result is kept as None.
    """
    from ..transport.kb_index import encode_value

    try:
        encode_value(result)
    except DataError:
        logger.debug("the training result %s is not kept in the index (the saved model holds it)",
                     type(result).__name__)
        return None
    return result


class SeenTaskLearning:
    """Multi-task learning over the tasks the knowledge base knows (Sedna's ``SeenTaskLearning``).

    Training runs task definition, task-relationship discovery, then trains a fresh copy of the
    estimator per task group (groups with fewer than ``MIN_TRAIN_SAMPLE`` samples share one
    ``global`` model trained on everything). Inference runs task allocation, remodeling, the
    group models, and inference integration. Each step is a registered algorithm given as
    ``{"method": name, "param": {...}}``.

    Parameters
    ----------
    estimator : object
        The base model (class, factory or instance); every task group trains its own copy.
    task_definition : dict, default=None
        Default ``TaskDefinitionByDataAttr``.
    task_relationship_discovery : dict, default=None
        Default ``DefaultTaskRelationDiscover``.
    seen_task_allocation : dict, default=None
        Default ``TaskAllocationDefault``.
    task_remodeling : dict, default=None
        Default ``DefaultTaskRemodeling``.
    inference_integrate : dict, default=None
        Default ``DefaultInferenceIntegrate``.
    context : Context, default=None
        Configuration and registry; the environment's context when omitted (a
        ``LifelongLearning`` job passes its own).
    work_dir : str, default=None
        Where trained models are written; a new temporary folder if omitted.
    profile_samples : int, default=200
        Reference samples kept per task group for nearest-task allocation and unseen detection
        (the edge's memory of each task).

    Attributes
    ----------
    task_groups_ : list of TaskGroup
        The knowledge base's task groups, after :meth:`train` or :meth:`load`.
    extractor_ : object
        The task extractor (what allocation needs).
    profiles_ : dict or None
        Reference samples of each group (nearest-task allocation, unseen detection).
    """

    kind = STP

    def __init__(self, estimator: Any = None, task_definition: Any = None,
                 task_relationship_discovery: Any = None,
                 seen_task_allocation: Any = None, task_remodeling: Any = None,
                 inference_integrate: Any = None, *, context: Context | None = None,
                 work_dir: str | None = None, profile_samples: int = 200) -> None:
        self.estimator = estimator
        self.task_definition = task_definition
        self.task_relationship_discovery = task_relationship_discovery
        self.seen_task_allocation = seen_task_allocation
        self.task_remodeling = task_remodeling
        self.inference_integrate = inference_integrate
        self.context = resolve(context)
        self.work_dir = work_dir
        self.profile_samples = profile_samples
        self._backends: dict[str, Any] = {}
        self._lock = threading.RLock()

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def ctx(self) -> Context:
        """The context the learner works in."""
        return self.context

    @property
    def model_dir(self) -> str:
        """Folder the group models are written to."""
        if self.work_dir is None:
            self.work_dir = tempfile.mkdtemp(prefix="sedna_lib_ll_")
        os.makedirs(self.work_dir, exist_ok=True)
        return self.work_dir

    def _algorithm(self, spec: Any, default: str, label: str, **context: Any) -> Any:
        parsed = parse_spec(spec, default, label=label)
        registry = self.ctx.registry
        kind = self.kind
        if not registry.is_registered(kind, parsed.method):
            other = Kind.MULTI_TASK_LEARNING if kind is STP else STP
            kind = other if registry.is_registered(other, parsed.method) else kind
        return build(registry, kind, parsed, **context)

    def _new_backend(self) -> Any:
        from ..backends import set_backend

        if self.estimator is None:
            raise ParameterError("SeenTaskLearning needs an estimator (seen_estimator=...) to train "
                                 "task models")
        return set_backend(fresh_estimator(self.estimator), context=self.ctx)

    def backend_for(self, model: Model) -> Any:
        """Return the backend serving ``model`` (loaded from its file on first use, then cached).

        Parameters
        ----------
        model : Model
            A knowledge-base model whose ``model`` is a local path (or an already loaded backend).

        Returns
        -------
        Backend
            Ready to predict.

        Raises
        ------
        StorageNotFoundError
            If the model file is missing.
        """
        ref = model.model
        if not isinstance(ref, str):
            return ref
        with self._lock:
            backend = self._backends.get(ref)
            if backend is None:
                backend = self._new_backend()
                if "allow_pickle" in inspect.signature(backend.load).parameters:
                    backend.load(ref, allow_pickle=False)  # a model that travelled: never unpickled
                else:
                    backend.load(ref)
                self._backends[ref] = backend
            return backend

    @property
    def min_train_sample(self) -> int:
        """Smallest group that gets its own model (``MIN_TRAIN_SAMPLE``, default 10; 0 or more)."""
        return check_variable("MIN_TRAIN_SAMPLE", self.ctx.config.min_train_sample, check_count, 0)

    def _train_group(self, entry: str, samples: Any, valid_data: Any, kwargs: dict) -> tuple[str, Any, Any]:
        backend = self._new_backend()
        result = _storable(backend.train(samples, valid_data, **kwargs))
        path = backend.save(model_url=self.model_dir, model_name=f"{entry}.model")
        with self._lock:
            self._backends[path] = backend
        return path, result, backend

    # -- training --------------------------------------------------------------------------------
    def define_tasks(self, samples: Any, **kwargs: Any) -> tuple[list, Any, Any]:
        """Run the task definition on ``samples``.

        Parameters
        ----------
        samples : data source
            Labelled samples.
        **kwargs : object
            Passed to the definition (``origin=``, ...).

        Returns
        -------
        tasks, extractor, samples
            What the definition returns.
        """
        definition = self._algorithm(self.task_definition, "TaskDefinitionByDataAttr", "task_definition")
        return definition(samples, **kwargs)

    def train(self, train_data: Any, valid_data: Any = None, post_process: Callable[..., Any] | None = None,
              **kwargs: Any) -> tuple[dict, dict]:
        """Define tasks and train one model per task group.

        Parameters
        ----------
        train_data : data source or (x, y)
            Labelled training samples.
        valid_data : data source, default=None
            Validation samples; the feedback is then their evaluation.
        post_process : callable, default=None
            Applied to the feedback.
        **kwargs : object
            Training options forwarded to every group's training (Sedna dropped them).

        Returns
        -------
        feedback : dict
            ``{group entry: training result}``.
        task_index : dict
            ``{"extractor", "task_groups", "profiles"}``.

        Raises
        ------
        DataError
            If the task definition yields no task.
        ParameterError
            If ``profile_samples`` is not a whole number >= 1 (checked before anything trains).
        ConfigError
            If ``MIN_TRAIN_SAMPLE`` is negative (checked before anything trains).
        """
        profile_samples = check_count("profile_samples", self.profile_samples, 1)
        min_train_sample = self.min_train_sample  # checked once, before any task is defined
        samples = as_samples(train_data)
        def_kwargs = {k: kwargs.pop(k) for k in ("origin", "origins") if k in kwargs}
        tasks, extractor, samples = self.define_tasks(samples, **def_kwargs)
        if not tasks:
            raise DataError("the task definition produced no task; check its parameters and the data")
        relation = self._algorithm(self.task_relationship_discovery, "DefaultTaskRelationDiscover",
                                   "task_relationship_discovery")
        groups = relation(tasks)
        feedback: dict = {}
        rare = [index for index, group in enumerate(groups)
                if group.samples is None or len(group.samples.x) < min_train_sample]
        report = progress_report(len(groups) - len(rare) + (1 if rare else 0), "task", logger=logger)
        try:
            for index, group in enumerate(groups):
                if index in rare:
                    continue
                path, result, _ = self._train_group(group.entry, group.samples, None, kwargs)
                group.model = Model(index=index, entry=group.entry, model=path, result=result)
                group.model.meta_attr = [t.meta_attr for t in group.tasks]
                feedback[group.entry] = result
                report.step(task=group.entry, samples=len(group.samples.x), **_shown(result))
            if rare:
                report.note("task groups %s have fewer than %d samples; they share a global model",
                            [groups[i].entry for i in rare], min_train_sample)
                path, result, _ = self._train_group("global", samples, None, kwargs)
                report.step(task="global", samples=len(samples.x), **_shown(result))
        finally:
            report.close()
        if rare:
            for index in rare:
                groups[index].model = Model(index=index, entry=groups[index].entry, model=path, result=result)
                groups[index].model.meta_attr = [t.meta_attr for t in groups[index].tasks]
            feedback["global"] = result
        for group in groups:
            for task in group.tasks:
                task.model = group.model
        self.task_groups_ = groups
        self.extractor_ = extractor
        self.profiles_ = build_profiles([g.samples for g in groups], max_per_task=profile_samples)
        if valid_data is not None:
            feedback, _ = self.evaluate(valid_data, **kwargs)
        if callable(post_process):
            feedback = post_process(feedback)
        return feedback, self.task_index

    @property
    def task_index(self) -> dict:
        """The seen-task part of the knowledge-base index."""
        if not hasattr(self, "task_groups_"):
            raise NotFittedError("SeenTaskLearning has no task groups; call train() or load() first")
        return {"extractor": self.extractor_, "task_groups": self.task_groups_, "profiles": self.profiles_}

    def update(self, tasks: list, task_update_strategies: dict, valid_data: Any = None,
               **kwargs: Any) -> tuple[dict, dict]:
        """Grow or refresh the knowledge base with new tasks.

        Parameters
        ----------
        tasks : list of Task
            New samples split into tasks.
        task_update_strategies : dict
            ``{entry: "finetune" | "new"}`` from the task update decision. ``finetune`` retrains
            the group's model on its stored samples plus the new ones; ``new`` adds a group.
        valid_data : data source, default=None
            Unused; kept for symmetry with :meth:`train`.
        **kwargs : object
            Training options.

        Returns
        -------
        feedback, task_index
            As :meth:`train`.
        """
        profile_samples = check_count("profile_samples", self.profile_samples, 1)
        min_train_sample = self.min_train_sample  # checked once, before any group trains
        groups = list(self.task_index["task_groups"])
        extractor = self.extractor_
        feedback: dict = {}
        for task in tasks:
            strategy = task_update_strategies.get(task.entry, "new")
            group = next((g for g in groups if g.entry == task.entry
                          or any(t.entry == task.entry for t in g.tasks)), None)
            if strategy == "finetune" and group is not None:
                merged = concat_samples(group.samples, task.samples)
            else:
                group = TaskGroup(entry=task.entry, tasks=[task])
                group.model = None
                groups.append(group)
                if isinstance(extractor, dict) and extractor.get("type") is None:
                    extractor = {**extractor, task.entry: len(groups) - 1}
                merged = task.samples
            index = groups.index(group)
            group.samples = merged
            if merged is not None and len(merged.x) >= min_train_sample:
                name = f"{group.entry}-{os.urandom(4).hex()}" if group.model is not None else group.entry
                path, result, _ = self._train_group(name, merged, None, kwargs)
                group.model = Model(index=index, entry=group.entry, model=path, result=result)
                feedback[group.entry] = result
            elif group.model is None:
                group.model = Model(index=index, entry=group.entry, model=groups[0].model.model,
                                    result=groups[0].model.result)
            group.model.meta_attr = [t.meta_attr for t in group.tasks]
            for t in group.tasks:
                t.model = group.model
        self.task_groups_ = groups
        self.extractor_ = extractor
        profiles = build_profiles([g.samples for g in groups], max_per_task=profile_samples)
        self.profiles_ = profiles or self.profiles_
        return feedback, self.task_index

    def load(self, task_index: dict) -> SeenTaskLearning:
        """Use a knowledge-base index (its model and sample paths must be local).

        Parameters
        ----------
        task_index : dict
            The full index (``{"seen_task": ...}``) or its seen part.

        Returns
        -------
        SeenTaskLearning
            ``self``.

        Raises
        ------
        DataError
            If the index has no task group.
        """
        part = task_index.get("seen_task", task_index) if isinstance(task_index, dict) else None
        if not part or not part.get("task_groups"):
            raise DataError("the knowledge-base index has no seen task group; train first")
        self.task_groups_ = list(part["task_groups"])
        self.extractor_ = part.get("extractor")
        self.profiles_ = part.get("profiles")
        return self

    @property
    def models_(self) -> list:
        """The knowledge base's models, by task-group index."""
        return [g.model for g in self.task_index["task_groups"]]

    # -- inference -------------------------------------------------------------------------------
    def predict(self, data: Any, post_process: Callable[..., Any] | None = None,
                **kwargs: Any) -> tuple[Any, list]:
        """Route each sample to its task's model and predict.

        Parameters
        ----------
        data : data source or array-like
            Inference samples.
        post_process : callable, default=None
            Applied to the integrated result.
        **kwargs : object
            Prediction options (``task_index``, ``task_type`` from Sedna's callers are ignored).

        Returns
        -------
        result : numpy.ndarray
            Predictions in sample order.
        tasks : list of Task
            One per model used: its samples (``inx`` = original positions), model and result.
        """
        for key in ("task_index", "task_type"):
            kwargs.pop(key, None)
        samples = as_samples(data, data_type="test")
        if len(samples.x) == 0:
            return np.asarray([]), []
        models = self.models_
        allocation = self._algorithm(self.seen_task_allocation, "TaskAllocationDefault",
                                     "seen_task_allocation",
                                     task_extractor=self.extractor_, task_profiles=self.profiles_)
        samples, mappings = allocation(samples)
        remodeling = self._algorithm(self.task_remodeling, "DefaultTaskRemodeling", "task_remodeling",
                                     models=models)
        subsets, sub_models = remodeling(samples, mappings)
        tasks = []
        for sub, model in zip(subsets, sub_models):
            task = Task(entry=model.entry, samples=sub, meta_attr=getattr(model, "meta_attr", None))
            task.model = model
            task.result = self.backend_for(model).predict(sub.x, **kwargs)
            tasks.append(task)
        integrate = self._algorithm(self.inference_integrate, "DefaultInferenceIntegrate",
                                    "inference_integrate",
                                    models=models)
        result = integrate(tasks)
        if callable(post_process):
            result = post_process(result)
        return result, tasks

    def evaluate(self, data: Any, metrics: Any = None, metrics_param: dict | None = None,
                 **kwargs: Any) -> tuple[dict, list]:
        """Score the knowledge base on labelled samples, overall and per task.

        Parameters
        ----------
        data : data source or (x, y)
            Labelled samples.
        metrics : callable, str, list or dict, default=None
            ``sklearn.metrics`` names or callables ``f(y_true, y_pred)``; default
            ``precision_score`` with ``average="micro"`` (Sedna's default).
        metrics_param : dict, default=None
            Keyword arguments for named metrics.
        **kwargs : object
            Prediction options.

        Returns
        -------
        scores : dict
            ``{metric: score}`` over all samples.
        tasks : list of Task
            Each with ``scores`` on its own samples.

        Raises
        ------
        DataError
            If the samples have no labels, or there are none.
        """
        samples = as_samples(data, data_type="eval")
        if getattr(samples, "y", None) is None:
            raise DataError("evaluate needs labelled samples (y)")
        if not len(samples.y):  # the metrics would raise scikit-learn's "empty input" ValueError
            raise DataError("evaluate needs at least one labelled sample; the data is empty")
        fns = _metric_functions(metrics, metrics_param)
        pred, tasks = self.predict(samples, **kwargs)
        y = np.asarray(samples.y)
        scores = {name: float(fn(y, pred)) for name, fn in fns.items()}
        for task in tasks:
            ty = np.asarray(task.samples.y)
            task.scores = {name: float(fn(ty, np.asarray(task.result))) for name, fn in fns.items()}
        return scores, tasks


def _metric_functions(metrics: Any, metrics_param: dict | None) -> dict[str, Callable[[Any, Any], float]]:
    params = dict(metrics_param or {})
    if metrics is None:
        metrics, params = "precision_score", params or {"average": "micro"}
    if callable(metrics):
        return {getattr(metrics, "__name__", "metric"): metrics}
    if isinstance(metrics, dict):
        return {str(k): (v if callable(v) else _named_metric(v, params)) for k, v in metrics.items()}
    if isinstance(metrics, (list, tuple, set)):
        out: dict = {}
        for m in metrics:
            out.update(_metric_functions(m, params))
        return out
    return {str(metrics): _named_metric(str(metrics), params)}


def _named_metric(name: str, params: dict) -> Callable[[Any, Any], float]:
    from sklearn import metrics as skm

    fn = getattr(skm, name, None)
    if fn is None or not callable(fn):
        raise ParameterError(f"unknown metric {name!r}; give a sklearn.metrics function name or a callable")
    accepted = inspect.signature(fn).parameters
    kw = {k: v for k, v in params.items() if k in accepted}
    return lambda y_true, y_pred: fn(y_true, y_pred, **kw)
