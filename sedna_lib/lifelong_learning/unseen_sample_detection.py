"""Sedna's ``UnseenSampleDetection``: a poller copying the frames a status service marks as unseen."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from typing import Any

from .._json import loads as json_loads
from ..base import check_number
from ..context import Context, resolve

__all__ = ["UnseenSampleDetection"]

logger = logging.getLogger(__name__)


class UnseenSampleDetection(threading.Thread):
    """Poll a status service; when it answers ``{"if_fall": "True"}``, copy the newest image to the edge.

    Sedna's version looped forever on a bare IP, swallowing every error. This one is a daemon
    thread with a stop event, a bounded request timeout, a ``http://`` URL (a bare host gets
    ``http://`` prepended), and it counts its failures instead of hiding them.

    Parameters
    ----------
    edge_knowledge_management : EdgeKnowledgeManagement
        Where unseen samples go (its ``unseen_dir``).
    status_url : str, default=None
        The status service (``STATUS_IP``; default ``http://127.0.0.1``).
    image_url : str, default=None
        Folder of incoming images (``IMAGE_TOPIC_URL``; default ``/tmp/``).
    period : float, default=1.0
        Seconds between polls (a finite number > 0, checked by :meth:`start`).
    timeout : float, default=2.0
        Request timeout in seconds (a finite number > 0, checked by :meth:`start`).
    context : Context, default=None
        Where ``STATUS_IP`` and ``IMAGE_TOPIC_URL`` are read; the knowledge manager's context
        when omitted.

    Attributes
    ----------
    copied : int
        Images copied so far.
    failures : int
        Polls that failed.
    """

    def __init__(self, edge_knowledge_management: Any, *, status_url: str | None = None,
                 image_url: str | None = None, period: float = 1.0, timeout: float = 2.0,
                 context: Context | None = None) -> None:
        super().__init__(name="unseen-sample-detection", daemon=True)
        if context is None:
            context = getattr(edge_knowledge_management, "context", None)
        ctx = resolve(context)
        url = status_url or ctx.get_parameters("STATUS_IP", "127.0.0.1")
        self.status_url = url if "://" in url else f"http://{url}"
        self.image_url = image_url or ctx.get_parameters("IMAGE_TOPIC_URL", "/tmp/")
        self.edge_knowledge_management = edge_knowledge_management
        self.period = period
        self.timeout = timeout
        self.copied = 0
        self.failures = 0
        self._stop_event = threading.Event()
        self._started_options: tuple[float, float] | None = None  # what start() checked, for run()

    def poll_once(self) -> bool:
        """Ask the status service once and copy the newest image if it says so.

        Returns
        -------
        bool
            Whether an image was copied.
        """
        return self._poll_once(self.timeout)

    def _poll_once(self, timeout: Any) -> bool:
        import requests

        try:
            answer = json_loads(requests.post(self.status_url, timeout=timeout).content)
        except (requests.RequestException, ValueError) as exc:
            self.failures += 1
            logger.debug("unseen-sample status poll of %s failed: %s", self.status_url, exc)
            return False
        if str(answer.get("if_fall")) != "True" or not os.path.isdir(self.image_url):
            return False
        images = sorted((os.path.join(self.image_url, n) for n in os.listdir(self.image_url)),
                        key=os.path.getmtime)
        if not images:
            return False
        target = self.edge_knowledge_management.unseen_dir
        os.makedirs(target, exist_ok=True)
        shutil.copy(images[-1], os.path.join(target, f"{time.time_ns()}-{os.path.basename(images[-1])}"))
        self.copied += 1
        return True

    def start(self) -> None:
        """Check ``period`` and ``timeout``, then start polling in the thread.

        Raises
        ------
        ParameterError
            If either is not a finite number of seconds > 0 (a period of 0 or less, or a NaN,
            would poll in a busy loop; a NaN timeout would fail every poll).
        """
        self._started_options = self._check_options()
        super().start()

    def _check_options(self) -> tuple[float, float]:
        """Return ``(period, timeout)`` checked."""
        return (check_number("period", self.period, 0, low_open=True),
                check_number("timeout", self.timeout, 0, low_open=True))

    def run(self) -> None:
        """Poll every ``period`` seconds until :meth:`stop`."""
        options, self._started_options = self._started_options, None  # what start() checked, used once
        period, timeout = options if options is not None else self._check_options()  # or run() alone
        while not self._stop_event.is_set():
            self._poll_once(timeout)
            self._stop_event.wait(period)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop polling and wait for the thread.

        Parameters
        ----------
        timeout : float, default=5.0
            Seconds to wait.
        """
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
