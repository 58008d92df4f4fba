"""P2: client process RSS per round during a real federated run (1 server + 10 client processes, F3's model).

The parent runs an ``AggregationServer`` (FedAvg, binary chunked frames over websockets) on
127.0.0.1 and starts 10 trainer processes. Each trainer is a deployed-style worker:
``sedna_lib.collaborative_training.fit`` with the F1 MLP estimator widened to 64-16000-10
(1,200,010 float64 parameters, 9.6 MB), configured through a ``Context`` as from the
environment. Two measurements per client and round:

* ``end``: the client's own ``VmRSS`` right after it installed the round's global model
  (reported from ``on_round``);
* ``peak``: the largest ``VmRSS`` the parent read from ``/proc/<pid>/status`` (every 25 ms)
  while that round ran for that client (between its previous report and this one), i.e. with
  the local training, the upload and the download in flight.

Growth = last round minus round 2 (round 1 includes the first-touch of the model and the
websocket buffers), per client, in MB and percent; the bar is no growth. Also reported: the
least-squares slope over rounds 2..R, and the growth over the second half of the run (last
round minus round R/2), which tells a plateau from a leak.

The job runs twice: with glibc's default allocator settings (``default``), and as a control
(``mmap``) with a fixed ``MALLOC_MMAP_THRESHOLD_`` (128 KiB) in the clients, so that every
model-sized block is mapped on allocation and unmapped on free. A leak (buffers kept per round)
grows in both; memory the allocator merely keeps for reuse (glibc raises its mmap threshold
after the first large free, and later model-sized blocks come from the heap) grows only in the
first. A third variant, ``trim``, calls glibc's ``malloc_trim(0)`` in each client after every round.

    python benchmarks/p2_client_rss.py                 # 10 clients, 10 rounds, default + mmap (~2 minutes)
    python benchmarks/p2_client_rss.py --rounds 30 --variants default
    python benchmarks/p2_client_rss.py --variants default,mmap,trim
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results

HERE = pathlib.Path(__file__).resolve().parent
# 10 client processes share a few cores: one BLAS thread each
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _status_kb(path: str, *fields: str) -> list[int]:
    """Fields (kB) of a ``/proc/<pid>/status`` file, in order."""
    with open(path, encoding="ascii") as fh:
        text = fh.read()
    return [int(text.split(f"{f}:", 1)[1].split()[0]) for f in fields]


# -- client process -----------------------------------------------------------------------------
def client_main(port: int, cid: int, data: str, hidden: int, n_clients: int) -> None:
    """One trainer: load its shard, run ``collaborative_training.fit``, print one JSON line per round."""
    from sedna_lib import collaborative_training
    from sedna_lib.config import Config
    from sedna_lib.context import Context

    def report(round_number: int) -> None:
        rss, hwm = _status_kb("/proc/self/status", "VmRSS", "VmHWM")
        print(json.dumps({"cid": cid, "round": round_number, "t": time.monotonic(), "rss_kb": rss,
                          "hwm_kb": hwm}), flush=True)

    xtr, ytr, _, _ = fc.load_data(data)
    local = fc.client_datasets(xtr, ytr, "iid", n_clients)[cid]
    est = fc.MLPEstimator(hidden)
    report(0)  # model built, nothing sent yet

    def on_round(outcome) -> None:
        est.round = outcome.round_number + 1
        if os.environ.get("P2_MALLOC_TRIM"):  # the 'trim' variant: hand free heap pages back to the OS
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        report(outcome.round_number)

    ctx = Context(Config(agg_ip="127.0.0.1", agg_port=port, worker_name=f"client-{cid}",
                         connect_timeout=120.0))
    collaborative_training.fit(local, model=est, context=ctx, progress=False, on_round=on_round)
    print(json.dumps({"cid": cid, "done": True, "torch_imported": "torch" in sys.modules,
                      "tensorflow_imported": "tensorflow" in sys.modules}), flush=True)


# -- parent ------------------------------------------------------------------------------------
class Sampler(threading.Thread):
    """Reads ``VmRSS`` of some processes every ``period`` seconds until stopped."""

    def __init__(self, pids: dict[int, int], period: float = 0.025) -> None:
        super().__init__(daemon=True)
        self.pids, self.period = pids, period
        self.samples: dict[int, list[tuple[float, int]]] = {key: [] for key in pids}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            now = time.monotonic()
            for key, pid in self.pids.items():
                try:
                    (rss,) = _status_kb(f"/proc/{pid}/status", "VmRSS")
                except (OSError, IndexError):  # the process has exited (or is exiting)
                    continue
                self.samples[key].append((now, rss))


def run_federated(npz: str, rounds: int, n_clients: int, hidden: int, client_env: dict | None = None) -> dict:
    """One job: server here, clients as processes; returns the per-client, per-round RSS."""
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=rounds,
                               participants_count=n_clients, done_grace=10, context=Context(Config()))
    server.start(block=False)
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(HERE), **ONE_THREAD, **(client_env or {}))
    procs = [subprocess.Popen([sys.executable, __file__, "--role", "client", "--port", str(server.port),
                               "--cid", str(c), "--data", npz, "--hidden", str(hidden),
                               "--clients", str(n_clients)],
                              stdout=subprocess.PIPE, env=env, text=True) for c in range(n_clients)]
    sampler = Sampler({c: p.pid for c, p in enumerate(procs)} | {-1: os.getpid()})
    sampler.start()
    try:
        outs = [p.communicate(timeout=600)[0] for p in procs]
        finished = server.wait(timeout=60)
    finally:
        sampler.stop_event.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
        server.stop()
    if any(p.returncode for p in procs) or not finished:
        raise RuntimeError(f"the federated job failed: return codes {[p.returncode for p in procs]}, "
                           f"server finished: {finished}")
    sampler.join()
    total = time.monotonic() - started
    clients = []
    for cid, text in enumerate(outs):
        lines = [json.loads(line) for line in text.strip().splitlines()]
        reports = [r for r in lines if "round" in r]
        tail = next(r for r in lines if r.get("done"))
        samples = sampler.samples[cid]
        end, peak, hwm = [], [], []
        for prev, cur in zip(reports, reports[1:]):
            window = [rss for t, rss in samples if prev["t"] < t <= cur["t"]]
            end.append(cur["rss_kb"] / 1024)
            peak.append(max(window + [cur["rss_kb"]]) / 1024)
            hwm.append(cur["hwm_kb"] / 1024)
        clients.append({"cid": cid, "start_mb": reports[0]["rss_kb"] / 1024, "end_mb": end, "peak_mb": peak,
                        "hwm_mb": hwm, "samples": len(samples), "torch_imported": tail["torch_imported"],
                        "tensorflow_imported": tail["tensorflow_imported"]})
    server_rss = [rss / 1024 for _, rss in sampler.samples[-1]]
    # the server's peak per round, in client 0's round windows
    marks = [r["t"] for r in (json.loads(line) for line in outs[0].strip().splitlines()) if "round" in r]
    server_peaks = [max([rss / 1024 for t, rss in sampler.samples[-1] if a < t <= b] or [float("nan")])
                    for a, b in zip(marks, marks[1:])]
    return {"clients": clients, "total_seconds": total, "history": [h.reason for h in server.history_],
            "n_params": fc.n_params(server.global_weights_),
            "raw_bytes": int(sum(np.asarray(w).nbytes for w in server.global_weights_)),
            "server_process_rss_mb": {"first": server_rss[0], "max": max(server_rss), "last": server_rss[-1],
                                      "peak_per_round": server_peaks}}


def growth(series: list[float]) -> dict:
    """Last round minus round 2 (MB and %), the least-squares slope over rounds 2..R (MB/round),
    and the second half's growth (last round minus round R/2, MB)."""
    tail = series[1:]
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0]) if len(tail) >= 2 else 0.0
    half = series[(len(series) + 1) // 2 - 1]
    return {"mb": series[-1] - series[1], "pct": 100.0 * (series[-1] - series[1]) / series[1],
            "slope_mb_per_round": slope, "second_half_mb": series[-1] - half}


def summarise(run: dict) -> dict:
    """Per-client growth of both measurements, and their medians and maxima over the clients."""
    clients = run["clients"]
    for c in clients:
        c["growth_end"] = growth(c["end_mb"])
        c["growth_peak"] = growth(c["peak_mb"])
    summary = {}
    for kind in ("end", "peak"):
        g = [c[f"growth_{kind}"] for c in clients]
        summary[kind] = {"growth_mb_median": statistics.median(x["mb"] for x in g),
                         "growth_mb_max": max(x["mb"] for x in g),
                         "growth_pct_median": statistics.median(x["pct"] for x in g),
                         "growth_pct_max": max(x["pct"] for x in g),
                         "slope_mb_per_round_median": statistics.median(x["slope_mb_per_round"] for x in g),
                         "second_half_mb_median": statistics.median(x["second_half_mb"] for x in g),
                         "second_half_mb_max": max(x["second_half_mb"] for x in g),
                         "round2_mb_median": statistics.median(c[f"{kind}_mb"][1] for c in clients),
                         "last_mb_median": statistics.median(c[f"{kind}_mb"][-1] for c in clients)}
    return summary


def print_summary(summary: dict, rounds: int, model_mb: float) -> None:
    """One line per measurement."""
    for kind, label in (("end", "after the round"), ("peak", "peak during the round")):
        s = summary[kind]
        print(f"  {label}: round 2 {s['round2_mb_median']:.1f} MB -> round {rounds} "
              f"{s['last_mb_median']:.1f} MB "
              f"(medians); growth median {s['growth_mb_median']:+.1f} MB ({s['growth_pct_median']:+.1f} %), "
              f"max {s['growth_mb_max']:+.1f} MB ({s['growth_pct_max']:+.1f} %); slope "
              f"{s['slope_mb_per_round_median']:+.2f} MB/round; "
              f"second half {s['second_half_mb_median']:+.1f} MB "
              f"(max {s['second_half_mb_max']:+.1f}) (model: {model_mb:.1f} MiB)")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="bench", choices=["bench", "client"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--cid", type=int, default=0)
    parser.add_argument("--data")
    parser.add_argument("--hidden", type=int, default=16000,
                        help="hidden units (16000: 1,200,010 parameters)")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--variants", default="default,mmap",
                        help="comma-separated runs: default (glibc defaults), mmap "
                             "(MALLOC_MMAP_THRESHOLD_=128 KiB in the clients), "
                             "trim (glibc malloc_trim(0) in each client after every round)")
    args = parser.parse_args(argv)
    if args.role == "client":
        client_main(args.port, args.cid, args.data, args.hidden, args.clients)
        return {}
    if args.rounds < 3:
        parser.error("--rounds must be at least 3 (growth is measured from round 2)")

    known = {"default": {}, "mmap": {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)},
             "trim": {"P2_MALLOC_TRIM": "1"}}
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not names or any(v not in known for v in names):
        parser.error(f"--variants takes a comma-separated subset of {sorted(known)}")
    variants = {v: known[v] for v in names}
    npz = fc.save_data(tempfile.mkstemp(suffix=".npz")[1])
    try:
        runs = {name: run_federated(npz, args.rounds, args.clients, args.hidden, env)
                for name, env in variants.items()}
    finally:
        os.unlink(npz)
    summaries = {name: summarise(run) for name, run in runs.items()}
    main_variant = names[0]
    run = runs[main_variant]
    clients = run["clients"]
    model_mb = run["raw_bytes"] / 2 ** 20

    print(f"\nP2: client RSS, {args.clients} client processes + 1 server on 127.0.0.1, "
          f"{run['n_params']:,} parameters ({run['raw_bytes'] / 1e6:.1f} MB float64), {args.rounds} rounds")
    headers = ["client", "start"] + [f"r{r}" for r in range(1, args.rounds + 1)]
    headers += ["growth r2->last", "slope"]
    for kind, title in (("end", "RSS after each round (MB, the client's VmRSS, new global model installed)"),
                        ("peak", "peak RSS while each round ran (MB, sampled by the parent every 25 ms)")):
        print(f"\n{title}, {main_variant} run:")
        rows = [[c["cid"], f"{c['start_mb']:.0f}"] + [f"{v:.1f}" for v in c[f"{kind}_mb"]]
                + [f"{c[f'growth_{kind}']['mb']:+.1f} MB ({c[f'growth_{kind}']['pct']:+.1f} %)",
                   f"{c[f'growth_{kind}']['slope_mb_per_round']:+.2f} MB/round"] for c in clients]
        print(fc.table(headers, rows))
    for name, summary in summaries.items():
        print(f"\n{name} ({runs[name]['total_seconds']:.0f} s):")
        print_summary(summary, args.rounds, model_mb)
    srv = run["server_process_rss_mb"]
    print(f"\nserver process (aggregation server + sampler): {srv['first']:.0f} MB at start, "
          f"max {srv['max']:.0f} MB (peak per round: {' '.join(f'{v:.0f}' for v in srv['peak_per_round'])}), "
          f"{srv['last']:.0f} MB at the end; torch/tensorflow imported by a client: "
          f"{any(c['torch_imported'] or c['tensorflow_imported'] for c in clients)}")

    payload = {"rounds": args.rounds, "clients": args.clients, "n_params": run["n_params"],
               "raw_bytes": run["raw_bytes"], "main_variant": main_variant,
               "summary": summaries[main_variant],
               "runs": {name: {"client_env": variants[name], "total_seconds": r["total_seconds"],
                               "round_close_reasons": r["history"], "summary": summaries[name],
                               "per_client": r["clients"],
                               "server_process_rss_mb": r["server_process_rss_mb"]}
                        for name, r in runs.items()},
               "load_average": os.getloadavg(), "glibc": os.confstr("CS_GNU_LIBC_VERSION"),
               "machine": machine("websockets", "uvicorn", "starlette")}
    write_results("p2_client_rss", payload)
    return payload


if __name__ == "__main__":
    main()
