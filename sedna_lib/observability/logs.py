"""Log lines people and log collectors can read: an opt-in console handler, JSON lines, counted repeats.

The library itself adds no handler: a record of WARNING or above reaches stderr through Python's
last-resort handler (:data:`logging.lastResort`) when nothing is configured, as the standard library
intends for libraries; INFO lines appear once an entry point (a ``sedna-lib`` server command, a
Sedna script importing ``sedna``, or ``SEDNA_LOG_LEVEL``/``SEDNA_LOG_FORMAT`` in the environment)
calls :func:`configure_logging`.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable

from ..config import LOG_FORMATS, parse_log_level
from ..exceptions import ConfigError

__all__ = ["SEDNA_FORMAT", "LOGGER_NAMES", "JsonFormatter", "RateLimitedLog", "configure_logging",
           "console_handler", "log_started", "log_stopped"]

SEDNA_FORMAT = "[%(asctime)-15s] %(filename)s(%(lineno)d) [%(levelname)s] - %(message)s"
"""The text format of the console handler: the one Sedna's ``LOGGER`` prints."""

LOGGER_NAMES = ("sedna_lib", "sedna")
"""The loggers the console handler is attached to: the library's and Sedna's ``LOGGER``."""

_lock = threading.Lock()
# attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line, for cluster log collectors.

    The object has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the source
    ``file`` and ``line``; values passed with ``extra=`` become fields of their own (one named like
    a field of the line itself goes under ``extra_<name>``: ``extra={"level": 3}`` gives
    ``"extra_level": 3``), an exception becomes ``exc_info`` (the formatted traceback) and
    ``stack_info=True`` gives ``stack_info``. The line is strict JSON whatever the values: NaN and
    infinities are written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, keys that are
    not strings as their text, other objects as their ``str()``.

    Examples
    --------
    >>> record = logging.LogRecord("sedna_lib.x", logging.INFO, "x.py", 3, "round %d done", (2,), None)
    >>> record.created = 0.0
    >>> JsonFormatter().format(record)
    '{"time": "1970-01-01T00:00:00.000Z", "level": "INFO", "logger": "sedna_lib.x", \
"message": "round 2 done", "file": "x.py", "line": 3}'
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON.

        Parameters
        ----------
        record : logging.LogRecord
            The record.

        Returns
        -------
        str
            A JSON object without newlines.
        """
        stamp = datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
        line: dict[str, Any] = {
            "time": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "file": record.filename,
            "line": record.lineno,
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        extras = {key: value for key, value in vars(record).items()
                  if key not in _RECORD_FIELDS and not key.startswith("_")}
        clashing = [key for key in extras if key in line]
        for key, value in extras.items():
            if key not in line:
                line[key] = value
        for key in clashing:  # the line's own fields stay; the extra value goes under extra_<name>
            name = f"extra_{key}"
            while name in line:
                name = f"extra_{name}"
            line[name] = extras[key]
        return json.dumps(_jsonable(line, set()), allow_nan=False)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a value that cannot say what it is must not cost the whole line
        try:
            return repr(value)
        except Exception:
            return f"<{type(value).__name__}>"


def _jsonable(value: Any, seen: set[int]) -> Any:
    """Return ``value`` as strict JSON data: NaN, infinities, keys and other objects as text."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return "<cycle>"
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                return {k if isinstance(k, str) else _text(k): _jsonable(v, seen) for k, v in value.items()}
            return [_jsonable(v, seen) for v in value]
        finally:
            seen.discard(id(value))
    return _text(value)


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to the *current* ``sys.stderr`` (as ``logging.lastResort`` does)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignore assignment: the handler always follows ``sys.stderr``."""


def console_handler() -> logging.Handler | None:
    """Return the console handler :func:`configure_logging` installed, or None.

    Returns
    -------
    logging.Handler or None
        The handler on the ``sedna_lib`` logger.
    """
    for handler in logging.getLogger(LOGGER_NAMES[0]).handlers:
        if getattr(handler, "_sedna_console", False):
            return handler
    return None


def configure_logging(*, level: str | int = "INFO", fmt: str = "text",
                      stream: Any = None) -> logging.Handler:
    """Print sedna_lib's (and Sedna's ``LOGGER``'s) records: one console handler, replaced on each call.

    Entry points call this (the ``sedna-lib`` server commands, a script importing ``sedna``, or a
    job whose environment sets ``SEDNA_LOG_LEVEL``/``SEDNA_LOG_FORMAT``); a library user may too.
    The handler is attached to the ``sedna_lib`` and ``sedna`` loggers, which keep propagating.

    Parameters
    ----------
    level : str or int, default='INFO'
        ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or ``CRITICAL`` (any case), or a number.
    fmt : {'text', 'json'}, default='text'
        ``text``: Sedna's line format; ``json``: one JSON object per line (:class:`JsonFormatter`).
    stream : file-like, default=None
        Where lines go; the current ``sys.stderr`` when omitted.

    Returns
    -------
    logging.Handler
        The installed handler.

    Raises
    ------
    ConfigError
        If ``level`` or ``fmt`` is not one of the accepted values.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> _ = configure_logging(level="info", fmt="json", stream=out)
    >>> logging.getLogger("sedna_lib.demo").info("hello")
    >>> json.loads(out.getvalue())["message"]
    'hello'
    >>> configure_logging(level="LOUD")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sedna_lib.exceptions.ConfigError: SEDNA_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, ...
    >>> reset_logging()
    """
    level_value = parse_log_level(level, "SEDNA_LOG_LEVEL") if isinstance(level, str) else int(level)
    fmt_value = str(fmt).strip().lower()
    if fmt_value not in LOG_FORMATS:
        raise ConfigError(f"SEDNA_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}",
                          variable="SEDNA_LOG_FORMAT")
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt_value == "json" else logging.Formatter(SEDNA_FORMAT))
    handler._sedna_console = True  # type: ignore[attr-defined]
    with _lock:
        for name in LOGGER_NAMES:
            target = logging.getLogger(name)
            for old in [h for h in target.handlers if getattr(h, "_sedna_console", False)]:
                target.removeHandler(old)
            target.addHandler(handler)
            target.setLevel(level_value)
    return handler


def reset_logging() -> None:
    """Remove the console handler and the levels :func:`configure_logging` set (the library default)."""
    with _lock:
        for name in LOGGER_NAMES:
            target = logging.getLogger(name)
            for old in [h for h in target.handlers if getattr(h, "_sedna_console", False)]:
                target.removeHandler(old)
            target.setLevel(logging.NOTSET)


def configure_from_config(config: Any, *, default: bool = False) -> logging.Handler | None:
    """Apply ``SEDNA_LOG_LEVEL``/``SEDNA_LOG_FORMAT`` from a :class:`~sedna_lib.config.Config`.

    Parameters
    ----------
    config : Config
        The configuration.
    default : bool, default=False
        Install the console handler even when neither variable is set (entry points a person
        watches: the server commands). Otherwise nothing changes unless one is set.

    Returns
    -------
    logging.Handler or None
        The handler installed, or None when nothing was configured.
    """
    level = getattr(config, "sedna_log_level", None)
    fmt = getattr(config, "log_format", None)
    if not default and level is None and fmt is None:
        return None
    return configure_logging(level=level or "INFO", fmt=fmt or "text")


class RateLimitedLog:
    """Say a repeated event at most once per interval, with how many times it happened.

    The first event of a key is logged at once; later ones within ``interval`` seconds are
    counted, and the next event after the interval (or :meth:`flush`) logs one line with the
    count: ``"cloud unreachable: 221 samples answered by the edge in the last 10 s"``. Nothing
    is dropped silently: :meth:`flush` (call it when the job stops) says what is still counted.

    Only the ``max_keys`` keys used most recently are kept (a caller may key by an error's text, which
    has no end): a new key beyond them drops the one unused longest, saying its count in one line
    first if it has events not yet said. A key dropped and seen again is new: its first event is
    said at once. ``len(limiter)`` is the number of keys kept.

    Parameters
    ----------
    logger : logging.Logger
        Where the lines go.
    interval : float, default=10.0
        Seconds between two lines of the same key.
    level : int, default=logging.WARNING
        The lines' level.
    clock : callable, default=time.monotonic
        Returns seconds; tests pass a fake clock.
    say_first : bool, default=True
        Log the first event of a key at once. False: the first event starts the interval and is
        counted like the others (when the caller already said the first one its own way).
    max_keys : int, default=256
        Keys kept; the one unused longest is dropped (its count said) when a new one comes.

    Attributes
    ----------
    emitted_ : int
        Lines logged so far.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> log = logging.getLogger("doctest.ratelimit"); log.addHandler(logging.StreamHandler(out))
    >>> now = [0.0]
    >>> limiter = RateLimitedLog(log, interval=10.0, clock=lambda: now[0])
    >>> message = "cloud unreachable: {count} samples answered by the edge in the last {window}"
    >>> for _ in range(221):
    ...     _ = limiter.add("cloud", message)
    >>> now[0] = 10.0
    >>> limiter.flush()
    >>> print(out.getvalue().strip())
    cloud unreachable: 1 samples answered by the edge in the last 0 s
    cloud unreachable: 220 samples answered by the edge in the last 10 s
    """

    def __init__(self, logger: logging.Logger, *, interval: float = 10.0, level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic, say_first: bool = True,
                 max_keys: int = 256) -> None:
        self.logger = logger
        self.interval = interval
        self.level = level
        self.clock = clock
        self.say_first = say_first
        self.max_keys = max_keys
        self.emitted_ = 0
        self._lock = threading.Lock()
        # key -> [count since the last line, time of the last line (or of the first event), message]
        self._pending: dict[Any, list[Any]] = {}
        # key -> time of its last line; ordered from the key used longest ago to the latest one
        self._last: dict[Any, float] = {}

    def add(self, key: Any, message: str, n: int = 1, *, first: str | None = None) -> bool:
        """Count ``n`` events of ``key``; log a line if the interval since the last one has passed.

        Parameters
        ----------
        key : hashable
            What is repeated (one line per key per interval).
        message : str
            The line; ``{count}`` becomes the number of events, ``{window}`` the seconds they
            span in whole seconds (``"10 s"``), ``{span}`` the same time as a duration reads
            (``"0.7 s"``, ``"12 s"``, ``"10 min"``) and ``{times}`` the word ``time`` when
            ``{count}`` is 1, else ``times`` (``"failed {count} more {times}"``).
        n : int, default=1
            Events to count.
        first : str, default=None
            The line said, as it is, for the first event of a key when it is said at once
            (``say_first``); by default ``message`` with its fields filled in.

        Returns
        -------
        bool
            Whether a line was logged now.

        Raises
        ------
        ParameterError
            If ``max_keys`` is not a whole number >= 1.
        """
        from ..base import check_count

        limit = check_count("max_keys", self.max_keys, 1)
        now = self.clock()
        dropped: list[str] = []
        with self._lock:
            last = self._last.pop(key, None)  # put back below, as the latest key
            if last is None:
                while len(self._last) >= limit:  # a new key: the ones unused longest go, counts said
                    oldest = next(iter(self._last))
                    if oldest in self._pending:
                        dropped.append(self._take(oldest, now))
                    del self._last[oldest]
                if not self.say_first:
                    last = now
            if last is not None:
                self._last[key] = last
            entry = self._pending.get(key)
            if entry is None:
                entry = self._pending[key] = [0, now if last is None else last, message]
            entry[0] += n
            entry[2] = message
            line = None if last is not None and now - last < self.interval else self._take(key, now)
            if last is None and first is not None:  # the key's first event, said at once
                line = first
        for text in dropped:
            self._emit(text)
        if line is None:
            return False
        self._emit(line)
        return True

    def flush(self) -> None:
        """Log one line per key that has uncounted events (call when the job stops)."""
        now = self.clock()
        with self._lock:
            lines = [self._take(key, now) for key in list(self._pending)]
        for line in lines:
            self._emit(line)

    def forget(self, key: Any) -> None:
        """Say what ``key`` has counted and not said yet, then forget the key: its next event is a new one.

        Call it when what the key counts is over (the cloud answers again): the events said now
        belong to it, and a later event starts a fresh count and window instead of being said
        against the time of this line.

        Parameters
        ----------
        key : hashable
            The key.
        """
        now = self.clock()
        with self._lock:
            line = self._take(key, now) if key in self._pending else None
            self._last.pop(key, None)
        if line is not None:
            self._emit(line)

    def pending(self, key: Any) -> int:
        """Return how many events of ``key`` are counted but not yet said.

        Parameters
        ----------
        key : hashable
            The key.

        Returns
        -------
        int
            The count.
        """
        with self._lock:
            entry = self._pending.get(key)
            return entry[0] if entry else 0

    def __len__(self) -> int:
        """Return the number of keys kept (at most ``max_keys``)."""
        with self._lock:
            return len(self._last)

    def _take(self, key: Any, now: float) -> str:
        count, since, message = self._pending.pop(key)
        self._last[key] = now
        seconds = max(0.0, now - since)
        return message.format(count=count, window=f"{seconds:.0f} s", span=_span(seconds),
                              times="time" if count == 1 else "times")

    def _emit(self, line: str) -> None:
        self.emitted_ += 1
        # called from add/flush/forget: the record names the line that called them, not this module
        self.logger.log(self.level, "%s", line, stacklevel=3)


def _span(seconds: float) -> str:
    """Return a duration as a line says it: ``0.4 s``, ``12 s``, ``10 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def log_started(logger: logging.Logger, what: str, url: str, *, auth: bool, tls: bool,
                limits: dict[str, Any] | None = None, pages: str | None = None,
                bound: str | None = None) -> str:
    """Log the one line a server says when it starts: what, where, auth, TLS, limits, where its pages are.

    Parameters
    ----------
    logger : logging.Logger
        The server's logger (the line is INFO).
    what : str
        The server (``big-model server 'sedna'``).
    url : str
        Where it listens.
    auth, tls : bool
        Whether a token is required, whether it speaks TLS.
    limits : dict, default=None
        Limits by name; ints named ``*bytes*`` are shown in KiB/MiB/GiB.
    pages : str, default=None
        Base URL of the status page and metrics when it is not ``url`` (a websocket server's).
    bound : str, default=None
        The address the socket is bound to, ``host:port``, when it is not the host of ``url``
        (``0.0.0.0:5000``, all interfaces, reached on this machine at ``http://127.0.0.1:5000``):
        the line then says both, so that a server listening on every interface is not taken for
        one bound to the loopback only.

    Returns
    -------
    str
        The line.

    Examples
    --------
    >>> log_started(logging.getLogger("doctest"), "big-model server 'sedna'", "http://127.0.0.1:5000",
    ...             auth=False, tls=False, limits={"max request bytes": 64 * 1024 * 1024})
    "big-model server 'sedna' started on http://127.0.0.1:5000: auth off, TLS off, max request bytes 64 MiB; \
status page http://127.0.0.1:5000/, metrics http://127.0.0.1:5000/metrics"
    >>> log_started(logging.getLogger("doctest"), "knowledge base", "http://127.0.0.1:9020",
    ...             auth=True, tls=False, bound="0.0.0.0:9020")
    'knowledge base started on 0.0.0.0:9020 (reach it at http://127.0.0.1:9020): auth on, TLS off; \
status page http://127.0.0.1:9020/, metrics http://127.0.0.1:9020/metrics'
    """
    shown = [f"auth {'on' if auth else 'off'}", f"TLS {'on' if tls else 'off'}"]
    for name, value in (limits or {}).items():
        text = _size(value) if "bytes" in name and isinstance(value, int) else value
        shown.append(f"{name} {text}")
    pages = pages or url
    where = url
    if bound and urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1] != bound:
        where = f"{bound} (reach it at {url})"
    line = f"{what} started on {where}: {', '.join(shown)}; status page {pages}/, metrics {pages}/metrics"
    logger.info("%s", line, stacklevel=2)
    return line


def log_stopped(logger: logging.Logger, what: str, url: str, *, seconds: float,
                counts: dict[str, Any] | None = None) -> str:
    """Log the one line a server says when it stops: how long it served and what it answered.

    Parameters
    ----------
    logger : logging.Logger
        The server's logger (the line is INFO).
    what : str
        The server.
    url : str
        Where it listened.
    seconds : float
        How long it served.
    counts : dict, default=None
        What it did (``{"requests": 12, "rejected": 1}``).

    Returns
    -------
    str
        The line.

    Examples
    --------
    >>> log_stopped(logging.getLogger("doctest"), "aggregation server 'FedAvg'", "ws://127.0.0.1:7363",
    ...             seconds=12.34, counts={"rounds": 3})
    "aggregation server 'FedAvg' on ws://127.0.0.1:7363 stopped after 12.3 s: rounds 3"
    """
    done = ", ".join(f"{k} {v}" for k, v in (counts or {}).items())
    line = f"{what} on {url} stopped after {seconds:.1f} s" + (f": {done}" if done else "")
    logger.info("%s", line, stacklevel=2)
    return line
