"""Worker to LocalController reports: the message builder, a client that never raises, a periodic reporter."""

from __future__ import annotations

import datetime as _dt
import enum
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .._json import json_default
from ..base import check_number
from ..exceptions import ParameterError
from ..observability.logs import RateLimitedLog
from ..config import redact_text, redact_uri
from ._requests import check_retries, check_timeout

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

__all__ = ["OwnerKind", "OWNER_KINDS", "FORWARDED_OWNER_KINDS", "DEFAULT_WORKER_NAME", "Report", "LCClient",
           "PeriodicReporter", "report_path"]

logger = logging.getLogger(__name__)


class OwnerKind(str, enum.Enum):
    """The owner kind a worker reports to the LocalController (``ownerKind``; Sedna's ``K8sResourceKind``).

    The LocalController forwards a report only when this names one of its managers
    (:data:`FORWARDED_OWNER_KINDS`); ``default`` is dropped.
    """

    DEFAULT = "default"
    REID_JOB = "reidjob"
    VIDEO_ANALYTICS_JOB = "videoanalyticsjob"
    FEATURE_EXTRACTION_SERVICE = "featureextractionservice"
    JOINT_INFERENCE_SERVICE = "jointinferenceservice"
    FEDERATED_LEARNING_JOB = "federatedlearningjob"
    INCREMENTAL_JOB = "incrementallearningjob"
    LIFELONG_JOB = "lifelonglearningjob"


OWNER_KINDS = frozenset(kind.value for kind in OwnerKind)
"""Every ``ownerKind`` value a worker may send."""

FORWARDED_OWNER_KINDS = frozenset({
    OwnerKind.JOINT_INFERENCE_SERVICE.value, OwnerKind.FEDERATED_LEARNING_JOB.value,
    OwnerKind.INCREMENTAL_JOB.value, OwnerKind.LIFELONG_JOB.value,
})
"""The ``ownerKind`` values the LocalController forwards to the GlobalManager; others are dropped."""

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

DEFAULT_WORKER_NAME = "sedna"
"""The worker name reports use when none is given (``WORKER_NAME``, ``JOB_NAME`` and ``SERVICE_NAME``
unset): Sedna's default job name, which its workers fall back to."""

_REPEAT_INTERVAL = 600.0  # seconds between two lines about the same repeated report failure

_REPORTS_OFF = {
    OwnerKind.JOINT_INFERENCE_SERVICE.value:
        "JointInference(..., report=False) (LCReporter_enable=False in Sedna's JointInference)",
    OwnerKind.INCREMENTAL_JOB.value: "IncrementalLearning(..., report=False)",
    OwnerKind.FEDERATED_LEARNING_JOB.value:
        "FederatedLearning(..., report=False) (collaborative_training.fit reports only when JOB_NAME is set)",
    OwnerKind.LIFELONG_JOB.value: "LifelongLearning(..., report=False)",
}
"""How a job of each reporting ``ownerKind`` turns its reports off: the option its class takes."""


def _no_lc_advice(owner_kind: Any) -> str:
    """Return what a job of ``owner_kind`` can do about an unreachable LocalController (said with it)."""
    kind = str(getattr(owner_kind, "value", owner_kind) or "")
    switch = _REPORTS_OFF.get(kind)
    if switch:
        return f"; outside a Sedna cluster, turn reports off: {switch}"
    return "; outside a Sedna cluster the reports have nowhere to go, and are dropped"


_SAID_MAX = 64
"""Distinct report failures (URL and reason) an :class:`LCClient` remembers having said, the most
recent ones: a failure seen again while remembered is not said again at once."""


def report_path(worker_name: str) -> str:
    """Return the LocalController path of a worker's reports.

    Parameters
    ----------
    worker_name : str
        The worker (``WORKER_NAME``).

    Returns
    -------
    str
        ``/sedna/workers/{worker_name}/info``.

    Examples
    --------
    >>> report_path("edgeworker-abcde")
    '/sedna/workers/edgeworker-abcde/info'
    """
    return f"/sedna/workers/{worker_name}/info"


