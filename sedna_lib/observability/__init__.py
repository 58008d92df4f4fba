"""Observability: log lines, Prometheus metrics, the health contract, the status page and progress.

Every submodule imports only the standard library and sedna_lib's lower floors at module level;
``prometheus_client`` and ``tqdm`` are imported on first use, so ``import sedna_lib`` stays light.
"""

from __future__ import annotations

from .health import Health
from .logs import JsonFormatter, RateLimitedLog, configure_logging, console_handler
from .progress import Progress, progress
from .status import StatusServer, StatusSite, WorkerStatus

__all__ = ["Health", "JsonFormatter", "Progress", "RateLimitedLog", "StatusServer", "StatusSite",
           "WorkerStatus", "configure_logging", "console_handler", "progress"]
