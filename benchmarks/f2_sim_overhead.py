"""F2: per-round overhead of sedna_lib's in-process simulation vs Flower's simulation, same workload, side by side.

The F1 workload (digits, 10 clients, MLP 64-32-10, E=1, B=16, lr 0.1, IID). Each repetition runs,
interleaved: the plain single-process FedAvg loop (pure compute), sedna_lib's
``collaborative_training.simulate`` and Flower 1.41's ``run_simulation`` (Ray, ``num_cpus=1``
per client; in ``benchmarks/.venv-flwr``). Per-round wall time is the median over rounds 2..R
(round 1 of Flower includes starting its actors); overhead = per-round wall - plain loop's in
the same repetition, median over repetitions.
Bar: sedna_lib's per-round overhead at least 10x lower than Flower's.

    python benchmarks/f2_sim_overhead.py                  # 5 repetitions x 10 rounds (about 4 minutes)
    python benchmarks/f2_sim_overhead.py --rounds 50 --reps 5
"""

from __future__ import annotations

import argparse
import tempfile

import _fl_common as fc
from _common import machine, write_results
from f1_accuracy import run_sedna


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--partition", default="iid")
    parser.add_argument("--num-cpus", type=float, default=1.0, help="Flower's client_resources num_cpus")
    parser.add_argument("--no-flower", action="store_true")
    args = parser.parse_args(argv)

    xtr, ytr, xte, yte = fc.load_digits_split()
    npz = fc.save_data(tempfile.mkstemp(suffix=".npz")[1])
    data = fc.client_datasets(xtr, ytr, args.partition)
    flower_versions = None
    if not args.no_flower:
        from _flower_venv import run_flower, versions

        flower_versions = versions()
    reps: list[dict] = []
    for rep in range(args.reps):
        plain = fc.plain_fedavg(data, xte, yte, args.rounds)
        ours = run_sedna(data, xte, yte, args.rounds)
        flower = None if args.no_flower else run_flower("sim", data=npz, partition=args.partition,
                                                        rounds=args.rounds, num_cpus=args.num_cpus)
        entry = {"plain_round_s": fc.median(plain["round_seconds"][1:]),
                 "sedna_lib_round_s": fc.median(ours["round_seconds"][1:]),
                 "sedna_lib_total_s": ours["total_seconds"],
                 "same_accuracy": ours["accuracy"] == plain["accuracy"]}
        if flower is not None:
            entry.update({"flower_round_s": fc.median(flower["round_seconds"][1:]),
                          "flower_total_s": flower["total_seconds"],
                          "flower_first_round_s": flower["round_seconds"][0],
                          "same_accuracy": entry["same_accuracy"] and flower["accuracy"] == ours["accuracy"]})
        reps.append(entry)
        print(f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                                          for k, v in entry.items()), flush=True)
    summary = {k: fc.median(r[k] for r in reps) for k in reps[0] if k != "same_accuracy"}
    summary["same_accuracy_every_rep"] = all(r["same_accuracy"] for r in reps)
    plain_s = summary["plain_round_s"]
    # overheads and ratios per repetition (the runs of one rep are interleaved), then the median
    ours_over = fc.median(r["sedna_lib_round_s"] - r["plain_round_s"] for r in reps)
    summary["sedna_lib_overhead_s"] = ours_over
    rows = [["plain loop (compute only)", fc.fmt_ms(plain_s), "-", "-"],
            ["sedna_lib simulate", fc.fmt_ms(summary["sedna_lib_round_s"]), fc.fmt_ms(max(ours_over, 0.0)),
             fc.fmt_ms(summary["sedna_lib_total_s"])]]
    if "flower_round_s" in summary:
        flower_over = fc.median(r["flower_round_s"] - r["plain_round_s"] for r in reps)
        summary["flower_overhead_s"] = flower_over
        summary["ratio_round_wall"] = fc.median(r["flower_round_s"] / r["sedna_lib_round_s"] for r in reps)
        # overhead ratio: our overhead floored at 0.1 ms (it is within the noise of the plain loop)
        summary["ratio_overhead"] = flower_over / max(ours_over, 1e-4)
        rows.append([f"Flower run_simulation (num_cpus={args.num_cpus:g})", fc.fmt_ms(summary["flower_round_s"]),
                     fc.fmt_ms(flower_over), fc.fmt_ms(summary["flower_total_s"])])
    print(f"\nF2: per-round wall time, {args.rounds} rounds x 10 clients, median of {args.reps} interleaved reps")
    print(fc.table(["run", "per round (rounds 2..R)", "overhead over plain", "total incl. start"], rows))
    if "ratio_round_wall" in summary:
        print(f"\nFlower / sedna_lib: per-round wall {summary['ratio_round_wall']:.1f}x, "
              f"overhead {summary['ratio_overhead']:.0f}x (bar: >= 10x); "
              f"same per-round accuracy in every rep: {summary['same_accuracy_every_rep']}")
    payload = {"rounds": args.rounds, "reps": reps, "summary": summary, "partition": args.partition,
               "machine": machine("torch"), "flower_versions": flower_versions}
    write_results("f2_sim_overhead", payload)
    return payload


if __name__ == "__main__":
    main()
