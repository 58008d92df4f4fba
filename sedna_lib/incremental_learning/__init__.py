"""Incremental learning: Sedna's ``IncrementalLearning`` job, and a local infer-mine-retrain-deploy loop.

Two faces of one feature:

- :class:`IncrementalLearning` is the job Sedna's ``sedna.core.incremental_learning`` serves (its face,
  :mod:`sedna_lib.compat.core.incremental_learning`, adds Sedna's job base). The control
  plane runs it in three pods (train, eval, inference) configured by environment variables; it
  reports trained models, evaluation metrics and deploys to the LocalController, and its inference
  side swaps in newly deployed models without a restart (:mod:`~sedna_lib.incremental_learning.hot_update`)
  and saves the hard examples it finds (:mod:`sedna_lib.incremental_learning.hard_examples`).
- :class:`IncrementalLoop` (and :func:`run_rounds`) runs the whole loop in one process, no cluster
  needed: infer on a stream, mine the hard examples within an upload budget, have them labelled
  (a callback, or the ground truth in experiments), retrain, evaluate, and deploy only when the
  metric improves by at least ``min_delta``. Each round is recorded as JSON.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from typing import Any, Mapping, NamedTuple

import numpy as np

from .loop import IncrementalLoop, RoundRecord, run_rounds, score_metric
from .._json import json_safe
from ..backends import files
from ..backends.estimator import EstimatorBackend
from ..exceptions import (ClosedError, ConfigError, DataError, ParameterError, StorageError,
                          StorageNotFoundError)
from .hard_examples import HardExampleStore, spool_for
from .hot_update import ModelSlot, ModelWatcher, UpdateStatus, clone_estimator
from ..job import JobBase, check_writable, resolve_callback
from ..observability.health import Health
from ..observability.status import StatusSite, WorkerStatus
from ..registry import Kind, build_algorithm

__all__ = [
    "IncrementalLearning",
    "IncrementalResult",
    "IncrementalLoop",
    "RoundRecord",
    "as_list_metrics",
    "run_rounds",
    "score_metric",
]

logger = logging.getLogger(__name__)

JOB_KIND = "incrementallearningjob"


class IncrementalResult(NamedTuple):
    """What :meth:`IncrementalLearning.inference` returns; unpacks like Sedna's tuple.

    Attributes
    ----------
    infer_res : object
        The model's raw prediction.
    res : object
        The prediction after ``post_process`` (the raw one when there is none).
    is_hard_example : bool
        Whether the miner flagged the sample.
    """

    infer_res: Any
    res: Any
    is_hard_example: bool


# -- helpers ------------------------------------------------------------------------------------------

def as_list_metrics(result: Any) -> dict[str, list[float]] | None:
    """Turn an evaluation result into the ``{name: [float, ...]}`` map the LocalController needs.

    The LocalController decodes eval metrics as ``map[string][]float64`` and compares them
    element-wise to decide on deployment; a scalar breaks that, so scalars become one-element
    lists. A bare number becomes ``{"accuracy": [x]}``; entries that are not numbers are dropped.

    Parameters
    ----------
    result : dict, number or None
        What an estimator's ``evaluate`` returned.

    Returns
    -------
    dict or None
        The metrics, or None when there are none.

    Examples
    --------
    >>> as_list_metrics({"accuracy": 0.9, "recall": [0.8, 0.7], "note": "x"})
    {'accuracy': [0.9], 'recall': [0.8, 0.7]}
    >>> as_list_metrics(0.75)
    {'accuracy': [0.75]}
    """
    if result is None:
        return None
    if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
        return {"accuracy": [float(result)]}
    if not isinstance(result, Mapping):
        logger.warning("evaluate returned %s, not a dict of metrics; reporting no metrics",
                       type(result).__name__)
        return None
    out: dict[str, list[float]] = {}
    for name, value in result.items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            continue
        out[str(name)] = [float(v) for v in arr.ravel()]
    return out


def _train_metrics(result: Any) -> Any:
    """Train results as a JSON object or null (anything else breaks the GM's decoding)."""
    if result is None or isinstance(result, Mapping):
        return json_safe(result)
    if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
        return {"value": [float(result)]}
    return None


def _check_model_file(backend: Any, url: str, variable: str) -> None:
    """Raise, naming ``variable``, when the local model ``url`` names is not there to load.

    A folder holds the backend's model file (``MODEL_NAME``, or its default name). Remote models,
    and backends that may load without a file (``MODEL_LOAD_MODE`` other than ``file``), are left
    to the backend.

    Raises
    ------
    StorageNotFoundError
        If the file (or the model file inside the folder) does not exist.
    """
    if "://" in url or getattr(backend, "model_load_mode", "file") != "file":
        return
    listed = f"{variable} lists {url!r}" if variable == "MODEL_URLS" else f"{variable} is {url!r}"
    if os.path.isdir(url):
        name = backend.model_name
        path = os.path.join(url, name)
        if os.path.isfile(path):
            return
        named = (f"MODEL_NAME is {name!r}" if getattr(backend, "default_name", None)
                 else f"MODEL_NAME is unset, so the file name defaulted to {name!r}")
        raise StorageNotFoundError(f"{listed}, a folder, and {named}, but the model file {path!r} does not "
                                   f"exist; set MODEL_NAME to the model file in that folder, or point "
                                   f"{variable} at the model file", uri=path)
    if not os.path.isfile(url):
        raise StorageNotFoundError(f"{listed}, but the model file {url!r} does not exist; train and save "
                                   f"that model first, or point {variable} at an existing model file",
                                   uri=url)


# -- Sedna's IncrementalLearning -------------------------------------------------------------------

def _native(backend: Any) -> bool:
    """Whether ``backend`` drives its framework itself (and loads a base model): not a Sedna-style one."""
    return getattr(backend, "native", not isinstance(backend, EstimatorBackend))


class IncrementalLearning(JobBase):
    """Incremental learning job: train, evaluate and serve a model that improves with use.

    The constructor only stores; the model is loaded on the first :meth:`inference`, and model
    hot update (``MODEL_HOT_UPDATE``) starts then or on :meth:`start`, and stops on :meth:`close`.
    After :meth:`close`, :meth:`inference` raises :class:`~sedna_lib.exceptions.ClosedError`
    until :meth:`start` starts the job again (or a ``with`` block opens it again: its first
    inference starts it).

    Parameters
    ----------
    estimator : object
        The model: a scikit-learn estimator, a torch module, a Keras model, or a Sedna-style
        estimator class (``train``/``predict``/``evaluate``/``load``/``save``).
    hard_example_mining : dict, default=None
        ``{"method": name, "param": {...}}``; when None, the context's ``HEM_NAME``/``HEM_PARAMETERS``
        decide. ``{}`` turns mining off.
    config : dict, default=None
        Sedna's feature-specific settings (kept for compatibility).
    context : Context, default=None
        Configuration, registry and storage; built from the environment when None.
    hard_example_output : str, default=None
        Where hard examples found at inference are saved (a folder or ``s3://``): the
        ``HE_SAVED_URL`` parameter when None; nothing is saved when neither is set.
    mining_input : {'result', 'proba'}, default='result'
        What the miner sees: the post-processed prediction (Sedna's rule), or the backend's
        ``predict_proba`` output, for probability-based miners (Margin, CrossEntropy) on
        classifiers whose ``predict`` returns labels.
    report : bool, default=True
        Whether train, eval and deploy outcomes are reported to the LocalController
        (``LC_SERVER``). Outside a Sedna cluster there is none: ``report=False`` turns the reports
        off, as it does for :class:`~sedna_lib.joint_inference.JointInference`.

    Attributes
    ----------
    job_kind : str
        ``"incrementallearningjob"``: the LocalController routes reports by it.
    hard_examples_not_kept_ : int
        Hard examples found at inference that could not be saved (an input that cannot be stored
        without pickle, a spool that stayed full); each kind of failure is logged as a WARNING
        the first time, and :meth:`close` logs the total.
    model_urls : tuple of str
        ``MODEL_URLS``: the models :meth:`evaluate` compares (new first, then deployed).

    Examples
    --------
    Deployed by the control plane, the three worker scripts reduce to::

        il = IncrementalLearning(estimator=Estimator)
        il.train(train_data)                           # reports kind=train with model_info
        il.evaluate(test_data)                         # reports kind=eval, MODEL_URLS order
        infer_res, res, is_hard = il.inference(sample)  # hot-swaps deployed models
    """

    job_kind = JOB_KIND

    def __init__(self, estimator: Any, hard_example_mining: dict | None = None, config: dict | None = None, *,
                 context: Any = None, hard_example_output: str | None = None,
                 mining_input: str = "result", report: bool = True) -> None:
        self._estimator_spec = estimator
        self._job_config = config
        self._slot: ModelSlot | None = None
        super().__init__(estimator, config, context=context)
        self.hard_example_mining = hard_example_mining
        self.hard_example_output = hard_example_output
        self.mining_input = mining_input
        self.report = report
        self.hard_examples_not_kept_ = 0
        self._not_kept_said: set[str] = set()
        self._start_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._hem: Any = None
        self._hem_resolved = False
        self.watcher_: ModelWatcher | None = None
        self.hard_examples_: HardExampleStore | None = None
        self.status_: WorkerStatus | None = None

    # -- the serving model: readers take the reference once per call -------------------------
    @property
    def estimator(self) -> Any:
        """The serving backend (replaced atomically by hot update)."""
        slot = self.__dict__.get("_slot")
        return None if slot is None else slot.get()

    @estimator.setter
    def estimator(self, backend: Any) -> None:
        slot = self.__dict__.get("_slot")
        if slot is None:
            self._slot = ModelSlot(backend)
        else:
            slot.swap(backend, version=slot.version)

    @property
    def slot(self) -> ModelSlot:
        """The :class:`~sedna_lib.incremental_learning.hot_update.ModelSlot` holding the serving backend."""
        assert self._slot is not None
        return self._slot

    @property
    def config_(self) -> Any:
        """The parsed :class:`~sedna_lib.config.Config` of this job's context."""
        return self.context.config

    @property
    def model_urls(self) -> tuple[str, ...]:
        """``MODEL_URLS``, or ``(MODEL_URL,)`` when it is unset."""
        cfg = self.config_
        if cfg.model_urls:
            return tuple(cfg.model_urls)
        return (cfg.model_url,) if cfg.model_url else ()

    def _new_backend(self) -> Any:
        """Build a fresh backend for the same estimator, independent of the serving one."""
        return self._wrap(clone_estimator(self._estimator_spec), self._job_config)

    # -- hard-example mining --------------------------------------------------------------------
    @property
    def hard_example_mining_algorithm(self) -> Any:
        """The miner instance (built on first use), or None when mining is off.

        Raises
        ------
        NotRegisteredError, ParameterError
            If the configured miner or its parameters are unknown.
        """
        if not self._hem_resolved:
            spec = self.hard_example_mining
            if spec is None:
                spec = self.context.config.hem
            if spec:
                self._hem = build_algorithm(self.context.registry, Kind.HARD_EXAMPLE_MINING, spec,
                                            default="IBT", label="hard_example_mining")
            self._hem_resolved = True
        return self._hem

    def _callback(self, post_process: Any, value: Any) -> Any:
        callback = resolve_callback(post_process, registry_=self.context.registry)
        return callback(value) if callback is not None else value

    # -- train ----------------------------------------------------------------------------------
    def train(self, train_data: Any, valid_data: Any = None, post_process: Any = None, **kwargs: Any) -> Any:
        """Train, save to ``MODEL_URL``, and report the model to the LocalController.

        When ``BASE_MODEL_URL`` names an existing model and a native backend (scikit-learn,
        PyTorch, Keras) has nothing loaded yet, training starts from it; it is also passed to the
        estimator as ``base_model_url`` when its ``train`` takes that argument.

        Parameters
        ----------
        train_data : object
            Training data (a data source, ``(x, y)``, ...).
        valid_data : object, default=None
            Validation data.
        post_process : callable or str, default=None
            Called with the trained backend; its result is returned instead.
        **kwargs : object
            Training options for the estimator (epochs, batch_size, ...).

        Returns
        -------
        object
            The backend, or what ``post_process`` returned.

        Raises
        ------
        ConfigError
            If ``MODEL_URL`` is unset, or its location (``MODEL_PATH``'s, when set) cannot be written
            (checked before training), or a native backend is given a ``BASE_MODEL_URL`` that does
            not exist.
        """
        cfg = self.config_
        backend = self.estimator
        output = self.model_path
        variable = "MODEL_PATH" if (self.config.get("model_path") or cfg.model_path) else "MODEL_URL"
        if not files.is_remote(output):  # before training: a bad output fails now, not after it
            check_writable(files.save_target(output, backend.model_save_path, None,
                                             lambda: backend.model_name)[0], variable)
        try:
            if cfg.base_model_url:
                if not _native(backend):
                    kwargs.setdefault("base_model_url", cfg.base_model_url)  # a Sedna-style train takes it
                self._warm_start(backend, cfg.base_model_url)  # a framework backend loads it instead
            result = backend.train(train_data=train_data, valid_data=valid_data, **kwargs)
            saved = backend.save(output)
            results = backend.model_info(saved, result=_train_metrics(result), relpath=cfg.data_path_prefix)
        except BaseException:
            self.report_task_info(None, "failed", kind="train")
            raise
        self.report_task_info(None, "completed", results=json_safe(results), kind="train")
        return self._callback(post_process, backend) if post_process is not None else backend

    @staticmethod
    def _warm_start(backend: Any, base_model_url: str) -> None:
        """Load ``BASE_MODEL_URL`` into a backend that has nothing loaded yet, when it names a file.

        Raises
        ------
        ConfigError
            If a backend that drives its framework natively (scikit-learn, PyTorch, Keras) is
            given a local ``BASE_MODEL_URL`` that does not exist or cannot be loaded (an empty file
            stands for no base model: training starts from scratch, with a warning); a Sedna-style
            estimator, whose ``train`` gets the value, is only warned about.
        """
        native = _native(backend)
        if "://" not in base_model_url and not os.path.exists(base_model_url):
            if native:
                raise ConfigError(f"BASE_MODEL_URL {base_model_url!r} does not exist, so training cannot "
                                  f"start from the base model; point BASE_MODEL_URL at the base model file "
                                  f"(or unset it to train from scratch)", variable="BASE_MODEL_URL")
            logger.warning("BASE_MODEL_URL %r does not exist; the estimator's train gets it as "
                           "base_model_url all the same", base_model_url)
            return
        # a Sedna-style estimator's train gets the URL itself; the framework backends subclass
        # EstimatorBackend too, and an isinstance test here skipped their warm start altogether
        if not native or getattr(backend, "has_load", False):
            return
        if "://" not in base_model_url and not os.path.isfile(base_model_url):
            return
        if "://" not in base_model_url and os.path.getsize(base_model_url) == 0:
            # a placeholder: the control plane requires an initial model, and an empty file stands for none
            logger.warning("BASE_MODEL_URL %s is an empty file: training starts from scratch", base_model_url)
            return
        try:
            backend.load(model_url=base_model_url)
        except Exception as exc:
            raise ConfigError(f"BASE_MODEL_URL {base_model_url!r} cannot be loaded as the base model "
                              f"({type(exc).__name__}: {exc}); point it at a model file of this framework, "
                              f"or unset it to train from scratch", variable="BASE_MODEL_URL") from exc
        logger.info("training starts from the base model %s", base_model_url)

    # -- evaluate -------------------------------------------------------------------------------
    def evaluate(self, data: Any, post_process: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
        """Evaluate each model of ``MODEL_URLS`` (new, then deployed) and report the metrics.

        Each model is loaded into its own backend, so a serving model is never disturbed.
        Metrics are reported as ``{name: [float, ...]}``, the form the LocalController's deploy
        trigger compares; scalar metrics are wrapped in one-element lists.

        Parameters
        ----------
        data : object
            Evaluation data.
        post_process : callable or str, default=None
            Applied to each model's metrics before they are reported.
        **kwargs : object
            Evaluation options for the estimator.

        Returns
        -------
        list of dict
            One ``{"format", "url", "metrics"}`` per model, in ``MODEL_URLS`` order.

        Raises
        ------
        ConfigError
            If neither ``MODEL_URLS`` nor ``MODEL_URL`` is set.
        StorageNotFoundError
            If a local model is missing; the message names the variable it came from, and for a
            folder the ``MODEL_NAME`` looked for in it.
        """
        cfg = self.config_
        urls = self.model_urls
        if not urls:
            raise ConfigError("MODEL_URLS is not set: it lists the models to evaluate, ';'-separated "
                              "(the trained one, then the deployed one)", variable="MODEL_URLS")
        source = "MODEL_URLS" if cfg.model_urls else "MODEL_URL"
        results = []
        try:
            for url in urls:
                backend = self._new_backend()
                backend.model_save_path = url
                user_load = callable(getattr(backend._instance(), "load", None))
                if user_load or backend.framework:
                    _check_model_file(backend, url, source)
                    backend.load(model_url=url)
                if user_load or not backend.framework:
                    # Sedna-style estimators get the model path, as Sedna passed it
                    res = backend.evaluate(data, model_path=url, **kwargs)
                else:
                    res = backend.evaluate(data, **kwargs)
                res = self._callback(post_process, res)
                info = backend.model_info(url, result=as_list_metrics(res), relpath=cfg.data_path_prefix)
                results.append(info[0])
        except BaseException:
            self.report_task_info(None, "failed", kind="eval")
            raise
        self.report_task_info(None, "completed", results=json_safe(results), kind="eval")
        return results

    # -- inference ------------------------------------------------------------------------------
    def start(self) -> IncrementalLearning:
        """Load the serving model, start model hot update and the hard-example uploader (idempotent).

        :meth:`inference` calls it on first use. After :meth:`close` it starts everything again
        (a new watcher, uploader and status page).

        Returns
        -------
        IncrementalLearning
            ``self``.

        Raises
        ------
        StorageNotFoundError
            If the model file does not exist.
        """
        if self._started:
            return self
        with self._start_lock:
            if self._started:
                return self
            self._reopen()
            backend = self.estimator
            if not getattr(backend, "has_load", False):
                backend.load(model_url=self.model_path)
            cfg = self.config_
            self._start_status(cfg)
            if cfg.model_hot_update:
                if not cfg.model_hot_update_config:
                    raise ConfigError("MODEL_HOT_UPDATE is true but MODEL_HOT_UPDATE_CONFIG is not set; the "
                                      "control plane sets it to /model-hot-update/model_config.json",
                                      variable="MODEL_HOT_UPDATE_CONFIG")
                self.watcher_ = ModelWatcher(
                    self.slot, config_path=cfg.model_hot_update_config, loader=self._load_new_model,
                    period=cfg.model_poll_period_seconds, report=self._report_deploy,
                    storage=self.context.storage if "://" in cfg.model_hot_update_config else None,
                    work_dir=os.path.join(cfg.work_dir, "hot_update"))
                self.watcher_.start()
            output = self.hard_example_output or self.context.get_parameters("HE_SAVED_URL")
            if output:
                self.hard_examples_ = HardExampleStore(
                    output, storage=self.context.storage if "://" in output else None,
                    spool_dir=spool_for(cfg.hard_example_spool_dir, output)).start()
            self._started = True
        return self

    def _start_status(self, cfg: Any) -> None:
        """Build the worker's metrics and health, served on ``SEDNA_METRICS_PORT`` when it is set."""
        name = self.worker_name or "incremental-inference"

        def watching() -> bool | str:
            watcher = self.watcher_
            return watcher is None or watcher.is_alive() or "the model hot-update watcher stopped"

        health = Health(name, checks={"model": lambda: self._slot is not None or "no model loaded",
                                      "hot update": watching},
                        extra=lambda: {"model_version": self._slot.version if self._slot else None})
        site = StatusSite(name, title=f"sedna_lib incremental-learning inference {name!r}", health=health,
                          details={"model": str(self.model_path),
                                   "hot update": (cfg.model_hot_update_config if cfg.model_hot_update
                                                  else "off")})
        metrics = site.metrics
        metrics.counter("sedna_inference_samples_total")
        metrics.counter("sedna_il_hard_examples_total")
        metrics.counter("sedna_il_hard_examples_not_kept_total")
        for outcome in ("done", "failed"):
            metrics.counter("sedna_model_hot_swaps_total").labels(outcome=outcome)
        self.status_ = WorkerStatus(site, port=cfg.metrics_port, host=cfg.metrics_bind_ip).start()
        if self.status_.url:
            logger.info("incremental-learning inference %r: status page %s/, metrics %s/metrics", name,
                        self.status_.url, self.status_.url)

    def _report_deploy(self, task_info: Any = None, status: str = "", **kwargs: Any) -> Any:
        """Count a hot swap (done or failed), then report it to the LocalController."""
        if self.status_ is not None:
            outcome = "done" if status == UpdateStatus.DEPLOYED.value else "failed"
            self.status_.site.metrics.counter("sedna_model_hot_swaps_total").labels(outcome=outcome).inc()
        return self.report_task_info(task_info, status, **kwargs)

    def _load_new_model(self, path: str) -> Any:
        backend = self._new_backend()
        backend.load(model_url=path)
        return backend

    def inference(self, data: Any = None, post_process: Any = None, **kwargs: Any) -> IncrementalResult:
        """Predict with the serving model, post-process, and mine; save hard examples.

        Parameters
        ----------
        data : object
            One input (or a batch, if the estimator and the miner take batches).
        post_process : callable or str, default=None
            Applied to a copy of the prediction; the miner sees its result.
        **kwargs : object
            Prediction options for the estimator.

        Returns
        -------
        IncrementalResult
            ``(infer_res, res, is_hard_example)``, unpackable like Sedna's tuple.

        Raises
        ------
        ClosedError
            If the job was closed: call :meth:`start` to start it again.
        """
        if not self._started:
            if self._closed:  # not restarted behind its owner's back: its threads were stopped on purpose
                raise ClosedError(f"this {type(self).__name__} was closed; call start() to start it again "
                                  f"before inference")
            self.start()
        # the model and its version, read together once: a swap landing during this call changes neither
        backend, version = self._slot.snapshot()
        infer_res = backend.predict(data, **kwargs)
        res = infer_res
        if post_process is not None:
            res = self._callback(post_process, copy.deepcopy(infer_res))
        hem = self.hard_example_mining_algorithm
        mined = res
        if hem is not None and self.mining_input == "proba":
            mined = backend.predict_proba(data, **kwargs)
            mined = mined[0] if np.ndim(mined) == 2 and len(mined) == 1 else mined
        elif self.mining_input not in ("result", "proba"):
            raise ParameterError(f"mining_input must be 'result' or 'proba', got {self.mining_input!r}")
        is_hard = bool(hem(mined)) if hem is not None else False
        if self.status_ is not None:
            metrics = self.status_.site.metrics
            metrics.counter("sedna_inference_samples_total").inc()
            if is_hard:
                metrics.counter("sedna_il_hard_examples_total").inc()
        if is_hard and self.hard_examples_ is not None:
            self._keep(self.hard_examples_, data, json_safe(mined), version)
        return IncrementalResult(infer_res, res, is_hard)

    def _keep(self, store: HardExampleStore, data: Any, mined: Any, version: Any) -> None:
        """Save a hard example; a failure does not fail the inference, and is said and counted."""
        try:
            store.put(data, mined, meta={"model_version": version})
        except (DataError, StorageError) as exc:
            if self.status_ is not None:
                self.status_.site.metrics.counter("sedna_il_hard_examples_not_kept_total").inc()
            with self._start_lock:
                self.hard_examples_not_kept_ += 1
                first = type(exc).__name__ not in self._not_kept_said
                self._not_kept_said.add(type(exc).__name__)
            if first:
                logger.warning("a hard example was not kept (the prediction is returned all the same): %s; "
                               "those that follow failing alike are counted in hard_examples_not_kept_ and "
                               "the total is logged when the job closes", exc)

    def close(self) -> None:
        """Stop hot update and the hard-example uploader (pending examples stay spooled); idempotent.

        :meth:`inference` then raises :class:`~sedna_lib.exceptions.ClosedError` until
        :meth:`start` starts the job again.
        """
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            self._started = False
        if self.watcher_ is not None:
            self.watcher_.stop()
        if self.hard_examples_ is not None:
            self.hard_examples_.close(timeout=5.0)
        if self.hard_examples_not_kept_:
            logger.warning("%d hard examples were not kept by this job (%s)", self.hard_examples_not_kept_,
                           ", ".join(sorted(self._not_kept_said)))
        if self.status_ is not None:
            self.status_.stop()
        super().close()

    def __enter__(self) -> IncrementalLearning:
        """Open the job for a ``with`` block (again, after :meth:`close`); its first inference starts it."""
        with self._start_lock:
            self._reopen()
        return self

    def _reopen(self) -> None:
        """Forget what close() stopped, so the next start begins afresh (the caller holds the start lock)."""
        if self._closed:
            self._closed = False
            self._lc_client = None  # close() interrupted its retries for good
            self.watcher_ = self.hard_examples_ = None  # stopped: start() makes new ones
