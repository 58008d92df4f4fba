"""F4: aggregation throughput and memory: sedna_lib's aggregators vs Flower's functions vs Sedna-style list FedAvg.

10 and 100 updates x 1,200,010 parameters (the MLP 64-16000-10), float64 and float32, same
synthetic updates on both sides (``_fl_common.synthetic_updates``). sedna_lib: the registered
``FedAvg`` folding updates one at a time into its running sum (``begin_round``/``add``/
``finish``, the server's path), ``FedAvg().aggregate(updates)`` (the whole round at once, as Flower's
functions are given it; the two must agree bit for bit), and ``Krum`` / ``TrimmedMean`` / ``Median``. Flower (in
``benchmarks/.venv-flwr``): ``aggregate_arrayrecords`` (Message API), legacy ``aggregate``,
``aggregate_krum``, ``aggregate_trimmed_avg``, ``aggregate_median``. Sedna-style: the published
formula on nested lists (``np.array(layer) * n / N`` summed, ``.tolist()``), as its server
receives JSON. Repetitions are interleaved (ours, then one Flower subprocess); medians reported.
Memory: tracemalloc peak of the streaming FedAvg path, in model copies (bar: <= 2 whatever n).

    python benchmarks/f4_aggregation.py                 # 5 reps (3 at 100 updates); robust ones at 10 updates
    python benchmarks/f4_aggregation.py --reps-100 5 --robust-100   # more reps, robust ones at 100 too
    python benchmarks/f4_aggregation.py --probe-only --reps 9 --reps-100 5 --runs 3   # FedAvg vs read-once probe
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc

import numpy as np

import _fl_common as fc
from _common import machine, write_results

HIDDEN = 16000


def sedna_style_fedavg(clients: list[tuple[list, int]]) -> list:
    """Sedna's published FedAvg (contract 5.2) on JSON-decoded nested lists."""
    total = sum(n for _, n in clients)
    first = clients[0][0]
    acc = [np.zeros(np.array(layer).shape) for layer in first]
    for weights, n in clients:
        for i, layer in enumerate(weights):
            acc[i] += np.array(layer) * n / total
    return [a.tolist() for a in acc]


def ours_fedavg(updates, ns, template):
    from sedna_lib.algorithms.aggregation import FedAvg
    from sedna_lib.base import ClientUpdate

    agg = FedAvg()
    agg.begin_round(template)
    for i, (u, n) in enumerate(zip(updates, ns)):
        agg.add(ClientUpdate(u, n, f"c{i}"))
    return agg.finish()


def ours_fedavg_round(updates, ns, template):
    """The round at once: ``FedAvg().aggregate(updates)`` (block-major over the updates)."""
    from sedna_lib.algorithms.aggregation import FedAvg
    from sedna_lib.base import ClientUpdate

    return FedAvg().aggregate([ClientUpdate(u, n, f"c{i}") for i, (u, n) in enumerate(zip(updates, ns))])


def ours_robust(name, updates, ns, template, **params):
    from sedna_lib.algorithms.aggregation import Krum, Median, TrimmedMean
    from sedna_lib.base import ClientUpdate

    agg = {"Krum": Krum, "TrimmedMean": TrimmedMean, "Median": Median}[name](**params)
    agg.begin_round(template)
    for i, (u, n) in enumerate(zip(updates, ns)):
        agg.add(ClientUpdate(u, n, f"c{i}"))
    return agg.finish()


def read_once_probe(updates) -> float:
    """One pass that reads every byte of every update once (vectorised ``max``): the bandwidth floor."""
    out = 0.0
    for u in updates:
        for w in u:
            out += float(w.max())
    return out


def check_only(updates, ns, template):
    """Part of FedAvg, timed alone: the finiteness check of every update (one BLAS read each)."""
    from sedna_lib.algorithms.aggregation import _math

    for u in updates:
        _math.check_finite(u)


def add_only(updates, ns, template):
    """Part of FedAvg, timed alone: the weighted running sum with no check and no final division."""
    from sedna_lib.algorithms.aggregation import _math

    acc = _math.start_accumulator(updates[0], float(ns[0]), template)
    scratch: dict = {}
    for u, n in zip(updates[1:], ns[1:]):
        _math.accumulate(acc, u, float(n), scratch)
    return acc


def numpy_path(fn):
    """``fn`` with the compiled loops off (the numpy path), to compare both in one run."""
    from sedna_lib.algorithms.aggregation import _kernels

    def run(*a):
        with _kernels.disabled():
            return fn(*a)
    return run


PROBE_ROWS = ("probe", "fedavg", "fedavg_round", "check_only", "add_only", "fedavg_numpy", "fedavg_round_numpy")


