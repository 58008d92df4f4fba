"""F3: real transport: 1 aggregation server + 10 client processes on 127.0.0.1, 1.2 M-parameter model.

sedna_lib: ``AggregationServer`` (FedAvg, binary chunked frames over websockets) and 10 client
processes, each running the deployed trainer loop (``federated_learning.client.run_client`` over
``AggregationClient``) with the MLP 64-16000-10 (1,200,010 float64 parameters, 9.6 MB) and the
F1 training function. Flower 1.41: legacy ``start_server`` + 10 ``start_client`` processes over
gRPC (in ``benchmarks/.venv-flwr``), same model, data and training function. Repetitions are
interleaved. Per-round time = median gap between consecutive aggregations, rounds 2..R (after
connect). Bytes on the wire: each client's TCP payload bytes per round (Linux ``TCP_INFO``
bytes_acked / bytes_received: websocket frames with their headers), against the raw arrays. Also: the size of the
same model in Sedna's JSON wire format against its 16 MiB client cap, and client RSS per round.

Each rep also measures the compute floor: the same 10 local trainings in 10 processes, rounds fenced
by a barrier, no transport and no aggregation. Transport share = round - floor, for both sides; a
sedna_lib round is broken down from the server's and the clients' clocks (aggregated -> first
trainer starts, training span, last trainer ends -> its update is added, last update -> aggregated)
with the CPU seconds of the server and of the clients (training and the rest) per round.

    python benchmarks/f3_transport.py                      # 5 reps x 5 rounds (about 4 minutes)
    python benchmarks/f3_transport.py --rounds 10 --reps 5 # the full protocol
    python benchmarks/f3_transport.py --no-flower --receive ab  # the trainers' receive path, A/B
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results

HERE = pathlib.Path(__file__).resolve().parent
SEDNA_CLIENT_CAP = 16 * 1024 * 1024
# 10 client processes share 2 cores: one BLAS thread each, on both sides
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _tcp_bytes(sock) -> tuple[int, int]:
    """TCP payload bytes received and sent (acked) on a socket, from Linux ``TCP_INFO``."""
    import socket
    import struct

    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    acked, received = struct.unpack_from("<QQ", info, 120)  # tcpi_bytes_acked, tcpi_bytes_received
    return received, acked


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def client_main(url: str, cid: int, data: str, hidden: int, partition: str, n_clients: int, die_at: int = 0,
                fast_receive: bool = True) -> None:
    """One trainer process: connect, run the federated rounds, print a JSON line of measurements.

    With ``die_at`` > 0 the process SIGKILLs itself when round ``die_at`` starts (before uploading).
    """
    from sedna_lib.federated_learning.client import run_client
    from sedna_lib.backends import set_backend
    from sedna_lib.transport.ws import AggregationClient

    xtr, ytr, _, _ = fc.load_data(data)
    local = fc.client_datasets(xtr, ytr, partition, n_clients)[cid]
    est = fc.MLPEstimator(hidden)
    trained = {"wall": 0.0, "cpu": 0.0, "end": 0.0}
    train = est.train

    def timed_train(*args, **kwargs):  # training alone, to tell the compute from the transport
        w0, c0 = time.perf_counter(), time.process_time()
        out = train(*args, **kwargs)
        trained["wall"] += time.perf_counter() - w0
        trained["cpu"] += time.process_time() - c0
        trained["end"] = time.time()
        return out

    est.train = timed_train
    backend = set_backend(est)
    client = AggregationClient(url, f"client-{cid}", connect_timeout=120, fast_receive=fast_receive)
    client.connect()
    io0 = _tcp_bytes(client._ws.socket)
    per_round = []

    def on_round(outcome):
        est.round = outcome.round_number + 1
        if die_at and est.round == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        r, w = _tcp_bytes(client._ws.socket)
        per_round.append({"round": outcome.round_number, "bytes_sent": outcome.bytes_sent, "rchar": r, "wchar": w,
                          "rss_mb": _rss_mb(), "cpu": time.process_time(), "train_cpu": trained["cpu"],
                          "train_wall": trained["wall"], "train_start": outcome.started_at,
                          "train_end": trained["end"], "model_at": time.time()})

    run_client(backend, client, local, on_round=on_round)
    client.close()
    print(json.dumps({"cid": cid, "io0": io0, "rounds": per_round,
                      "torch_imported": "torch" in sys.modules}), flush=True)


def run_sedna(npz: str, rounds: int, n_clients: int, hidden: int, partition: str = "iid",
              receive: str = "fast") -> dict:
    from sedna_lib.algorithms.aggregation import FedAvg
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    stamps: list[float] = []
    timeline: list[dict] = []  # per round: wall-clock times of each update's arrival and of the aggregation
    arrivals: list[float] = []

    class FedAvgTimed(FedAvg):
        def add(self, update):
            arrivals.append(time.time())
            return super().add(update)

        def finish(self):
            out = super().finish()
            stamps.append(time.perf_counter())
            timeline.append({"arrivals": list(arrivals), "aggregated": time.time(), "server_cpu": time.process_time()})
            arrivals.clear()
            return out

    server = AggregationServer(FedAvgTimed(), host="127.0.0.1", http_port=0, exit_round=rounds,
                               participants_count=n_clients, done_grace=10, context=Context(Config()))
    server.start(block=False)
    started = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(HERE), **ONE_THREAD)
    procs = [subprocess.Popen([sys.executable, __file__, "--role", "client", "--url", server.url, "--cid", str(c),
                               "--data", npz, "--hidden", str(hidden), "--partition", partition,
                               "--clients", str(n_clients), "--receive", receive], stdout=subprocess.PIPE, env=env,
                              text=True)
             for c in range(n_clients)]
    try:
        outs = [json.loads(p.communicate(timeout=900)[0].strip().splitlines()[-1]) for p in procs]
        server.wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        server.stop()
    total = time.perf_counter() - started
    weights = server.global_weights_
    return {"round_seconds": list(np.diff(stamps)), "first_round_seconds": stamps[0] - started, "timeline": timeline,
            "total_seconds": total, "clients": outs, "n_params": fc.n_params(weights),
            "raw_bytes": int(sum(np.asarray(w).nbytes for w in weights))}


def _floor_worker(npz: str, cid: int, hidden: int, partition: str, n_clients: int, rounds: int, barrier) -> None:
    """One process of the compute floor: the same local training as a client, rounds fenced by a barrier."""
    for k, v in ONE_THREAD.items():
        os.environ[k] = v
    xtr, ytr, _, _ = fc.load_data(npz)
    local = fc.client_datasets(xtr, ytr, partition, n_clients)[cid]
    est = fc.MLPEstimator(hidden)
    for r in range(1, rounds + 1):
        barrier.wait()
        est.round = r
        est.train(local)
    barrier.wait()


def run_floor(npz: str, rounds: int, n_clients: int, hidden: int, partition: str = "iid") -> dict:
    """The compute floor: the clients' local trainings alone, one process each, all starting each round together.

    No transport and no aggregation: a round is the time from the barrier that starts it to the
    one its last trainer reaches, so it is what the same processes on the same cores need to train.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(n_clients + 1)
    saved = {k: os.environ.get(k) for k in ONE_THREAD}
    os.environ.update(ONE_THREAD)  # the spawned interpreters start with one BLAS thread
    try:
        procs = [ctx.Process(target=_floor_worker, args=(npz, c, hidden, partition, n_clients, rounds, barrier))
                 for c in range(n_clients)]
        for p in procs:
            p.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    stamps = []
    try:
        for _ in range(rounds + 1):
            barrier.wait(timeout=600)
            stamps.append(time.perf_counter())
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    # round 1 is skipped as in the runs (first-touch of the model's pages)
    return {"round_seconds": list(np.diff(stamps))[1:]}


