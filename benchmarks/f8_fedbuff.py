"""F8: FedBuff vs synchronous FedAvg with 10 clients of uneven speed: time to a target accuracy.

Digits (the F1 split), 10 clients, the F1 MLP and training function (one local epoch). Client
speeds are simulated: client ``i`` needs ``speeds[i]`` time units per local round (default seven
at 1, then 2, 4 and 8: three stragglers). Synchronous FedAvg waits for its slowest client every
round; FedBuff (buffer ``K``, staleness discount ``(1 + tau)^-1/2``) steps whenever ``K`` updates
have arrived. Reported per run: simulated time to the target test accuracy, client updates spent,
and wall time. Median over seeds (model initialisations and client orders).

    python benchmarks/f8_fedbuff.py                   # 5 seeds, IID and Dirichlet(0.5) (~1 min)
    python benchmarks/f8_fedbuff.py --seeds 11 --target 0.93
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results


class CountingMLP(fc.MLPEstimator):
    """The F1 estimator, seeded by a call counter (asynchronous rounds have no round number)."""

    def __init__(self, seed: int, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.calls = 0
        self.seed = seed

    def train(self, train_data, valid_data=None, **kwargs):
        self.calls += 1
        self.weights = fc.train_mlp(self.weights, train_data.x, train_data.y, epochs=self.epochs,
                                    batch_size=self.batch_size, lr=self.lr,
                                    seed=self.seed * 100_000 + self.calls * 100 + train_data.cid)
        return {}


def run(data, xte, yte, aggregation, steps: int, speeds, seed: int) -> dict:
    from sedna_lib.backends import set_backend
    from sedna_lib.collaborative_training import simulate

    est = CountingMLP(seed)
    backend = set_backend(est)
    started = time.perf_counter()
    res = simulate(backend, data, aggregation, steps, client_speeds=speeds,
                   evaluate=lambda b, r: {"accuracy": fc.accuracy(b.get_weights(), xte, yte)})
    wall = time.perf_counter() - started
    return {"sim_time": [h["sim_time"] for h in res.history], "accuracy": [h["accuracy"] for h in res.history],
            "updates": est.calls, "wall_s": wall}


def time_to(run_: dict, target: float) -> tuple[float, int | None]:
    for i, (t, a) in enumerate(zip(run_["sim_time"], run_["accuracy"])):
        if a >= target:
            return t, i + 1
    return float("inf"), None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.92)
    parser.add_argument("--speeds", type=float, nargs=10, default=[1, 1, 1, 1, 1, 1, 1, 2, 4, 8])
    parser.add_argument("--buffer", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--sync-rounds", type=int, default=30)
    parser.add_argument("--partitions", nargs="+", default=["iid", "dir0.5"])
    args = parser.parse_args(argv)
    from sedna_lib.algorithms.aggregation import FedBuff

    xtr, ytr, xte, yte = fc.load_digits_split()
    out: dict = {}
    rows = []
    for kind in args.partitions:
        data = fc.client_datasets(xtr, ytr, kind)
        # the same budget of simulated time for every method: what sync needs for --sync-rounds
        horizon = args.sync_rounds * max(args.speeds)
        variants = {"FedAvg (sync)": ("FedAvg", args.sync_rounds)}
        for k in args.buffer:
            per_step = k / sum(1.0 / s for s in args.speeds)  # updates arrive at sum(1/speed) per time unit
            variants[f"FedBuff K={k}"] = (FedBuff(buffer_size=k), int(horizon / per_step) + 1)
        per_variant: dict = {}
        for name, (agg, steps) in variants.items():
            runs = [run(data, xte, yte, agg if isinstance(agg, str) else agg.clone(), steps, args.speeds, s)
                    for s in range(args.seeds)]
            hits = [time_to(r, args.target) for r in runs]
            per_step_updates = agg.buffer_size if not isinstance(agg, str) else len(data)
            per_variant[name] = {
                "median_updates_to_target": float(np.median([h[1] * per_step_updates if h[1] else np.inf
                                                             for h in hits])),
                "steps": steps, "time_to_target": [h[0] for h in hits],
                "median_time_to_target": float(np.median([h[0] for h in hits])),
                "median_final_accuracy": float(np.median([r["accuracy"][-1] for r in runs])),
                "median_wall_s": float(np.median([r["wall_s"] for r in runs])),
                "median_updates": float(np.median([r["updates"] for r in runs]))}
        sync_t = per_variant["FedAvg (sync)"]["median_time_to_target"]
        for name, v in per_variant.items():
            v["speedup_vs_sync"] = sync_t / v["median_time_to_target"] if v["median_time_to_target"] else None
            rows.append([kind, name, v["steps"], f"{v['median_time_to_target']:.1f}",
                         f"{v['speedup_vs_sync']:.2f}x", f"{v['median_updates_to_target']:.0f}",
                         f"{v['median_final_accuracy']:.4f}", f"{v['median_wall_s']:.2f} s"])
        out[kind] = per_variant
        print(f"{kind} done", flush=True)
    print(f"\nF8: 10 clients, speeds {args.speeds} (time units per local round), target accuracy "
          f"{args.target}, median of {args.seeds} seeds; same simulated-time budget for every method")
    print(fc.table(["partition", "method", "server steps", "time to target", "speed-up vs sync",
                    "client updates to target", "final accuracy", "wall (whole budget)"], rows))
    payload = {"target": args.target, "speeds": args.speeds, "seeds": args.seeds, "results": out,
               "machine": machine()}
    write_results("f8_fedbuff", payload)
    return payload


if __name__ == "__main__":
    main()
