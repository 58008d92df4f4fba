"""The serving entry points a container runs: start lines, and a clean stop on SIGTERM.

Each runs as a real process on 127.0.0.1, port 0; the test waits for its "started" line, checks
the server answers, sends SIGTERM and reads what the process said and how it ended.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _serve_then_sigterm(argv, cwd, env):
    """Start ``argv``, wait for its "started" line, send SIGTERM; return (status, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    watchdog = threading.Timer(60, proc.kill)  # a process that never says it started fails, not hangs
    watchdog.start()
    try:
        for line in proc.stderr:  # blocks until the server says where it listens (or the process ends)
            lines.append(line)
            if " started on " in line:
                break
        else:
            raise AssertionError(f"the server never said it started: {''.join(lines)}")
        watchdog.cancel()  # started: the stop has its own limit below, whatever the start took
        url = re.search(r"status page (http://\S+?)/?,", lines[-1])[1]
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, "".join(lines) + err


def _env(**values):
    env = {k: v for k, v in os.environ.items() if k not in ("SEDNA_LOG_LEVEL", "SEDNA_LOG_FORMAT")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**env, **values}


@pytest.mark.integration
@pytest.mark.parametrize("level", [None, "DEBUG"])
def test_the_knowledge_base_module_logs_and_stops_cleanly_on_sigterm(tmp_path, level):
    env = _env(KnowledgeBaseServer="127.0.0.1:0", KnowledgeBasePath=str(tmp_path / "kb"),
               **({"SEDNA_LOG_LEVEL": level} if level else {}))

    code, _, err = _serve_then_sigterm(["-m", "sedna_lib.servers.knowledge_base"], tmp_path, env)

    assert code == 0, err
    assert "knowledge base started on " in err, err
    assert re.search(r"knowledge base on \S+ stopped after ", err), err
    assert "Traceback" not in err, err


@pytest.mark.integration
@pytest.mark.parametrize("script", ["joint_inference/big_model.py", "llm_joint_inference/cloud_llm.py",
                                    "joint_inference/detection/big_detector.py"])
def test_a_big_model_example_stops_cleanly_on_sigterm(tmp_path, script):
    path = EXAMPLES / script
    env = _env(BIG_MODEL_BIND_IP="127.0.0.1", BIG_MODEL_BIND_PORT="0", SERVICE_NAME="example",
               MODEL_LOAD_MODE="none")

    code, _, err = _serve_then_sigterm([str(path)], path.parent, env)

    assert code == 0, err
    assert re.search(r"big-model server 'example' on \S+ stopped after ", err), err
    assert "Traceback" not in err, err


@pytest.mark.integration
def test_the_aggregation_example_stops_cleanly_on_sigterm_and_prints_its_rounds(tmp_path):
    path = EXAMPLES / "federated_learning" / "aggregate.py"
    env = _env(AGG_BIND_IP="127.0.0.1", AGG_BIND_PORT="0", PARTICIPANTS_COUNT="1")

    code, out, err = _serve_then_sigterm([str(path)], path.parent, env)

    assert code == 0, err
    assert " stopped after " in err, err
    assert "0 rounds aggregated" in out, out
    assert "Traceback" not in err, err
