"""What the commands and the library say: each thing once, where a user sees it, with the values in effect."""

from __future__ import annotations

import logging
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
import requests

from sedna_lib.cli import main

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _started_line(proc):
    """Read the process's stderr up to its "started on" line; return the lines read."""
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if " started on " in line:
            return lines
    raise AssertionError(f"the server never started: {''.join(lines)}")


# -- the aggregation server's start line ------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("env, shown", [({}, "max message bytes 2 GiB"),
                                        ({"AGG_MAX_MESSAGE_BYTES": "3145728"}, "max message bytes 3 MiB")],
                         ids=["default", "set"])
def test_aggregate_logs_the_max_message_bytes_in_effect(tmp_path, env, shown):
    environ = {k: v for k, v in os.environ.items() if k != "AGG_MAX_MESSAGE_BYTES"}
    environ.update({"AGG_BIND_IP": "127.0.0.1", **env})
    proc = subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", "aggregate", "--exit-round", "1",
                             "--participants", "1", "--port", "0"], cwd=tmp_path, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _started_line(proc)[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert shown in line, line
    assert "None" not in line, line


# -- serve-big-model and its model file ---------------------------------------------------------------

def test_serve_big_model_help_names_the_model_file_variable(capsys):
    with pytest.raises(SystemExit):
        main(["serve-big-model", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "MODEL_URL" in out


def test_serve_big_model_given_a_model_file_as_estimator_says_to_use_model_url(capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve-big-model", "--estimator", "knn.pkl"])
    assert info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "argument --estimator" in err and "MODEL_URL=knn.pkl" in err, err


def _serve(tmp_path, argv, **env):
    environ = {**os.environ, "BIG_MODEL_BIND_IP": "127.0.0.1", "SERVICE_NAME": "knn", **env}
    for name in ("MODEL_URL", "MODEL_PATH"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", "serve-big-model", *argv, "--port", "0"],
                            cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.integration
def test_serve_big_model_refuses_an_unfitted_estimator_without_a_model_file(tmp_path):
    proc = _serve(tmp_path, ["--estimator", "sklearn.neighbors:KNeighborsClassifier"])
    try:
        _, err = proc.communicate(timeout=30)  # the old command served, and every request failed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, err
    assert "KNeighborsClassifier is not fitted" in err and "MODEL_URL" in err, err
    assert "Traceback" not in err and " started on " not in err, err


@pytest.mark.integration
def test_serve_big_model_serves_a_fitted_model_file_named_by_model_url(tmp_path):
    import joblib
    from sklearn.neighbors import KNeighborsClassifier

    joblib.dump(KNeighborsClassifier(n_neighbors=1).fit([[0, 0], [5, 5]], [0, 1]), tmp_path / "knn.pkl")
    proc = _serve(tmp_path, ["--estimator", "sklearn.neighbors:KNeighborsClassifier"],
                  MODEL_URL=str(tmp_path / "knn.pkl"))
    try:
        url = re.search(r"started on (\S+): ", _started_line(proc)[-1])[1]
        reply = requests.post(f"{url}/knn/predict", json={"data": [[0, 1], [6, 5]]}, timeout=10)
        assert reply.status_code == 200 and reply.json()["result"] == [0, 1], reply.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "not fitted" not in err, err


def test_a_served_unfitted_model_is_not_ready_and_each_request_fails_in_one_line(caplog):
    from sklearn.neighbors import KNeighborsClassifier

    from sedna_lib.context import Context
    from sedna_lib.joint_inference import BigModelService

    service = BigModelService(estimator=KNeighborsClassifier, context=Context())
    with caplog.at_level(logging.INFO, "sedna_lib"):
        service.start(host="127.0.0.1", port=0, block=False)
        try:
            ready = requests.get(f"{service.url}/readyz", timeout=10)
            replies = [requests.post(f"{service.url}/sedna/predict", json={"data": [[0, 1]]}, timeout=10)
                       for _ in range(3)]
        finally:
            service.stop()
    assert ready.status_code == 503 and "not fitted" in ready.text, ready.text
    assert [r.status_code for r in replies] == [500] * 3
    assert all("KNeighborsClassifier is not fitted" in r.json()["detail"] for r in replies)
    records = [r for r in caplog.records if "not fitted" in r.getMessage()]
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    assert [r.levelno for r in records] == [logging.WARNING], [r.getMessage() for r in records]


# -- collaborative_training.fit: waiting for the aggregator, and its per-round lines ----------------------

_FIT = textwrap.dedent("""
    import numpy as np
    from sklearn.linear_model import SGDClassifier
    import sedna_lib.federated_learning.client as client_module
    from sedna_lib import collaborative_training

    client_module._WAIT_NOTICE_S = float({notice})
    x = np.random.default_rng(0).normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    collaborative_training.fit((x, y), (x, y), SGDClassifier(max_iter=5, tol=None), epochs=1,
                               aggregation_algorithm="FedAvg")
""")


def _fit(tmp_path, port, notice=5.0, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SEDNA_LOG", "JOB_NAME"))}
    environ.update({"AGG_IP": "127.0.0.1", "AGG_PORT": str(port), "WORKER_NAME": "w1", **env})
    return subprocess.run([sys.executable, "-c", _FIT.format(notice=notice)], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_fit_says_once_that_it_waits_for_an_aggregator_not_reachable_yet(tmp_path):
    port = _closed_port()
    done = _fit(tmp_path, port, notice=0.3, CONNECT_TIMEOUT="2")
    assert done.returncode != 0 and "TransportTimeout" in done.stderr, done.stderr
    waiting = (f"waiting for the aggregator at ws://127.0.0.1:{port}/FedAvg: not reachable yet; giving up "
               f"after 2 s (CONNECT_TIMEOUT)")
    assert done.stderr.count(waiting) == 1, done.stderr


@pytest.mark.integration
def test_fit_per_round_lines_show_as_its_doc_says(tmp_path):
    from sedna_lib.servers.aggregation import AggregationServer

    text = " ".join((DOCS / "federated-learning.md").read_text().split())
    assert "writes one line per round to stderr" not in text
    assert "SEDNA_LOG_LEVEL=INFO" in text and "configure_logging" in text
    said = {}
    for level in ("", "INFO"):
        server = AggregationServer("FedAvg", exit_round=1, participants_count=1, host="127.0.0.1",
                                   http_port=0).start(block=False)
        try:
            logging_env = {"SEDNA_LOG_LEVEL": level} if level else {}
            done = _fit(tmp_path, server.port, EXIT_ROUND="1", **logging_env)
        finally:
            server.stop()
        assert done.returncode == 0, done.stderr
        said[level] = done.stderr
    assert "round 1" not in said[""], said[""]  # a successful run is quiet unless logging is asked for
    assert "round 1/1 samples=40" in said["INFO"], said["INFO"]


# -- each condition said once ------------------------------------------------------------------------

@pytest.mark.integration
def test_incremental_piped_prints_each_round_once(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEDNA_LOG")}
    done = subprocess.run([sys.executable, "-m", "sedna_lib.cli", "incremental", "--dataset", "iris",
                           "--rounds", "2", "--initial", "15"], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = (done.stdout + done.stderr).splitlines()
    for number in (1, 2):
        lines = [line for line in said if re.search(rf"\bround {number}\b", line)]
        assert len(lines) == 1 and lines[0].startswith(f"round {number}: uploaded"), said
    assert sum("initial model" in line for line in said) == 1, said


@pytest.mark.integration
def test_the_sedna_face_says_once_that_it_waits_for_the_aggregator(monkeypatch, caplog):
    import logging

    import sedna_lib.federated_learning.client as client_module
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.exceptions import TransportError
    from sedna_lib.federated_learning import FederatedLearning

    port = _closed_port()
    monkeypatch.setattr(client_module, "_WAIT_NOTICE_S", 0.3)
    ctx = Context(Config(agg_ip="127.0.0.1", agg_port=port, worker_name="w1", lc_server="http://127.0.0.1:9"))
    job = FederatedLearning(estimator=object(), aggregation="FedAvg", context=ctx)
    with caplog.at_level(logging.WARNING, "sedna_lib"), pytest.raises(TransportError):
        job.register(timeout=1.5)
    job.close()
    said = [r.getMessage() for r in caplog.records if "waiting for the aggregator" in r.getMessage()]
    assert len(said) == 1 and f"127.0.0.1:{port}" in said[0]
