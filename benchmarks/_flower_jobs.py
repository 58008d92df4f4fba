"""Flower jobs of the federated benchmarks; runs ONLY inside ``benchmarks/.venv-flwr`` (see ``_flower_venv.py``).

``python _flower_jobs.py <job> '<json kwargs>'`` prints one line ``{"flower_result": ...}``.
Jobs: ``sim`` (Message-API ``run_simulation`` with FedAvg), ``grpc`` (legacy ``start_server`` +
client processes over gRPC on 127.0.0.1), ``grpc_client`` (one such client), ``aggregate``
(Flower's aggregation functions on synthetic updates). Every job calls the training function
and data of ``_fl_common.py``, exactly as the sedna_lib side does.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import warnings

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

import _fl_common as fc  # noqa: E402


def _emit(result) -> None:
    print(json.dumps({"flower_result": result}), flush=True)


# -- simulation (Message API) --------------------------------------------------------------------
def sim(data: str, partition: str = "iid", rounds: int = 10, n_clients: int = 10, num_cpus: float = 1.0,
        hidden: int = 32) -> dict:
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg
    from flwr.simulation import run_simulation

    xtr, ytr, xte, yte = fc.load_data(data)
    parts = fc.partition(ytr, partition, n_clients)
    client_app = ClientApp()

    @client_app.train()
    def train(msg: Message, context: Context) -> Message:
        cid = int(context.node_config["partition-id"])
        idx = parts[cid]
        weights = msg.content["arrays"].to_numpy_ndarrays()
        rnd = int(msg.content["config"]["server-round"])
        new = fc.train_mlp(weights, xtr[idx], ytr[idx], seed=fc.seed_for(rnd, cid))
        content = RecordDict({"arrays": ArrayRecord(new), "metrics": MetricRecord({"num-examples": len(idx)})})
        return Message(content=content, reply_to=msg)

    accs: list[float] = []
    stamps: list[float] = []
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=n_clients,
                          min_available_nodes=n_clients, min_evaluate_nodes=0)

        def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            stamps.append(time.perf_counter())
            acc = fc.accuracy(arrays.to_numpy_ndarrays(), xte, yte)
            if server_round > 0:
                accs.append(acc)
            return MetricRecord({"accuracy": acc})

        strategy.start(grid=grid, initial_arrays=ArrayRecord(fc.init_mlp(hidden)), num_rounds=rounds,
                       evaluate_fn=evaluate)

    started = time.perf_counter()
    run_simulation(server_app=server_app, client_app=client_app, num_supernodes=n_clients,
                   backend_config={"client_resources": {"num_cpus": num_cpus, "num_gpus": 0.0}})
    total = time.perf_counter() - started
    return {"accuracy": accs, "round_seconds": list(np.diff(stamps)), "total_seconds": total}


# -- gRPC deployment (legacy start_server / start_client) -----------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grpc_client(data: str, address: str, cid: int, partition: str = "iid", n_clients: int = 10) -> dict:
    import flwr.client

    xtr, ytr, _, _ = fc.load_data(data)
    idx = fc.partition(ytr, partition, n_clients)[cid]
    x, y = xtr[idx], ytr[idx]

    class Client(flwr.client.NumPyClient):
        def fit(self, parameters, config):
            new = fc.train_mlp(parameters, x, y, seed=fc.seed_for(int(config["server_round"]), cid))
            return new, len(y), {}

    flwr.client.start_client(server_address=address, client=Client().to_client(), insecure=True)
    return {"cid": cid}


def grpc(data: str, partition: str = "iid", rounds: int = 10, n_clients: int = 10, hidden: int = 32) -> dict:
    import flwr.server
    from flwr.server.strategy import FedAvg

    _, _, xte, yte = fc.load_data(data)
    accs: list[float] = []
    stamps: list[float] = []

    def evaluate(server_round, parameters, config):
        stamps.append(time.perf_counter())
        acc = fc.accuracy(parameters, xte, yte)
        if server_round > 0:
            accs.append(acc)
        return 0.0, {"accuracy": acc}

    from flwr.common import ndarrays_to_parameters

    strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n_clients,
                      min_available_clients=n_clients, min_evaluate_clients=0, evaluate_fn=evaluate,
                      on_fit_config_fn=lambda rnd: {"server_round": rnd},
                      initial_parameters=ndarrays_to_parameters(fc.init_mlp(hidden)))
    address = f"127.0.0.1:{_free_port()}"
    env = dict(os.environ, PYTHONPATH=str(HERE), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(HERE / "_flower_jobs.py"), "grpc_client",
                               json.dumps({"data": data, "address": address, "cid": c, "partition": partition,
                                           "n_clients": n_clients})],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
             for c in range(n_clients)]
    try:
        flwr.server.start_server(server_address=address, config=flwr.server.ServerConfig(num_rounds=rounds),
                                 strategy=strategy)
    finally:
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    total = time.perf_counter() - started
    # stamps[0]: the initial model (before clients connected); stamps[r]: after round r
    return {"accuracy": accs, "round_seconds": list(np.diff(stamps[1:])), "first_round_seconds": stamps[1] - stamps[0],
            "total_seconds": total}


# -- aggregation micro-benchmark ----------------------------------------------------------------
def aggregate(n_updates: int = 10, hidden: int = 16000, dtype: str = "float64", reps: int = 1,
              robust: bool = True, seed: int = 0) -> dict:
    from flwr.app import ArrayRecord, MetricRecord, RecordDict
    from flwr.server.strategy.aggregate import aggregate as legacy
    from flwr.server.strategy.aggregate import aggregate_krum, aggregate_median, aggregate_trimmed_avg
    from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords

    updates, ns = fc.synthetic_updates(n_updates, hidden, dtype, seed)
    results = list(zip(updates, ns))
    records = [RecordDict({"arrays": ArrayRecord(u), "metrics": MetricRecord({"num-examples": n})})
               for u, n in zip(updates, ns)]
    out: dict = {"aggregate_arrayrecords": [], "aggregate": []}
    if robust:
        out.update({"aggregate_krum": [], "aggregate_trimmed_avg": [], "aggregate_median": []})
    check = None
    for _ in range(reps):
        t = time.perf_counter()
        rec = aggregate_arrayrecords(records, "num-examples")
        out["aggregate_arrayrecords"].append(time.perf_counter() - t)
        t = time.perf_counter()
        res = legacy(results)
        out["aggregate"].append(time.perf_counter() - t)
        check = [float(np.sum(a, dtype=np.float64)) for a in res]
        del rec, res
        if robust:
            f = max((n_updates - 3) // 2, 0)
            for name, call in (("aggregate_krum", lambda: aggregate_krum(results, num_malicious=f, to_keep=0)),
                               ("aggregate_trimmed_avg", lambda: aggregate_trimmed_avg(results, 0.1)),
                               ("aggregate_median", lambda: aggregate_median(results))):
                t = time.perf_counter()
                call()
                out[name].append(time.perf_counter() - t)
    out["checksum"] = check
    return out


if __name__ == "__main__":
    job, kwargs = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    _emit({"sim": sim, "grpc": grpc, "grpc_client": grpc_client, "aggregate": aggregate}[job](**kwargs))
