"""Sedna's ``sedna.common.log``: the ``sedna`` logger (the library itself never adds a handler)."""

from __future__ import annotations

import logging
import sys
import threading

from .. import config as _cfg
from ..exceptions import ConfigError

__all__ = ["LOGGER", "Logger"]

LOGGER = logging.getLogger("sedna")
"""The logger Sedna scripts use. Importing adds no handler; call :class:`Logger` (or configure
logging yourself) to see its records."""

_FORMAT = "[%(asctime)-15s] %(filename)s(%(lineno)d) [%(levelname)s] - %(message)s"
_lock = threading.Lock()


class Logger:
    """Opt-in console logging for scripts: one stderr handler on the ``sedna`` logger.

    Creating a ``Logger`` is the script's decision to log to the console; it attaches one
    handler with Sedna's format (once, however many times it is created) and sets the level.
    The library never creates one.

    Parameters
    ----------
    level : str or int, default=None
        The level; ``LOG_LEVEL`` (default ``INFO``) when omitted.

    Attributes
    ----------
    logger : logging.Logger
        The ``sedna`` logger.

    Examples
    --------
    >>> Logger(level="WARNING").logger.name
    'sedna'
    """

    def __init__(self, level: str | int | None = None) -> None:
        self.level = level
        self.logger = LOGGER
        level_value = level if level is not None else _cfg.get_parameter("LOG_LEVEL", "INFO")
        if isinstance(level_value, str):
            level_value = level_value.strip().upper()
        with _lock:
            if not any(getattr(h, "_sedna_console", False) for h in LOGGER.handlers):
                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(logging.Formatter(_FORMAT))
                handler._sedna_console = True  # type: ignore[attr-defined]
                LOGGER.addHandler(handler)
            try:
                LOGGER.setLevel(level_value)
            except (TypeError, ValueError):
                raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
                                  f"got {level_value!r}", variable="LOG_LEVEL") from None
