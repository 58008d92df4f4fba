"""F5: scale of sedna_lib's simulation: 100 and 1,000 simulated clients, 10 rounds, client-updates per second.

Digits IID over N clients (about 14 or 1.4 samples each), the F1 MLP and training function,
FedAvg over all clients every round. Each repetition runs, interleaved, the plain loop and
sedna_lib's ``collaborative_training.simulate``; Flower's ``run_simulation`` at 100 clients is run
side by side (``--flower-reps``, default 1: one run takes tens of seconds) and at 1,000 clients
only with ``--flower-1000``. Bars: at least 1,000 client-updates/s; a 1,000-client run under 60 s.

    python benchmarks/f5_scale.py                 # 5 reps (about 2 minutes)
    python benchmarks/f5_scale.py --flower-reps 3 --flower-1000
"""

from __future__ import annotations

import argparse
import resource
import tempfile

import _fl_common as fc
from _common import machine, write_results
from f1_accuracy import run_sedna


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--flower-reps", type=int, default=1)
    parser.add_argument("--flower-1000", action="store_true", help="also run Flower at 1,000 clients")
    parser.add_argument("--no-flower", action="store_true")
    args = parser.parse_args(argv)

    xtr, ytr, xte, yte = fc.load_digits_split()
    npz = fc.save_data(tempfile.mkstemp(suffix=".npz")[1])
    if not args.no_flower:
        from _flower_venv import run_flower
    out: dict = {}
    rows = []
    for n in args.clients:
        data = fc.client_datasets(xtr, ytr, "iid", n_clients=n)
        reps = []
        flower_runs = []
        flower_here = not args.no_flower and (n <= 100 or args.flower_1000)
        for rep in range(args.reps):
            plain = fc.plain_fedavg(data, xte, yte, args.rounds)
            ours = run_sedna(data, xte, yte, args.rounds)
            reps.append({"sedna_lib_total_s": ours["total_seconds"], "plain_total_s": sum(plain["round_seconds"]),
                         "final_accuracy": ours["accuracy"][-1],
                         "same_as_plain": ours["accuracy"] == plain["accuracy"]})
            if flower_here and rep < args.flower_reps:
                fl = run_flower("sim", data=npz, partition="iid", rounds=args.rounds, n_clients=n, timeout=3600)
                flower_runs.append({"total_s": fl["total_seconds"],
                                    "rounds_2_to_R_s": sum(fl["round_seconds"][1:]),
                                    "updates_per_s": n * (args.rounds - 1) / sum(fl["round_seconds"][1:]),
                                    "same_accuracy": fl["accuracy"] == ours["accuracy"]})
        total = fc.median(r["sedna_lib_total_s"] for r in reps)
        plain_total = fc.median(r["plain_total_s"] for r in reps)
        entry = {"reps": reps, "sedna_lib_total_s": total, "sedna_lib_updates_per_s": n * args.rounds / total,
                 "plain_updates_per_s": n * args.rounds / plain_total, "flower": flower_runs,
                 "same_as_plain_every_rep": all(r["same_as_plain"] for r in reps)}
        if flower_runs:
            entry["flower_updates_per_s"] = fc.median(f["updates_per_s"] for f in flower_runs)
            entry["ratio_vs_flower"] = entry["sedna_lib_updates_per_s"] / entry["flower_updates_per_s"]
        out[str(n)] = entry
        rows.append([n, f"{total:.2f} s", f"{entry['sedna_lib_updates_per_s']:,.0f}",
                     f"{entry['plain_updates_per_s']:,.0f}",
                     f"{entry['flower_updates_per_s']:,.0f}" if flower_runs else "-",
                     f"{entry['ratio_vs_flower']:.0f}x" if flower_runs else "-",
                     "yes" if entry["sedna_lib_updates_per_s"] >= 1000 and (n < 1000 or total < 60) else "NO"])
        print(f"{n} clients done", flush=True)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nF5: {args.rounds} rounds, all clients every round, median of {args.reps} reps "
          f"(Flower: {args.flower_reps} run(s), rounds 2..R)")
    print(fc.table(["clients", "sedna_lib total", "sedna_lib updates/s", "plain loop updates/s",
                    "Flower updates/s", "sedna_lib / Flower", "bar met"], rows))
    print(f"peak RSS of this process: {peak_rss_mb:.0f} MB")
    payload = {"rounds": args.rounds, "clients": out, "peak_rss_mb": peak_rss_mb, "machine": machine()}
    write_results("f5_scale", payload)
    return payload


if __name__ == "__main__":
    main()
