"""A worker script run as a real process, as tests of examples and deployments start them."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time

import pytest


class WorkerProcess:
    """``python <script>`` in ``cwd`` with ``env`` (this interpreter unless ``python`` names another); output to ``log_dir``."""

    def __init__(self, cwd: pathlib.Path, script: str, env: dict[str, str], log_dir: pathlib.Path,
                 python: str | None = None) -> None:
        self.log = log_dir / f"{cwd.name}.{pathlib.Path(script).stem}.{time.monotonic_ns()}.log"
        self._out = open(self.log, "w", encoding="utf-8")
        self.proc = subprocess.Popen([python or sys.executable, script], cwd=cwd, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def records(self, tag: str) -> list:
        """The JSON payloads of the lines ``<tag> {...}`` the process printed."""
        return [json.loads(line[len(tag) + 1:]) for line in self.output.splitlines()
                if line.startswith(tag + " ")]

    def _fail(self, why: str) -> None:
        pytest.fail(f"{why}; output:\n{self.output[-3000:]}")

    def _alive_after(self, pause: float) -> bool:
        """Wait ``pause`` seconds on the process itself: the pause between looks doubles as a liveness check."""
        try:
            self.proc.wait(timeout=pause)
        except subprocess.TimeoutExpired:
            return True
        return False

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; fail the test with its output if it does not in time."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            self._fail(f"{self.log.stem} did not finish within {timeout} s")

    def wait_for_line(self, tag: str, timeout: float) -> None:
        """Wait until the process prints a line starting with ``tag``; fail if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(tag) for line in self.output.splitlines()):
                return
            if not self._alive_after(0.05):
                self._fail(f"{self.log.stem} exited with {self.proc.returncode}")
        self._fail(f"no {tag!r} line within {timeout} s")

    def wait_serving(self, url: str, timeout: float) -> None:
        """Wait until ``url`` answers (the port is bound); fail if the process exits or time runs out."""
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(url, timeout=(0.5, 2.0))
                return
            except requests.ConnectionError:
                pass
            if not self._alive_after(0.05):
                self._fail(f"{self.log.stem} exited with {self.proc.returncode} before serving")
        self._fail(f"{url} did not answer within {timeout} s")

    def stop(self) -> int:
        """Stop the process as the kubelet does (SIGTERM, then SIGKILL) and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._out.close()
        return self.proc.returncode
