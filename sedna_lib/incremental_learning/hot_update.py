"""Model hot update: watch the LocalController's ``model_config.json`` and swap in new models atomically.

The LocalController deploys a model to an incremental-learning inference pod by copying it next to
``MODEL_HOT_UPDATE_CONFIG`` and rewriting that JSON file. :class:`ModelWatcher` polls the file every
``MODEL_POLL_PERIOD_SECONDS``; when its opaque ``model_update_time`` changes it loads the new model
into a *new* serving object, beside the one that serves, and only then replaces the reference held
by a :class:`ModelSlot`. Readers take the reference once per call, so a prediction runs entirely on
the old model or entirely on the new one, never on a half-loaded one. A model that fails to load
leaves the old one serving and is reported as a failed deploy.
"""

from __future__ import annotations

import copy
import enum
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Generic, NamedTuple, TypeVar

from .._json import loads as json_loads
from ..base import check_number
from ..exceptions import DataError, SednaError, StorageError, StorageNotFoundError
from ..storage.local import atomic_path

__all__ = [
    "ModelConfig",
    "ModelLoadingThread",
    "ModelSlot",
    "ModelWatcher",
    "UpdateEvent",
    "UpdateStatus",
    "clone_estimator",
    "dump_model_config",
    "fresh_backend",
    "parse_model_config",
    "write_model_config",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What the LocalController writes, for error messages.
_CONFIG_SHAPE = '{"model_config": {"model_path": ..., "model_update_time": ...}}'


# -- the wire format ------------------------------------------------------------------------------

class ModelConfig(NamedTuple):
    """The content of the LocalController's ``model_config.json``.

    Attributes
    ----------
    model_path : str
        The model to deploy, as the worker sees it (``/model-hot-update/<name>``).
    model_update_time : str
        An opaque version token (Go's ``time.Now().String()``): any change means a new model.
        It is compared as a string and never parsed as a date.
    """

    model_path: str
    model_update_time: str


def parse_model_config(data: bytes | str, *, source: str = "model_config.json") -> ModelConfig:
    """Parse the JSON the LocalController writes for a hot update.

    Parameters
    ----------
    data : bytes or str
        The file content: ``{"model_config": {"model_path": ..., "model_update_time": ...}}``.
    source : str, default='model_config.json'
        Where it came from, for error messages.

    Returns
    -------
    ModelConfig
        The model path and the version token (converted to ``str`` whatever its JSON type).

    Raises
    ------
    DataError
        If the text is not JSON or lacks ``model_config.model_path``/``model_update_time``.

    Examples
    --------
    >>> parse_model_config('{"model_config": {"model_path": "/m/a.pkl", "model_update_time": "t1"}}')
    ModelConfig(model_path='/m/a.pkl', model_update_time='t1')
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{source} is not UTF-8 text: {exc}") from None
    try:
        doc = json_loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source} is not JSON ({exc.msg} at char {exc.pos}); the LocalController "
                        f"writes {_CONFIG_SHAPE}") from None
    section = doc.get("model_config") if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        raise DataError(f"{source} has no 'model_config' object; got {str(data)[:200]!r}")
    path = section.get("model_path")
    version = section.get("model_update_time")
    if not isinstance(path, str) or not path:
        raise DataError(f"{source}: model_config.model_path must be a non-empty string, got {path!r}")
    if version is None or version == "":
        raise DataError(f"{source}: model_config.model_update_time is missing")
    return ModelConfig(model_path=path, model_update_time=str(version))


def dump_model_config(model_path: str, model_update_time: str) -> str:
    """Render a ``model_config.json`` byte-for-byte as the LocalController does.

    Go's ``json.MarshalIndent(config, "", " ")``: sorted keys, a one-space indent, no trailing
    newline, non-ASCII kept and ``<``, ``>``, ``&`` escaped.

    Parameters
    ----------
    model_path : str
        The model file to deploy.
    model_update_time : str
        The new version token.

    Returns
    -------
    str
        The file content.

    Examples
    --------
    >>> print(dump_model_config("/model-hot-update/model.pkl", "v2"))
    {
     "model_config": {
      "model_path": "/model-hot-update/model.pkl",
      "model_update_time": "v2"
     }
    }
    """
    doc = {"model_config": {"model_path": model_path, "model_update_time": model_update_time}}
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_model_config(config_path: str | os.PathLike, model_path: str,
                       model_update_time: str | None = None) -> str:
    """Write a ``model_config.json`` atomically (a local stand-in for the LocalController's deploy step).

    Parameters
    ----------
    config_path : path-like
        The file to (over)write; its folder is created.
    model_path : str
        The model to deploy.
    model_update_time : str, default=None
        The version token; ``None`` makes a fresh one from the clock.

    Returns
    -------
    str
        The version token written.
    """
    version = model_update_time if model_update_time is not None else f"{time.time_ns()}"
    with atomic_path(os.fspath(config_path)) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(dump_model_config(model_path, version))
    return version


# -- the serving reference --------------------------------------------------------------------------

class ModelSlot(Generic[T]):
    """A reference to the serving model that is replaced atomically.

    Readers call :meth:`get` once per request and use what they got for the whole request; a
    writer builds the new model completely and then calls :meth:`swap`. Replacing one attribute is
    atomic in CPython, so the read path takes no lock.

    Parameters
    ----------
    model : object
        The model that serves first.
    version : str, default=''
        Its version token.

    Attributes
    ----------
    swaps_ : int
        Swaps done so far.

    Examples
    --------
    >>> slot = ModelSlot("old")
    >>> slot.swap("new", version="v2")
    'old'
    >>> slot.get(), slot.version, slot.swaps_
    ('new', 'v2', 1)
    """

    def __init__(self, model: T, *, version: str = "") -> None:
        self._state = (model, version)
        self._write_lock = threading.Lock()
        self._changed = threading.Condition(self._write_lock)
        self.swaps_ = 0

    def get(self) -> T:
        """Return the serving model (take it once per request)."""
        return self._state[0]

    @property
    def version(self) -> str:
        """The version token of the serving model."""
        return self._state[1]

    def snapshot(self) -> tuple[T, str]:
        """Return the serving model and its version, read together.

        Returns
        -------
        tuple
            ``(model, version)``.
        """
        return self._state

    def swap(self, model: T, *, version: str = "") -> T:
        """Make ``model`` the serving one and return the one it replaces.

        Parameters
        ----------
        model : object
            The fully loaded new model.
        version : str, default=''
            Its version token.

        Returns
        -------
        object
            The previous model (still usable by requests that hold it).
        """
        with self._changed:
            old = self._state[0]
            self._state = (model, version)
            self.swaps_ += 1
            self._changed.notify_all()
        return old

    def wait_for_version(self, version: str, timeout: float | None = None) -> bool:
        """Block until the serving version equals ``version``.

        Parameters
        ----------
        version : str
            The version to wait for.
        timeout : float, default=None
            Seconds to wait at most; ``None`` waits forever.

        Returns
        -------
        bool
            Whether that version serves now.
        """
        with self._changed:
            return self._changed.wait_for(lambda: self._state[1] == version, timeout)


# -- the watcher ------------------------------------------------------------------------------------

class UpdateStatus(str, enum.Enum):
    """What one poll of the hot-update config found."""

    NO_CONFIG = "no-config"
    UNCHANGED = "unchanged"
    MISSING_MODEL = "missing-model"
    DEPLOYED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class UpdateEvent:
    """The outcome of one poll.

    Attributes
    ----------
    status : UpdateStatus
        What happened.
    version : str
        The version token read from the config ('' when there was none).
    model_path : str
        The model the config names.
    seconds : float
        Time spent fetching and loading.
    error : str
        Why it failed, for FAILED (and for a config that could not be read).
    """

    status: UpdateStatus
    version: str = ""
    model_path: str = ""
    seconds: float = 0.0
    error: str = ""


def _is_url(path: str) -> bool:
    return "://" in path


class ModelWatcher(threading.Thread):
    """Poll a hot-update config and swap newly deployed models into a :class:`ModelSlot`.

    The thread is a daemon and waits on an event between polls, so :meth:`stop` ends it at once.
    A poll never raises: a missing or malformed config is logged and retried at the next poll; a
    model that fails to load is reported as a failed deploy and not retried until the version
    changes again.

    Parameters
    ----------
    slot : ModelSlot
        Holds the serving model; the watcher replaces its reference.
    config_path : str
        ``MODEL_HOT_UPDATE_CONFIG``: a local path, or a URL the storage layer can read.
    loader : callable
        ``loader(model_path) -> model``: builds a *new* serving object from a local model file
        (for instance a fresh backend whose ``load`` was called). It must not touch the serving one.
    period : float, default=60.0
        Seconds between polls (``MODEL_POLL_PERIOD_SECONDS``); a finite number > 0, checked by
        :meth:`start`.
    report : callable, default=None
        ``report(task_info=None, status="completed"|"failed", kind="deploy")`` after each deploy
        attempt: the signature of :meth:`sedna_lib.job.JobBase.report_task_info`.
    storage : object, default=None
        A :class:`~sedna_lib.storage.StorageRouter` for configs and models given as URLs.
    work_dir : str, default=None
        Where models given as URLs are downloaded; a temporary folder by default. Each
        download is deleted once the next model replaces it.
    initial_version : str, default=''
        The version already serving; a config with this token is not reloaded.

    Attributes
    ----------
    events_ : list of UpdateEvent
        The last 100 deploy attempts (DEPLOYED or FAILED), oldest first.
    polls_ : int
        Polls done so far.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> cfg = os.path.join(folder, "model_config.json")
    >>> slot = ModelSlot("model-a")
    >>> def loader(path):
    ...     return "model-from-" + os.path.basename(path)
    >>> watcher = ModelWatcher(slot, config_path=cfg, loader=loader)
    >>> watcher.poll_once().status.value
    'no-config'
    >>> with open(os.path.join(folder, "b.pkl"), "wb") as fh:
    ...     _ = fh.write(b"weights")
    >>> version = write_model_config(cfg, os.path.join(folder, "b.pkl"), "v2")
    >>> watcher.poll_once().status.value, slot.get()
    ('completed', 'model-from-b.pkl')
    """

    def __init__(self, slot: ModelSlot, *, config_path: str, loader: Callable[[str], Any],
                 period: float = 60.0, report: Callable[..., Any] | None = None, storage: Any = None,
                 work_dir: str | None = None, initial_version: str = "") -> None:
        super().__init__(name="sedna-model-watcher", daemon=True)
        self.slot = slot
        self.config_path = config_path
        self.loader = loader
        self.period = period
        self.report = report
        self.storage = storage
        self.work_dir = work_dir
        self.initial_version = initial_version
        self.events_: list[UpdateEvent] = []
        self.polls_ = 0
        self._stop_event = threading.Event()
        self._poll_lock = threading.RLock()
        self._polls_guard = threading.Lock()  # guards the next two
        self._polls_active = 0  # poll_once calls begun and not ended
        self._cleanup_pending = False  # stop() gave up waiting for a poll: the poll deletes the downloads
        self._seen_version: str | None = None
        self._download: str | None = None
        self._tmp_root: str | None = None
        self._started_period: float | None = None  # the period start() checked, for run()

    # -- thread control ---------------------------------------------------------------------------

    def start(self) -> None:
        """Check :attr:`period`, then start polling in the thread.

        Raises
        ------
        ParameterError
            If ``period`` is not a finite number of seconds > 0 (0, a negative or a NaN would
            poll in a busy loop, an infinity would kill the thread after the first poll).
        """
        self._started_period = self._check_period()
        super().start()

    def _check_period(self) -> float:
        return check_number("period", self.period, 0, low_open=True)

    def run(self) -> None:
        """Poll immediately, then every :attr:`period` seconds until :meth:`stop`."""
        period, self._started_period = self._started_period, None  # what start() checked, used once
        if period is None:  # run() called without start()
            period = self._check_period()
        while not self._stop_event.is_set():
            self.poll_once()
            if self._stop_event.wait(period):
                break

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop polling, wait for the thread, and delete downloaded models.

        Returns within ``timeout`` even while a poll is still loading a model: that poll then
        finishes on its own, no other follows, and it deletes the downloads as it ends.

        Parameters
        ----------
        timeout : float, default=5.0
            Seconds to wait for a poll in progress; None waits for it as long as it takes.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        left = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._poll_lock.acquire(timeout=left):  # a poll (in another thread) runs on
            with self._polls_guard:
                handed_over = self._polls_active > 0
                self._cleanup_pending = handed_over
            if handed_over:  # that poll deletes the downloads as it ends
                logger.warning("hot update: a poll of %s was still running after %s s; the watcher stops "
                               "when it ends", self.config_path, timeout)
                return
            self._poll_lock.acquire()  # the poll has just ended: only its release was left
        try:
            self._delete_downloads()
        finally:
            self._poll_lock.release()

    def _delete_downloads(self) -> None:
        """Delete the downloaded models (the caller holds the poll lock)."""
        if self._tmp_root is not None:
            shutil.rmtree(self._tmp_root, ignore_errors=True)
            self._tmp_root = None
            self._download = None

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop_event.is_set()

    # -- one poll ---------------------------------------------------------------------------------

    def poll_once(self) -> UpdateEvent:
        """Read the config once and deploy its model if the version changed.

        Returns
        -------
        UpdateEvent
            What happened; never raises.
        """
        with self._polls_guard:
            self._polls_active += 1
        with self._poll_lock:
            self.polls_ += 1
            try:
                return self._poll()
            except Exception as exc:  # the thread must survive anything; the event records it
                logger.exception("hot update: unexpected error while polling %s", self.config_path)
                return UpdateEvent(UpdateStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            finally:
                with self._polls_guard:
                    self._polls_active -= 1
                    cleanup = self._cleanup_pending and not self._polls_active
                    if cleanup:
                        self._cleanup_pending = False
                if cleanup:  # stop() did not wait for this poll: the downloads go now
                    self._delete_downloads()

    def _read_config(self) -> bytes | None:
        if _is_url(self.config_path):
            if self.storage is None:
                raise StorageError(f"{self.config_path} is a URL but the watcher has no storage",
                                   uri=self.config_path)
            try:
                return self.storage.read_bytes(self.config_path)
            except StorageNotFoundError:
                return None
        try:
            with open(self.config_path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def _poll(self) -> UpdateEvent:
        try:
            raw = self._read_config()
        except (OSError, SednaError) as exc:
            logger.warning("hot update: cannot read %s: %s; retrying in %ss", self.config_path, exc,
                           self.period)
            return UpdateEvent(UpdateStatus.NO_CONFIG, error=str(exc))
        if raw is None:
            return UpdateEvent(UpdateStatus.NO_CONFIG)
        try:
            cfg = parse_model_config(raw, source=self.config_path)
        except DataError as exc:
            # The LC rewrites the file in place; a torn read is retried at the next poll.
            logger.warning("hot update: %s; retrying in %ss", exc, self.period)
            return UpdateEvent(UpdateStatus.NO_CONFIG, error=str(exc))
        seen = self._seen_version if self._seen_version is not None else self.initial_version
        if cfg.model_update_time == seen:
            return UpdateEvent(UpdateStatus.UNCHANGED, cfg.model_update_time, cfg.model_path)
        return self._deploy(cfg)

    def _fetch_model(self, cfg: ModelConfig) -> str | None:
        """Return a local path for the model, or None if it is not there (yet)."""
        if not _is_url(cfg.model_path):
            return cfg.model_path if os.path.exists(cfg.model_path) else None
        if self.storage is None:
            raise StorageError(f"model {cfg.model_path} is a URL but the watcher has no storage",
                               uri=cfg.model_path)
        if self._tmp_root is None:
            if self.work_dir:
                os.makedirs(self.work_dir, exist_ok=True)
            self._tmp_root = tempfile.mkdtemp(prefix="sedna-hot-update-", dir=self.work_dir or None)
        safe_version = "".join(c if c.isalnum() or c in "-_." else "_" for c in cfg.model_update_time)[:80]
        name = os.path.basename(cfg.model_path.rstrip("/")) or "model"
        dst = os.path.join(self._tmp_root, f"model.{safe_version}", name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            return self.storage.download(cfg.model_path, dst)
        except StorageNotFoundError:
            shutil.rmtree(os.path.dirname(dst), ignore_errors=True)
            return None

    def _discard(self, path: str | None) -> None:
        if path and self._tmp_root and path.startswith(self._tmp_root):
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)

    def _deploy(self, cfg: ModelConfig) -> UpdateEvent:
        started = time.perf_counter()
        try:
            local = self._fetch_model(cfg)
        except (OSError, SednaError) as exc:
            logger.warning("hot update: cannot fetch %s: %s; retrying in %ss", cfg.model_path, exc,
                           self.period)
            return UpdateEvent(UpdateStatus.MISSING_MODEL, cfg.model_update_time, cfg.model_path,
                               error=str(exc))
        if local is None:
            logger.warning("hot update: version %s names %s, which does not exist; retrying in %ss",
                           cfg.model_update_time, cfg.model_path, self.period)
            return UpdateEvent(UpdateStatus.MISSING_MODEL, cfg.model_update_time, cfg.model_path)
        self._seen_version = cfg.model_update_time  # a bad model is reported once, not every poll
        try:
            new_model = self.loader(local)
            _check_replaces(new_model, self.slot.get())
        except Exception as exc:  # user loaders raise anything; the old model keeps serving
            self._discard(local)
            event = UpdateEvent(UpdateStatus.FAILED, cfg.model_update_time, cfg.model_path,
                                time.perf_counter() - started, f"{type(exc).__name__}: {exc or repr(exc)}")
            logger.error("hot update: loading %s (version %s) failed: %s; the previous model keeps serving",
                         cfg.model_path, cfg.model_update_time, event.error)
            self._record(event)
            return event
        self.slot.swap(new_model, version=cfg.model_update_time)
        self._discard(self._download)
        self._download = local if local != cfg.model_path else None
        event = UpdateEvent(UpdateStatus.DEPLOYED, cfg.model_update_time, cfg.model_path,
                            time.perf_counter() - started)
        logger.info("hot update: now serving %s (version %s, loaded in %.3fs)", cfg.model_path,
                    cfg.model_update_time, event.seconds)
        self._record(event)
        return event

    def _record(self, event: UpdateEvent) -> None:
        self.events_.append(event)
        del self.events_[:-100]
        if self.report is None:
            return
        try:
            self.report(task_info=None, status=event.status.value, kind="deploy")
        except Exception:  # a report must never take the watcher down; the event is kept above
            logger.exception("hot update: the deploy report callback failed")


# -- loading beside the serving model ---------------------------------------------------------------

def clone_estimator(estimator: Any) -> Any:
    """Return a private, equivalent estimator to load a model into, leaving ``estimator`` untouched.

    A class or factory is returned as is (the backend instantiates it); a Keras model is cloned
    with ``keras.models.clone_model``; anything else is deep-copied.

    Parameters
    ----------
    estimator : object
        The user's estimator (class, factory or instance).

    Returns
    -------
    object
        An independent estimator.

    Raises
    ------
    BackendError
        If an instance cannot be copied (pass its class instead).
    """
    from ..backends.base import framework_of, is_factory
    from ..exceptions import BackendError

    if is_factory(estimator):
        return estimator
    if framework_of(estimator) == "keras":
        import keras

        return keras.models.clone_model(estimator)
    try:
        return copy.deepcopy(estimator)
    except (TypeError, copy.Error, AttributeError, RuntimeError) as exc:
        raise BackendError(f"cannot copy {type(estimator).__name__} to load a new model beside the serving "
                           f"one ({exc}); pass the estimator class (or a factory) instead of an "
                           f"instance") from exc


def fresh_backend(backend: Any) -> Any:
    """Return a new backend like ``backend`` around a private estimator, with nothing loaded.

    Parameters
    ----------
    backend : Backend
        The serving backend.

    Returns
    -------
    Backend
        The copy, ready for ``load``.
    """
    new = copy.copy(backend)
    new.estimator = clone_estimator(backend.estimator)
    new.has_load = False
    return new


class ModelLoadingThread(ModelWatcher):
    """Sedna's hot-update thread (``sedna.core.base.ModelLoadingThread``), made safe.

    It polls ``MODEL_HOT_UPDATE_CONFIG`` every ``MODEL_POLL_PERIOD_SECONDS`` and loads each new
    model into a copy of the serving backend, then swaps it in; the serving backend is
    :attr:`estimator`. Unlike Sedna's, it is a daemon, never loads in place, and stops with
    :meth:`stop`.

    Parameters
    ----------
    estimator : Backend
        The serving backend.
    callback : callable, default=None
        ``callback(task_info=None, status=..., kind="deploy")`` after each deploy attempt.
    version : str, default='latest'
        The version serving now (Sedna's initial value is ``'latest'``).
    context : Context, default=None
        Where the settings come from; the environment's context when None.

    Examples
    --------
    >>> from sedna_lib.config import Config
    >>> from sedna_lib.context import Context
    >>> context = Context(Config(model_hot_update_config="/nonexistent.json"))
    >>> thread = ModelLoadingThread("backend", context=context)
    >>> thread.estimator, thread.period
    ('backend', 60)
    """

    def __init__(self, estimator: Any, callback: Callable[..., Any] | None = None, version: str = "latest", *,
                 context: Any = None) -> None:
        from ..context import resolve

        context = resolve(context)
        cfg = context.config
        path = cfg.model_hot_update_config or ""
        super().__init__(ModelSlot(estimator, version=version), config_path=path,
                         loader=self._load, period=cfg.model_poll_period_seconds, report=callback,
                         storage=context.storage if _is_url(path) else None,
                         work_dir=os.path.join(cfg.work_dir, "hot_update"), initial_version=version)
        self.name = "ModelLoadingThread"

    @property
    def estimator(self) -> Any:
        """The serving backend (take it once per request)."""
        return self.slot.get()

    def _load(self, path: str) -> Any:
        new = fresh_backend(self.slot.get())
        new.load(model_url=path)
        return new

    def run(self) -> None:
        """Poll until stopped; return at once when ``MODEL_HOT_UPDATE_CONFIG`` is unset (as Sedna does)."""
        if not self.config_path:
            logger.warning("MODEL_HOT_UPDATE_CONFIG is not set; model hot update is off")
            return
        super().run()


def _check_replaces(new: Any, old: Any) -> None:
    """Refuse a model that loads but could not answer what the serving one answers.

    Compared where both models say it (scikit-learn's ``n_features_in_`` and estimator kind,
    through a backend's ``estimator`` too): a model of another input width, or a regressor replacing a
    classifier, would fail or answer nonsense on every request after the swap.

    Raises
    ------
    DataError
        Naming what differs.
    """
    if old is None:
        return
    new_est, old_est = getattr(new, "estimator", new), getattr(old, "estimator", old)
    width_new, width_old = getattr(new_est, "n_features_in_", None), getattr(old_est, "n_features_in_", None)
    if width_new is not None and width_old is not None and int(width_new) != int(width_old):
        raise DataError(f"the new model takes {int(width_new)} features; the serving one takes "
                        f"{int(width_old)}")
    kind_new, kind_old = _kind(new_est), _kind(old_est)
    if kind_new is not None and kind_old is not None and kind_new != kind_old:
        raise DataError(f"the new model is a {kind_new}; the serving one is a {kind_old}")


def _kind(estimator: Any) -> str | None:
    """Return 'classifier' or 'regressor' for a scikit-learn estimator (None for anything else)."""
    base = sys.modules.get("sklearn.base")  # loaded with any scikit-learn model; never imported for this
    if base is None or not isinstance(estimator, base.BaseEstimator):
        return None
    if base.is_classifier(estimator):
        return "classifier"
    return "regressor" if base.is_regressor(estimator) else None
