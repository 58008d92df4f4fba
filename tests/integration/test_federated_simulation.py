"""The simulation's features on digits: FedBuff over uneven client speeds, federated evaluation,
secure aggregation, and the Ray engine against the in-process one."""

import os
import sys
import threading

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ParameterError

pytestmark = pytest.mark.integration
sys.path.insert(0, os.path.dirname(__file__))
from _fl_trainer import SoftmaxRegression  # noqa: E402


class FullBatchSoftmax(SoftmaxRegression):
    """Deterministic local training: a few full-batch gradient steps (same input, same output)."""

    def train(self, train_data, valid_data=None, epochs=1, **kwargs):
        x, y = train_data
        for _ in range(5 * int(epochs)):
            p = self.predict(x)
            p[np.arange(len(x)), y] -= 1
            self.w -= 1.0 * x.T @ p / len(x)
            self.b -= 1.0 * p.mean(axis=0)
        return {}

    def evaluate(self, data, **kwargs):
        x, y = data
        return {"accuracy": float(np.mean(self.predict(x).argmax(1) == y)), "note": "text is dropped"}


def _backend(model=None):
    from sedna_lib.backends import set_backend

    return set_backend(model or SoftmaxRegression(), context=Context(Config(backend_type="ESTIMATOR")))


def _accuracy(xt, yt):
    return lambda b, r: {"accuracy": float(np.mean(b.predict(xt).argmax(1) == yt))}


SPEEDS = [1.0] * 7 + [4.0, 8.0, 16.0]  # three stragglers


def test_fedbuff_converges_on_digits_with_uneven_clients(digits):
    from sedna_lib.algorithms.aggregation import FedBuff
    from sedna_lib.collaborative_training import simulate

    x, y, xt, yt = digits
    shards = [(x[i::10], y[i::10]) for i in range(10)]
    result = simulate(_backend(), shards, FedBuff(buffer_size=5), rounds=12, client_speeds=SPEEDS,
                      evaluate=_accuracy(xt, yt))
    times = [h["sim_time"] for h in result.history]
    assert times == sorted(times) and times[-1] < 12 * 16  # no step waits for the slowest client
    assert result.history[-1]["accuracy"] > 0.85
    assert max(h["staleness"] for h in result.history) > 0  # stragglers' updates arrive stale


def test_fedbuff_reaches_a_target_sooner_than_sync_fedavg_in_simulated_time(digits):
    from sedna_lib.collaborative_training import simulate

    x, y, xt, yt = digits
    shards = [(x[i::10], y[i::10]) for i in range(10)]

    def time_to(result, target=0.85):
        return next((h["sim_time"] for h in result.history if h["accuracy"] >= target), np.inf)

    sync = simulate(_backend(), shards, "FedAvg", rounds=6, client_speeds=SPEEDS, evaluate=_accuracy(xt, yt))
    fedbuff = simulate(_backend(), shards, "FedBuff", rounds=15, client_speeds=SPEEDS,
                       evaluate=_accuracy(xt, yt))
    assert time_to(fedbuff) < time_to(sync) < np.inf


def test_federated_evaluation_is_weighted_by_client_samples(digits):
    from sedna_lib.collaborative_training import simulate

    x, y, xt, yt = digits
    shards = [(x[i::4], y[i::4]) for i in range(4)]
    evals = [(xt[:10], yt[:10]), (xt[10:110], yt[10:110]), None, (xt[110:111], yt[110:111])]
    backend = _backend(FullBatchSoftmax())
    result = simulate(backend, shards, "FedAvg", rounds=4, client_eval_data=evals, evaluate_every=2,
                      evaluate=_accuracy(xt, yt))
    assert ["federated" in h for h in result.history] == [False, True, False, True]
    fed = result.history[-1]["federated"]
    backend.set_weights(result.weights)
    per = [backend.evaluate(d)["accuracy"] for d in evals if d is not None]
    assert fed["num_samples"] == 111 and fed["clients"] == 3
    assert set(fed) == {"accuracy", "num_samples", "clients"}
    assert fed["accuracy"] == pytest.approx((10 * per[0] + 100 * per[1] + 1 * per[2]) / 111)
    assert "accuracy" in result.history[-1]  # the centralised metric beside the federated one


