"""Servers run from the command line say where they are when they start and what they did when they stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import requests

pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration


def _start(args, tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEDNA_")}
    environ.update(env)
    return subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", *args], cwd=tmp_path, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _first_line_with(proc, needle):
    """Read stderr until a line holds ``needle`` (the server logs it once it is bound)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            return line.rstrip("\n"), seen
    raise AssertionError(f"{needle!r} never printed; stderr was:\n{''.join(seen)}")


def test_kb_command_prints_its_start_line_and_its_stop_line_on_sigterm(tmp_path):
    proc = _start(["kb", "--host", "127.0.0.1", "--port", "0", "--save-dir", str(tmp_path / "kb")],
                  tmp_path)
    try:
        line, _ = _first_line_with(proc, "knowledge base started on ")
        url = re.search(r"started on (http://127\.0\.0\.1:\d+):", line).group(1)
        assert requests.get(url + "/readyz", timeout=5).json()["service"] == "kb"
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()

    assert re.fullmatch(r"\[[-\d :,]+\] knowledge_base\.py\(\d+\) \[INFO\] - knowledge base started on "
                        r"http://127\.0\.0\.1:\d+: auth off, TLS off, max request bytes 64 MiB, files in .+; "
                        r"status page http://127\.0\.0\.1:\d+/, metrics http://127\.0\.0\.1:\d+/metrics",
                        line)
    assert proc.returncode == 0
    assert f"knowledge base on {url} stopped after " in rest


def test_aggregate_command_prints_json_lines_when_asked(tmp_path):
    proc = _start(["aggregate", "--aggregation", "FedAvg", "--exit-round", "3", "--participants", "2",
                   "--host", "127.0.0.1", "--port", "0"], tmp_path, SEDNA_LOG_FORMAT="json")
    try:
        line, _ = _first_line_with(proc, "aggregation server 'FedAvg' started on ")
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()

    record = json.loads(line)
    assert record["level"] == "INFO" and record["logger"] == "sedna_lib.servers.aggregation"
    assert "rounds 3, participants 2" in record["message"]
    assert re.search(r"status page http://127\.0\.0\.1:\d+/, metrics http://127\.0\.0\.1:\d+/metrics$",
                     record["message"])
    stopped = [json.loads(text) for text in rest.splitlines() if "stopped after" in text]
    assert len(stopped) == 1 and stopped[0]["message"].endswith("rounds 0, done False")