def breakdown(run: dict) -> dict:
    """Where a sedna_lib round goes (rounds 2..R, medians), from the server's and the clients' clocks.

    ``to_first_training``: aggregation done -> the first trainer starts training on the new model
    (encode, send, receive, decode); ``training_span``: first trainer starts -> last trainer ends;
    ``last_upload``: last trainer ends -> its update is in the server's aggregate (encode, send,
    receive, reassemble, decode, add); ``aggregate``: last update in -> aggregation done. The four
    add up to the round. CPU seconds per round: the server process, and all clients together,
    training and the rest (their transport).
    """
    tl = run["timeline"]
    rows = {c["cid"]: {r["round"]: r for r in c["rounds"]} for c in run["clients"]}
    out: dict[str, list[float]] = {k: [] for k in ("to_first_training", "training_span", "last_upload",
                                                   "aggregate", "server_cpu", "clients_train_cpu",
                                                   "clients_other_cpu")}
    for r in range(2, len(tl) + 1):
        prev, cur = tl[r - 2], tl[r - 1]
        try:
            this = [rows[c][r] for c in rows]
            before = [rows[c][r - 1] for c in rows]
        except KeyError:
            continue  # a client missed a round
        starts = [x["train_start"] for x in this]
        ends = [x["train_end"] for x in this]
        out["to_first_training"].append(min(starts) - prev["aggregated"])
        out["training_span"].append(max(ends) - min(starts))
        out["last_upload"].append(max(cur["arrivals"]) - max(ends))
        out["aggregate"].append(cur["aggregated"] - max(cur["arrivals"]))
        out["server_cpu"].append(cur["server_cpu"] - prev["server_cpu"])
        train = sum(x["train_cpu"] - y["train_cpu"] for x, y in zip(this, before))
        out["clients_train_cpu"].append(train)
        out["clients_other_cpu"].append(sum(x["cpu"] - y["cpu"] for x, y in zip(this, before)) - train)
    return {k: fc.median(v) for k, v in out.items() if v}