def test_secure_aggregation_gives_the_plain_fedavg_model(digits):
    pytest.importorskip("cryptography")
    pytest.importorskip("Cryptodome")
    from sedna_lib.collaborative_training import simulate

    x, y, _, _ = digits
    shards = [(x[i::5], y[i::5]) for i in range(5)]
    plain = simulate(_backend(FullBatchSoftmax()), shards, "FedAvg", rounds=3)
    secure = simulate(_backend(FullBatchSoftmax()), shards, "FedAvg", rounds=3, secure_aggregation=True)
    for a, b in zip(plain.weights, secure.weights):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ParameterError, match="secure aggregation reveals only the round's average; Krum"):
        simulate(_backend(), shards, "Krum", rounds=1, secure_aggregation=True)
    with pytest.raises(ParameterError, match="secure aggregation hides each update in the sum of two at least"):
        simulate(_backend(), shards[:1], "FedAvg", rounds=1, secure_aggregation=True)


def test_simulation_options_are_checked(digits):
    from sedna_lib.collaborative_training import simulate

    x, y, _, _ = digits
    shards = [(x[:50], y[:50])] * 2
    with pytest.raises(ParameterError, match="client_speeds needs one positive duration per client"):
        simulate(_backend(), shards, "FedBuff", client_speeds=[1.0])
    with pytest.raises(ParameterError, match="engine must be 'inprocess' or 'ray'"):
        simulate(_backend(), shards, engine="dask")
    with pytest.raises(ParameterError, match="client_eval_data has 1 entries for 2 clients"):
        simulate(_backend(), shards, client_eval_data=[None])
    for kwargs, match in (({"rounds": 2.5}, "rounds must be a whole number >= 1, got 2.5"),
                          ({"rounds": 0}, "rounds must be a whole number >= 1, got 0"),
                          ({"evaluate_every": True}, "evaluate_every must be a whole number >= 1, got True"),
                          ({"concurrency": 1.5}, "concurrency must be a whole number >= 1, got 1.5")):
        with pytest.raises(ParameterError, match=match):  # refused, not truncated
            simulate(_backend(), shards, **kwargs)


@pytest.mark.parametrize("resources, match", [
    ({"num_cpu": 1}, r"unknown keys \['num_cpu'\]"),
    ({"num_cpus": -1}, r"client_resources\['num_cpus'\] must be a finite number >= 0, got -1"),
    ({"num_gpus": float("nan")}, r"client_resources\['num_gpus'\] must be a finite number >= 0, got nan"),
    ({"memory": "lots"}, r"client_resources\['memory'\] must be a finite number >= 0"),
    ("2 cpus", "client_resources must be a dict"),
])
def test_ray_resources_are_checked_before_a_local_ray_is_started(digits, resources, match):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from sedna_lib.collaborative_training import simulate

    x, y, _, _ = digits
    assert not ray.is_initialized()
    with pytest.raises(ParameterError, match=match):
        simulate(_backend(), [(x[:50], y[:50])] * 2, engine="ray", client_resources=resources)
    assert not ray.is_initialized()  # nothing started for a job refused up front


def test_a_ray_address_that_cannot_be_joined_is_a_transport_error_naming_it(digits):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from sedna_lib.collaborative_training import simulate
    from sedna_lib.exceptions import TransportError

    x, y, _, _ = digits
    with pytest.raises(TransportError, match="could not join the Ray cluster at 'nowhere'.*check ray_address"):
        simulate(_backend(), [(x[:50], y[:50])] * 2, engine="ray", ray_address="nowhere")
    assert not ray.is_initialized()


