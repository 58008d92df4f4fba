"""Sedna's joint-inference edge: the edge model answers easy samples, the cloud the hard ones.

A cloud that refuses, hangs or is slow costs at most one timeout (a circuit breaker then answers
at once from the edge); the hard examples it could not take wait in a bounded on-disk queue and
are sent when it is back, also after a restart of the edge process.
"""

from __future__ import annotations

import copy
import enum
import logging
import os
import re
import sys
import threading
import time
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

from ..backends.loaders import check_model, load_model_file
from ..base import InferenceResult, check_count, check_number, check_variable
from ..config import MiningMode
from ..context import Context
from ..exceptions import (ClosedError, ConfigError, DataError, ParameterError, ProtocolError, RegistryError,
                          RemoteError, SednaError, StorageError, TransportError)
from ..job import JobBase
from ..observability.health import Health
from ..observability.logs import RateLimitedLog
from ..observability.status import StatusSite, WorkerStatus
from ..registry import Kind, build_algorithm, resolve_callback
from ..transport.lc import OwnerKind

__all__ = ["JointInference", "OffloadedExample", "DeadLetter"]

logger = logging.getLogger(__package__)  # the feature logs under its package name


# what ``JointInference.stats`` counts
_COUNTS = ("inferences", "hard", "cloud_ok", "cloud_failed", "queued", "replayed", "retried", "dead_lettered",
           "expired", "config_errors", "callback_failed", "lost")
_SELF_DESIGN = "self-design"  # Sedna 0.6's mining_mode that runs the edge model alone
_MAX_BACKOFF = 300.0  # the longest wait before a failed queued example is tried again (s)
_CONFIG_PAUSE = 30.0  # how long the drain waits after the cloud refused the edge itself (401/403/404)
_LOST_INTERVAL = 60.0  # seconds between two lines about lost hard examples (the first is said at once)
_LAST_REPORT_WAIT = 2.0  # longest wait in close() for the calls in flight, then for the last LC report

# ``JointInference._miner`` before the miner is built (None means "built: no miner")
_UNBUILT: Any = object()


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


class DeadLetter(NamedTuple):
    """A hard example that will never be sent to the cloud, and why.

    Attributes
    ----------
    id : str
        Its file stem in the dead-letter folder (``<offload folder>/dead-letter``).
    data : object
        The sample.
    reason : str
        Why: the cloud refused it (4xx, with the cloud's detail), failed on it too often, or it
        expired in the queue.
    status_code : int or None
        The cloud's status, when it answered.
    queued_at : float
        When it was first kept (seconds since the epoch).
    """

    id: str
    data: Any
    reason: str
    status_code: int | None
    queued_at: float


class _Failure(enum.Enum):
    """What a failed call to the cloud says, and so what becomes of the sample."""

    AWAY = "away"  # refused, reset, timed out, breaker open, 502/503/504: queue, send in order later
    RETRY = "retry"  # 5xx, 408/429, a malformed reply: this sample again, on its own backoff
    BAD_SAMPLE = "bad-sample"  # another 4xx, or unsendable: never retried, dead-lettered
    CONFIG = "config"  # 401/403/404/405: the deployment is wrong; not this sample's fault, not queued
    BUSY = "busy"  # not a failure: another owner of the queue folder is sending it; try after a pause


_CONFIG_STATUSES = frozenset({401, 403, 404, 405})
_RETRY_STATUSES = frozenset({408, 429})
_AWAY_STATUSES = frozenset({502, 503, 504})


def _classify(exc: SednaError) -> _Failure:
    """Tell what a failed call means for the sample (see :class:`_Failure`)."""
    if isinstance(exc, DataError):
        return _Failure.BAD_SAMPLE
    if isinstance(exc, RemoteError) and exc.status_code is not None:
        code = exc.status_code
        if code in _CONFIG_STATUSES:
            return _Failure.CONFIG
        if code in _AWAY_STATUSES:
            return _Failure.AWAY
        if code in _RETRY_STATUSES or code >= 500:
            return _Failure.RETRY
        return _Failure.BAD_SAMPLE
    if isinstance(exc, ProtocolError):
        return _Failure.RETRY
    return _Failure.AWAY


def _is_user_cloud(obj: Any) -> bool:
    """Tell a Sedna 0.6 user cloud: it has ``inference`` but not the client's ``predict``."""
    return not hasattr(obj, "predict") and callable(getattr(obj, "inference", None))


def _is_cloud_object(obj: Any) -> bool:
    """Whether a second positional argument is Sedna 0.6's ``cloud`` rather than a miner."""
    if obj is None or isinstance(obj, (str, Mapping)) or callable(obj):
        return False
    return callable(getattr(obj, "inference", None)) or callable(getattr(obj, "predict_reply", None))


def _ask(client: Any, data: Any, name: str | None,
         fields: Mapping[str, Any] | None = None) -> tuple[Any, bool]:
    """Send one sample and its extra fields; return the result and whether the cloud applied ``name``."""
    fields = fields or {}
    predict_reply = getattr(client, "predict_reply", None)
    if predict_reply is not None:
        reply = predict_reply(data, callback=name, **fields)
        return reply.result, reply.callback_applied
    # a client of one's own: trusted to apply it
    return client.predict(data, callback=name, **fields), name is not None


_TABLE_FIELDS = ("columns", "dtypes")  # the request fields (and queue metadata) of a table's rows


def _wire(data: Any) -> tuple[Any, dict[str, Any]]:
    """Return a sample's wire form and the fields sent beside it: a table travels as rows and column names.

    A DataFrame is sent as ``data`` = its rows with ``columns`` and ``dtypes`` (see
    :func:`~sedna_lib._json.table_to_json`), a Series as a table of one row (its index names the
    columns); anything else as it is.

    Raises
    ------
    DataError
        If a table's cell or column name has no JSON form.
    """
    from .._json import is_table, table_to_json

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.Series):
        data = data.to_frame().T.infer_objects()
    if not is_table(data):
        return data, {}
    try:
        table = table_to_json(data)
    except TypeError as exc:
        raise DataError(f"this table cannot be sent as JSON: {exc}") from None
    return table.pop("data"), table