@dataclass(frozen=True)
class Report:
    """One report body, as the LocalController decodes it (``MessageContent``).

    Parameters
    ----------
    name : str
        The worker name; must equal the URL's worker segment, or the LC answers 400.
    namespace : str
        The job's namespace.
    owner_name : str
        The owning custom resource's name.
    owner_kind : str
        One of :data:`OWNER_KINDS`; only :data:`FORWARDED_OWNER_KINDS` reach the GlobalManager.
    kind : str
        The phase: ``train``, ``eval``, ``deploy`` or ``inference``.
    status : str, default=None
        ``running``, ``completed`` or ``failed``; omitted from the body when None (inference reports).
    results : list of dict, default=None
        Model entries (``format``, ``url``, ``metrics``); omitted when None.
    owner_info : dict, default=None
        Feature-specific information; omitted when None.

    Examples
    --------
    >>> Report("w", "ns", "job", "incrementallearningjob", "train", "completed",
    ...        results=[{"format": "pb", "url": "/m.pb", "metrics": {}}]).to_dict()["ownerKind"]
    'incrementallearningjob'
    """

    name: str
    namespace: str
    owner_name: str
    owner_kind: str
    kind: str
    status: str | None = None
    results: Sequence[Mapping[str, Any]] | None = None
    owner_info: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body, keys in Sedna's order.

        Returns
        -------
        dict
            ``{name, namespace, ownerName, ownerKind, kind[, status][, results][, ownerInfo]}``.

        Raises
        ------
        ParameterError
            If ``owner_kind`` is unknown or ``results`` is not a list of objects (the LocalController
            would reject the body).
        """
        owner_kind = getattr(self.owner_kind, "value", self.owner_kind)
        if owner_kind not in OWNER_KINDS:
            raise ParameterError(f"ownerKind {owner_kind!r} is not a Sedna resource kind; "
                                 f"use one of {sorted(OWNER_KINDS)}")
        body: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "ownerName": self.owner_name,
            "ownerKind": owner_kind,
            "kind": getattr(self.kind, "value", self.kind),
        }
        if self.status is not None:
            body["status"] = getattr(self.status, "value", self.status)
        if self.results is not None:
            if isinstance(self.results, (str, bytes, Mapping)) or not all(
                    isinstance(item, Mapping) for item in self.results):
                raise ParameterError("report results must be a list of objects such as {'format': 'pb', "
                                     f"'url': ..., 'metrics': {{...}}}}, got {self.results!r}")
            body["results"] = [dict(item) for item in self.results]
        if self.owner_info is not None:
            body["ownerInfo"] = dict(self.owner_info)
        return body


class LCClient:
    """Posts reports to the LocalController; bounded timeouts and retries, and it never raises.

    Parameters
    ----------
    lc_server : str
        The LocalController base URL (``LC_SERVER``), for example ``http://127.0.0.1:9100``.
    timeout : tuple of (float, float), default=(3.0, 5.0)
        Connect and read timeouts of one attempt, in seconds.
    max_retries : int, default=2
        Extra attempts after a connection error, a timeout or a 5xx answer (4xx is final).
    backoff : float, default=0.5
        Seconds before the first retry, doubled for each further one.

    Notes
    -----
    A failure is logged once as a WARNING; the same failure again (same URL, same reason) is
    counted and said at most once every 10 minutes, and at :meth:`close`, with the count and the
    time since the last line about it (``failed 2 more times in the last 4.0 s``). The last 64
    distinct failures are remembered: a reason older than those is said again as new (its repeats
    not said yet are said when it is forgotten). A LocalController that cannot be reached is said
    in one line naming ``LC_SERVER`` (the connection error's details are DEBUG), with what the
    reporting job can do about it: each reporting job takes ``report=False`` (Sedna's
    ``JointInference`` also ``LCReporter_enable=False``), and the line names that job's. URLs are
    shown with the password of their userinfo and their query values hidden. A
    report without a worker name goes to the worker
    :data:`DEFAULT_WORKER_NAME` (Sedna's default job name), with a WARNING that ``WORKER_NAME``
    is unset, instead of to ``/sedna/workers//info``.

    Attributes
    ----------
    sent_ : int
        Reports the LocalController accepted.
    failures_ : int
        Reports that failed after all attempts.
    last_error_ : str or None
        Why the last failed report failed.

    Examples
    --------
    >>> client = LCClient("http://127.0.0.1:9100", timeout=(0.5, 1.0))
    >>> client.url_for("w1")
    'http://127.0.0.1:9100/sedna/workers/w1/info'
    """

    def __init__(self, lc_server: str, *, timeout: tuple[float, float] = (3.0, 5.0), max_retries: int = 2,
                 backoff: float = 0.5) -> None:
        self.lc_server = lc_server
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.sent_ = 0
        self.failures_ = 0
        self.last_error_: str | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        # failures already logged, keyed by (url, reason), with their repeats since the last line about each;
        # the clock is looked up on each call (a test moves this module's time)
        self._said = RateLimitedLog(logger, interval=_REPEAT_INTERVAL, max_keys=_SAID_MAX,
                                    clock=lambda: time.monotonic())
        self._said_no_worker = False  # the WARNING that WORKER_NAME is unset was logged

    @classmethod
    def from_config(cls, config: Config) -> LCClient:
        """Build a client from ``LC_SERVER`` and the timeout and retry settings.

        Parameters
        ----------
        config : Config
            The configuration.

        Returns
        -------
        LCClient
            The client.
        """
        return cls(config.lc_server, timeout=(config.connect_timeout_s, config.request_timeout),
                   max_retries=max(0, config.max_retries))

    def url_for(self, worker_name: str) -> str:
        """Return the report URL of ``worker_name``.

        Parameters
        ----------
        worker_name : str
            The worker.

        Returns
        -------
        str
            ``{lc_server}/sedna/workers/{worker_name}/info``.
        """
        return self.lc_server.rstrip("/") + report_path(worker_name)

    def _fail(self, url: str, reason: str, advice: str = "") -> bool:
        with self._lock:
            self.failures_ += 1
            self.last_error_ = reason
        shown = redact_uri(url)
        # said once with the advice; its repeats are counted and said with the time since the last line
        repeats = (f"LocalController report to {_literal(shown)} failed {{count}} more {{times}} "
                   f"in the last {{span}}: {_literal(reason)}")
        first = f"LocalController report to {shown} failed: {reason}{advice}"
        self._said.add((url, reason), repeats, first=first)
        return False

    def _flush_repeats(self) -> None:
        """Say the repeats counted since the last line of each failure."""
        self._said.flush()

    def _worker(self, worker_name: str, body: dict[str, Any]) -> str:
        """Return the URL segment: ``worker_name``, else the body's name, else the default name."""
        name = worker_name or str(body.get("name") or "")
        if name:
            return name
        with self._lock:
            first = not self._said_no_worker
            self._said_no_worker = True
        if first:
            logger.warning("WORKER_NAME is unset (and so are JOB_NAME and SERVICE_NAME): LocalController "
                           "reports go as worker %r; set WORKER_NAME (a cluster's control plane sets it)",
                           DEFAULT_WORKER_NAME)
        if not body.get("name"):
            body["name"] = DEFAULT_WORKER_NAME  # the LocalController requires it to equal the URL's segment
        return DEFAULT_WORKER_NAME

    def send(self, worker_name: str, message: Report | Mapping[str, Any], *,
             timeout: float | None = None) -> bool:
        """POST one report; return whether the LocalController accepted it.

        Never raises: an unreachable, hanging or refusing LocalController, or a message that
        cannot be encoded, counts a failure (``failures_``, ``last_error_``) and returns False.

        Parameters
        ----------
        worker_name : str
            The worker (URL segment; the LocalController requires it to equal ``message["name"]``).
            If empty, ``message["name"]``; if that is empty too, :data:`DEFAULT_WORKER_NAME` (for
            both, with a WARNING, once, that ``WORKER_NAME`` is unset).
        message : Report or dict
            The body.
        timeout : float, default=None
            Longest time, in seconds, for all the attempts and the waits between them together: each
            attempt's timeouts are cut to the time left, and no attempt starts once it is spent
            (a report sent while a job closes). None: each attempt has the client's ``timeout``, and
            all ``max_retries`` are made.

        Returns
        -------
        bool
            True on a 2xx answer.
        """
        try:
            body = message.to_dict() if isinstance(message, Report) else dict(message)
        except (ParameterError, TypeError, ValueError) as exc:
            return self._fail(self.url_for(worker_name), f"the message cannot be sent: {exc}")
        url = self.url_for(self._worker(worker_name, body))
        try:
            data = json.dumps(body, default=json_default).encode("utf-8")
        except (ParameterError, TypeError, ValueError) as exc:
            return self._fail(url, f"the message cannot be sent: {exc}")
        try:
            timeouts = check_timeout(self.timeout)
            max_retries, delay = check_retries(self.max_retries, self.backoff)
            limit = None if timeout is None else check_number("timeout", timeout, 0, low_open=True)
        except ParameterError as exc:  # said, counted, and never sent with a timeout that cannot work
            return self._fail(url, f"the client is misconfigured: {exc}")
        import requests

        deadline = None if limit is None else time.monotonic() + limit
        reason, advice = "not attempted", ""
        for attempt in range(max_retries + 1):
            attempt_timeout: Any = timeouts
            if deadline is not None:
                left = deadline - time.monotonic()
                if attempt and left <= delay:  # no time for the wait and another attempt
                    break
                left -= delay if attempt else 0.0
                attempt_timeout = _cut(timeouts, left)
            if attempt:
                if self._closed.wait(delay):
                    break
                delay *= 2
            try:
                response = requests.post(url, data=data, timeout=attempt_timeout,
                                         headers={"Content-Type": "application/json"})
            except requests.Timeout as exc:
                within = self.timeout if attempt_timeout is timeouts else f"the report's limit of {limit:g}"
                reason, advice = f"no answer within {within} s ({type(exc).__name__})", ""
                continue
            except requests.ConnectionError as exc:  # refused, no route, unknown host: nothing listens
                shown = redact_uri(self.lc_server)
                logger.debug("LocalController report to %s: %s", redact_uri(url), redact_text(str(exc), url))
                reason = f"ConnectionError: no LocalController reachable at LC_SERVER={shown}"
                advice = _no_lc_advice(body.get("ownerKind"))
                continue
            except (requests.RequestException, OSError, ValueError) as exc:
                reason, advice = f"{type(exc).__name__}: {redact_text(str(exc), url)}", ""
                if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                                    requests.exceptions.InvalidSchema)):
                    break
                continue
            if 200 <= response.status_code < 300:
                with self._lock:
                    self.sent_ += 1
                return True
            reason, advice = f"HTTP {response.status_code}: {response.text[:200]}", ""
            if response.status_code < 500:
                break
        return self._fail(url, reason, advice)

    def close(self) -> None:
        """Interrupt pending retry waits (later sends make a single attempt); say failures still counted."""
        self._closed.set()
        self._flush_repeats()

    def __enter__(self) -> LCClient:
        """Enter the context: return self."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Leave the context: release resources."""
        self.close()


