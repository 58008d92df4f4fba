"""The federated-learning example run as a deployed job: an aggregator, a Sedna-style and a fit trainer, GM variables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "federated_learning"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reports(lc_stub) -> list[dict]:
    return lc_stub.drain()


def _finish(procs: dict, timeout: float) -> dict:
    """Wait for every process; return name -> (returncode, output); kill what is left on error."""
    results = {}
    try:
        for name, proc in procs.items():
            output = proc.communicate(timeout=timeout)[0]
            results[name] = (proc.returncode, output)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


def test_aggregator_with_a_sedna_style_and_a_fit_trainer_finishes_two_rounds_and_reports_to_the_lc(tmp_path, lc_stub):
    pytest.importorskip("torch")
    data = tmp_path / "data"
    subprocess.run([sys.executable, "prepare_data.py", "--out", str(data), "--clients", "2", "--partition", "noniid"],
                   cwd=EXAMPLE, check=True, timeout=60, capture_output=True)
    port = str(_free_port())
    job = {"JOB_NAME": "fl-digits", "NAMESPACE": "default", "exit_round": "2", "epochs": "1", "batch_size": "32",
           "aggregation_algorithm": "FedAvg"}
    envs = {"aggregator": {**job, "WORKER_NAME": "fl-digits-aggworker-x1y2z", "AGG_BIND_IP": "127.0.0.1",
                           "AGG_BIND_PORT": port, "PARTICIPANTS_COUNT": "2"}}
    for i in range(2):
        envs[f"trainer-{i}"] = {**job, "WORKER_NAME": f"fl-digits-trainworker-{i}", "AGG_IP": "127.0.0.1",
                                "AGG_PORT": port, "PARTICIPANTS_COUNT": "2", "LC_SERVER": lc_stub.url,
                                "MODEL_URL": str(tmp_path / f"model-{i}"), "MODEL_NAME": "digits-model",
                                "TRAIN_DATASET_URL": str(data / f"client-{i}" / "train.txt"),
                                "DATASET_NAME": f"digits-{i}", "BACKEND_TYPE": "TORCH", "CONNECT_TIMEOUT": "60"}
    scripts = {"aggregator": "aggregate.py", "trainer-0": "train.py", "trainer-1": "fit.py"}

    procs = {name: subprocess.Popen([sys.executable, scripts[name]], cwd=EXAMPLE, env={**os.environ, **env},
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, env in envs.items()}
    results = _finish(procs, timeout=120)

    assert {name: rc for name, (rc, _) in results.items()} == dict.fromkeys(procs, 0), results
    assert "round 2: 2 trainers" in results["aggregator"][1]
    reports = _reports(lc_stub)
    assert {r["ownerKind"] for r in reports} == {"federatedlearningjob"}
    for i in range(2):
        mine = [r for r in reports if r["name"] == f"fl-digits-trainworker-{i}"]
        assert [r["ownerInfo"]["currentRound"] for r in mine] == [1, 2]
        assert [r["status"] for r in mine] == ["running", "completed"]
        assert {(r["ownerName"], r["namespace"], r["kind"]) for r in mine} == {("fl-digits", "default", "train")}
        assert (tmp_path / f"model-{i}" / "digits-model").is_file()  # each round's (train.py), save_model (fit.py)
    sedna_style = [r for r in reports if r["name"] == "fl-digits-trainworker-0"]
    assert sedna_style[-1]["results"][0]["url"].endswith("digits-model")  # train.py reports its saved model
    assert "saved " in results["trainer-1"][1]
