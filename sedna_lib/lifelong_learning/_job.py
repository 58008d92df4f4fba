"""The lifelong-learning job: train, update, evaluate, infer with a knowledge base (Sedna's face: compat)."""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
import threading
import time
import warnings
from typing import Any, Callable

import numpy as np

from ..backends.files import remove_path_prefix
from ..context import Context, resolve
from ..exceptions import NotFittedError, StorageError, TransportError
from ..job import JobBase
from ..transport.lc import OwnerKind
from ..registry import Kind, build, parse_spec
from ._data import as_samples
from .knowledge_management import CloudKnowledgeManagement, EdgeKnowledgeManagement
from .seen_task_learning import SeenTaskLearning
from .unseen_task_processing import UnseenTaskProcessing

__all__ = ["LifelongLearning"]

logger = logging.getLogger(__name__)

_LEGACY = {"estimator": "seen_estimator", "task_mining": "task_allocation",
           "unseen_task_detect": "unseen_sample_recognition"}


class _Deployment:
    """What the edge serves from; replaced as a whole (one reference swap) when the index changes."""

    def __init__(self, seen: SeenTaskLearning, recognizer: Any, version: Any, index: dict,
                 call_params: dict | None = None) -> None:
        self.seen = seen
        self.recognizer = recognizer
        self.version = version
        self.index = index
        self.call_params = dict(call_params or {})


def _is_task_filter(obj: Any) -> bool:
    """Older detectors (ModelProbeFilter, TaskAttrFilter) judge a batch by its tasks: ``f(tasks) -> bool``."""
    try:
        names = list(inspect.signature(obj.__call__).parameters)
    except (TypeError, ValueError):
        return False
    if inspect.isclass(obj):
        names = names[1:]  # the unbound method's self
    return bool(names) and names[0] == "tasks"


def _paired_allocation(task_definition: Any) -> Any:
    """Return the allocation Sedna's first lifelong API paired with a task definition (``task_mining=None``).

    ``TaskDefinitionByDataAttr`` allocates by the same attribute (``TaskMiningByDataAttr``, same
    parameters) and ``TaskDefinitionBySVC`` by its classifier (``TaskMiningBySVC``); other
    definitions keep the default allocation.
    """
    spec = parse_spec(task_definition, "TaskDefinitionByDataAttr", label="task_definition")
    if spec.method == "TaskDefinitionByDataAttr":
        return {"method": "TaskMiningByDataAttr", "param": dict(spec.params)}
    if spec.method == "TaskDefinitionBySVC":
        return {"method": "TaskMiningBySVC"}
    return None


