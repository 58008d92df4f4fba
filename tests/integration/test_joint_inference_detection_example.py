"""The detection-shaped joint-inference example run as deployed: cloud and edge scripts as two processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "joint_inference" / "detection"
SERVICE = "digits-detection"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(proc: subprocess.Popen, url: str, timeout: float) -> None:
    """Return once ``url`` answers; fail with the process's output if it exits or the time runs out."""
    for _ in range(int(timeout / 0.1)):
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.ConnectionError:
            pass  # not bound yet
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"the cloud worker exited with {proc.returncode}: {proc.communicate()[0]}")
    pytest.fail(f"the cloud worker did not serve {url} within {timeout} s")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """The cloud worker (big_detector.py) on a free local port, with the variables the control plane sets."""
    marker = tmp_path_factory.mktemp("cloud") / "big_model.txt"
    marker.touch()
    port = _free_port()
    env = {**os.environ, "BIG_MODEL_BIND_IP": "127.0.0.1", "BIG_MODEL_BIND_PORT": str(port),
           "SERVICE_NAME": SERVICE, "MODEL_URL": str(marker)}
    proc = subprocess.Popen([sys.executable, "big_detector.py"], cwd=EXAMPLE, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_serving(proc, f"http://127.0.0.1:{port}/healthz", timeout=20)
        yield port
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _number(output: str, label: str) -> float:
    match = re.search(rf"^{re.escape(label)}\s+([0-9.]+)", output, re.M)
    assert match, f"no '{label}' line in:\n{output}"
    return float(match.group(1))


@pytest.mark.parametrize(("miner", "parameters"), [("IBT", '[{"key": "threshold_box", "value": "0.7"}]'),
                                                   ("Threshold", '[{"key": "threshold", "value": "0.85"}]')])
def test_edge_worker_offloads_hard_mosaics_and_beats_edge_only_per_box(cloud, tmp_path, miner, parameters):
    marker = tmp_path / "little_model.txt"
    marker.touch()
    env = {**os.environ, "BIG_MODEL_IP": "127.0.0.1", "BIG_MODEL_PORT": str(cloud), "SERVICE_NAME": SERVICE,
           "HEM_NAME": miner, "HEM_PARAMETERS": parameters, "MODEL_URL": str(marker),
           "SEDNA_WORK_DIR": str(tmp_path / "work")}

    done = subprocess.run([sys.executable, "little_detector.py"], cwd=EXAMPLE, env=env, capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    edge = _number(done.stdout, "edge-only per-box accuracy")
    joint = _number(done.stdout, "joint per-box accuracy")
    offload = _number(done.stdout, "offload ratio")
    answered = int(re.search(r"\((\d+) answered by the cloud", done.stdout).group(1))
    assert joint > edge + 0.03
    assert 0.05 < offload < 0.9
    assert answered == round(offload * _number(done.stdout, "mosaics")) > 0
    assert f"'method': '{miner}'" in done.stdout