def probe_only(args) -> dict:
    """FedAvg against the read-once probe on the same updates, interleaved (F4 bar: within 1.3x).

    Each repetition times, in this order, the probe, ``FedAvg`` (the server's path: ``begin_round``,
    one ``add`` per update, ``finish``), ``FedAvg().aggregate(updates)`` (the round at once, summed
    block by block across the updates) and the streaming path's two parts alone (the finiteness
    check; the weighted sum without check or division), and the two FedAvg rows again with the compiled loops off
    (the numpy path), so the ratios compare figures taken moments apart. Before every timed call a
    ``--flush-mib`` buffer is read, so each row starts from the same state (caches holding none of the
    updates, and no written lines of the row before it: otherwise a row pays for writing back the
    previous row's results, e.g. the round at once after the streaming path's 9.6 MB of float64
    sums). Wall-clock
    and the thread's CPU time are both recorded (on a shared machine the CPU time leaves out the
    time the process waited for a core). BLAS runs on ``--blas-threads`` threads (default 1: the
    probe uses one core).
    """
    from threadpoolctl import threadpool_limits

    fns = {"probe": lambda u, n, t: read_once_probe(u), "fedavg": ours_fedavg, "fedavg_round": ours_fedavg_round,
           "check_only": check_only, "add_only": add_only, "fedavg_numpy": numpy_path(ours_fedavg),
           "fedavg_round_numpy": numpy_path(ours_fedavg_round)}
    results: dict = {}
    rows = []
    flush = np.ones((args.flush_mib << 20) // 8) if args.flush_mib else None
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        for n_up in args.updates:
            for dtype in args.dtypes:
                updates, ns = fc.synthetic_updates(n_up, HIDDEN, dtype)
                template = [np.zeros_like(w) for w in updates[0]]
                ours_fedavg(updates, ns, template)  # first use: imports, page-ins
                ours_fedavg_round(updates, ns, template)
                runs = []
                for run in range(args.runs):
                    if run:
                        time.sleep(args.pause)
                    wall: dict[str, list[float]] = {k: [] for k in PROBE_ROWS}
                    cpu: dict[str, list[float]] = {k: [] for k in PROBE_ROWS}
                    for _ in range(args.reps if n_up <= 10 else args.reps_100):
                        for k in PROBE_ROWS:
                            w, c = timed_both(fns[k], updates, ns, template, flush=flush)
                            wall[k].append(w)
                            cpu[k].append(c)
                    med_w = {k: fc.median(v) for k, v in wall.items()}
                    med_c = {k: fc.median(v) for k, v in cpu.items()}
                    runs.append({"median_wall_s": med_w, "median_cpu_s": med_c, "all_wall_s": wall,
                                 "all_cpu_s": cpu,
                                 "ratio_wall": {k: med_w[k] / med_w["probe"] for k in PROBE_ROWS},
                                 "ratio_cpu": {k: med_c[k] / med_c["probe"] for k in PROBE_ROWS}})
                    print(f"{n_up} x {dtype} run {run + 1}/{args.runs}: FedAvg/probe "
                          f"{runs[-1]['ratio_wall']['fedavg']:.2f}x wall, "
                          f"{runs[-1]['ratio_cpu']['fedavg']:.2f}x cpu; aggregate(updates)/probe "
                          f"{runs[-1]['ratio_wall']['fedavg_round']:.2f}x wall, "
                          f"{runs[-1]['ratio_cpu']['fedavg_round']:.2f}x cpu", flush=True)
                summary = {f"ratio_{c}": {k: fc.median(r[f"ratio_{c}"][k] for r in runs) for k in PROBE_ROWS}
                           for c in ("wall", "cpu")}
                summary["median_wall_s"] = {k: fc.median(r["median_wall_s"][k] for r in runs)
                                            for k in PROBE_ROWS}
                results[f"{n_up}x{dtype}"] = {"runs": runs, **summary,
                                              "ratio": summary["ratio_wall"]["fedavg"],
                                              "ratio_round": summary["ratio_wall"]["fedavg_round"]}
                med, rw, rc = summary["median_wall_s"], summary["ratio_wall"], summary["ratio_cpu"]
                rows.append([n_up, dtype, fc.fmt_ms(med["probe"]), fc.fmt_ms(med["fedavg"]),
                             f"{rw['fedavg']:.2f}x", f"{rc['fedavg']:.2f}x",
                             fc.fmt_ms(med["fedavg_round"]), f"{rw['fedavg_round']:.2f}x / {rc['fedavg_round']:.2f}x",
                             f"{rw['check_only']:.2f}x / {rc['check_only']:.2f}x",
                             f"{rw['add_only']:.2f}x / {rc['add_only']:.2f}x",
                             f"{rw['fedavg_numpy']:.2f}x / {rc['fedavg_numpy']:.2f}x",
                             f"{rw['fedavg_round_numpy']:.2f}x / {rc['fedavg_round_numpy']:.2f}x"])
                del updates
    print(f"\nF4 probe: FedAvg (streaming add) vs one read of the same updates; medians over {args.runs} "
          "run(s) of per-run medians")
    print(fc.table(["updates", "dtype", "read-once probe", "sedna_lib FedAvg", "FedAvg / probe (wall)",
                    "FedAvg / probe (cpu)", "aggregate(updates)", "aggregate / probe (wall / cpu)",
                    "check alone / probe (wall / cpu)",
                    "sum alone / probe (wall / cpu)", "numpy path: FedAvg / probe",
                    "numpy path: aggregate / probe"], rows))
    from sedna_lib.algorithms.aggregation import _kernels

    print(f"compiled loops (numba): {'on' if _kernels.available() else 'off (numba not installed)'}")
    from sedna_lib.algorithms.aggregation import _kernels

    payload = {"results": results, "machine": machine("scipy", "numba"), "blas_threads": args.blas_threads,
               "compiled_loops": _kernels.available(),
               "runs": args.runs, "reps": args.reps, "reps_100": args.reps_100, "flush_mib": args.flush_mib,
               "load_average": os.getloadavg()}
    write_results(args.name, payload)
    return payload


def timed_both(fn, *a, flush=None, **k) -> tuple[float, float]:
    """Wall-clock and this thread's CPU seconds of one call (after reading ``flush``, when given)."""
    gc.collect()
    if flush is not None:
        flush.max()  # evicts what the previous call left in the caches, its written lines included
    t, c = time.perf_counter(), time.thread_time()
    fn(*a, **k)
    return time.perf_counter() - t, time.thread_time() - c


def timed(fn, *a, **k):
    gc.collect()
    t = time.perf_counter()
    out = fn(*a, **k)
    return time.perf_counter() - t, out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--reps-100", type=int, default=3, help="repetitions at 100 updates (slow to build)")
    parser.add_argument("--robust-100", action="store_true", help="time Krum/TrimmedMean/Median at 100 updates too")
    parser.add_argument("--no-flower", action="store_true")
    parser.add_argument("--no-sedna-style", action="store_true")
    parser.add_argument("--probe-only", action="store_true",
                        help="only FedAvg vs the read-once memory probe (written to results/<name>.json)")
    parser.add_argument("--name", default="f4_probe", help="results file name for --probe-only")
    parser.add_argument("--runs", type=int, default=1, help="--probe-only: measurement runs, medians taken across")
    parser.add_argument("--pause", type=float, default=5.0, help="--probe-only: seconds between runs")
    parser.add_argument("--blas-threads", type=int, default=1, help="--probe-only: BLAS threads (the probe uses 1)")
    parser.add_argument("--flush-mib", type=int, default=64,
                        help="--probe-only: MiB read before every timed call, so that each starts from caches "
                             "holding none of the updates and no written lines of the call before (0: off)")
    args = parser.parse_args(argv)
    if args.probe_only:
        return probe_only(args)
    if not args.no_flower:
        from _flower_venv import run_flower, versions
    results: dict = {}
    rows, rrows = [], []
    for n_up in args.updates:
        for dtype in args.dtypes:
            updates, ns = fc.synthetic_updates(n_up, HIDDEN, dtype)
            template = [np.zeros_like(w) for w in updates[0]]
            model_bytes = sum(w.nbytes for w in updates[0])
            robust = n_up <= 10 or args.robust_100
            f = max((n_up - 3) // 2, 0)
            times: dict[str, list[float]] = {}
            lists = None
            if not args.no_sedna_style and dtype == "float64":
                lists = [([w.tolist() for w in u], n) for u, n in zip(updates, ns)]  # what the JSON server holds
            n_reps = args.reps if n_up <= 10 else args.reps_100
            for rep in range(n_reps):
                t, ours = timed(ours_fedavg, updates, ns, template)
                times.setdefault("sedna_lib FedAvg (streaming)", []).append(t)
                t, at_once = timed(ours_fedavg_round, updates, ns, template)  # what Flower's functions are given
                times.setdefault("sedna_lib FedAvg aggregate(updates)", []).append(t)
                assert all(np.array_equal(a, b) for a, b in zip(at_once, ours)), "the two paths must agree"
                del at_once
                if rep == 0:
                    ref = [sum(u[i].astype(np.float64) * n for u, n in zip(updates, ns)) / sum(ns)
                           for i in range(len(template))]
                    err = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref))
                if robust and (rep == 0 or n_up <= 10):
                    for name, params in (("Krum", {"num_byzantine": f}), ("TrimmedMean", {"beta": 0.1}),
                                         ("Median", {})):
                        t, _ = timed(ours_robust, name, updates, ns, template, **params)
                        times.setdefault(f"sedna_lib {name}", []).append(t)
                if lists is not None and (rep == 0 or n_up <= 10):
                    t, _ = timed(sedna_style_fedavg, lists)
                    times.setdefault("Sedna-style list FedAvg", []).append(t)
                if not args.no_flower:
                    fl = run_flower("aggregate", n_updates=n_up, hidden=HIDDEN, dtype=dtype, reps=1,
                                    robust=robust and (rep == 0 or n_up <= 10))
                    for k, v in fl.items():
                        if k != "checksum" and v:
                            times.setdefault(f"Flower {k}", []).append(v[0])
                    if rep == 0:
                        flower_err = max(abs(a - float(np.sum(b, dtype=np.float64)))
                                         for a, b in zip(fl["checksum"], ours)) if fl["checksum"] else None
                print(f"{n_up} x {dtype} rep {rep + 1}/{n_reps} done", flush=True)
            del lists
            # memory of the streaming path (updates already in memory, as the server holds one at a time)
            gc.collect()
            tracemalloc.start()
            ours_fedavg(updates, ns, template)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            med = {k: fc.median(v) for k, v in times.items()}
            key = f"{n_up}x{dtype}"
            flower_best = med.get("Flower aggregate_arrayrecords")
            entry = {"median_s": med, "all_s": times, "model_bytes": model_bytes,
                     "streaming_peak_bytes": peak, "streaming_peak_model_copies": peak / model_bytes,
                     "max_abs_err_vs_float64_reference": err,
                     "flower_checksum_abs_diff": None if args.no_flower else flower_err}
            ours_t = med["sedna_lib FedAvg (streaming)"]
            at_once_t = med["sedna_lib FedAvg aggregate(updates)"]
            if flower_best:
                entry["speedup_vs_flower_arrayrecords"] = flower_best / ours_t
                entry["at_once_speedup_vs_flower_arrayrecords"] = flower_best / at_once_t
                entry["speedup_vs_flower_legacy"] = med["Flower aggregate"] / ours_t
            if "Sedna-style list FedAvg" in med:
                entry["speedup_vs_sedna_style"] = med["Sedna-style list FedAvg"] / ours_t
            results[key] = entry
            rows.append([n_up, dtype, fc.fmt_ms(ours_t), fc.fmt_ms(at_once_t),
                         fc.fmt_ms(flower_best) if flower_best else "-",
                         fc.fmt_ms(med["Flower aggregate"]) if "Flower aggregate" in med else "-",
                         fc.fmt_ms(med["Sedna-style list FedAvg"]) if "Sedna-style list FedAvg" in med else "-",
                         f"{entry['speedup_vs_flower_arrayrecords']:.1f}x" if flower_best else "-",
                         f"{entry['at_once_speedup_vs_flower_arrayrecords']:.1f}x" if flower_best else "-",
                         f"{peak / model_bytes:.2f}"])
            for name in ("Krum", "TrimmedMean", "Median"):
                flname = {"Krum": "aggregate_krum", "TrimmedMean": "aggregate_trimmed_avg",
                          "Median": "aggregate_median"}[name]
                if f"sedna_lib {name}" in med:
                    fl_t = med.get(f"Flower {flname}")
                    rrows.append([n_up, dtype, name, fc.fmt_ms(med[f"sedna_lib {name}"]),
                                  fc.fmt_ms(fl_t) if fl_t else "-",
                                  f"{fl_t / med[f'sedna_lib {name}']:.1f}x" if fl_t else "-"])
            del updates
    print(f"\nF4: FedAvg of N updates x 1,200,010 parameters, median of {args.reps} interleaved reps")
    print(fc.table(["updates", "dtype", "sedna_lib FedAvg (streaming add)", "sedna_lib aggregate(updates)",
                    "Flower aggregate_arrayrecords", "Flower aggregate (legacy)", "Sedna-style lists",
                    "streaming vs Flower", "aggregate(updates) vs Flower", "peak memory (model copies)"], rows))
    print("\nrobust aggregators (same updates; f = (n-3)//2 for Krum, beta 0.1 for trimmed mean)")
    print(fc.table(["updates", "dtype", "aggregator", "sedna_lib", "Flower", "Flower / sedna_lib"], rrows))
    payload = {"results": results, "machine": machine(),
               "flower_versions": None if args.no_flower else versions()}
    write_results("f4_aggregation", payload)
    return payload


if __name__ == "__main__":
    main()