def wire_summary(run: dict) -> dict:
    """Per round and client: bytes sent/received through the socket vs the raw arrays (rounds 2..R)."""
    raw = run["raw_bytes"]
    sent, recv, codec_sent, rss = [], [], [], []
    for c in run["clients"]:
        rows = c["rounds"]
        for prev, cur in zip(rows, rows[1:]):
            sent.append(cur["wchar"] - prev["wchar"])
            recv.append(cur["rchar"] - prev["rchar"])
        codec_sent += [r["bytes_sent"] for r in rows]
        rss.append([r["rss_mb"] for r in rows])
    return {"raw_bytes": raw, "socket_sent_per_round": fc.median(sent), "socket_recv_per_round": fc.median(recv),
            "codec_update_bytes": fc.median(codec_sent), "uplink_ratio": fc.median(sent) / raw,
            "downlink_ratio": fc.median(recv) / raw, "client_rss_mb_per_round": rss,
            "client_rss_growth_mb_max": max(r[-1] - r[0] for r in rss)}


def json_size(hidden: int) -> dict:
    """Sedna's JSON update message for the same model, and the largest model its 16 MiB cap lets through."""
    from sedna_lib.transport import messages as m

    weights = fc.init_mlp(hidden)
    t = time.perf_counter()
    text = m.to_json(m.UpdateWeight("client-0", weights, 144, "job"))
    enc = time.perf_counter() - t
    n = fc.n_params(weights)
    per_param = len(text) / n
    return {"json_bytes": len(text), "raw_bytes": n * 8, "json_encode_seconds": enc,
            "fits_sedna_16MiB_cap": len(text) <= SEDNA_CLIENT_CAP,
            "max_params_under_cap": int(SEDNA_CLIENT_CAP / per_param)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="bench", choices=["bench", "client"])
    parser.add_argument("--url")
    parser.add_argument("--cid", type=int, default=0)
    parser.add_argument("--data")
    parser.add_argument("--hidden", type=int, default=16000)
    parser.add_argument("--partition", default="iid")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-flower", action="store_true")
    parser.add_argument("--die-at", type=int, default=0, help="(client role) kill this process at that round")
    parser.add_argument("--receive", default="fast", choices=["fast", "parser", "ab"],
                        help="the trainers' receive path: straight into the reassembly buffer (fast), websockets' "
                             "parser, or both in each rep, in alternating order (ab: an A/B of the trainers' CPU)")
    args = parser.parse_args(argv)
    if args.role == "client":
        client_main(args.url, args.cid, args.data, args.hidden, args.partition, args.clients, args.die_at,
                    args.receive != "parser")
        return {}

    npz = fc.save_data(tempfile.mkstemp(suffix=".npz")[1])
    if not args.no_flower:
        from _flower_venv import run_flower, versions
    reps = []
    for rep in range(args.reps):
        other = None
        if args.receive == "ab" and rep % 2 == 0:
            other = run_sedna(npz, args.rounds, args.clients, args.hidden, args.partition, "parser")
        ours = run_sedna(npz, args.rounds, args.clients, args.hidden, args.partition,
                         "parser" if args.receive == "parser" else "fast")
        if args.receive == "ab" and other is None:
            other = run_sedna(npz, args.rounds, args.clients, args.hidden, args.partition, "parser")
        wire = wire_summary(ours)
        floor = run_floor(npz, args.rounds, args.clients, args.hidden, args.partition)
        entry = {"load_average": os.getloadavg()[0], "sedna_lib_round_s": fc.median(ours["round_seconds"]),
                 "floor_round_s": fc.median(floor["round_seconds"]), "breakdown": breakdown(ours),
                 "sedna_lib_first_round_s": ours["first_round_seconds"], "sedna_lib_total_s": ours["total_seconds"],
                 "wire": wire, "n_params": ours["n_params"],
                 "client_imported_torch": any(c["torch_imported"] for c in ours["clients"])}
        if not args.no_flower:
            fl = run_flower("grpc", data=npz, partition=args.partition, rounds=args.rounds, n_clients=args.clients,
                            hidden=args.hidden)
            entry.update({"flower_round_s": fc.median(fl["round_seconds"]),
                          "flower_first_round_s": fl["first_round_seconds"], "flower_total_s": fl["total_seconds"],
                          "flower_accuracy": fl["accuracy"][-1]})
        if other is not None:
            entry["parser_receive"] = {"round_s": fc.median(other["round_seconds"]), "breakdown": breakdown(other)}
            print(f"rep {rep + 1}: trainers' CPU outside training per round (all {args.clients}): fast receive "
                  f"{entry['breakdown']['clients_other_cpu']:.3f} s, websockets' parser "
                  f"{entry['parser_receive']['breakdown']['clients_other_cpu']:.3f} s; rounds "
                  f"{entry['sedna_lib_round_s']:.3f} s vs {entry['parser_receive']['round_s']:.3f} s", flush=True)
        reps.append(entry)
        print(f"rep {rep + 1}/{args.reps}: sedna_lib {entry['sedna_lib_round_s']:.3f} s/round"
              + (f", Flower {entry['flower_round_s']:.3f} s/round" if "flower_round_s" in entry else "")
              + f", compute floor {entry['floor_round_s']:.3f} s/round (load {os.getloadavg()[0]:.1f})", flush=True)
    # compute-only reference: the same 10 local trainings, sequentially in one process
    xtr, ytr, _, _ = fc.load_data(npz)
    data = fc.client_datasets(xtr, ytr, args.partition, args.clients)
    w = fc.init_mlp(args.hidden)
    t = time.perf_counter()
    for d in data:
        fc.train_mlp(w, d.x, d.y, seed=fc.seed_for(1, d.cid))
    compute_s = time.perf_counter() - t
    js = json_size(args.hidden)
    summary = {k: fc.median(r[k] for r in reps) for k in reps[0] if k.endswith("_s")}
    for k in ("uplink_ratio", "downlink_ratio", "socket_sent_per_round", "socket_recv_per_round", "codec_update_bytes",
              "client_rss_growth_mb_max"):
        summary[k] = fc.median(r["wire"][k] for r in reps)
    summary["compute_only_sequential_s"] = compute_s
    summary["breakdown"] = {k: fc.median(r["breakdown"][k] for r in reps) for k in reps[0]["breakdown"]}
    # the transport share: what a round costs beyond the clients' training on the same cores
    summary["sedna_lib_transport_s"] = summary["sedna_lib_round_s"] - summary["floor_round_s"]
    if "flower_round_s" in summary:
        summary["speedup_vs_flower"] = summary["flower_round_s"] / summary["sedna_lib_round_s"]
        summary["flower_transport_s"] = summary["flower_round_s"] - summary["floor_round_s"]
        # the load of a shared machine moves both sides of a rep together: the per-rep ratio is steadier
        summary["speedup_per_rep"] = [r["flower_round_s"] / r["sedna_lib_round_s"] for r in reps]
        summary["speedup_median_of_reps"] = fc.median(summary["speedup_per_rep"])
    raw = reps[0]["wire"]["raw_bytes"]
    rows = [["sedna_lib (websocket, binary chunks)", f"{summary['sedna_lib_round_s']:.3f} s",
             f"{summary['sedna_lib_first_round_s']:.2f} s", f"{summary['uplink_ratio']:.4f}",
             f"{summary['downlink_ratio']:.4f}"]]
    if "flower_round_s" in summary:
        rows.append([f"Flower {versions()['flwr']} gRPC (legacy start_server)", f"{summary['flower_round_s']:.3f} s",
                     f"{summary['flower_first_round_s']:.2f} s", "-", "-"])
    print(f"\nF3: {args.clients} client processes + 1 server on 127.0.0.1, {reps[0]['n_params']:,} parameters "
          f"({raw / 1e6:.1f} MB float64), {args.rounds} rounds, median of {args.reps} interleaved reps")
    print(fc.table(["run", "per round (rounds 2..R)", "start to first round", "uplink bytes / raw",
                    "downlink bytes / raw"], rows))
    print(f"compute alone (10 local trainings, one process): {compute_s:.3f} s")
    floor_s = summary["floor_round_s"]
    print(f"compute floor ({args.clients} training processes, rounds fenced by a barrier, no transport): "
          f"{floor_s:.3f} s/round")
    print(f"transport share (round - floor): sedna_lib {summary['sedna_lib_transport_s']:.3f} s "
          f"({summary['sedna_lib_transport_s'] / summary['sedna_lib_round_s']:.0%} of its round)"
          + (f", Flower {summary['flower_transport_s']:.3f} s "
             f"({summary['flower_transport_s'] / summary['flower_round_s']:.0%})" if "flower_transport_s" in summary
             else ""))
    b = summary["breakdown"]
    print(f"sedna_lib round, medians: aggregated -> first training {b['to_first_training']:.3f} s, training span "
          f"{b['training_span']:.3f} s, last training end -> its update added {b['last_upload']:.3f} s, last "
          f"update -> aggregated {b['aggregate']:.3f} s; CPU per round: server {b['server_cpu']:.3f} s, clients "
          f"training {b['clients_train_cpu']:.3f} s, clients other {b['clients_other_cpu']:.3f} s")
    if args.receive == "ab":
        summary["parser_receive"] = {
            "round_s": fc.median(r["parser_receive"]["round_s"] for r in reps),
            "clients_other_cpu": fc.median(r["parser_receive"]["breakdown"]["clients_other_cpu"] for r in reps),
            "server_cpu": fc.median(r["parser_receive"]["breakdown"]["server_cpu"] for r in reps)}
        pr = summary["parser_receive"]
        print(f"A/B of the trainers' receive path (medians of the reps): CPU outside training per round, all "
              f"trainers: fast {b['clients_other_cpu']:.3f} s, parser {pr['clients_other_cpu']:.3f} s; round "
              f"{summary['sedna_lib_round_s']:.3f} s vs {pr['round_s']:.3f} s")
    if "speedup_vs_flower" in summary:
        print(f"Flower / sedna_lib per round: {summary['speedup_vs_flower']:.2f}x; per rep "
              f"{', '.join(f'{x:.2f}' for x in summary['speedup_per_rep'])} (median "
              f"{summary['speedup_median_of_reps']:.2f}x; bar: >= 3x)")
    print(f"client RSS growth over the rounds: at most {summary['client_rss_growth_mb_max']:.1f} MB; "
          f"torch imported by a client: {any(r['client_imported_torch'] for r in reps)}")
    print(f"Sedna JSON update for this model: {js['json_bytes'] / 2**20:.1f} MiB "
          f"({js['json_bytes'] / js['raw_bytes']:.2f}x raw, encoded in {js['json_encode_seconds']:.2f} s) vs its "
          f"16 MiB client cap -> cannot carry it; largest model under the cap: about {js['max_params_under_cap']:,} "
          "parameters. sedna_lib's limit: 2 GiB per message (chunked frames of 4 MiB).")
    payload = {"rounds": args.rounds, "clients": args.clients, "reps": reps, "summary": summary, "json_wire": js,
               "machine": machine(), "flower_versions": None if args.no_flower else versions()}
    write_results("f3_transport", payload)
    return payload


if __name__ == "__main__":
    main()