@pytest.mark.slow
def test_ray_engine_gives_the_in_process_results(digits):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from sedna_lib.algorithms.aggregation import FedBuff
    from sedna_lib.collaborative_training import simulate

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(sys.modules["_fl_trainer"])
    x, y, xt, yt = digits
    shards = [(x[i::6], y[i::6]) for i in range(6)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for agg in ("FedAvg", FedBuff(buffer_size=3)):
            kwargs = dict(rounds=3, client_speeds=[1, 1, 2, 2, 5, 9])
            local = simulate(_backend(FullBatchSoftmax()), shards, agg, **kwargs)
            fresh = agg if isinstance(agg, str) else agg.clone()
            remote = simulate(_backend(FullBatchSoftmax()), shards, fresh, engine="ray",
                              client_resources={"num_cpus": 0.5}, **kwargs)
            for a, b in zip(local.weights, remote.weights):
                np.testing.assert_array_equal(a, b)
            assert [h["sim_time"] for h in local.history] == [h["sim_time"] for h in remote.history]
        assert ray.is_initialized()  # a Ray the caller started is left running
        with pytest.raises(ParameterError, match=r"client_resources asks num_gpus=0.5 per client but the Ray "
                                                 r"cluster has 0 GPU"):
            simulate(_backend(), shards, "FedAvg", rounds=1, engine="ray", client_resources={"num_gpus": 0.5})
    finally:
        ray.shutdown()
    unshippable = _backend()
    unshippable.lock = threading.Lock()  # cannot be pickled into Ray's object store
    with pytest.raises(TypeError):
        simulate(unshippable, shards, "FedAvg", rounds=1, engine="ray")
    assert not ray.is_initialized()  # the local Ray it started is shut down again


def test_fedbuff_on_the_aggregation_server_steps_without_waiting_for_a_slow_trainer(digits):
    import threading
    import time

    from sedna_lib import collaborative_training
    from sedna_lib.algorithms.aggregation import FedBuff
    from sedna_lib.servers.aggregation import AggregationServer

    x, y, xt, yt = digits

    class Slow(SoftmaxRegression):
        def train(self, *args, **kwargs):
            time.sleep(0.5)
            return super().train(*args, **kwargs)

    server = AggregationServer(FedBuff(buffer_size=2), host="127.0.0.1", http_port=0, done_grace=5,
                               context=Context(Config()), exit_round=6, participants_count=3,
                               initial_weights=SoftmaxRegression().get_weights()).start(block=False)
    seen: dict = {"fast-0": [], "fast-1": [], "slow": []}

    def trainer(name, model, part):
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name=name, backend_type="ESTIMATOR")
        collaborative_training.fit((x[part::3], y[part::3]), None, model, aggregation_algorithm="FedBuff",
                                   context=Context(cfg), progress=False,
                                   on_round=lambda o: seen[name].append(o.round_number))

    models = [("fast-0", SoftmaxRegression()), ("fast-1", SoftmaxRegression()), ("slow", Slow())]
    threads = [threading.Thread(target=trainer, args=(n, m, i), daemon=True)
               for i, (n, m) in enumerate(models)]
    try:
        for t in threads:
            t.start()
        assert server.wait(30)
        for t in threads:
            t.join(10)
    finally:
        server.stop()
    assert [r.reason for r in server.history_] == ["buffer"] * 6
    # the fast trainers drove the steps; the slow one got in at most once or twice
    assert sum(len(server.history_[i].clients) for i in range(6)) == 12
    assert len(seen["slow"]) < len(seen["fast-0"])
    model = SoftmaxRegression()
    model.set_weights(server.global_weights_)
    assert float(np.mean(model.predict(xt).argmax(1) == yt)) > 0.8


def test_fedbuff_on_the_server_without_an_initial_model_is_refused_clearly(digits):
    from sedna_lib import collaborative_training
    from sedna_lib.exceptions import AggregationError
    from sedna_lib.servers.aggregation import AggregationServer

    x, y, _, _ = digits
    server = AggregationServer("FedBuff", host="127.0.0.1", http_port=0, done_grace=1,
                               context=Context(Config()), exit_round=2, participants_count=1)
    server.start(block=False)
    try:
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name="t0", backend_type="ESTIMATOR")
        with pytest.raises(AggregationError, match=r"FedBuff is asynchronous: .* needs an initial model"):
            collaborative_training.fit((x[:100], y[:100]), None, SoftmaxRegression(),
                                       aggregation_algorithm="FedBuff", context=Context(cfg), progress=False)
        assert server.history_ == [] and not server.done_
    finally:
        server.stop()


def test_aggregation_parameters_configure_the_server_and_the_simulation():
    from sedna_lib.collaborative_training import aggregator_from
    from sedna_lib.exceptions import ParameterError as PE
    from sedna_lib.servers.aggregation import AggregationServer

    cfg = Config.from_env({"AGGREGATION_ALGORITHM": "FedBuff",
                           "AGGREGATION_PARAMETERS": '[{"key": "buffer_size", "value": "7"}]'})
    assert cfg.aggregation_parameters == {"buffer_size": "7"}
    assert aggregator_from(None, Context(cfg)).buffer_size == 7
    assert aggregator_from("FedAvg", Context(cfg)).get_params() == {}  # another algorithm: not its parameters
    server = AggregationServer("FedBuff", host="127.0.0.1", http_port=0, context=Context(cfg))
    server.start(block=False)
    try:
        assert server.name_ == "FedBuff" and server.aggregator_.buffer_size == 7
    finally:
        server.stop()
    bad = Config.from_env({"AGGREGATION_ALGORITHM": "FedBuff", "AGGREGATION_PARAMETERS": '{"buffersize": 3}'})
    with pytest.raises(PE, match="buffersize"):
        aggregator_from(None, Context(bad))


