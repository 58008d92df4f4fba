"""Serving lifecycles: a server stopped through its own ``stop()`` when the process is asked to end.

A Kubernetes pod is ended with SIGTERM: a server serving in the foreground (a Sedna worker's
blocking ``start()``, a ``sedna-lib`` serving command) stops as its ``stop()`` does, answering
the requests in flight and logging its "stopped" line, rather than dying mid-request.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["GracefulStop", "serve_in_foreground"]


class GracefulStop:
    """Stop a server through its own ``stop()`` on SIGTERM (and Ctrl-C, for a serving command).

    Until :meth:`arm` names the stop, a signal ends the process at once (nothing serves yet).
    Once armed, the handler raises nothing: it runs the stop in a thread of its own, and the
    main thread's wait for the server ends as the server does. (An exception raised from a
    handler while the main thread waits in ``Thread.join`` can leave Python taking the server's
    still-running thread for ended, so that ``stop()`` finds nothing to stop and the process
    exits without the server's closing.) Use it as a ``with`` block around the serving; on the
    way out it waits for the stop to finish and puts the previous handlers back.
    """

    def __init__(self, signals: tuple[str, ...] = ("SIGTERM", "SIGINT")) -> None:
        self.signals = signals
        self.signum: int | None = None
        self._stop: Callable[[], Any] | None = None
        self._thread: Any = None
        self._previous: dict[int, Any] = {}

    @property
    def status(self) -> int:
        """The exit status the signal asks for: 0 after SIGTERM, 130 after Ctrl-C, else 0."""
        import signal

        return 130 if self.signum == signal.SIGINT else 0

    def _handle(self, signum: int, frame: Any) -> None:
        import signal

        if self.signum is not None:
            return  # a second signal while stopping: the stop is under way
        self.signum = signum
        if self._stop is None:
            raise SystemExit(0) if signum != signal.SIGINT else KeyboardInterrupt()
        self._start_stop()

    def _start_stop(self) -> None:
        import threading

        if self._thread is None:
            thread = threading.Thread(target=self._stop, name="sedna-graceful-stop", daemon=True)
            self._thread = thread
            thread.start()

    def arm(self, stop: Callable[[], Any]) -> None:
        """Name the server's stop (once it serves); a signal that came before stops it now.

        Parameters
        ----------
        stop : callable
            The server's ``stop()``.
        """
        self._stop = stop
        if self.signum is not None:
            self._start_stop()

    def __enter__(self) -> GracefulStop:
        """Install the handlers (in the main thread only; elsewhere signals are not ours)."""
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in self.signals:
                signum = getattr(signal, name)
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Wait for a stop under way, and put the previous handlers back."""
        import signal

        if self._thread is not None:
            self._thread.join()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def serve_in_foreground(wait: Callable[[], Any], stop: Callable[[], Any]) -> None:
    """Wait for a started server to stop; SIGTERM stops it through ``stop()`` first.

    What a blocking ``start()`` does once the server serves: the wait ends as the server stops
    (``stop()`` from another thread, the end of its job, or SIGTERM), and the server is stopped
    whatever ended it (Ctrl-C's ``KeyboardInterrupt`` goes on up, after the stop). The SIGTERM
    handler is installed from the main thread only, and the previous one put back on return.

    Parameters
    ----------
    wait : callable
        Blocks until the server stops serving.
    stop : callable
        The server's idempotent ``stop()``.
    """
    with GracefulStop(signals=("SIGTERM",)) as graceful:
        graceful.arm(stop)
        try:
            wait()
        finally:
            stop()
