"""The language-model example run as deployed: the cloud and edge scripts as two processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llm_joint_inference"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cloud():
    """cloud_llm.py on a free port, with the variables the control plane sets and an API key."""
    port = _free_port()
    env = {**os.environ, "BIG_MODEL_BIND_IP": "127.0.0.1", "BIG_MODEL_BIND_PORT": str(port),
           "SERVICE_NAME": "llm", "SEDNA_AUTH_TOKEN": "k3y"}
    proc = subprocess.Popen([sys.executable, "cloud_llm.py"], cwd=EXAMPLE, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass  # not bound yet
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the cloud worker did not start: {proc.communicate(timeout=5)[0]}")
            time.sleep(0.1)  # polling a child process's port: there is no event to wait on
        yield port
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _run(script: str, port: int, **env: str) -> str:
    full = {**os.environ, "OPENAI_API_KEY": "k3y", "BIG_MODEL_IP": "127.0.0.1", "BIG_MODEL_PORT": str(port),
            "LC_SERVER": "http://127.0.0.1:9", **env}
    done = subprocess.run([sys.executable, script], cwd=EXAMPLE, env=full, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _number(text: str, label: str) -> float:
    return float(re.search(rf"{label}\s+([\d.]+)", text).group(1))


def test_the_edge_routes_its_unsure_questions_and_gains_accuracy(cloud):
    out = _run("edge_llm.py", cloud, HEM_NAME="MeanLogProb", SEDNA_LLM_PRICE_CLOUD_COMPLETION="0.6",
               HEM_PARAMETERS='[{"key": "upload_ratio", "value": "0.3"}]')
    assert abs(_number(out, "routed to the cloud") - 0.3) <= 0.02
    assert _number(out, "joint accuracy") >= _number(out, "edge-only accuracy") + 0.15
    assert _number(out, "cost") > 0


def test_the_solar_corona_face_runs_the_same_edge(cloud):
    out = _run("solar_corona_llm.py", cloud)
    assert _number(out, "joint accuracy") > 0.7 and 0.3 < _number(out, "routed") < 0.5


def test_without_the_key_the_cloud_refuses_and_the_edge_answers_alone(cloud):
    out = _run("edge_llm.py", cloud, OPENAI_API_KEY="", HEM_NAME="CloudOnly")
    assert _number(out, "joint accuracy") == _number(out, "edge-only accuracy")
