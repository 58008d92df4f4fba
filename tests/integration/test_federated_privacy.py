"""Differential privacy end to end: DP-FedAvg in the simulation (epsilon per round) and client-side
clipping against a real aggregation server."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ParameterError
from sedna_lib.servers.aggregation import AggregationServer

pytest.importorskip("dp_accounting", reason="the privacy extra (dp-accounting) is missing")
pytestmark = pytest.mark.integration
sys.path.insert(0, os.path.dirname(__file__))
from _fl_trainer import SoftmaxRegression  # noqa: E402


def _backend():
    from sedna_lib.backends import set_backend

    return set_backend(SoftmaxRegression(), context=Context(Config(backend_type="ESTIMATOR")))


def test_dp_fedavg_simulation_learns_digits_and_reports_growing_epsilon(digits):
    from sedna_lib.algorithms.aggregation import DPFedAvg
    from sedna_lib.collaborative_training import simulate

    x, y, xt, yt = digits
    shards = [(x[i::20], y[i::20]) for i in range(20)]
    agg = DPFedAvg(noise_multiplier=0.5, clipping_norm=2.0, adaptive=True, seed=0)
    result = simulate(_backend(), shards, agg, rounds=6,
                      evaluate=lambda b, r: {"accuracy": float(np.mean(b.predict(xt).argmax(1) == yt))})
    eps = [h["epsilon"] for h in result.history]
    assert all(a < b for a, b in zip(eps, eps[1:])) and np.isfinite(eps[-1])
    assert result.history[-1]["accuracy"] > 0.7


def test_local_dp_noise_is_added_by_each_simulated_client(digits):
    from sedna_lib.algorithms.aggregation import LocalDPFedAvg
    from sedna_lib.collaborative_training import simulate

    x, y, xt, yt = digits
    shards = [(x[i::4], y[i::4]) for i in range(4)]
    quiet = simulate(_backend(), shards, LocalDPFedAvg(noise_multiplier=0.0, clipping_norm=100.0, delta=None),
                     rounds=1).weights
    noisy = simulate(_backend(), shards, LocalDPFedAvg(noise_multiplier=1.0, clipping_norm=100.0, seed=0),
                     rounds=1)
    # 4 clients each add N(0, 100^2): the mean's noise has std 50
    assert np.std(noisy.weights[0] - quiet[0]) == pytest.approx(50.0, rel=0.1)
    assert noisy.history[0]["epsilon"] > 0


def test_client_side_clipping_through_the_aggregation_server(digits):
    from sedna_lib import collaborative_training
    from sedna_lib.algorithms.aggregation import DPFedAvg

    x, y, _, _ = digits
    agg = DPFedAvg(noise_multiplier=0.0, clipping_norm=0.05, clip_on="client", delta=None)
    server = AggregationServer(agg, host="127.0.0.1", http_port=0, done_grace=5, context=Context(Config()),
                               exit_round=2, participants_count=1,
                               initial_weights=SoftmaxRegression().get_weights()).start(block=False)
    try:
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name="t0", backend_type="ESTIMATOR")
        model = SoftmaxRegression()
        collaborative_training.fit((x[:200], y[:200]), None, model, aggregation_algorithm=DPFedAvg(),
                                   context=Context(cfg), progress=False)
        assert server.wait(15)
    finally:
        server.stop()
    # two rounds, each moving the global model by at most C from the one before
    norm = np.sqrt(sum(float(np.sum(w.astype(float) ** 2)) for w in server.global_weights_))
    assert 0.05 < norm <= 0.1 + 1e-9
    assert agg.unclipped_fraction_ == 0.0
    assert [r.epsilon for r in server.history_] == [None, None]  # delta=None: no accountant


def test_the_server_history_holds_epsilon_per_round(digits):
    from sedna_lib import collaborative_training
    from sedna_lib.algorithms.aggregation import DPFedAvg

    x, y, _, _ = digits
    agg = DPFedAvg(noise_multiplier=1.0, clipping_norm=1.0, seed=0)
    server = AggregationServer(agg, host="127.0.0.1", http_port=0, done_grace=5, context=Context(Config()),
                               exit_round=3, participants_count=1).start(block=False)
    try:
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name="t0", backend_type="ESTIMATOR")
        collaborative_training.fit((x[:200], y[:200]), None, SoftmaxRegression(),
                                   aggregation_algorithm="DPFedAvg", context=Context(cfg), progress=False)
        assert server.wait(15)
    finally:
        server.stop()
    eps = [r.epsilon for r in server.history_]
    assert len(eps) == 3 and all(a < b for a, b in zip(eps, eps[1:]))


def test_the_privacy_page_example_runs_and_prints_what_the_page_shows(tmp_path):
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "federated-privacy.md").read_text("utf-8")
    code, shown = re.search(r"^```python\n(.*?)^```\n\n```text\n(.*?)^```", page, re.S | re.M).groups()
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == shown


def test_adaptive_clipping_with_too_few_clients_fails_before_any_training(digits):
    from sedna_lib.algorithms.aggregation import DPFedAvg
    from sedna_lib.collaborative_training import simulate

    # sigma_b = m / 20 = 0.5 leaves z = 1 nothing for the model: refused as the first round begins, not
    # after every client has trained; the server refuses it as it starts
    x, y, _, _ = digits
    rounds = []
    agg = DPFedAvg(noise_multiplier=1.0, adaptive=True, num_sampled_clients=10, population=1000)
    with pytest.raises(ParameterError, match=r"m > 10 \* noise_multiplier = 10 clients per round"):
        simulate(_backend(), [(x[i::10], y[i::10]) for i in range(10)], agg, rounds=2, on_round=rounds.append)
    assert rounds == []
    server = AggregationServer(agg.clone(), host="127.0.0.1", http_port=0, context=Context(Config()))
    with pytest.raises(ParameterError, match=r"m > 10 \* noise_multiplier = 10 clients per round"):
        server.start(block=False)
    server.stop()