def test_the_aggregation_server_keeps_the_trainers_evaluation_weighted_by_samples(digits):
    server, seen = _serve_two_trainers(digits, 5, evals=_uneven_evals, evaluate_every=2)

    # asked after rounds 2 and 4; round 4's reports come with the round-5 uploads
    assert [bool(r.federated) for r in server.history_] == [False, True, False, True, False]
    for rnd in (2, 4):
        reports = [next(e for e in seen[i] if e and e["round"] == rnd) for i in range(2)]
        assert [r["num_samples"] for r in reports] == [50, 200]
        expected = (50 * reports[0]["metrics"]["accuracy"] + 200 * reports[1]["metrics"]["accuracy"]) / 250
        fed = server.history_[rnd - 1].federated
        assert fed["accuracy"] == pytest.approx(expected)
        assert fed["num_samples"] == 250 and fed["clients"] == 2


def test_the_aggregation_server_keeps_the_last_rounds_evaluation_too(digits):
    server, seen = _serve_two_trainers(digits, 2, evals=_uneven_evals, evaluate_every=2)

    # round 2 is the last: no upload follows it, so its reports come in evaluation messages
    reports = [seen[i][-1] for i in range(2)]
    expected = (50 * reports[0]["metrics"]["accuracy"] + 200 * reports[1]["metrics"]["accuracy"]) / 250
    assert [bool(r.federated) for r in server.history_] == [False, True]
    assert server.history_[1].federated["accuracy"] == pytest.approx(expected)
    assert server.history_[1].federated["num_samples"] == 250 and server.history_[1].federated["clients"] == 2


def _uneven_evals(xt, yt, i):
    """Trainer 0 evaluates on 50 test digits, trainer 1 on 200."""
    return [(xt[:50], yt[:50]), (xt[50:250], yt[50:250])][i]


def _half_evals(xt, yt, i):
    """Each trainer evaluates on every other test digit."""
    return xt[i::2], yt[i::2]


def _serve_two_trainers(digits, rounds, evals=None, **server_kw):
    """Serve ``rounds`` FedAvg rounds to two trainers; return the server and each trainer's evaluations."""
    import threading

    from sedna_lib import collaborative_training
    from sedna_lib.servers.aggregation import AggregationServer

    x, y, xt, yt = digits
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, done_grace=5,
                               context=Context(Config()),
                               exit_round=rounds, participants_count=2, **server_kw)
    server.start(block=False)
    models = [FullBatchSoftmax(), FullBatchSoftmax()]
    seen: dict = {0: [], 1: []}

    def trainer(i):
        cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name=f"t{i}", backend_type="ESTIMATOR")
        collaborative_training.fit((x[i::2], y[i::2]), evals(xt, yt, i) if evals else None, models[i],
                                   context=Context(cfg), progress=False,
                                   on_round=lambda o: seen[i].append(o.evaluation))

    threads = [threading.Thread(target=trainer, args=(i,), daemon=True) for i in range(2)]
    try:
        for t in threads:
            t.start()
        assert server.wait(60)
        for t in threads:
            t.join(30)
        # a trainer still running when its server stops reconnects to the port, which the next server of
        # the test may be given: it would speak there as t0/t1 of this run
        assert not any(t.is_alive() for t in threads)
    finally:
        server.stop()
    return server, seen


def test_trainers_run_secure_rounds_on_the_server_to_the_plain_fedavg_model(digits):
    pytest.importorskip("cryptography")
    pytest.importorskip("Cryptodome")

    plain, _ = _serve_two_trainers(digits, 3)
    secure, _ = _serve_two_trainers(digits, 3, secure_aggregation=True)

    assert [r.clients for r in secure.history_] == [["t0", "t1"]] * 3
    assert type(secure.rounds_).__name__ == "SecureRounds" and sorted(secure.rounds_.inputs_) == ["t0", "t1"]
    for s, p in zip(secure.global_weights_, plain.global_weights_):
        np.testing.assert_allclose(s, p, atol=1e-5)  # the same rounds, to the fixed-point step


def test_secure_rounds_keep_the_trainers_federated_evaluation(digits):
    pytest.importorskip("cryptography")
    pytest.importorskip("Cryptodome")

    server, _ = _serve_two_trainers(digits, 3, evals=_half_evals, secure_aggregation=True, evaluate_every=1)

    assert [r.federated.get("clients") for r in server.history_] == [2, 2, 2]
    assert all(0.5 < r.federated["accuracy"] <= 1.0 for r in server.history_)
