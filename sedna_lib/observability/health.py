"""The health contract every server and worker answers: ``/healthz`` (alive) and ``/readyz`` (ready).

Both answer the same JSON shape::

    {"status": "ok", "service": "big-model", "version": "0.9.0", "uptime_seconds": 12.5,
     "checks": {"model": {"ok": true, "detail": "loaded"}}}

``/healthz`` is 200 while the process serves (its ``checks`` are empty). ``/readyz`` runs the
readiness checks (model loaded, peers reachable) and is 200 with ``"status": "ok"`` when all
pass, else 503 with ``"status": "unavailable"`` and the failing check's ``detail``: Kubernetes
takes any status from 200 to 399 as success and anything else as failure.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .._version import __version__

__all__ = ["Health", "Check"]

Check = Callable[[], Any]
"""A readiness check: returns True/None (ready), False (not ready), or a string (not ready, why);
an exception means not ready, with the exception as the reason."""


class Health:
    """Liveness and readiness of one server or worker.

    Parameters
    ----------
    service : str
        The ``service`` field of the bodies (``big-model``, ``aggregation``, ...).
    checks : dict of str to callable, default=None
        Readiness checks by name (more can be added with :meth:`add_check`).
    extra : callable, default=None
        Returns a dict merged into both bodies (a server's own counters).

    Examples
    --------
    >>> health = Health("big-model", checks={"model": lambda: True})
    >>> status, body = health.ready()
    >>> status, body["status"], body["checks"]
    (200, 'ok', {'model': {'ok': True, 'detail': 'ok'}})
    >>> health.add_check("cloud", lambda: "http://cloud:5000 refused the connection")
    >>> health.ready()[0], health.ready()[1]["checks"]["cloud"]["detail"]
    (503, 'http://cloud:5000 refused the connection')
    """

    def __init__(self, service: str, *, checks: dict[str, Check] | None = None,
                 extra: Callable[[], dict[str, Any]] | None = None) -> None:
        self.service = service
        self.checks = dict(checks or {})
        self.extra = extra
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def add_check(self, name: str, check: Check) -> None:
        """Add (or replace) a readiness check.

        Parameters
        ----------
        name : str
            The check's key in ``checks``.
        check : callable
            See :data:`Check`.
        """
        with self._lock:
            self.checks[name] = check

    def _body(self, status: str, checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status, "service": self.service, "version": __version__,
                                "uptime_seconds": round(time.monotonic() - self._started, 3),
                                "checks": checks}
        if self.extra is not None:
            for key, value in self.extra().items():
                body.setdefault(key, value)
        return body

    def alive(self) -> tuple[int, dict[str, Any]]:
        """Answer ``/healthz``: the process serves.

        Returns
        -------
        tuple of (int, dict)
            200 and the body.
        """
        return 200, self._body("ok", {})

    def ready(self) -> tuple[int, dict[str, Any]]:
        """Answer ``/readyz``: run every readiness check.

        Returns
        -------
        tuple of (int, dict)
            200 and ``"status": "ok"`` when all checks pass, else 503 and ``"status": "unavailable"``.
        """
        with self._lock:
            checks = list(self.checks.items())
        results: dict[str, dict[str, Any]] = {}
        for name, check in checks:
            try:
                outcome = check()
            except Exception as exc:  # a failing check means not ready, with its reason
                results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
                continue
            if outcome is None or outcome is True:
                results[name] = {"ok": True, "detail": "ok"}
            elif outcome is False:
                results[name] = {"ok": False, "detail": "not ready"}
            else:
                results[name] = {"ok": False, "detail": str(outcome)}
        ok = all(r["ok"] for r in results.values())
        return (200 if ok else 503), self._body("ok" if ok else "unavailable", results)

    def is_ready(self) -> bool:
        """Tell whether every readiness check passes.

        Returns
        -------
        bool
            True when ``/readyz`` would answer 200.
        """
        return self.ready()[0] == 200
