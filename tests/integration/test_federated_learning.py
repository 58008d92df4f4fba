"""Federated jobs end to end: real trainer processes (Sedna-style script), a killed trainer, LC reports; simulation."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.aggregation import AggregationServer

pytestmark = pytest.mark.integration
TRAINER = os.path.join(os.path.dirname(__file__), "_fl_trainer.py")


@pytest.fixture
def lc_server():
    """A LocalController stand-in that records the reports it receives."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    reports = []

    async def info(request):
        reports.append(await request.json())
        return JSONResponse({"Status": 200, "Message": "OK"})

    with ThreadedServer(Starlette(routes=[Route("/sedna/workers/{name}/info", info, methods=["POST"])])) as srv:
        yield srv.url, reports


def _trainers(server, parts, lc_url, die=None, tmp_path=None):
    procs = []
    for i in range(parts):
        env = {**os.environ, "AGG_IP": "127.0.0.1", "AGG_PORT": str(server.port), "WORKER_NAME": f"trainworker-{i}",
               "JOB_NAME": "fl-job", "NAMESPACE": "default", "LC_SERVER": lc_url, "PART": str(i),
               "PARTS": str(parts), "MODEL_URL": str(tmp_path / f"m{i}"), "MODEL_NAME": "model.npz",
               "BACKEND_TYPE": "ESTIMATOR", "CONNECT_TIMEOUT": "20"}
        if die is not None and i == die[0]:
            env["DIE_IN_ROUND"] = str(die[1])
        procs.append(subprocess.Popen([sys.executable, TRAINER], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    return procs


def _server(aggregation="FedAvg", **kwargs):
    return AggregationServer(aggregation, host="127.0.0.1", http_port=0, done_grace=5, context=Context(Config()),
                             **kwargs).start(block=False)


@pytest.mark.slow
def test_trainer_processes_converge_on_digits_and_report_to_lc(lc_server, tmp_path):
    lc_url, reports = lc_server
    server = _server(exit_round=5, participants_count=2, round_timeout=30)
    try:
        procs = _trainers(server, 2, lc_url, tmp_path=tmp_path)
        outs = [p.communicate(timeout=60)[0] for p in procs]
        assert server.wait(15)
    finally:
        server.stop()
    accs = [float(o.rsplit("ACCURACY", 1)[1]) for o in outs]
    assert min(accs) > 0.85 and accs[0] == accs[1], outs
    train = [r for r in reports if r["kind"] == "train"]
    assert {r["ownerKind"] for r in train} == {"federatedlearningjob"}
    assert sorted(r["ownerInfo"]["currentRound"] for r in train if r["name"] == "trainworker-0") == [1, 2, 3, 4, 5]
    assert [r["status"] for r in train if r["name"] == "trainworker-0"][-1] == "completed"


@pytest.mark.slow
def test_killed_trainer_does_not_hang_the_job(lc_server, tmp_path):
    lc_url, _ = lc_server
    # no short round deadline: round 1 waits for all three trainers however slowly they start, and the
    # later rounds can only close early because the server notices the dead trainer left
    server = _server(exit_round=3, participants_count=3)
    try:
        procs = _trainers(server, 3, lc_url, die=(2, 2), tmp_path=tmp_path)
        for p in procs:
            p.communicate(timeout=60)
        assert server.wait(15)
    finally:
        server.stop()
    assert procs[2].returncode != 0 and procs[0].returncode == procs[1].returncode == 0
    assert [len(r.clients) for r in server.history_] == [3, 2, 2]
    # the dead trainer is not waited for: rounds 2 and 3 close as soon as the two survivors sent theirs
    assert [r.reason for r in server.history_] == ["quorum", "dropout", "dropout"]


def test_simulation_runs_many_clients_through_the_same_aggregator(digits):
    from sedna_lib.algorithms.client_choose import SimpleClientChoose
    from sedna_lib.backends import set_backend
    from sedna_lib.collaborative_training import simulate

    sys.path.insert(0, os.path.dirname(__file__))
    from _fl_trainer import SoftmaxRegression

    x, y, xt, yt = digits
    backend = set_backend(SoftmaxRegression(), context=Context(Config(backend_type="ESTIMATOR")))
    shards = [(x[i::20], y[i::20]) for i in range(20)]

    def evaluate(b, r):
        return {"accuracy": float(np.mean(b.predict(xt).argmax(1) == yt))}

    result = simulate(backend, shards, "FedAvg", rounds=5, chooser=SimpleClientChoose(fraction=0.5, seed=0),
                      evaluate=evaluate)
    assert [h["clients"] for h in result.history] == [10] * 5
    assert result.history[-1]["accuracy"] > 0.8


def test_fedprox_mu_reaches_the_torch_training_loop(digits):
    torch = pytest.importorskip("torch")
    from sedna_lib import collaborative_training, losses, optimizers

    x, y, xt, yt = digits
    server = _server(aggregation="FedProx", exit_round=2, participants_count=1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 10))
    seen = []
    try:
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name="t0")
        collaborative_training.fit((x[:300], y[:300].astype("int64")), None, model,
                                   losses.SparseCategoricalCrossentropy(), None, optimizers.SGD(0.1), batch_size=32,
                                   epochs=1, aggregation_algorithm="FedProx", context=Context(cfg), progress=False,
                                   on_round=lambda o: seen.append(o.config))
    finally:
        server.stop()
    assert seen and seen[0] == {"proximal_mu": 0.01}
    with torch.no_grad():
        assert float((model(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean()) > 0.5
