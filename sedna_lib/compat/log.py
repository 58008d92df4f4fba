"""Sedna's ``sedna.common.log``: the ``sedna`` logger, and the console handler a Sedna script gets."""

from __future__ import annotations

import logging
import threading

from .. import config as _cfg
from ..observability.logs import SEDNA_FORMAT, configure_logging

__all__ = ["LOGGER", "Logger"]

LOGGER = logging.getLogger("sedna")
"""The logger Sedna scripts use. Importing this module adds no handler; importing the ``sedna``
package creates a :class:`Logger`, which adds Sedna's console handler."""

_FORMAT = SEDNA_FORMAT
_lock = threading.Lock()


class Logger:
    """Console logging for Sedna scripts: one stderr handler with Sedna's format, at ``LOG_LEVEL``.

    Importing the ``sedna`` package creates one, so an unchanged Sedna script prints what Sedna's
    ``LOGGER`` printed (INFO and above). The handler is shared with the ``sedna_lib`` logger (so
    the library's lines reach the script too) and attached once, however many times a ``Logger``
    is created. ``sedna_lib`` used as a library never creates one.

    Parameters
    ----------
    level : str or int, default=None
        The level; ``SEDNA_LOG_LEVEL``, else ``LOG_LEVEL``, else ``INFO`` when omitted.

    Attributes
    ----------
    logger : logging.Logger
        The ``sedna`` logger.

    Raises
    ------
    ConfigError
        If the level is not a level name, or ``SEDNA_LOG_FORMAT`` is neither ``text`` nor ``json``.

    Examples
    --------
    >>> Logger(level="WARNING").logger.name
    'sedna'
    >>> from sedna_lib.observability.logs import reset_logging; reset_logging()
    """

    def __init__(self, level: str | int | None = None) -> None:
        self.level = level
        self.logger = LOGGER
        variable = "LOG_LEVEL"
        if level is None:
            override = _cfg.get_parameter("SEDNA_LOG_LEVEL")
            variable = "SEDNA_LOG_LEVEL" if override else "LOG_LEVEL"
            level = override or _cfg.get_parameter("LOG_LEVEL", "INFO")
        level_value = _cfg.parse_log_level(level, variable) if isinstance(level, str) else level
        with _lock:
            configure_logging(level=level_value, fmt=_cfg.get_parameter("SEDNA_LOG_FORMAT", "text"))
