"""Joint inference: easy samples are answered at the edge, hard ones by a big model in the cloud.

Two faces share one implementation:

- Sedna's: ``JointInference(estimator, hard_example_mining)`` on the edge, whose
  ``inference(x)`` returns ``is_hard, final, edge, cloud``, and ``BigModelService(estimator).start()``
  in the cloud;
- solar_corona's: ``load_model(model_path, pre_fun, post_fun, cloud_offload_algorithm=IBT(upload_ratio=0.5),
  big_model_endpoint=get_big_model_endpoint())`` whose ``predict(x)`` runs the whole path.

A cloud that refuses, hangs or is slow costs at most one timeout (a circuit breaker then answers
at once from the edge); the hard examples it could not take wait in a bounded on-disk queue and
are sent when it is back, also after a restart of the edge process.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

from .base import InferenceResult
from .compat.constant import K8sResourceKind
from .config import MiningMode
from .context import Context
from .exceptions import ConfigError, DataError, SednaError, StorageError, StorageNotFoundError, TransportError
from .job import JobBase, resolve_callback
from .registry import Kind

# solar_corona names the miners directly (``joint_inference.IBT(upload_ratio=0.5)``); they are
# looked up in the registry on first access (module ``__getattr__``), so this module does not
# import the presets.
_MINER_NAMES = ("IBT", "Threshold", "CrossEntropy", "Random", "EdgeOnly", "CloudOnly", "Margin")

__all__ = [
    "BigModelService",
    "JointInference",
    "JointModel",
    "OffloadedExample",
    "InferenceResult",
    "get_big_model_endpoint",
    "load_model",
    *_MINER_NAMES,  # unpacked, as pyflakes cannot see names a module __getattr__ provides (F822)
]

logger = logging.getLogger(__name__)

# what ``JointInference.stats`` counts
_COUNTS = ("inferences", "hard", "cloud_ok", "cloud_failed", "queued", "replayed", "callback_failed")

# ``JointInference._miner`` before the miner is built (None means "built: no miner")
_UNBUILT: Any = object()


def __getattr__(name: str) -> Any:
    """Return a miner class named as solar_corona names it (``IBT``, ``Threshold``...)."""
    if name in _MINER_NAMES:
        from .registry import default_registry

        return default_registry.get(Kind.HARD_EXAMPLE_MINING, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class OffloadedExample(NamedTuple):
    """A hard example that reached the cloud late, from the offload queue.

    Attributes
    ----------
    id : str
        Its queue entry.
    data : object
        The sample.
    result : object
        The cloud's result.
    queued_at : float
        When it was queued (seconds since the epoch).
    """

    id: str
    data: Any
    result: Any
    queued_at: float


def _load_model_file(job: JobBase) -> None:
    """Load the model the deployment names (``MODEL_PATH``/``MODEL_URL``), if it names one."""
    if job.estimator is None:
        return
    if not (job.config.model_url or job.config.get("model_path") or job.context.config.model_path):
        return  # the estimator is used as given (already trained, or it loads itself)
    path = job.model_path
    if job.model_load_mode == "file" and not os.path.exists(path):
        raise StorageNotFoundError(f"model file {path!r} does not exist; check MODEL_URL/MODEL_PATH",
                                   uri=path)
    job.estimator.load(path)


def _mine(miner: Any, result: Any, post_name: str | None) -> bool:
    """Ask the miner about one result; a result it cannot read names the step that made it."""
    try:
        return miner(result)
    except DataError as exc:
        if post_name is None:
            raise
        raise DataError(f"the miner {type(miner).__name__} cannot read what {post_name} returned "
                        f"({type(result).__name__}: {str(result)[:80]}): {exc}. The miner reads "
                        f"{post_name}'s output: boxes [x1, y1, x2, y2, score, ...] (after NMS) or class "
                        f"probabilities") from exc


class JointInference(JobBase):
    """The edge side of joint inference: the edge model, a hard-example miner and the cloud client.

    Nothing happens in the constructor; the model is loaded, the LocalController reporter
    started and leftover queued examples scheduled on :meth:`start` (called by the first
    :meth:`inference`).

    Parameters
    ----------
    estimator : object, default=None
        The edge model (class, factory or instance), wrapped by a backend.
    hard_example_mining : dict or HardExampleMiner or str or callable, default=None
        ``{"method": name, "param": {...}}`` as Sedna passes it, a miner instance, a registered
        name, or any callable ``f(result) -> bool``. If None, ``HEM_NAME``/``HEM_PARAMETERS``.
    config : dict, default=None
        Job settings that shadow the environment for this job.
    context : Context, default=None
        Configuration and registry; ``Context.from_env()`` if omitted.
    cloud : InferenceClient or str, default=None
        The cloud client, or a base URL; built from ``BIG_MODEL_IP``/``BIG_MODEL_PORT`` if omitted.
    offload_dir : str, default=None
        Folder of the offload queue; ``<SEDNA_WORK_DIR>/offload/<service>`` if omitted.
    max_queued : int, default=10000
        Bound of the offload queue (the oldest are dropped beyond it, with a warning).
    on_offloaded : callable, default=None
        Called with an :class:`OffloadedExample` for each queued example the cloud answered later.
        If it raises, the failure is logged and counted (``stats["callback_failed"]``) and the
        drain goes on: the example was delivered and is not sent again.
    report : bool, default=True
        Send inference counts to the LocalController every ``LC_PERIOD`` seconds.

    Attributes
    ----------
    stats : dict
        A snapshot of the counts: ``inferences``, ``hard``, ``cloud_ok``, ``cloud_failed``,
        ``queued``, ``replayed``, and ``callback_failed`` (calls of ``on_offloaded`` that
        raised; logged, and the example still counts as delivered). Read-only: changing the
        copy changes nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from sedna_lib.config import Config
    >>> class Edge:
    ...     def predict(self, x):
    ...         return np.array([0.9, 0.1])
    >>> ji = JointInference(Edge, {"method": "EdgeOnly"}, context=Context(Config()), report=False)
    >>> is_hard, final, edge, cloud = ji.inference(np.zeros(4))
    >>> is_hard, final.tolist(), cloud
    (False, [0.9, 0.1], None)
    >>> ji.close()
    """

    job_kind = K8sResourceKind.JOINT_INFERENCE_SERVICE.value

    def __init__(self, estimator: Any = None, hard_example_mining: Any = None,
                 config: Mapping[str, Any] | None = None, *, context: Context | None = None,
                 cloud: Any = None, offload_dir: str | None = None,
                 max_queued: int = 10000, on_offloaded: Callable[[OffloadedExample], Any] | None = None,
                 report: bool = True) -> None:
        super().__init__(estimator, config, context=context)
        self.hard_example_mining = hard_example_mining
        self.cloud = cloud
        self.offload_dir = offload_dir
        self.max_queued = max_queued
        self.on_offloaded = on_offloaded
        self.report = report
        self._counts = dict.fromkeys(_COUNTS, 0)
        self._lock = threading.RLock()
        self._started = False
        self._mode: MiningMode | None = None
        self._miner: Any = _UNBUILT
        self._client: Any = None
        self._queue: Any = None
        self._reporter: Any = None
        self._drain_thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self._stop = threading.Event()

    # -- configuration -----------------------------------------------------------------------
    @property
    def miner(self) -> Any:
        """The hard-example miner (built on first use), or None when none is configured."""
        with self._lock:
            if self._miner is _UNBUILT:
                self._miner = self._build_miner(self.hard_example_mining)
            return self._miner

    def _build_miner(self, spec: Any) -> Any:
        registry = self.context.registry
        if spec is None:
            spec = self.context.config.hem
        if isinstance(spec, str):
            spec = {"method": spec}
        if isinstance(spec, Mapping):
            if not spec:
                return None
            params = dict(spec.get("param") or {})
            return registry.create(Kind.HARD_EXAMPLE_MINING, spec.get("method") or "IBT", **params)
        if callable(spec):
            return spec
        raise ConfigError(f"hard_example_mining must be a miner, a registered name or "
                          f"{{'method': ..., 'param': {{...}}}}, got {type(spec).__name__}",
                          variable="HEM_NAME")

    @property
    def client(self) -> Any:
        """The cloud client (built on first use)."""
        with self._lock:
            if self._client is None:
                from .transport.http import InferenceClient

                cfg = self.context.config
                if isinstance(self.cloud, str):
                    self._client = _client_for_endpoint(self.cloud, cfg)
                elif self.cloud is not None:
                    self._client = self.cloud
                else:
                    self._client = InferenceClient.from_config(cfg, service_name=self.job_name or "sedna")
            return self._client

    @property
    def queue(self) -> Any:
        """The on-disk offload queue (built on first use)."""
        with self._lock:
            if self._queue is None:
                from ._offload_queue import OffloadQueue

                folder = self.offload_dir or os.path.join(self.context.config.work_dir, "offload",
                                                          self.job_name or "sedna")
                self._queue = OffloadQueue(folder, max_items=self.max_queued)
            return self._queue

    @property
    def stats(self) -> dict[str, int]:
        """A consistent snapshot of the counts (a copy: the job's own counters cannot be changed)."""
        with self._lock:
            return dict(self._counts)

    @property
    def pending_offloads(self) -> int:
        """Hard examples waiting in the queue for the cloud."""
        return len(self.queue)

    # -- lifetime ----------------------------------------------------------------------------
    def start(self) -> JointInference:
        """Load the model, start the LC reporter, and schedule leftover queued examples.

        Returns
        -------
        JointInference
            ``self``.

        Raises
        ------
        StorageNotFoundError
            If ``MODEL_LOAD_MODE`` is ``file`` and the model file does not exist.
        """
        with self._lock:
            if self._started:
                return self
            _load_model_file(self)
            if self.report:
                from .reporting import PeriodicReporter

                message = self.make_report("inference")
                self._reporter = PeriodicReporter(self.lc_client, message,
                                                  period=self.context.config.lc_period,
                                                  worker_name=self.worker_name).start()
            self._started = True
        if len(self.queue):
            self._ensure_drain()
        return self

    def close(self) -> None:
        """Stop the reporter and the queue drain, and close connections; queued examples stay on disk.

        Counts not reported yet (inferences since the last period) are sent to the LocalController
        first, within the report client's timeouts, so a short-lived edge process is seen too.

        Raises
        ------
        StorageError
            If the queued examples cannot be flushed to the disk.
        """
        self._stop.set()
        if self._reporter is not None:
            self._reporter.report_now()  # never raises: an absent LC only costs its timeouts
            self._reporter.stop()
        thread = self._drain_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        if self._client is not None and hasattr(self._client, "close"):
            self._client.close()
        if self._queue is not None:
            self._queue.sync()
        super().close()

    # -- inference ---------------------------------------------------------------------------
    def inference(self, data: Any = None, post_process: Callable[..., Any] | str | None = None,
                  **kwargs: Any) -> InferenceResult:
        """Answer one sample: at the edge, or with the cloud's help when it is hard.

        Parameters
        ----------
        data : object, default=None
            The input (a numpy array travels in the binary codec).
        post_process : callable or str, default=None
            Applied to the edge result before mining. A registered callback name is also sent to
            the cloud, which applies it there; a callable is applied to the cloud's result here.
        **kwargs : object
            Passed to the edge estimator's ``predict``.

        Returns
        -------
        InferenceResult
            ``(is_hard, result, edge, cloud)``; unpacks like Sedna's list. ``cloud`` is None when
            the cloud was not asked or did not answer, and ``result`` is then the edge's.

        Raises
        ------
        ConfigError
            If ``MINING_MODE`` is ``mining-then-inference`` and no miner is configured.
        """
        if not self._started:
            self.start()
        callback = resolve_callback(post_process) if post_process is not None else None
        mode = self._mode
        if mode is None:  # read once: the hot path does no configuration lookups
            mode = self._mode = MiningMode(self.config.get("mining_mode", self.context.config.mining_mode))
        return self._infer(data, data, post_process, callback, mode, kwargs, "post_process")

    def _infer(self, data: Any, cloud_data: Any, post_process: Any, callback: Callable[..., Any] | None,
               mode: MiningMode, kwargs: dict[str, Any], post_name: str, *,
               cloud_callback: bool = True) -> InferenceResult:
        """Run one sample: ``data`` for the edge model, ``cloud_data`` for the cloud when it is hard.

        ``cloud_callback`` False leaves the cloud's answer as the cloud gave it (solar_corona: the
        big model is its own service, with its own post-processing).
        """
        miner = self._miner
        if miner is _UNBUILT:
            miner = self.miner
        if mode is MiningMode.MINING_THEN_INFERENCE:
            if miner is None:
                raise ConfigError("MINING_MODE is mining-then-inference but no hard-example miner is set; "
                                  "set HEM_NAME or pass hard_example_mining", variable="HEM_NAME")
            is_hard = bool(miner(data))
            cloud = self._offload(cloud_data, post_process, callback if cloud_callback else None) \
                if is_hard else None
            edge = final = None
            if cloud is None:
                edge = self.estimator.predict(data, **kwargs)
                final = callback(copy.deepcopy(edge)) if callback is not None else edge
            else:
                final = cloud
        else:
            edge = self.estimator.predict(data, **kwargs)
            final = callback(copy.deepcopy(edge)) if callback is not None else edge
            is_hard = bool(_mine(miner, final, post_name if callback is not None else None)) \
                if miner is not None else False
            cloud = self._offload(cloud_data, post_process, callback if cloud_callback else None) \
                if is_hard else None
            if cloud is not None:
                final = cloud
        with self._lock:
            self._counts["inferences"] += 1
            self._counts["hard"] += int(is_hard)
        if self._reporter is not None:
            self._reporter.record(hard=is_hard)
        return InferenceResult(is_hard, final, edge, cloud)

    def _offload(self, data: Any, post_process: Any, callback: Callable[..., Any] | None) -> Any:
        """Ask the cloud; on failure queue the sample and return None."""
        name = post_process if isinstance(post_process, str) else None
        try:
            result = self.client.predict(data, callback=name)
        except TransportError as exc:
            with self._lock:
                self._counts["cloud_failed"] += 1
            logger.warning("cloud inference failed, answering from the edge: %s", exc)
            self._enqueue(data, name)
            return None
        with self._lock:
            self._counts["cloud_ok"] += 1
        if name is None and callback is not None:
            result = callback(result)
        if len(self.queue):
            self._ensure_drain()
        return result

    def _enqueue(self, data: Any, callback: str | None) -> None:
        try:
            self.queue.put(data, {"callback": callback})
        except (DataError, StorageError) as exc:
            logger.error("a hard example could not be queued for the cloud and is lost: %s", exc)
            return
        with self._lock:
            self._counts["queued"] += 1
        self._ensure_drain()

    # -- the offload queue -------------------------------------------------------------------
    def _ensure_drain(self) -> None:
        with self._lock:
            if self._stop.is_set() or (self._drain_thread is not None and self._drain_thread.is_alive()):
                return
            self._drain_thread = threading.Thread(target=self._drain_loop, name="sedna-offload-drain",
                                                  daemon=True)
            self._drain_thread.start()

    def _drain_loop(self) -> None:
        client = self.client
        pause = float(getattr(getattr(client, "breaker", None), "reset_timeout", 1.0) or 1.0)
        while not self._stop.is_set():
            try:
                self.queue.sync()  # entries queued since the last pass go to the disk, off the inference path
                sent = self.drain_offload_queue()
            except SednaError as exc:
                logger.error("offload queue drain failed: %s", exc)
                sent = 0
            if not len(self.queue):
                return
            if not sent:
                self._stop.wait(pause)  # the cloud is still away: try again after the breaker's pause

    def drain_offload_queue(self, limit: int | None = None) -> int:
        """Send queued hard examples to the cloud, oldest first, until it fails or the queue is empty.

        Parameters
        ----------
        limit : int, default=None
            Most examples to send; all if None.

        Returns
        -------
        int
            How many were delivered (and removed from the queue).
        """
        sent = 0
        with self._drain_lock:  # one drain at a time: two would send the same queued example twice
            while limit is None or sent < limit:
                batch = self.queue.peek(16 if limit is None else min(16, limit - sent))
                if not batch:
                    break
                for item in batch:
                    try:
                        result = self.client.predict(item.data, callback=item.meta.get("callback"))
                    except TransportError as exc:
                        logger.info("cloud still unavailable for queued examples: %s", exc)
                        return sent
                    if self.on_offloaded is not None:
                        queued_at = item.meta.get("queued_at", 0.0)
                        self._notify(OffloadedExample(item.id, item.data, result, queued_at))
                    self.queue.remove(item.id)
                    sent += 1
                    with self._lock:
                        self._counts["replayed"] += 1
        return sent

    def _notify(self, example: OffloadedExample) -> None:
        try:
            self.on_offloaded(example)
        except Exception:  # the user's callback: counted and logged; the example was delivered all the same
            with self._lock:
                self._counts["callback_failed"] += 1
            logger.exception("on_offloaded failed for the queued example %s", example.id)

    def __enter__(self) -> JointInference:
        """Start, and return the started job, for a ``with`` block."""
        return self.start()


class BigModelService(JobBase):
    """The cloud side of joint inference: serves the big model over HTTP.

    Parameters
    ----------
    estimator : object, default=None
        The big model (class, factory or instance), wrapped by a backend.
    config : dict, default=None
        Job settings that shadow the environment for this job.
    context : Context, default=None
        Configuration and registry; ``Context.from_env()`` if omitted.

    Notes
    -----
    Binds ``BIG_MODEL_BIND_IP:BIG_MODEL_BIND_PORT`` (all interfaces, port 5000 by default, as
    the control plane expects) and serves ``/{SERVICE_NAME}/predict`` and ``/sedna/predict``.
    ``SEDNA_AUTH_TOKEN`` requires a bearer token, ``SEDNA_MAX_REQUEST_BYTES`` bounds bodies,
    ``SEDNA_TLS_CERT``/``SEDNA_TLS_KEY`` turn on HTTPS.

    Examples
    --------
    Serve on a free local port for the length of a block::

        with BigModelService(estimator=Model).start(host="127.0.0.1", port=0, block=False) as service:
            print(service.url)
    """

    job_kind = K8sResourceKind.JOINT_INFERENCE_SERVICE.value

    def __init__(self, estimator: Any = None, config: Mapping[str, Any] | None = None, *,
                 context: Context | None = None) -> None:
        super().__init__(estimator, config, context=context)
        self.server: Any = None

    def train(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing (the big model is trained elsewhere), as in Sedna."""

    def inference(self, data: Any = None, post_process: Callable[..., Any] | str | None = None,
                  **kwargs: Any) -> Any:
        """Run the big model on ``data`` and apply ``post_process`` (what the server calls).

        Parameters
        ----------
        data : object, default=None
            The input, as the client sent it (a list from JSON, an array from the binary codec).
        post_process : callable or str, default=None
            Applied to the prediction.
        **kwargs : object
            Passed to the estimator's ``predict``.

        Returns
        -------
        object
            The (post-processed) prediction.
        """
        return super().inference(data, post_process=post_process, **kwargs)

    def start(self, host: str | None = None, port: int | None = None, *,
              block: bool = True) -> BigModelService:
        """Load the model and serve it; block until stopped unless ``block=False``.

        Parameters
        ----------
        host : str, default=None
            Address to bind; ``BIG_MODEL_BIND_IP`` if omitted.
        port : int, default=None
            Port to bind (0 picks a free one); ``BIG_MODEL_BIND_PORT`` if omitted.
        block : bool, default=True
            Serve in the foreground (as Sedna's ``start``); False returns once listening.

        Returns
        -------
        BigModelService
            ``self``.

        Raises
        ------
        StorageNotFoundError
            If ``MODEL_LOAD_MODE`` is ``file`` and the model file does not exist.
        TransportError
            If the address cannot be bound.
        """
        from .servers.inference import InferenceServer

        cfg = self.context.config
        if self.server is None:
            _load_model_file(self)
            self.server = InferenceServer(
                self, self.job_name or "sedna",
                host=host or self.config.get("big_model_bind_ip", cfg.big_model_bind_ip),
                http_port=cfg.big_model_bind_port if port is None else port,
                max_buffer_size=cfg.max_request_bytes, token=cfg.auth_token,
                ssl_certfile=cfg.tls_cert, ssl_keyfile=cfg.tls_key,
                registry=self.context.registry)
        self.server.start(block=block)
        return self

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://host:port``)."""
        if self.server is None:
            raise TransportError("the service is not started; call start(block=False) first")
        return self.server.url

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.stop()

    def close(self) -> None:
        """Stop serving and release the job's resources."""
        self.stop()
        super().close()

    def __enter__(self) -> BigModelService:
        """Serve in the background (unless started), and return the service, for a ``with`` block."""
        if self.server is None:
            self.start(block=False)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Stop serving at the end of the ``with`` block."""
        self.close()


# -- the solar_corona face ---------------------------------------------------------------------

def get_big_model_endpoint(context: Context | None = None) -> str:
    """Return the cloud's endpoint the deployment gives: ``http://BIG_MODEL_IP:BIG_MODEL_PORT/<service>``.

    Parameters
    ----------
    context : Context, default=None
        Where to read it; the process environment if omitted.

    Returns
    -------
    str
        The endpoint URL (its last path segment is the service name).

    Examples
    --------
    >>> from sedna_lib.config import Config
    >>> get_big_model_endpoint(Context(Config(big_model_ip="10.0.0.2", service_name="helmet")))
    'http://10.0.0.2:5000/helmet'
    """
    cfg = (context or Context.from_env()).config
    scheme = "https" if cfg.tls_ca else "http"
    return f"{scheme}://{cfg.big_model_ip}:{cfg.big_model_port}/{cfg.job_or_service_name or 'sedna'}"


def _client_for_endpoint(endpoint: str, cfg: Any) -> Any:
    from .transport.http import InferenceClient

    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"big_model_endpoint must be an http(s) URL such as http://host:5000/service, "
                          f"got {endpoint!r}")
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1] == "predict":
        segments.pop()
    return InferenceClient.from_config(cfg, url=f"{parts.scheme}://{parts.netloc}",
                                       service_name=segments[-1] if segments else "sedna")


def _load_estimator(model_path: Any) -> Any:
    """Load a model object from a local file, chosen by extension; return any other object as is."""
    if not isinstance(model_path, (str, os.PathLike)):
        return model_path
    path = os.fspath(model_path)
    if not os.path.exists(path):
        raise StorageNotFoundError(f"model file {path!r} does not exist", uri=path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".pkl", ".joblib", ".pickle"):
        import joblib

        return joblib.load(path)  # a local file the deployment chose, never a network payload
    if ext in (".pt", ".pth"):
        import torch

        return torch.jit.load(path) if _is_torchscript(path) else torch.load(path, weights_only=False)
    if ext in (".keras", ".h5"):
        import keras

        return keras.models.load_model(path)
    raise ConfigError(f"cannot tell how to load {path!r}; use .pkl/.joblib (scikit-learn), .pt (torch) or "
                      f".keras (Keras), or pass the loaded model")


def _is_torchscript(path: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith("constants.pkl") for name in zf.namelist())
    except zipfile.BadZipFile:
        return False


class _ProbabilityModel:
    """Expose a classifier's ``predict_proba`` as ``predict``: miners read confidences, not labels."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Return class probabilities for ``data`` (one vector for a 1-D sample)."""
        import numpy as np

        if np.ndim(data) == 1:
            return self.model.predict_proba(np.asarray(data).reshape(1, -1), **kwargs)[0]
        return self.model.predict_proba(data, **kwargs)


class JointModel:
    """solar_corona's edge-cloud model: ``predict(x)`` runs pre -> edge -> post -> miner -> (cloud).

    Built by :func:`load_model`. The order is the one the KubeEdge-AI proposal describes:

    1. ``pre_fun(x)`` prepares the raw input for the edge model (resize, normalise...);
    2. the edge model predicts;
    3. ``post_fun`` post-processes the edge's output locally (NMS for a detector...);
    4. the miner reads what ``post_fun`` returned (boxes for IBT) and decides;
    5. a hard sample goes to the big model as the **raw input** ``x``: the cloud is its own
       service, with its own pre- and post-processing, and its answer is returned as it is;
       an easy sample (or a hard one the cloud could not answer) gets the edge's post-processed
       result.

    Parameters
    ----------
    joint : JointInference
        The joint-inference job doing the work.
    pre_fun : callable, default=None
        Applied to the raw input before the edge model (the cloud gets the raw input).
    post_fun : callable, default=None
        Applied to the edge model's output; the miner reads its result.
    answer_fun : callable, default=None
        Applied to the final answer, the edge's or the cloud's (:func:`load_model` sets it for a
        classifier given without ``post_fun``: the miner reads probabilities, the answer is a label).

    Attributes
    ----------
    last_result : InferenceResult or None
        Details of the latest prediction (hard or not, raw edge output and cloud answer).
    """

    def __init__(self, joint: JointInference, pre_fun: Callable[[Any], Any] | None = None,
                 post_fun: Callable[[Any], Any] | None = None,
                 answer_fun: Callable[[Any], Any] | None = None) -> None:
        self.joint = joint
        self.pre_fun = pre_fun
        self.post_fun = post_fun
        self.answer_fun = answer_fun
        self.last_result: InferenceResult | None = None

    def predict_details(self, x: Any) -> InferenceResult:
        """Predict and return every part: ``(is_hard, result, edge, cloud)``.

        Parameters
        ----------
        x : object
            The raw input.

        Returns
        -------
        InferenceResult
            ``result`` is the answer ``predict`` gives; ``edge`` the edge model's raw output
            (before ``post_fun``); ``cloud`` the big model's answer, or None.

        Raises
        ------
        DataError
            If the miner cannot read what ``post_fun`` returned.
        """
        joint = self.joint
        if not joint._started:
            joint.start()
        mode = joint._mode
        if mode is None:
            mode = joint._mode = MiningMode(joint.config.get("mining_mode", joint.context.config.mining_mode))
        data = self.pre_fun(x) if self.pre_fun is not None else x
        details = joint._infer(data, x, self.post_fun, self.post_fun, mode, {}, "post_fun",
                               cloud_callback=False)
        if self.answer_fun is not None:
            details = details._replace(result=self.answer_fun(details.result))
        self.last_result = details
        return details

    def predict(self, x: Any) -> Any:
        """Predict one input through the edge, and the cloud when the miner says it is hard.

        Parameters
        ----------
        x : object
            The raw input.

        Returns
        -------
        object
            The cloud's answer for a hard sample, else the edge's post-processed result.
        """
        return self.predict_details(x).result

    __call__ = predict

    @property
    def stats(self) -> dict[str, int]:
        """Counts of inferences, hard examples, cloud successes and failures, queued examples."""
        return self.joint.stats

    def close(self) -> None:
        """Stop background work and close connections."""
        self.joint.close()

    def __enter__(self) -> JointModel:
        """Return the model, for a ``with`` block."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close at the end of the ``with`` block."""
        self.close()


def load_model(model_path: Any, pre_fun: Callable[[Any], Any] | None = None,
               post_fun: Callable[[Any], Any] | None = None, *, cloud_offload_algorithm: Any = None,
               big_model_endpoint: Any = None, context: Context | None = None, report: bool = False,
               **options: Any) -> JointModel:
    """Configure an edge-cloud model (solar_corona's ``load_model``).

    Parameters
    ----------
    model_path : str or object
        The edge model: a local file (``.pkl``/``.joblib`` scikit-learn, ``.pt`` torch, ``.keras``
        Keras), or a model/estimator object. A classifier with ``predict_proba`` answers with
        class probabilities, which the miner reads.
    pre_fun : callable, default=None
        Pre-processing of each input for the edge model (the cloud gets the raw input).
    post_fun : callable, default=None
        Local post-processing of the edge model's output (NMS for a detector); the miner reads
        what it returns, and it is the answer for an easy sample. A hard sample is answered by
        the cloud as the cloud answers. For a classifier given without ``post_fun``, the miner
        reads the probabilities and both answers are class labels.
    cloud_offload_algorithm : HardExampleMiner or str or dict, default=None
        The miner (``joint_inference.IBT(upload_ratio=0.5)``); ``HEM_NAME`` if omitted.
    big_model_endpoint : str or InferenceClient, default=None
        The cloud endpoint (``http://host:port/service``); :func:`get_big_model_endpoint` if omitted.
    context : Context, default=None
        Configuration; the process environment if omitted.
    report : bool, default=False
        Send counts to a LocalController (only inside a Sedna deployment).
    **options : object
        Other :class:`JointInference` keywords (``offload_dir``, ``on_offloaded``, ...).

    Returns
    -------
    JointModel
        The model; call ``predict(x)``.

    Raises
    ------
    StorageNotFoundError
        If ``model_path`` names a missing file.
    ConfigError
        If the file type is unknown or the endpoint is not an http(s) URL.
    """
    ctx = context or Context.from_env()
    estimator = _load_estimator(model_path)
    answer_fun = None
    if hasattr(estimator, "predict_proba") and not isinstance(estimator, type):
        classes = getattr(estimator, "classes_", None)
        estimator = _ProbabilityModel(estimator)  # a classifier: mine its confidences
        if post_fun is None and classes is not None:
            answer_fun = _ClassLabel(classes)  # ...and answer with labels, as the cloud does
    cloud = big_model_endpoint if big_model_endpoint is not None else get_big_model_endpoint(ctx)
    joint = JointInference(estimator, cloud_offload_algorithm, context=ctx, cloud=cloud, report=report,
                           **options)
    return JointModel(joint, pre_fun, post_fun, answer_fun)


class _ClassLabel:
    """Turn a probability vector into its class label; leave labels (the cloud's answers) as they are."""

    def __init__(self, classes: Any) -> None:
        self.classes = classes

    def __call__(self, result: Any) -> Any:
        import numpy as np

        if np.ndim(result) == 1 and len(result) == len(self.classes) and np.asarray(result).dtype.kind == "f":
            result = self.classes[int(np.argmax(result))]
        elif np.ndim(result) == 1 and len(result) == 1:
            result = result[0]
        return result.item() if isinstance(result, np.generic) else result  # a plain int/str label