class LifelongLearning(JobBase):
    """Lifelong learning with a knowledge base of task-specific models.

    Training splits samples into tasks (by attribute, origin or clustering) and trains a model
    per task group; the knowledge base (models, samples, the JSON index) is published to
    ``OUTPUT_URL`` and the KB server. Inference recognises samples of unseen tasks (far from
    every known task), answers them with the optional unseen estimator and saves them for
    labelling, and routes the others to their task's model. ``update`` (``train`` once
    ``HAS_COMPLETED_INITIAL_TRAINING=true``) fine-tunes known tasks and adds new ones.

    Parameters
    ----------
    seen_estimator : object
        The base model (class, factory or instance); each task group trains its own copy.
    unseen_estimator : object, default=None
        Fallback for unseen samples: None (no answer), a function of the inputs, or a trained model.
    task_definition, task_relationship_discovery, task_allocation, task_remodeling, inference_integrate : dict
        Seen-task algorithms ``{"method": name, "param": dict or JSON}``.
    task_update_decision : dict, default=None
        Default ``UpdateStrategyDefault``.
    unseen_task_allocation : dict, default=None
        Default ``UnseenTaskAllocationDefault``.
    unseen_sample_recognition : dict, default=None
        Default ``SampleRegonitionDefault`` (k-NN distance to the known tasks).
    unseen_sample_re_recognition : dict, default=None
        Default ``SampleReRegonitionDefault``.
    **legacy : object
        The older keywords ``estimator``, ``task_mining`` and ``unseen_task_detect`` (Sedna's
        published ATCII example): aliases of ``seen_estimator``, ``task_allocation`` and
        ``unseen_sample_recognition``, with a DeprecationWarning.
    context : Context, default=None
        Configuration, registry and storage; the environment's context when omitted.
    report : bool, default=True
        Whether train and eval outcomes are reported to the LocalController (``LC_SERVER``).
        Outside a Sedna cluster there is none: ``report=False`` turns the reports off, as it does
        for the other jobs.

    Examples
    --------
    A local run needs no KB server (``OUTPUT_URL`` is a folder)::

        ll = LifelongLearning(LogisticRegression(), task_definition={
            "method": "TaskDefinitionByOrigin"}, task_allocation={"method": "TaskAllocationByNearestTask"})
        ll.train(train_data)
        result, is_unseen, tasks = ll.inference(test_data)
    """

    job_kind = OwnerKind.LIFELONG_JOB.value

    def __init__(self, seen_estimator: Any = None, unseen_estimator: Any = None, task_definition: Any = None,
                 task_relationship_discovery: Any = None, task_allocation: Any = None,
                 task_remodeling: Any = None, inference_integrate: Any = None,
                 task_update_decision: Any = None,
                 unseen_task_allocation: Any = None, unseen_sample_recognition: Any = None,
                 unseen_sample_re_recognition: Any = None, *, context: Context | None = None,
                 report: bool = True, **legacy: Any) -> None:
        unknown = sorted(set(legacy) - set(_LEGACY))
        if unknown:
            raise TypeError(f"LifelongLearning() got unexpected keyword arguments {unknown}")
        context = resolve(context)  # once: every part of the job works in the same context
        given = {"seen_estimator": seen_estimator, "task_allocation": task_allocation,
                 "unseen_sample_recognition": unseen_sample_recognition}
        for old, new in _LEGACY.items():
            if legacy.get(old) is not None:
                warnings.warn(f"LifelongLearning({old}=...) is the pre-2022 Sedna keyword; use {new}=...",
                              DeprecationWarning, stacklevel=2)
                if given[new] is None:
                    given[new] = legacy[old]
        if legacy and given["task_allocation"] is None:
            # the first API's multi-task learner paired the allocation with the definition
            given["task_allocation"] = _paired_allocation(task_definition)
        self.seen_estimator = SeenTaskLearning(
            given["seen_estimator"], task_definition=task_definition,
            task_relationship_discovery=task_relationship_discovery,
            seen_task_allocation=given["task_allocation"], task_remodeling=task_remodeling,
            inference_integrate=inference_integrate, context=context)
        self.unseen_estimator = UnseenTaskProcessing(unseen_estimator,
                                                     unseen_task_allocation=unseen_task_allocation,
                                                     context=context)
        self.task_update_decision = task_update_decision
        self.unseen_sample_recognition = given["unseen_sample_recognition"]
        self.unseen_sample_re_recognition = unseen_sample_re_recognition
        super().__init__(None, context=context)
        self.report = report
        self.seen_estimator.context = self.context
        self.unseen_estimator.context = self.context
        self.estimator = self.seen_estimator
        self.cloud_knowledge_management = CloudKnowledgeManagement(
            None, self.seen_estimator, self.unseen_estimator, context=self.context)
        self.edge_knowledge_management = EdgeKnowledgeManagement(
            None, self.seen_estimator, self.unseen_estimator, context=self.context)
        self._deployment: _Deployment | None = None
        self._deploy_lock = threading.Lock()

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Release what the job holds: the knowledge-base clients and the LocalController client.

        Safe to call twice, and before any training.
        """
        self.cloud_knowledge_management.close()
        self.edge_knowledge_management.close()
        super().close()

    # -- helpers ----------------------------------------------------------------------------------
    @property
    def kb_server(self) -> Any:
        """The KB client (``KB_SERVER``), or None."""
        return self.cloud_knowledge_management.kb_client

    def _report(self, kind: str, url: str, metrics: Any = None) -> None:
        url = remove_path_prefix(url, self.context.config.data_path_prefix)
        self.report_task_info(None, "completed", [{"format": "pkl", "url": url, "metrics": metrics}],
                              kind=kind)

    def _cloud_index_url(self) -> str:
        cfg = self.context.config
        if cfg.cloud_kb_index:
            prefix = cfg.data_path_prefix if cfg.cloud_kb_index.startswith("/") and not os.path.exists(
                cfg.cloud_kb_index) else ""
            return prefix + cfg.cloud_kb_index
        return self.cloud_knowledge_management.task_index_url

    def _recognizer(self, index: dict, spec: Any, default: str) -> tuple[Any, dict]:
        """Build a recogniser; return it and the parameters its calls take.

        A task filter (``__call__(tasks, ...)``, the first API's ``TaskAttrFilter`` and
        ``ModelProbeFilter``) is built with no arguments and called as ``f(tasks=..., result=...,
        **param)``, as Sedna did; any other recogniser is built with its parameters.
        """
        parsed = parse_spec(spec, default, label="recognition")
        registry = self.context.registry
        cls = registry.get(Kind.UNSEEN_TASK_DETECT, parsed.method)
        if _is_task_filter(cls):
            return cls(), dict(parsed.params)
        return build(registry, Kind.UNSEEN_TASK_DETECT, parsed, task_index=index, estimator=None), {}

    # -- cloud: train, update, evaluate -------------------------------------------------------------
    def train(self, train_data: Any, valid_data: Any = None, post_process: Callable[..., Any] | None = None,
              **kwargs: Any) -> Any:
        """Build the knowledge base (or update it once ``HAS_COMPLETED_INITIAL_TRAINING=true``).

        Parameters
        ----------
        train_data : data source or (x, y)
            Labelled samples.
        valid_data : data source, default=None
            Validation samples.
        post_process : callable, default=None
            Called as ``post_process(seen_estimator, result)``.
        **kwargs : object
            Training options for every task model.

        Returns
        -------
        dict
            ``{task group: training result}``.

        Raises
        ------
        ConfigError
            If the output folder (``OUTPUT_URL``) cannot be written (checked before training).
        """
        if self.context.config.has_completed_initial_training:
            return self.update(train_data, valid_data=valid_data, post_process=post_process, **kwargs)
        self.cloud_knowledge_management.check_output()  # before training: a bad output fails now
        res, seen_index = self.seen_estimator.train(train_data, valid_data, **kwargs)
        _, unseen_index = self.unseen_estimator.train()
        index = {"seen_task": seen_index, "unseen_task": unseen_index, "create_time": str(time.time())}
        url = self.cloud_knowledge_management.update_kb(index)
        self._report("train", url)
        return post_process(self.seen_estimator, res) if callable(post_process) else res

    def update(self, train_data: Any, valid_data: Any = None, post_process: Callable[..., Any] | None = None,
               **kwargs: Any) -> Any:
        """Update the knowledge base with new labelled samples: fine-tune known tasks, add new ones.

        Parameters
        ----------
        train_data : data source or (x, y)
            New labelled samples.
        valid_data : data source, default=None
            Unused.
        post_process : callable, default=None
            Called as ``post_process(seen_estimator, result)``.
        **kwargs : object
            Training options.

        Returns
        -------
        dict
            ``{task group: training result}`` for the groups retrained or added.

        Raises
        ------
        ConfigError
            If the output folder (``OUTPUT_URL``) cannot be written (checked before training).
        """
        self.cloud_knowledge_management.check_output()  # before training: a bad output fails now
        samples = as_samples(train_data)
        with tempfile.TemporaryDirectory(prefix="sedna_lib_ll_update_") as tmp:
            index = self.cloud_knowledge_management.load_index(self._cloud_index_url(), tmp)
            self.seen_estimator.load(index)
            if self.seen_estimator.work_dir is None:
                self.seen_estimator.work_dir = tempfile.mkdtemp(prefix="sedna_lib_ll_")
            recognizer, _ = self._recognizer(index, self.unseen_sample_re_recognition,
                                             "SampleReRegonitionDefault")
            seen, unseen = recognizer(samples)
            logger.info("update: %d samples of known tasks, %d of unseen tasks", len(seen.x), len(unseen.x))
            def_kwargs = {k: kwargs.pop(k) for k in ("origin", "origins") if k in kwargs}
            tasks, _, _ = self.seen_estimator.define_tasks(samples, **def_kwargs)
            decision = build(self.context.registry, Kind.KNOWLEDGE_MANAGEMENT,
                             parse_spec(self.task_update_decision, "UpdateStrategyDefault",
                                        label="task_update_decision"), task_index=index)
            tasks, strategies = decision(samples, task_type="seen_task", tasks=tasks)
            res, seen_index = self.seen_estimator.update(tasks, strategies, **kwargs)
            _, unseen_index = self.unseen_estimator.update()
            new_index = {"seen_task": seen_index, "unseen_task": unseen_index}
            url = self.cloud_knowledge_management.update_kb(new_index)
        self._report("train", url)
        return post_process(self.seen_estimator, res) if callable(post_process) else res

    def evaluate(self, data: Any, post_process: Callable[..., Any] | None = None, **kwargs: Any) -> dict:
        """Evaluate the knowledge base and drop the task models that fail ``OPERATOR``/``MODEL_THRESHOLD``.

        The judged index (with the dropped groups marked) is written to ``OUTPUT_URL/index.pkl``
        before the ``eval`` report names it, so the control plane's deploy step can copy it; the
        report's metrics are plain numbers (``{"precision_score": 0.95}``), as Sedna sends them.

        Parameters
        ----------
        data : data source or (x, y)
            Labelled samples.
        post_process : callable, default=None
            Applied to the scores.
        **kwargs : object
            ``metrics`` and ``metrics_param`` (see :meth:`SeenTaskLearning.evaluate`).

        Returns
        -------
        dict
            ``{metric: score}``.
        """
        cfg = self.context.config
        url = cfg.model_urls[0] if cfg.model_urls else self._cloud_index_url()
        with tempfile.TemporaryDirectory(prefix="sedna_lib_ll_eval_") as tmp:
            index = self.cloud_knowledge_management.load_index(url, tmp)
            self.seen_estimator.load(index)
            res, tasks_detail = self.seen_estimator.evaluate(data, **kwargs)
        drop = self.cloud_knowledge_management.evaluate_tasks(tasks_detail)
        self.dropped_tasks_ = drop
        published = self.cloud_knowledge_management.publish_evaluated(url, drop)
        self._report("eval", published, {str(k): _scalar(v) for k, v in res.items()})
        return post_process(res) if callable(post_process) else res

    # -- edge: inference ---------------------------------------------------------------------------
    def _index_source(self) -> str:
        cfg = self.context.config
        return cfg.model_urls[0] if cfg.model_urls else self._cloud_index_url()

    def _version(self, url: str) -> Any:
        if os.path.isfile(url):
            st = os.stat(url)
            return ("stat", st.st_mtime_ns, st.st_size)
        if url.startswith(("http://", "https://", "s3://")):
            import hashlib

            return ("sha256",
                    hashlib.sha256(self.edge_knowledge_management.read_index_bytes(url)).hexdigest())
        return None

    def reload_index(self) -> bool:
        """Re-read the index if it changed; swap the served models in one step.

        A local index is compared by modification time and size, a remote one by the hash of
        its content. Inference calls this for a local index on every call, and for a remote one
        every ``MODEL_POLL_PERIOD_SECONDS``; call it yourself to pick up an update at once. When
        inference's check fails because the KB server (or the storage) cannot be reached, the
        deployed models keep serving (logged) and the next period checks again; a call made
        yourself raises the error.

        Returns
        -------
        bool
            Whether a new knowledge base is now served.

        Raises
        ------
        NotFittedError
            If there is no index yet.
        """
        url = self._index_source()
        version = self._version(url)
        current = self._deployment
        if version is None:
            raise NotFittedError(f"no knowledge-base index at {url!r}; train first or set MODEL_URLS")
        if current is not None and version == current.version:
            return False
        with self._deploy_lock:
            if self._deployment is not None and self._deployment.version == version:
                return False  # another thread loaded this version meanwhile
            index = self.edge_knowledge_management.update_kb(url)
            current = self.seen_estimator
            seen = SeenTaskLearning(current.estimator, current.task_definition,
                                    current.task_relationship_discovery, current.seen_task_allocation,
                                    current.task_remodeling, current.inference_integrate,
                                    context=self.context).load(index)
            recognizer, call_params = self._recognizer(index, self.unseen_sample_recognition,
                                                       "SampleRegonitionDefault")
            if hasattr(recognizer, "fit"):
                recognizer.fit()
            self._deployment = _Deployment(seen, recognizer, version, index, call_params)
        return True

    def _deployed(self) -> _Deployment:
        cfg = self.context.config
        now = time.monotonic()
        due = now - getattr(self, "_last_check", -1e18) >= cfg.model_poll_period_seconds
        if self._deployment is None or os.path.isfile(self._index_source()) or due:
            self._last_check = now
            if self._deployment is None:
                self.reload_index()
            else:
                try:
                    self.reload_index()
                except (TransportError, StorageError) as exc:  # the KB is away: keep what is served
                    logger.warning("the knowledge-base index %s could not be checked (%s); serving the "
                                   "deployed models until it can", self._index_source(), exc)
        return self._deployment

    def inference(self, data: Any = None, post_process: Callable[..., Any] | None = None,
                  unseen_sample_postprocess: Callable[..., Any] | None = None,
                  **kwargs: Any) -> tuple[Any, Any, list]:
        """Predict with the knowledge base; recognise, answer and save samples of unseen tasks.

        Parameters
        ----------
        data : data source or array-like
            Samples.
        post_process : callable, default=None
            Applied to the seen-task result.
        unseen_sample_postprocess : callable, default=None
            ``f(sample, save_dir)`` saving an unseen sample.
        **kwargs : object
            Prediction options.

        Returns
        -------
        result : numpy.ndarray
            One prediction per sample (the unseen estimator's answer, or None, for unseen samples).
            A task filter (``TaskAttrFilter``, ``ModelProbeFilter``) judges the batch as a whole
            and every sample keeps its task model's answer, as in Sedna's first API.
        is_unseen_task : bool or list of bool
            A bool for a single sample, else one per sample.
        tasks : list of Task
            The seen tasks used (samples, model, result).
        """
        deployment = self._deployed()
        samples = as_samples(data, data_type="test")
        n = len(samples.x)
        recognizer = deployment.recognizer
        if _is_task_filter(recognizer):
            pred, tasks = deployment.seen.predict(samples, **kwargs)
            unseen_flag = bool(recognizer(tasks=tasks, result=pred, **deployment.call_params))
            is_unseen = np.full(n, unseen_flag)
            result = np.empty(n, dtype=object)
            result[:] = list(pred)  # the first API answered with the models and flagged the batch
        else:
            seen, unseen = recognizer(samples)
            is_unseen = np.zeros(n, dtype=bool)
            is_unseen[np.asarray(unseen.inx, dtype=int)] = True
            result = np.empty(n, dtype=object)
            tasks = []
            if len(seen.x):
                pred, tasks = deployment.seen.predict(seen, **kwargs)
                result[np.asarray(seen.inx, dtype=int)] = list(pred)
            if len(unseen.x):
                unseen_res, _ = self.unseen_estimator.predict(unseen)
                result[np.asarray(unseen.inx, dtype=int)] = list(unseen_res)
        if is_unseen.any():
            self.edge_knowledge_management.save_unseen_samples(_subset(samples, np.flatnonzero(is_unseen)),
                                                               post_process=unseen_sample_postprocess)
        result = _tighten(result)
        if callable(post_process):
            result = post_process(result)
        flag: Any = bool(is_unseen[0]) if n == 1 else is_unseen.tolist()
        return result, flag, tasks


def _scalar(value: Any) -> Any:
    """Return a metric as the LocalController reads it: a plain number (numpy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else value


def _subset(samples: Any, idx: np.ndarray) -> Any:
    from ._data import Samples

    x = samples.x
    rows = x.iloc[idx] if hasattr(x, "iloc") else (x[idx] if isinstance(x,
                                                                        np.ndarray) else [x[i] for i in idx])
    return Samples(rows, None, data_type="test")


def _tighten(result: np.ndarray) -> np.ndarray:
    """Return a plain array when every value is known (else the object array)."""
    if result.size and all(v is not None for v in result):
        try:
            return np.asarray(result.tolist())
        except (ValueError, TypeError):
            return result
    return result