def _cut(timeouts: tuple[float, float], left: float) -> Any:
    """Return an attempt's timeouts cut to ``left`` seconds in all (connecting and waiting for the answer)."""
    connect, read = timeouts
    if left >= connect + read:
        return timeouts
    from urllib3.util import Timeout

    left = max(left, 0.001)
    return Timeout(connect=min(connect, left), read=min(read, left), total=left)


def _literal(text: str) -> str:
    """Return ``text`` as literal text of a :meth:`str.format` template (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def _now() -> str:
    return _dt.datetime.now().strftime(_TIME_FORMAT)


class PeriodicReporter:
    """Report inference counts to the LocalController every ``period`` seconds, from a daemon thread.

    Counting (:meth:`record`) only takes a lock, so it never blocks inference. A period with no
    new inference sends nothing (as in Sedna). Counts are cumulative. The thread survives an
    absent, refusing or hanging LocalController; :meth:`stop` ends it.

    Parameters
    ----------
    client : LCClient
        Where reports go.
    message : dict or Report
        The fixed part of the body (``name``, ``namespace``, ``ownerName``, ``ownerKind``, ``kind``,
        ...); ``ownerInfo`` is added at each report.
    period : float, default=30.0
        Seconds between reports (``LC_PERIOD``).
    worker_name : str, default=None
        The URL segment; ``message["name"]`` if omitted.
    extra_info : callable, default=None
        Returns more ``ownerInfo`` fields at each report (a language-model job's token and cost
        totals, for instance).
    final_timeout : float, default=5.0
        Longest time, in seconds, :meth:`close` spends on the last report (the counts not reported
        yet), all attempts together: a LocalController that accepts connections and never answers
        holds ``close`` that long, not for every attempt's timeouts and retries.

    Attributes
    ----------
    inference_number_ : int
        Inferences counted so far.
    hard_example_number_ : int
        Hard examples counted so far (each counted once).
    reports_ : int
        Reports attempted.

    Examples
    --------
    >>> reporter = PeriodicReporter(LCClient("http://127.0.0.1:9"), {"name": "w"}, period=60)
    >>> reporter.record(hard=True); reporter.record()
    >>> info = reporter.owner_info()
    >>> info["inferenceNumber"], info["hardExampleNumber"], info["uploadCloudRatio"]
    (2, 1, 0.5)
    """

    def __init__(self, client: LCClient, message: Report | Mapping[str, Any], *, period: float = 30.0,
                 worker_name: str | None = None,
                 extra_info: Callable[[], Mapping[str, Any]] | None = None,
                 final_timeout: float = 5.0) -> None:
        self.client = client
        self.message = message
        self.period = period
        self.worker_name = worker_name
        self.extra_info = extra_info
        self.final_timeout = final_timeout
        self.inference_number_ = 0
        self.hard_example_number_ = 0
        self.reports_ = 0
        self._period_increment = 0
        self._period_start = _now()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- counting (called on the inference path) ---------------------------------------------
    def record(self, hard: bool = False) -> None:
        """Count one inference, and one hard example if ``hard`` (a hard example is one inference).

        Parameters
        ----------
        hard : bool, default=False
            Whether the sample was a hard example sent to the cloud.
        """
        with self._lock:
            self.inference_number_ += 1
            self._period_increment += 1
            if hard:
                self.hard_example_number_ += 1

    def update_for_edge_inference(self) -> None:
        """Count one inference answered at the edge (Sedna's name)."""
        self.record(hard=False)

    def update_for_collaboration_inference(self) -> None:
        """Count one hard example answered with the cloud's help (one inference, one hard example)."""
        self.record(hard=True)

    def owner_info(self) -> dict[str, Any]:
        """Return the ``ownerInfo`` of a report made now.

        Returns
        -------
        dict
            ``startTime``, ``updateTime``, ``inferenceNumber``, ``hardExampleNumber``,
            ``uploadCloudRatio`` (hard / inferences, 0.0 before any inference).
        """
        with self._lock:
            total, hard, start = self.inference_number_, self.hard_example_number_, self._period_start
        info = {
            "startTime": start,
            "updateTime": _now(),
            "inferenceNumber": total,
            "hardExampleNumber": hard,
            "uploadCloudRatio": hard / total if total else 0.0,
        }
        if self.extra_info is not None:
            info.update(self.extra_info())
        return info

    def _body(self) -> dict[str, Any]:
        base = self.message.to_dict() if isinstance(self.message, Report) else dict(self.message)
        base.setdefault("results", [])
        base["ownerInfo"] = self.owner_info()
        return base

    def report_now(self, force: bool = False, *, timeout: float | None = None) -> bool:
        """Send a report if there were inferences since the last one (or if ``force``).

        Parameters
        ----------
        force : bool, default=False
            Send even when nothing new was counted.
        timeout : float, default=None
            Longest time, in seconds, for the report's attempts together (see :meth:`LCClient.send`);
            None: the client's timeouts and retries.

        Returns
        -------
        bool
            True if a report was sent and accepted; False if nothing was due or sending failed.
        """
        with self._lock:
            due = self._period_increment > 0
            if due or force:
                self._period_increment = 0
        if not (due or force):
            with self._lock:
                self._period_start = _now()
            return False
        try:
            body = self._body()
        except (ParameterError, TypeError, ValueError) as exc:
            self.client._fail(self.client.lc_server, f"the message cannot be built: {exc}")
            return False
        name = self.worker_name or str(body.get("name") or "")  # empty: the client says so, and names one
        self.reports_ += 1
        ok = self.client.send(name, body, timeout=timeout)
        with self._lock:
            self._period_start = _now()
        return ok

    # -- thread ------------------------------------------------------------------------------
    def _run(self, period: float) -> None:
        while not self._stop.wait(period):
            self.report_now()

    def start(self) -> PeriodicReporter:
        """Start the daemon thread (once).

        Returns
        -------
        PeriodicReporter
            ``self``.

        Raises
        ------
        ParameterError
            If ``period`` is not a finite number > 0 (0 or less reported in a busy loop, a NaN
            period or text ended the thread at its first wait).
        """
        with self._lock:
            if self._thread is None:
                period = check_number("period", self.period, 0, low_open=True)
                self._period_start = _now()
                self._thread = threading.Thread(target=self._run, args=(period,), name="sedna-lc-reporter",
                                                daemon=True)
                self._thread.start()
        return self

    @property
    def is_alive(self) -> bool:
        """Whether the reporting thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = 1.0) -> None:
        """Stop the thread, waiting at most ``timeout`` seconds (a report in flight ends within its timeouts).

        Parameters
        ----------
        timeout : float, default=1.0
            Longest wait for the thread to end; the thread is a daemon either way.
        """
        self._stop.set()
        self.client.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self, timeout: float | None = 1.0) -> None:
        """Send the counts not reported yet, within ``final_timeout`` seconds, then :meth:`stop`.

        A short-lived process is seen too, and a LocalController that never answers holds the
        caller at most ``final_timeout`` seconds (plus ``timeout`` for the thread). Nothing is sent
        when nothing new was counted. Safe to call twice.

        Parameters
        ----------
        timeout : float, default=1.0
            Longest wait for the thread to end, as for :meth:`stop`.

        Raises
        ------
        ParameterError
            If ``final_timeout`` is not a finite number > 0 (the reporter is stopped all the same).
        """
        try:
            limit = check_number("final_timeout", self.final_timeout, 0, low_open=True)
        except ParameterError:
            self.stop(timeout)
            raise
        if not self._stop.is_set():
            self.report_now(timeout=limit)
        self.stop(timeout)

    def __enter__(self) -> PeriodicReporter:
        """Enter the context: return self."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        """Leave the context: send the counts not reported yet (within ``final_timeout``) and stop."""
        self.close()
