"""Progress of a long job a person watches: a ``tqdm`` bar on a terminal, one log line per step otherwise."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = ["Progress", "progress"]

_default_logger = logging.getLogger("sedna_lib.progress")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _columns(stream: Any) -> int | None:
    """Return the terminal's width, 80 where it reports none (a fresh pseudo-terminal says 0)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return columns or 80


class Progress:
    """A progress report of ``total`` steps: a bar on a terminal, else one INFO line per step.

    Use :func:`progress` to make one. Each :meth:`step` advances by one and shows the step's
    results (``round 3/10 accuracy=0.91 loss=0.27``); :meth:`note` says something between steps
    without breaking the bar; :meth:`close` ends it (also at the end of a ``with`` block).

    Parameters
    ----------
    total : int or None
        Steps expected (None: unknown).
    desc : str
        What a step is (``round``, ``task``), shown before the count.
    logger : logging.Logger
        Where the per-step lines go when no bar is drawn.
    bar : bool
        Draw a ``tqdm`` bar (on ``stream``) instead of logging lines.
    stream : file-like
        The bar's stream.
    lines : file-like, default=None
        Where the per-step lines go without a bar, instead of ``logger``.

    Attributes
    ----------
    n : int
        Steps done.
    bar : bool
        Whether a bar is drawn.
    """

    def __init__(self, total: int | None, desc: str, logger: logging.Logger, bar: bool, stream: Any,
                 lines: Any = None) -> None:
        self.total = total
        self.desc = desc
        self.logger = logger
        self._lines = lines
        self.n = 0
        self.bar = bar
        self._bar: Any = None
        if bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, file=stream, leave=True, ncols=_columns(stream))

    @property
    def is_bar(self) -> bool:
        """Whether a bar is drawn (else lines are logged)."""
        return self.bar

    def step(self, n: int = 1, **results: Any) -> None:
        """Advance by ``n`` steps and show the step's results.

        Parameters
        ----------
        n : int, default=1
            Steps done.
        **results : object
            Shown as ``name=value`` (floats with 4 significant digits).
        """
        self.n += n
        shown = " ".join(f"{k}={_format(v)}" for k, v in results.items())
        if self._bar is not None:
            if results:
                self._bar.set_postfix_str(shown, refresh=False)
            self._bar.update(n)
            return
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        self._say(f"{self.desc} {count}{' ' + shown if shown else ''}")

    def _say(self, line: str) -> None:
        if self._lines is not None:
            self._lines.write(line + "\n")
            self._lines.flush()
        else:
            self.logger.info("%s", line)

    def note(self, message: str, *args: Any) -> None:
        """Say something between steps (above the bar on a terminal, a log line otherwise).

        Parameters
        ----------
        message : str
            A %-style message.
        *args : object
            Its arguments.
        """
        text = message % args if args else message
        if self._bar is not None:
            self._bar.write(text, file=self._bar.fp)
        else:
            self._say(text)

    def close(self) -> None:
        """End the bar (or log nothing more); safe to call twice."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        """Return ``self`` for a ``with`` block."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close at the end of the ``with`` block."""
        self.close()


def progress(total: int | None, desc: str, *, logger: logging.Logger | None = None, bar: bool | None = None,
             stream: Any = None) -> Progress:
    """Start a progress report: a ``tqdm`` bar on a terminal, one line per step otherwise.

    Without ``stream``, the bar goes to stderr when it is a terminal, and otherwise each step is
    one INFO line of ``logger`` (seen once logging is configured). With a ``stream`` that is not
    a terminal (a file the caller chose), the lines are written to it.

    Parameters
    ----------
    total : int or None
        Steps expected.
    desc : str
        What a step is (``round``, ``task``).
    logger : logging.Logger, default=None
        Where lines go without a bar (``sedna_lib.progress``).
    bar : bool, default=None
        Force the bar on or off; None decides by ``stream.isatty()``.
    stream : file-like, default=None
        Where the bar is drawn (and, when it is not a terminal, the lines written); the current
        ``sys.stderr`` for the bar and ``logger`` for the lines when omitted.

    Returns
    -------
    Progress
        The report; call :meth:`Progress.step` per step.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> log = logging.getLogger("doctest.progress"); log.addHandler(logging.StreamHandler(out))
    >>> log.setLevel(logging.INFO)
    >>> with progress(2, "round", logger=log) as p:
    ...     p.step(accuracy=0.9123456, loss=0.3)
    ...     p.step(accuracy=0.93)
    >>> print(out.getvalue().strip())
    round 1/2 accuracy=0.9123 loss=0.3
    round 2/2 accuracy=0.93
    """
    explicit = stream is not None
    stream = sys.stderr if stream is None else stream
    if bar is None:
        isatty = getattr(stream, "isatty", None)
        bar = bool(isatty and isatty())
    return Progress(total, desc, logger or _default_logger, bar, stream,
                    lines=stream if explicit and not bar else None)
