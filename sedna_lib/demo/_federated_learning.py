"""Demo: a short federated job on 127.0.0.1: an aggregation server and three trainers on split digits.

The trainers fit a scikit-learn MLP, so the demo needs no deep-learning framework.
"""

from __future__ import annotations

import logging
import pathlib
import threading
import warnings

import numpy as np


def _model(seed: int):
    """Build a small MLP that continues from the aggregated weights each round (``warm_start``)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=10, warm_start=True,
                         random_state=seed)


def run(workdir: pathlib.Path, *, rounds: int = 5, clients: int = 3) -> None:
    """Serve FedAvg for ``rounds`` rounds to ``clients`` trainer threads and print per-round accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    from sedna_lib import collaborative_training
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    logging.getLogger("sedna_lib").setLevel(logging.WARNING)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    test, train = order[:360], order[360:]
    shards = np.array_split(train, clients)
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=rounds,
                               participants_count=clients, round_timeout=20, context=Context(Config()))
    server.start(block=False)
    print(f"   aggregation server on {server.url}; {clients} trainers, {rounds} rounds (FedAvg)")
    status = server.url.replace("ws", "http", 1).rsplit("/", 1)[0]
    print(f"   status page {status}/ (rounds, clients, bytes; metrics at {status}/metrics)")
    accuracy: dict[int, float] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    models = [_model(0) for _ in range(clients)]

    def trainer(i: int) -> None:
        try:
            cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name=f"trainer-{i}",
                         exit_round=rounds)
            model = models[i]

            def on_round(outcome) -> None:
                if i == 0:
                    with lock:
                        accuracy[outcome.round_number] = float(np.mean(model.predict(x[test]) == y[test]))

            collaborative_training.fit((x[shards[i]], y[shards[i]]), None, model,
                                       aggregation_algorithm="FedAvg", context=Context(cfg), progress=False,
                                       on_round=on_round)
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=trainer, args=(i,)) for i in range(clients)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # a few local iterations per round, by design
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    server.wait(30)
    server.stop()
    if errors:
        raise errors[0]
    for record in server.history_:
        score = accuracy.get(record.round_number, float("nan"))
        print(f"   round {record.round_number}: {len(record.clients)} clients, "
              f"{record.total_sample} samples, test accuracy {score:.3f}")