def _fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return the extra request fields kept with a queued sample (a table's column names)."""
    return {k: meta[k] for k in _TABLE_FIELDS if meta.get(k) is not None}


def _sample(data: Any, meta: Mapping[str, Any]) -> Any:
    """Return a kept sample as it was given: a table's rows as a DataFrame again (when pandas is there)."""
    columns = meta.get("columns")
    if columns is None or not isinstance(data, list):
        return data
    from .._json import table_from_json

    try:
        return table_from_json(data, columns, meta.get("dtypes"))
    except (TypeError, ValueError):  # edited by hand: the rows as they are
        return data


def _mining_mode(value: Any) -> MiningMode:
    try:
        return MiningMode(getattr(value, "value", value))
    except ValueError:
        choices = ", ".join([m.value for m in MiningMode] + [_SELF_DESIGN])
        raise ConfigError(f"mining_mode must be one of {choices}; got {value!r}",
                          variable="MINING_MODE") from None


def _safe_name(text: str) -> str:
    """Make a folder name from a service name or an endpoint."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "sedna"


def _cloud_key(client: Any) -> str:
    """Name the offload queue's sub-folder for one cloud: ``<host>_<port>-<service>``."""
    url = getattr(client, "url", None)
    if not isinstance(url, str):
        return _safe_name(type(client).__name__)
    parts = urlsplit(url)
    return _safe_name(f"{parts.netloc}-{getattr(client, 'service_name', '')}")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _dead_letter(item: Any) -> DeadLetter:
    from ..transport.outbox import queued_at

    return DeadLetter(item.id, _sample(item.data, item.meta), str(item.meta.get("reason", "")),
                      item.meta.get("status_code"), queued_at(item.id))


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


class _CountSync:
    """A collector that yields nothing: it calls ``sync`` each time its registry is read."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self._sync = sync

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        self._sync()
        return []


class JointInference(JobBase):
    """The edge side of joint inference: the edge model, a hard-example miner and the cloud client.

    Nothing happens in the constructor; the model is loaded, the LocalController reporter
    started and leftover queued examples scheduled on :meth:`start` (called by the first
    :meth:`inference`). After :meth:`close`, :meth:`inference` raises
    :class:`~sedna_lib.exceptions.ClosedError` until :meth:`start` (or a ``with`` block) starts
    the job again.

    Both of Sedna's signatures work: 0.4.1's ``JointInference(estimator, hard_example_mining)``
    and 0.6's ``JointInference(estimator, cloud=..., hard_example_mining=...,
    LCReporter_enable=...)`` (the build Ianvs ships; positionally ``(estimator, cloud,
    hard_example_mining, LCReporter_enable)``, told apart by the second argument having an
    ``inference`` method and not being callable).

    Parameters
    ----------
    estimator : object, default=None
        The edge model (class, factory or instance), wrapped by a backend.
    hard_example_mining : dict or HardExampleMiner or str or callable, default=None
        ``{"method": name, "param": {...}}`` as Sedna passes it, a miner instance, a registered
        name, or any callable ``f(result) -> bool``. If None, ``HEM_NAME``/``HEM_PARAMETERS``.
    config : dict, default=None
        Job settings that shadow the environment for this job.
    LCReporter_enable : bool, default=None
        Sedna 0.6's name for ``report``.
    context : Context, default=None
        Configuration and registry; the environment's context when omitted.
    cloud : InferenceClient or str or object, default=None
        The cloud: an :class:`~sedna_lib.transport.http.InferenceClient`, a URL
        (``http://host:port/service``), or, as in Sedna 0.6, any object with
        ``inference(data, post_process=None, **kwargs)`` (an API-served LLM...), whose answer is
        used as it is and whose errors propagate. Built from ``BIG_MODEL_IP``/``BIG_MODEL_PORT``
        if omitted.
    offload_dir : str, default=None
        Folder of the offload queue; ``<SEDNA_WORK_DIR>/offload/<service>/<cloud host_port-service>``
        if omitted, so unrelated services and clouds never share a queue.
    max_queued : int, default=10000
        Bound of the offload queue and of the dead-letter folder (the oldest are dropped beyond
        it, with a warning); 0 means no bound.
    on_offloaded : callable, default=None
        Called with an :class:`OffloadedExample` for each queued example the cloud answered later.
        If it raises, the failure is logged and counted (``stats["callback_failed"]``) and the
        drain goes on: the example was delivered and is not sent again.
    on_dead_letter : callable, default=None
        Called with a :class:`DeadLetter` for each hard example that will never be sent: the
        cloud refused it (a 4xx), failed on it ``max_attempts`` times, or it waited longer than
        ``max_age``. If it raises, the failure is logged and counted (``callback_failed``).
    max_age : float, default=None
        Seconds a queued example may wait; older ones are dead-lettered, not sent
        (``SEDNA_OFFLOAD_MAX_AGE``, 3600; 0 means no limit).
    max_attempts : int, default=None
        Cloud failures (5xx, malformed replies) one example may meet before it is dead-lettered
        (``SEDNA_OFFLOAD_MAX_ATTEMPTS``, 5).
    retry_backoff : float, default=1.0
        First wait (seconds) before a failed example is tried again; doubled at each attempt,
        at most 300 s. The examples behind it are not held up.

        These numeric options (and ``LC_PERIOD`` when ``report`` is on) are checked by
        :meth:`start`, before the model is loaded: NaN, infinities, negatives, a fraction or a
        bool where a count is meant raise ParameterError (ConfigError naming the variable for
        ``SEDNA_OFFLOAD_MAX_AGE``, ``SEDNA_OFFLOAD_MAX_ATTEMPTS`` and ``LC_PERIOD``).
    report : bool, default=True
        Send inference counts to the LocalController every ``LC_PERIOD`` seconds.

    Attributes
    ----------
    stats : dict
        A snapshot of the counts: ``inferences``, ``hard``, ``cloud_ok``, ``cloud_failed``,
        ``queued``, ``replayed``, ``retried`` (failures of queued examples that will be tried
        again), ``dead_lettered``, ``expired`` (dead-lettered for their age),
        ``config_errors`` (401/403/404/405 answers: the deployment is wrong),
        ``callback_failed`` (calls of ``on_offloaded``/``on_dead_letter`` that raised) and
        ``lost`` (hard examples the cloud did not take that could be neither queued nor
        dead-lettered: a full or read-only disk; they were answered by the edge).
        Read-only: changing the copy changes nothing.
    pending_at_start : int or None
        How many examples already waited in the queue folder when :meth:`start` ran (left by an
        earlier run, or put by another job or process sharing the folder).

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

    job_kind = OwnerKind.JOINT_INFERENCE_SERVICE.value

    def __init__(self, estimator: Any = None, hard_example_mining: Any = None,
                 config: Mapping[str, Any] | None = None,
                 LCReporter_enable: bool | None = None, *,  # noqa: N803 - Sedna 0.6's keyword
                 context: Context | None = None, cloud: Any = None, offload_dir: str | None = None,
                 max_queued: int = 10000, on_offloaded: Callable[[OffloadedExample], Any] | None = None,
                 on_dead_letter: Callable[[DeadLetter], Any] | None = None, max_age: float | None = None,
                 max_attempts: int | None = None, retry_backoff: float = 1.0, report: bool = True) -> None:
        if cloud is None and _is_cloud_object(hard_example_mining):  # Sedna 0.6, positionally
            cloud, hard_example_mining, config = hard_example_mining, config, None
        super().__init__(estimator, config, context=context)
        self.hard_example_mining = hard_example_mining
        self.cloud = cloud
        self.offload_dir = offload_dir
        self.max_queued = max_queued
        self.on_offloaded = on_offloaded
        self.on_dead_letter = on_dead_letter
        self.max_age = max_age
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.report = report if LCReporter_enable is None else bool(LCReporter_enable)
        self.pending_at_start: int | None = None
        self._counts = dict.fromkeys(_COUNTS, 0)
        self._lock = threading.RLock()
        self._calls = 0  # inference calls in flight (counted in and out under _lock)
        self._idle = threading.Condition(self._lock)  # told when the last call in flight ends after close()
        self._started = False
        self._closed = False  # close() ran and start() has not run since
        self._mode: MiningMode | None = None
        self._plain = False  # decided by start(): a call without options takes the short path
        self._miner: Any = _UNBUILT
        self._client: Any = None
        self._queue: Any = None
        self._reporter: Any = None
        self._drain_thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self._stop = threading.Event()
        self._said: set[Any] = set()  # what was already warned about (once each)
        self._away = False  # the cloud was found away by a live call (said once per outage)
        self.status_: Any = None  # metrics, health and status page (built by start())
        self._cloud_answers = 0  # samples the cloud answered (the offload ratio's numerator)
        self._meters: tuple[Any, Any, Any] | None = None  # the per-sample counters: edge, cloud, hard
        self._pushed = (0, 0, 0)  # what those counters were brought up to
        self._chart_at = self._t0 = 0.0
        self._unreachable = RateLimitedLog(logger, interval=10.0, say_first=False)
        # a full disk loses every hard example: the first loss at once, then a count per minute
        self._lost = RateLimitedLog(logger, interval=_LOST_INTERVAL, level=logging.ERROR)

    # -- configuration -----------------------------------------------------------------------
    @property
    def miner(self) -> Any:
        """The hard-example miner (built on first use), or None when none is configured."""
        with self._lock:
            if self._miner is _UNBUILT:
                self._miner = self._build_miner(self.hard_example_mining)
                if self._miner is None:
                    self._say_no_miner()
            return self._miner

    @property
    def hard_example_mining_algorithm(self) -> Any:
        """Sedna 0.6's name for :attr:`miner` (Ianvs reads it to clean the miner up)."""
        return self.miner

    @hard_example_mining_algorithm.setter
    def hard_example_mining_algorithm(self, miner: Any) -> None:
        with self._lock:
            self._miner = miner

    @property
    def LCReporter_enable(self) -> bool:  # noqa: N802 - Sedna 0.6's attribute name
        """Sedna 0.6's name for :attr:`report`."""
        return self.report

    def _say_no_miner(self) -> None:
        """Say once that no miner is configured, so nothing goes to the cloud."""
        try:
            mode = MiningMode(self.config.get("mining_mode", self.context.config.mining_mode))
        except ValueError:
            return  # the first call reports the bad mode
        if mode is not MiningMode.INFERENCE_THEN_MINING:
            return  # mining-then-inference refuses to run without a miner, and says so
        if self.hard_example_mining is None:
            why = "HEM_NAME is unset and no hard_example_mining was given"
        elif self.context.config.hem:
            why = "hard_example_mining is empty, so HEM_NAME is not used"
        else:  # {}: what get_hem_algorithm_from_config returns without HEM_NAME
            why = ("HEM_NAME is unset, and hard_example_mining is empty: get_hem_algorithm_from_config "
                   "returns {} then, and any parameters given to it were not used")
        self._say_once("no-miner", f"no hard-example miner is configured ({why}), so every sample is "
                                   f"answered at the edge and none goes to the cloud; set HEM_NAME or pass "
                                   f"hard_example_mining={{'method': 'IBT', 'param': {{...}}}}")

    def _build_miner(self, spec: Any) -> Any:
        if spec is None:
            spec = self.context.config.hem
        if isinstance(spec, str):
            spec = {"method": spec}
        if isinstance(spec, Mapping) and not spec:
            return None
        if not isinstance(spec, Mapping) and not callable(spec):
            raise ConfigError(f"hard_example_mining must be a miner, a registered name or "
                              f"{{'method': ..., 'param': {{...}}}}, got {type(spec).__name__}",
                              variable="HEM_NAME")
        try:
            return build_algorithm(self.context.registry, Kind.HARD_EXAMPLE_MINING, spec, default="IBT",
                                   label="hard_example_mining")
        except (RegistryError, ParameterError) as exc:
            hem = self.context.config.hem
            if not hem or not isinstance(spec, Mapping) or spec.get("method") != hem["method"]:
                raise  # a miner the code named: its error names the argument
            # the deployment's miner (HEM_NAME, or get_hem_algorithm_from_config's copy of it)
            variable = "HEM_NAME" if isinstance(exc, RegistryError) else "HEM_PARAMETERS"
            raise ConfigError(f"{variable}: {exc}", variable=variable) from exc

    @property
    def client(self) -> Any:
        """The cloud client (built on first use), or the user's cloud object."""
        with self._lock:
            if self._client is None:
                from ..transport.http import InferenceClient

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
                from ..transport.outbox import OffloadQueue

                folder = self.offload_dir or os.path.join(
                    self.context.config.work_dir, "offload", _safe_name(self.job_name or "sedna"),
                    _cloud_key(self.client))
                bound = check_count("max_queued", self.max_queued, low=0)
                self._queue = OffloadQueue(folder, max_items=bound)
            return self._queue

    @property
    def stats(self) -> dict[str, int]:
        """A consistent snapshot of the counts (a copy: the job's own counters cannot be changed)."""
        with self._lock:
            return dict(self._counts)

    @property
    def pending_offloads(self) -> int:
        """Hard examples waiting in the queue for the cloud (read from the folder, which others may share)."""
        queue = self.queue
        queue.refresh()
        return len(queue)

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """The hard examples that will never be sent, oldest first, with the reason."""
        return [_dead_letter(item) for item in self.queue.dead_letters()]

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _say_once(self, key: Any, message: str, *, level: int = logging.WARNING) -> None:
        """Log ``message`` the first time ``key`` comes up.

        One channel: a WARNING or ERROR reaches stderr with nothing configured (the standard
        library's last-resort handler) and goes wherever the application sends its logs; a
        ``SednaWarning`` beside it printed the same line twice.
        """
        with self._lock:
            first = key not in self._said
            self._said.add(key)
        if first:
            logger.log(level, "%s", message)

    # -- lifetime ----------------------------------------------------------------------------
    def start(self) -> JointInference:
        """Load the model, start the LC reporter, and schedule leftover queued examples.

        Examples already in the queue folder (left by an earlier run, or put by another job or
        process sharing the folder) are reported, naming the folder, how many and how old, then
        sent; those older than ``max_age`` are dead-lettered instead. The report is a warning,
        unless another owner of the folder is sending them at that moment (it holds the folder's
        drain lock): then it is an INFO line saying so, and this job sends what that one leaves.

        Returns
        -------
        JointInference
            ``self``.

        Raises
        ------
        ConfigError
            If there is no edge model (``estimator`` is None): set ``MODEL_URL`` (or
            ``MODEL_PATH``), or pass a model object or path.
        StorageNotFoundError
            If ``MODEL_LOAD_MODE`` is ``file`` and the model file does not exist.
        """
        with self._lock:
            if self._started:
                return self
            if self._closed:  # started again after close(): fresh threads, status page and LC client
                self._closed = False
                self._stop.clear()
                self._lc_client = None  # close() interrupted its retries for good
                self._pushed = (0, 0, 0)  # the new status page's counters start at zero
            self._check_options()
            check_model(self.estimator)  # the edge model answers every sample: none is an error now
            load_model_file(self)
            self._start_status()
            if self.report:
                from ..transport.lc import PeriodicReporter

                message = self.make_report("inference")
                self._reporter = PeriodicReporter(self.lc_client, message,
                                                  period=self.context.config.lc_period,
                                                  worker_name=self.worker_name,
                                                  final_timeout=_LAST_REPORT_WAIT).start()
            self._plain = self._plain_calls()
            self._started = True
        if _is_user_cloud(self.client):
            return self  # a user's cloud object: no queue (its errors are the caller's)
        self.queue.refresh()  # the folder as it is now: other owners may have put or sent entries
        pending = self.pending_at_start = len(self.queue)
        if pending:
            self._report_leftovers(pending)
            self._ensure_drain()
        return self

    def _enter(self) -> None:
        """Count an inference call in, starting the job for its first one.

        Raises
        ------
        ClosedError
            If the job was closed (also while this call started it).
        """
        with self._lock:
            if self._started:
                self._calls += 1
                return
        self._start_on_use()
        with self._lock:
            if not self._started:  # closed meanwhile
                raise ClosedError(f"this {type(self).__name__} was closed while the call started it")
            self._calls += 1

    def _leave(self) -> None:
        """Count an inference call out; the last one out after :meth:`close` began tells it."""
        with self._lock:
            self._calls -= 1
            if self._closed and not self._calls:
                self._idle.notify_all()

    def _start_on_use(self) -> None:
        """Start the job for its first sample; a closed job is not started behind its owner's back."""
        if self._closed:
            raise ClosedError(f"this {type(self).__name__} was closed; call start() (or use a with block) "
                              f"to start it again before inference")
        self.start()

    def _plain_calls(self) -> bool:
        """Tell whether a call without options may take the short path (decided once, by :meth:`start`).

        It may when the configured mode is inference-then-mining and the class runs this class's
        own :meth:`_infer`; a mode that does not parse leaves the error to the first call.
        """
        try:
            mode = self._mode or MiningMode(self.config.get("mining_mode", self.context.config.mining_mode))
        except ValueError:
            return False
        self._mode = mode
        return mode is MiningMode.INFERENCE_THEN_MINING and type(self)._infer is JointInference._infer

    def _start_status(self) -> None:
        """Build the worker's metrics and health, served on ``SEDNA_METRICS_PORT`` when it is set."""
        name = self.worker_name or "joint-inference-edge"

        def cloud_check() -> bool | str:
            return not self._away or "the cloud is unavailable; hard examples are answered by the edge"

        health = Health(name, checks={"model": lambda: self.estimator is not None or "no edge model",
                                      "cloud": cloud_check},
                        extra=lambda: self.stats)
        site = StatusSite(name, title=f"sedna_lib joint-inference edge {name!r}", health=health,
                          details={"cloud": str(getattr(self.client, "endpoint", type(self.client).__name__)),
                                   "hard-example miner": type(self.miner).__name__ if self.miner else "none"})
        site.add_chart("offload", "Share of samples answered by the cloud", "seconds", "ratio")
        metrics = site.metrics
        # the per-sample counters are brought up to the counts when the registry is read (the syncing
        # collector is registered before them, so it runs first): exact at every scrape, and a sample
        # only moves the counts
        metrics.registry.register(_CountSync(self._sync_meters))
        samples = metrics.counter("sedna_ji_samples_total")
        meters = (samples.labels(answered_by="edge"), samples.labels(answered_by="cloud"),
                  metrics.counter("sedna_ji_hard_examples_total"))
        # the ratios are read from the counts when scraped, so they are exact and cost a sample nothing
        metrics.gauge("sedna_ji_hard_example_ratio").set_function(lambda: self._ratio("hard"))
        metrics.gauge("sedna_ji_offload_ratio").set_function(lambda: self._ratio("cloud"))
        budget = getattr(self.miner, "upload_ratio", None)
        metrics.gauge("sedna_ji_offload_budget_ratio").set(float(budget) if budget is not None else 1.0)
        breaker = getattr(self.client, "breaker", None)

        def breaker_state() -> float:
            state = getattr(breaker, "state", None) or ("open" if self._away else "closed")
            return {"closed": 0.0, "open": 1.0, "half-open": 2.0}.get(state, 0.0)

        metrics.gauge("sedna_ji_cloud_breaker_state").set_function(breaker_state)
        if not _is_user_cloud(self.client):
            metrics.gauge("sedna_ji_offload_queue_depth").set_function(lambda: len(self.queue))
            metrics.gauge("sedna_ji_dead_letters").set_function(lambda: self._counts["dead_lettered"])
        self._chart_at = self._t0 = time.monotonic()
        self._meters = meters
        cfg = self.context.config
        self.status_ = WorkerStatus(site, port=cfg.metrics_port, host=cfg.metrics_bind_ip).start()
        if self.status_.url:
            logger.info("joint-inference edge %r: status page %s/, metrics %s/metrics", name,
                        self.status_.url, self.status_.url)

    def _ratio(self, of: str) -> float:
        """Return the share of samples so far that were hard (``of="hard"``) or answered by the cloud."""
        with self._lock:
            total = self._counts["inferences"]
            part = self._counts["hard"] if of == "hard" else self._cloud_answers
        return part / total if total else 0.0

    def _sync_meters(self) -> None:
        """Bring the sample counters up to the counts (called when the metrics are read)."""
        meters = self._meters
        if meters is None:
            return
        with self._lock:  # held while incrementing: a concurrent read waits for the counters to be current
            counts = self._counts
            now = (counts["inferences"] - self._cloud_answers, self._cloud_answers, counts["hard"])
            for meter, new, old in zip(meters, now, self._pushed):
                if new > old:
                    meter.inc(new - old)
            self._pushed = now

    def _tally(self, is_hard: bool, by_cloud: bool, leave: bool = False) -> None:
        """Count one answered sample: the stats, the LC report, the metrics and (once a second) the chart.

        ``leave`` also ends the call (see :meth:`_leave`), under the same hold of the lock.
        """
        reporter = self._reporter
        if reporter is not None:  # before the call ends: close() sends the last report once none runs
            reporter.record(hard=is_hard)
        with self._lock:
            counts = self._counts
            total = counts["inferences"] = counts["inferences"] + 1
            if is_hard:
                counts["hard"] += 1
            if by_cloud:
                self._cloud_answers += 1
            cloud = self._cloud_answers
            if leave:
                self._calls -= 1
                if self._closed and not self._calls:
                    self._idle.notify_all()
        if self._meters is None:
            return
        now = time.monotonic()
        if now - self._chart_at >= 1.0 or total == 1:
            self._chart_at = now
            self.status_.site.record("offload", "offload ratio", round(now - self._t0, 1), cloud / total)

    def _tally_batch(self, n: int, hard: int, by_cloud: int) -> None:
        """Count ``n`` samples of a batch at once: ``hard`` hard, ``by_cloud`` answered by the cloud."""
        if n <= 0:
            return
        with self._lock:
            counts = self._counts
            total = counts["inferences"] = counts["inferences"] + n
            counts["hard"] += hard
            self._cloud_answers += by_cloud
            cloud = self._cloud_answers
        reporter = self._reporter
        if reporter is not None:  # the reporter counts one sample per call
            for i in range(n):
                reporter.record(hard=i < hard)
        if self._meters is None:
            return
        now = time.monotonic()
        if now - self._chart_at >= 1.0 or total == n:
            self._chart_at = now
            self.status_.site.record("offload", "offload ratio", round(now - self._t0, 1), cloud / total)

    def _report_leftovers(self, pending: int) -> None:
        from ..transport.outbox import queued_at

        ids = self.queue.ids()
        now = time.time()
        oldest = now - queued_at(ids[0]) if ids else 0.0
        max_age = self._max_age()
        stale = sum(1 for entry in ids if max_age and now - queued_at(entry) > max_age)
        where = getattr(self.client, "endpoint", type(self.client).__name__)
        past_age = (f"; {stale} of them are older than {_age(max_age)} (SEDNA_OFFLOAD_MAX_AGE) and go to "
                    f"the dead-letter folder instead" if stale else "")
        if self._drained_elsewhere():  # a live owner sends them: a shared folder at work, nothing left over
            logger.info("%s", f"{pending} hard examples already wait in {self.queue.folder} (the oldest "
                              f"for {_age(oldest)}); another owner of the folder (a job or process sharing "
                              f"it) is sending them now, and this job sends to {where} what it leaves"
                              f"{past_age}")
            return
        message = (f"{pending} hard examples already wait in {self.queue.folder} (queued before this start, "
                   f"by an earlier run or by another job sharing the folder; the oldest for {_age(oldest)}); "
                   f"they are sent to {where} now{past_age}; delete the folder to discard them")
        logger.warning("%s", message)  # once, as a WARNING: it reaches stderr unconfigured too

    def _drained_elsewhere(self) -> bool:
        """Tell whether another owner of the queue folder (job or process) holds its drain lock now."""
        if not self._drain_lock.acquire(blocking=False):
            return False  # this job's own drain runs: nobody else's
        try:
            with self.queue.draining(wait=False) as held:
                return not held
        except StorageError:  # the lock file cannot be made: the drain says so when it runs
            return False
        finally:
            self._drain_lock.release()

    def close(self) -> None:
        """Stop the reporter and the queue drain, and close connections; queued examples stay on disk.

        New calls are refused at once; the calls already running are waited for (at most 2 s; a
        warning says how many were still running when it gave up), so their answers are counted.
        Counts not reported yet (inferences since the last period) are then sent to the LocalController,
        so a short-lived edge process is seen too; close() waits at most 2 s for that report
        (a LocalController that does not answer would otherwise hold it for the report client's
        timeouts and retries, past a pod's grace period) and says when it was not delivered.
        Idempotent. :meth:`inference` then raises :class:`~sedna_lib.exceptions.ClosedError`
        until :meth:`start` starts the job again.

        Raises
        ------
        StorageError
            If the queued examples cannot be flushed to the disk.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._started = False
            # the calls in flight end before the last report, so that it counts their answers
            if not self._idle.wait_for(lambda: not self._calls, _LAST_REPORT_WAIT):
                running = self._calls
                logger.warning("close() waited %.0f s for %d inference %s still running and went on; %s not "
                               "in the last report to the LocalController", _LAST_REPORT_WAIT, running,
                               "call" if running == 1 else "calls",
                               "its answer is" if running == 1 else "their answers are")
        self._stop.set()
        self._unreachable.flush()
        self._lost.flush()
        if self.status_ is not None:
            self.status_.stop()
        reporter, self._reporter = self._reporter, None
        if reporter is not None:  # the counts not reported yet, within _LAST_REPORT_WAIT (a failure is said)
            reporter.close()
        thread = self._drain_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        if self._client is not None and hasattr(self._client, "close") and not _is_user_cloud(self._client):
            self._client.close()
        if self._queue is not None:
            self._queue.say_drops()
            self._queue.sync()
        super().close()

    # -- inference ---------------------------------------------------------------------------
    def inference(self, data: Any = None, post_process: Callable[..., Any] | str | None = None,
                  **kwargs: Any) -> Any:
        """Answer one sample: at the edge, or with the cloud's help when it is hard.

        Parameters
        ----------
        data : object, default=None
            The input (a numpy array travels in the binary codec).
        post_process : callable or str, default=None
            Applied to the edge result before mining, and once to the final result: a callable
            here; a registered callback name at the cloud when the cloud says it applies callbacks
            and has that name, else here. A name registered nowhere changes nothing (logged once).
        **kwargs : object
            Passed to the edge estimator's ``predict`` (and to a user's ``cloud.inference``).
            ``mining_mode`` (Sedna 0.6) chooses the mode for this call:
            ``inference-then-mining``, ``mining-then-inference`` or ``self-design`` (the edge
            model alone; the post-processed result is returned, not an InferenceResult).

        Returns
        -------
        InferenceResult
            ``(is_hard, result, edge, cloud)``; unpacks like Sedna's list. ``cloud`` is None when
            the cloud was not asked or did not answer, and ``result`` is then the edge's.

        Raises
        ------
        ConfigError
            If the mining mode is ``mining-then-inference`` and no miner is configured, or
            ``mining_mode`` is not one of the three.
        ClosedError
            If the job was closed: call :meth:`start` (or use ``with``) to start it again.
        """
        with self._lock:  # counted in while running: close() waits for it before the last report
            entered = self._started
            if entered:
                self._calls += 1
        if not entered:
            self._enter()
        if post_process is None and not kwargs and self._plain:
            # the common call (no callback, the configured mode): what _infer does for it, inline
            try:
                edge = self.estimator.predict(data)
                miner = self._miner
                cloud = None
                is_hard = miner is not None and bool(miner(edge))
                if is_hard:
                    cloud = self._offload(data, None, None, {})
            except BaseException:
                self._leave()
                raise
            self._tally(is_hard, cloud is not None, leave=True)
            return InferenceResult(is_hard, edge if cloud is None else cloud, edge, cloud)
        try:
            return self._answer(data, post_process, kwargs)
        finally:
            self._leave()

    def _answer(self, data: Any, post_process: Any, kwargs: dict[str, Any]) -> Any:
        """Answer one sample with options (a callback, a mining mode for this call) for :meth:`inference`."""
        callback = None if post_process is None else self._resolve(post_process)
        mining_mode = kwargs.pop("mining_mode", None) if kwargs else None
        if mining_mode is None:
            mode = self._mode
            if mode is None:  # read once: the hot path does no configuration lookups
                mode = self._mode = MiningMode(self.config.get("mining_mode",
                                                               self.context.config.mining_mode))
        elif mining_mode == _SELF_DESIGN:
            result = self.estimator.predict(data, **kwargs)
            return callback(result) if callback is not None else result
        else:
            mode = _mining_mode(mining_mode)
        return self._infer(data, data, post_process, callback, mode, kwargs, "post_process")

    def _resolve(self, post_process: Any) -> Callable[..., Any] | None:
        """Turn ``post_process`` into a callable: a name is looked up in the context's registry."""
        try:
            return resolve_callback(post_process, registry=self.context.registry)
        except RegistryError as exc:
            self._say_once(("callback", post_process),
                           f"post_process {post_process!r} is not registered here; results are left "
                           f"unchanged unless the cloud has it ({exc})")
            return None

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
        cloud_post = post_process if cloud_callback else None
        cloud_cb = callback if cloud_callback else None
        if mode is MiningMode.MINING_THEN_INFERENCE:
            if miner is None:
                raise ConfigError("MINING_MODE is mining-then-inference but no hard-example miner is set; "
                                  "set HEM_NAME or pass hard_example_mining", variable="HEM_NAME")
            is_hard = bool(miner(data))
            cloud = self._offload(cloud_data, cloud_post, cloud_cb, kwargs) if is_hard else None
            edge = final = None
            if cloud is None:
                edge = self.estimator.predict(data, **kwargs)
                final = callback(copy.deepcopy(edge)) if callback is not None else edge
            else:
                final = cloud
        else:
            edge = self.estimator.predict(data, **kwargs)
            if callback is None:  # the common case: the edge's own result is mined and returned
                final = edge
                is_hard = miner is not None and bool(miner(edge))
            else:
                final = callback(copy.deepcopy(edge))
                is_hard = miner is not None and bool(_mine(miner, final, post_name))
            cloud = self._offload(cloud_data, cloud_post, cloud_cb, kwargs) if is_hard else None
            if cloud is not None:
                final = cloud
        self._tally(is_hard, cloud is not None)
        return InferenceResult(is_hard, final, edge, cloud)

    # -- the cloud ---------------------------------------------------------------------------
    def _offload(self, data: Any, post_process: Any, callback: Callable[..., Any] | None,
                 kwargs: dict[str, Any]) -> Any:
        """Ask the cloud; None when it did not answer (the sample is then kept, or dead-lettered)."""
        client = self.client
        if _is_user_cloud(client):  # Sedna 0.6: the user's cloud object, used as it is
            result = client.inference(data, post_process=post_process, **kwargs)
            self._count("cloud_ok")
            return result
        name = post_process if isinstance(post_process, str) else None
        try:
            sent, fields = _wire(data)
            result, applied = _ask(client, sent, name, fields)
        except (TransportError, DataError) as exc:
            self._count("cloud_failed")
            self._on_failure(None, data, name, exc)
            return None
        if callback is not None and not applied:
            try:
                result = callback(result)
            except Exception as exc:  # the user's callback on the cloud's answer: counted, kept, edge answers
                self._count("cloud_failed")
                logger.error("post_process failed on the cloud's answer; answering from the edge: %s: %s",
                             type(exc).__name__, exc)
                self._bury(None, data, name, f"post_process failed on the cloud's answer: "
                                             f"{type(exc).__name__}: {exc}", None)
                return None
        self._count("cloud_ok")
        if self._away:
            self._cloud_back()
        if len(self.queue):
            self._ensure_drain()
        return result

    def _cloud_back(self, kept: int | None = None) -> bool:
        """Say once, when the cloud first answers after an outage (a live call or the drain), what is sent.

        The count of samples the edge answered meanwhile is said first, then forgotten, so it is
        never said later with the outage's numbers. ``kept`` is how many queued examples are being
        sent (the queue's length if None). Return whether the outage ended here.
        """
        with self._lock:
            back, self._away = self._away, False
        if back:
            self._unreachable.forget("away")
            logger.warning("the cloud answers again; %d kept hard examples are being sent",
                           len(self.queue) if kept is None else kept)
        return back

    def _on_failure(self, item: Any, data: Any, name: str | None, exc: SednaError) -> _Failure:
        """Act on a failed call for a live (``item`` None) or a queued sample; return its class."""
        kind = _classify(exc)
        status = getattr(exc, "status_code", None)
        if self.status_ is not None:
            self.status_.site.metrics.counter("sedna_ji_cloud_failures_total").labels(reason=kind.value).inc()
        if kind is _Failure.AWAY:
            if item is None:
                with self._lock:
                    first, self._away = not self._away, True
                if first:  # once per outage, not once per sample
                    logger.warning("the cloud is unavailable; hard examples are answered by the edge and "
                                   "kept in %s until it is back: %s", self.queue.folder, exc)
                else:
                    logger.debug("cloud still unavailable: %s", exc)
                # then one line per 10 s with the count, not one per sample
                self._unreachable.add("away", "cloud unreachable: {count} samples answered by the edge "
                                              "in the last {window}")
                self._enqueue(data, name)
            else:
                logger.info("cloud still unavailable for queued examples: %s", exc)
        elif kind is _Failure.CONFIG:
            self._count("config_errors")
            self._say_once(("config", status),
                           f"the cloud refused the edge with {status}: the deployment is misconfigured "
                           f"(401/403: SEDNA_AUTH_TOKEN differs between edge and cloud; 404/405: "
                           f"BIG_MODEL_IP, BIG_MODEL_PORT or the service name point at something else). Hard "
                           f"examples are "
                           f"answered by the edge and not queued until this is fixed: {exc}",
                           level=logging.ERROR)
        elif kind is _Failure.BAD_SAMPLE:
            reason = f"the cloud refused this sample: {exc}" if status else \
                f"this sample cannot be sent: {exc}"
            if self._bury(item, data, name, reason, status):  # else _bury said it is lost
                self._say_once(("refused", status),
                               f"{reason} (dead-lettered in {self.queue.dead_letter_folder}; later refusals "
                               f"are counted in stats['dead_lettered'])")
        else:  # RETRY: this sample, on its own backoff, never in the way of the others
            self._retry_later(item, data, name, exc)
        return kind

    def _enqueue(self, data: Any, callback: str | None, **meta: Any) -> bool:
        """Queue a live sample for the cloud (False: it cannot be kept, said in an error log)."""
        try:
            stored, fields = _wire(data)
            self.queue.put(stored, {"callback": callback, **fields, **meta})
        except (DataError, StorageError) as exc:
            self._lose("queue", "hard examples could not be queued for the cloud and are lost", exc)
            return False
        self._count("queued")
        self._ensure_drain()
        return True

    def _lose(self, key: str, what: str, cause: Any) -> None:
        """Count a lost hard example: the first loss is said at once, later ones once a minute, counted."""
        with self._lock:
            self._counts["lost"] += 1
            total = self._counts["lost"]
        cause = str(cause).replace("{", "{{").replace("}", "}}")  # the line is a format string
        self._lost.add(key, f"{what}: {{count}} in the last {{window}}, {total} lost in all (stats['lost']); "
                            f"the last: {cause}")

    def _retry_later(self, item: Any, data: Any, name: str | None, exc: SednaError) -> None:
        attempts = (int(item.meta.get("attempts") or 0) if item is not None else 0) + 1
        limit = self._max_attempts()
        if attempts >= limit:
            self._bury(item, data, name, f"the cloud failed on it {attempts} times; last: {exc}",
                       getattr(exc, "status_code", None))
            return
        wait = min(_MAX_BACKOFF, check_number("retry_backoff", self.retry_backoff, 0) * 2 ** (attempts - 1))
        meta = {"attempts": attempts, "not_before": time.time() + wait, "last_error": str(exc)[:300]}
        logger.info("the cloud failed on a hard example (attempt %d of %d); it is tried again in %.1f s, "
                    "after the ones behind it: %s", attempts, limit, wait, exc)
        if item is None:
            self._enqueue(data, name, **meta)
            return
        try:
            self.queue.reschedule(item, **meta)
        except StorageError as exc2:
            logger.error("cannot reschedule queued example %s: %s", item.id, exc2)
            return
        self._count("retried")

    def _bury(self, item: Any, data: Any, name: str | None, reason: str, status: int | None) -> bool:
        """Move a sample to the dead-letter folder, count it, and tell ``on_dead_letter`` (False: lost)."""
        meta = {"reason": reason, "status_code": status, "callback": name}
        try:
            if item is None:  # a table is kept as its wire form: rows, with its columns in the metadata
                stored, fields = _wire(data)
                entry = self.queue.bury(None, stored, **fields, **meta)
            else:
                entry = self.queue.bury(item, None, **meta)
        except (DataError, StorageError) as exc:
            self._lose("dead-letter", "hard examples could not be kept in the dead-letter folder and are "
                                      "lost", f"{exc} ({reason})")
            return False
        self._count("dead_lettered")
        if self.on_dead_letter is not None:
            from ..transport.outbox import queued_at

            sample = _sample(item.data, item.meta) if item is not None else data
            letter = DeadLetter(entry, sample, reason, status, queued_at(entry))
            self._call_user(self.on_dead_letter, letter, entry)
        return True

    def _check_options(self) -> None:
        """Check the numeric options before any work, so a bad one fails :meth:`start`, not a drain."""
        check_count("max_queued", self.max_queued, low=0)
        self._max_age()
        self._max_attempts()
        check_number("retry_backoff", self.retry_backoff, 0)
        if self.report:  # a period of 0 or less would report in a busy loop
            check_variable("LC_PERIOD", self.context.config.lc_period, check_number, 0, low_open=True)

    def _max_age(self) -> float:
        if self.max_age is not None:
            return check_number("max_age", self.max_age, 0)
        return check_variable("SEDNA_OFFLOAD_MAX_AGE", self.context.config.offload_max_age, check_number, 0)

    def _max_attempts(self) -> int:
        if self.max_attempts is not None:
            return check_count("max_attempts", self.max_attempts)
        return check_variable("SEDNA_OFFLOAD_MAX_ATTEMPTS", self.context.config.offload_max_attempts,
                              check_count)

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
                _, stopped = self._drain_pass(wait=False)
            except SednaError as exc:
                logger.error("offload queue drain failed: %s", exc)
                stopped = _Failure.AWAY
            except Exception:  # a defect must not end the drain: the queue would wait for ever
                logger.exception("offload queue drain failed unexpectedly; trying again in %.0f s", pause)
                stopped = _Failure.AWAY
            if not len(self.queue):
                return
            if stopped is _Failure.CONFIG:
                wait = max(pause, _CONFIG_PAUSE)  # the deployment must change first
            elif stopped in (_Failure.AWAY, _Failure.BUSY):
                wait = pause  # the cloud is away, or another owner sends the queue: try again after a pause
            else:  # everything due was tried: wait for the next entry's own time
                due = self.queue.next_due()
                wait = pause if due is None else min(pause, max(0.01, due - time.time()))
            self._stop.wait(wait)

    def drain_offload_queue(self, limit: int | None = None, *, wait: bool = True) -> int:
        """Send queued hard examples to the cloud, oldest first, until the cloud is away or none is due.

        An example the cloud refuses (4xx) is dead-lettered; one it fails on (5xx, malformed
        reply) waits for its own retry time, and the examples behind it go first; examples older
        than ``max_age`` are dead-lettered without being sent.

        One drain of a queue folder runs at a time, across threads, ``JointInference`` instances
        and processes sharing the folder (a lock file in it), so no example is sent twice.

        Parameters
        ----------
        limit : int, default=None
            Most examples to send; all if None.
        wait : bool, default=True
            Wait for a drain of the same folder already running (here or in another process) to
            end, then send what it left; if False, return 0 at once instead.

        Returns
        -------
        int
            How many were delivered (and removed from the queue).

        Raises
        ------
        ParameterError
            If ``limit`` is not None or a whole number >= 0 (a NaN or a negative would send nothing).
        StorageError
            If the folder's lock file cannot be created or locked.
        """
        if limit is not None:
            limit = check_count("limit", limit, low=0)
        return self._drain_pass(limit, wait=wait)[0]

    def _drain_pass(self, limit: int | None = None, *, wait: bool = True) -> tuple[int, _Failure | None]:
        client = self.client
        # one drain at a time: two would send the same queued example twice. The thread lock keeps
        # this job's threads apart, the folder's lock other jobs and processes sharing the folder
        if not self._drain_lock.acquire(blocking=wait):
            return 0, _Failure.BUSY
        try:
            with self.queue.draining(wait=wait) as held:
                if not held:
                    return 0, _Failure.BUSY
                return self._send_queued(client, limit)
        finally:
            self._drain_lock.release()

    def _send_queued(self, client: Any, limit: int | None) -> tuple[int, _Failure | None]:
        """Send due queued examples (the caller holds the drain locks)."""
        sent = 0
        self._expire()
        while limit is None or sent < limit:
            batch = self.queue.due(limit=16 if limit is None else min(16, limit - sent))
            if not batch:
                break
            for item in batch:
                name = item.meta.get("callback")
                try:
                    result, applied = _ask(client, item.data, name, _fields(item.meta))
                except (TransportError, DataError) as exc:
                    kind = self._on_failure(item, item.data, name, exc)
                    if kind in (_Failure.AWAY, _Failure.CONFIG):
                        return sent, kind
                    continue
                if not applied and name:
                    callback = self._resolve(name)
                    if callback is not None:
                        try:
                            result = callback(result)
                        except Exception as exc:  # the user's callback: dead-lettered, the drain goes on
                            self._bury(item, None, name, f"post_process failed on the cloud's answer: "
                                                         f"{type(exc).__name__}: {exc}", None)
                            continue
                if self._away:  # the cloud is back, and the drain is the first to hear it
                    self._cloud_back(len(self.queue))
                if self.on_offloaded is not None:
                    queued = item.meta.get("queued_at", 0.0)
                    example = OffloadedExample(item.id, _sample(item.data, item.meta), result, queued)
                    self._call_user(self.on_offloaded, example, item.id)
                self.queue.remove(item.id)
                sent += 1
                self._count("replayed")
        return sent, None

    def _expire(self) -> None:
        max_age = self._max_age()
        if max_age <= 0:
            return
        stale = self.queue.older_than(time.time() - max_age)
        for item in stale:
            self._bury(item, None, item.meta.get("callback"),
                       f"expired: it waited more than {_age(max_age)} for the cloud (SEDNA_OFFLOAD_MAX_AGE)",
                       None)
        if stale:
            self._count("expired", len(stale))
            self._say_once("expired", f"{len(stale)} queued hard examples were older than {_age(max_age)} "
                                      f"and went to {self.queue.dead_letter_folder} instead of the cloud "
                                      f"(SEDNA_OFFLOAD_MAX_AGE)")

    def _call_user(self, fn: Callable[[Any], Any], arg: Any, entry: str) -> None:
        try:
            fn(arg)
        except Exception:  # the user's callback: counted and logged; what it was told about stands
            self._count("callback_failed")
            logger.exception("%s failed for the example %s", getattr(fn, "__name__", "callback"), entry)

    def __enter__(self) -> JointInference:
        """Start, and return the started job, for a ``with`` block."""
        return self.start()


def check_endpoint(endpoint: str) -> Any:
    """Return the parts of a cloud endpoint URL; ConfigError unless it is an http(s) URL with a host."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"big_model_endpoint must be an http(s) URL such as http://host:5000/service, "
                          f"got {endpoint!r}")
    return parts


def _client_for_endpoint(endpoint: str, cfg: Any) -> Any:
    from ..transport.http import InferenceClient

    parts = check_endpoint(endpoint)
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1] == "v1":  # an OpenAI-compatible API root (a language model's cloud)
        from ..transport.openai import OpenAIClient

        return OpenAIClient.from_config(cfg, url=endpoint.rstrip("/"))
    if segments and segments[-1] == "predict":
        segments.pop()
    return InferenceClient.from_config(cfg, url=f"{parts.scheme}://{parts.netloc}",
                                       service_name=segments[-1] if segments else "sedna")
