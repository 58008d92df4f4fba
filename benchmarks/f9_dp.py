"""F9: differential privacy on digits: accuracy against epsilon, central (DPFedAvg) and local DP.

Digits (the F1 split) over 100 IID clients (about 14 samples each), the F1 MLP and training
function with 5 local epochs. Each round samples ``--per-round`` clients (rate ``q = per_round / 100``); central DP
clips each client's update to ``C`` and adds ``N(0, (z C)^2)`` to the sum (fixed and adaptive
clipping); local DP adds that noise on every client. Epsilon is reported at ``delta = 1e-5`` by
the RDP accountant (``dp-accounting``) after the last round; the non-private FedAvg run is the
ceiling. The accountant assumes Poisson sampling; the simulation samples a fixed number per
round, the usual approximation. Median over seeds.

    python benchmarks/f9_dp.py                    # 3 seeds (~2 min)
    python benchmarks/f9_dp.py --seeds 5 --rounds 60
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

import _fl_common as fc
from _common import machine, write_results
from f8_fedbuff import CountingMLP


def run(data, xte, yte, aggregation, rounds: int, per_round: int, seed: int, epochs: int) -> dict:
    from sedna_lib.algorithms.client_choose import SimpleClientChoose
    from sedna_lib.backends import set_backend
    from sedna_lib.collaborative_training import simulate

    backend = set_backend(CountingMLP(seed, epochs=epochs))
    res = simulate(backend, data, aggregation, rounds, chooser=SimpleClientChoose(per_round=per_round, seed=seed),
                   evaluate=lambda b, r: {"accuracy": fc.accuracy(b.get_weights(), xte, yte)})
    last = res.history[-1]
    return {"accuracy": last["accuracy"], "best": max(h["accuracy"] for h in res.history),
            "epsilon": last.get("epsilon", float("inf"))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--per-round", type=int, default=30)
    parser.add_argument("--clip", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=5, help="local epochs (about 14 samples per client)")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.3, 0.5, 1.0, 2.0])
    args = parser.parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # dp-accounting's notes on excluded RDP orders
    from sedna_lib.algorithms.aggregation import DPFedAvg, LocalDPFedAvg

    xtr, ytr, xte, yte = fc.load_digits_split()
    data = fc.client_datasets(xtr, ytr, "iid", n_clients=args.clients)
    m, pop = args.per_round, args.clients

    def central(z, adaptive, seed):
        return DPFedAvg(noise_multiplier=z, clipping_norm=args.clip, adaptive=adaptive, num_sampled_clients=m,
                        population=pop, seed=seed)

    variants = [("FedAvg (no DP)", None, lambda s: "FedAvg")]
    for z in args.noise:
        variants.append((f"central, fixed C={args.clip}", z, lambda s, z=z: central(z, False, s)))
    for z in args.noise:
        variants.append(("central, adaptive C", z, lambda s, z=z: central(z, True, s)))
    for z in args.noise:
        variants.append((f"local, C={args.clip}", z,
                         lambda s, z=z: LocalDPFedAvg(noise_multiplier=z, clipping_norm=args.clip, seed=s)))
    rows, out = [], []
    for name, z, make in variants:
        runs = [run(data, xte, yte, make(s), args.rounds, m, s, args.epochs) for s in range(args.seeds)]
        entry = {"method": name, "noise_multiplier": z,
                 "epsilon": float(np.median([r["epsilon"] for r in runs])),
                 "median_final_accuracy": float(np.median([r["accuracy"] for r in runs])),
                 "median_best_accuracy": float(np.median([r["best"] for r in runs]))}
        out.append(entry)
        rows.append([name, "-" if z is None else z, f"{entry['epsilon']:.2f}",
                     f"{entry['median_final_accuracy']:.4f}", f"{entry['median_best_accuracy']:.4f}"])
        print(f"{name} z={z} done", flush=True)
    print(f"\nF9: digits, {args.clients} IID clients, {m} per round, {args.rounds} rounds of {args.epochs} local "
          f"epochs, C={args.clip}, delta 1e-5, "
          f"median of {args.seeds} seeds (local DP's epsilon is one client's, taking part in every round)")
    print(fc.table(["method", "noise multiplier z", "epsilon", "final accuracy", "best accuracy"], rows))
    payload = {"rounds": args.rounds, "epochs": args.epochs, "clients": args.clients, "per_round": m, "clip": args.clip,
               "results": out, "machine": machine("dp-accounting")}
    write_results("f9_dp", payload)
    return payload


if __name__ == "__main__":
    main()
