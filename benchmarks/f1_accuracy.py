"""F1: FedAvg accuracy per round, sedna_lib's simulation vs Flower's, same training function and seeds.

Digits (1,437 / 360, seed 0), 10 clients, partitions IID / Dirichlet(0.5) / 2-shards, MLP
64-32-10, E=1, B=16, lr 0.1, seed ``round * 100 + client``. sedna_lib runs
``collaborative_training.simulate`` with the registered ``FedAvg`` over an ``EstimatorBackend``;
Flower 1.41 runs ``run_simulation`` (Message API FedAvg) in ``benchmarks/.venv-flwr``; the plain
single-process loop is the reference. Bar: per-round accuracy within 0.5 pt of Flower's.

    python benchmarks/f1_accuracy.py               # 20 rounds (about 3 minutes, Ray start dominates)
    python benchmarks/f1_accuracy.py --rounds 50   # the full protocol
    python benchmarks/f1_accuracy.py --no-flower   # sedna_lib and the plain loop only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import _fl_common as fc
from _common import machine, write_results


def run_sedna(data: list, xte, yte, rounds: int, hidden: int = 32, aggregation: str = "FedAvg") -> dict:
    """sedna_lib's in-process simulation; per-round accuracy and wall time (stamped after each evaluation)."""
    from sedna_lib.backends import set_backend
    from sedna_lib.collaborative_training import simulate

    est = fc.MLPEstimator(hidden)
    backend = set_backend(est)
    stamps = [time.perf_counter()]

    def evaluate(b, r):
        return {"accuracy": fc.accuracy(b.get_weights(), xte, yte)}

    def on_round(entry):
        est.round = entry["round"] + 1
        stamps.append(time.perf_counter())

    started = time.perf_counter()
    res = simulate(backend, data, aggregation, rounds, evaluate=evaluate, on_round=on_round)
    total = time.perf_counter() - started
    return {"accuracy": [h["accuracy"] for h in res.history],
            "round_seconds": [b - a for a, b in zip(stamps, stamps[1:])], "total_seconds": total}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--partitions", nargs="+", default=list(fc.PARTITIONS))
    parser.add_argument("--no-flower", action="store_true", help="skip the Flower side")
    args = parser.parse_args(argv)

    xtr, ytr, xte, yte = fc.load_digits_split()
    npz = fc.save_data(tempfile.mkstemp(suffix=".npz")[1])
    flower_versions = None
    if not args.no_flower:
        from _flower_venv import run_flower, versions

        flower_versions = versions()
    results: dict = {}
    rows = []
    for kind in args.partitions:
        data = fc.client_datasets(xtr, ytr, kind)
        plain = fc.plain_fedavg(data, xte, yte, args.rounds)
        ours = run_sedna(data, xte, yte, args.rounds)
        flower = None if args.no_flower else run_flower("sim", data=npz, partition=kind, rounds=args.rounds)
        ref = flower["accuracy"] if flower else plain["accuracy"]
        diff = max(abs(a - b) for a, b in zip(ours["accuracy"], ref))
        results[kind] = {"sedna_lib": ours, "flower": flower, "plain": plain,
                         "max_abs_diff_vs_flower_pt": None if flower is None else 100 * diff,
                         "max_abs_diff_vs_plain_pt": 100 * max(abs(a - b) for a, b in zip(ours["accuracy"],
                                                                                          plain["accuracy"]))}
        r10 = min(10, args.rounds) - 1
        rows.append([kind, f"{ours['accuracy'][r10]:.4f}", f"{ours['accuracy'][-1]:.4f}", f"{max(ours['accuracy']):.4f}",
                     "-" if flower is None else f"{flower['accuracy'][-1]:.4f}", f"{plain['accuracy'][-1]:.4f}",
                     f"{100 * diff:.2f}", "yes" if diff <= 0.005 else "NO"])
        print(f"{kind}: done", file=sys.stderr, flush=True)
    headers = ["partition", f"sedna_lib r{min(10, args.rounds)}", f"sedna_lib r{args.rounds}", "sedna_lib best",
               f"Flower r{args.rounds}", f"plain loop r{args.rounds}",
               "max per-round diff (pt) vs " + ("plain" if args.no_flower else "Flower"), "within 0.5 pt"]
    print(f"\nF1: FedAvg accuracy per round, digits, 10 clients, {args.rounds} rounds, MLP 64-32-10")
    print(fc.table(headers, rows))
    payload = {"rounds": args.rounds, "partitions": results,
               "machine": machine("torch", "scikit-learn"), "flower_versions": flower_versions}
    write_results("f1_accuracy", payload)
    return payload


if __name__ == "__main__":
    main()
