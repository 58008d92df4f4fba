"""F5 at 10,000 clients: sedna_lib's simulation in-process and on a local Ray, client-updates/s and peak memory.

Each of the 10,000 clients holds 14 digits samples drawn (with replacement, seed 0) from the F1
training split; the F1 MLP and training function (one local epoch), FedAvg over all clients every
round. The in-process engine shares one backend; the Ray engine runs the local rounds as Ray tasks
(one CPU each; a round's clients batched, four tasks per CPU) on a local Ray started for the run.
Peak memory: this process's peak RSS (``ru_maxrss``) for in-process; for Ray, the peak of the
summed RSS of this process and every Ray process (raylet, GCS, workers), sampled every 0.2 s.

    python benchmarks/f5_10k.py                       # 3 in-process rounds, 2 Ray rounds (~3 min)
    python benchmarks/f5_10k.py --clients 1000 --ray-rounds 5
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results


class SeededMLP(fc.MLPEstimator):
    """The F1 estimator; its local seed is the client id (same in every engine)."""

    def train(self, train_data, valid_data=None, **kwargs):
        self.weights = fc.train_mlp(self.weights, train_data.x, train_data.y, epochs=self.epochs,
                                    batch_size=self.batch_size, lr=self.lr, seed=train_data.cid)
        return {}


def _clients(xtr, ytr, n: int, per_client: int) -> list:
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(ytr), size=(n, per_client))
    return [fc.ClientData(xtr[i], ytr[i], c) for c, i in enumerate(idx)]


class _RaySampler:
    """Peak of (this process + Ray's processes) RSS, sampled in a thread."""

    def __init__(self) -> None:
        import psutil  # Ray's own dependency

        self._psutil = psutil
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = self._psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for p in self._psutil.process_iter(["name", "cmdline"]):
                try:
                    cmd = " ".join(p.info["cmdline"] or [])
                    if p.pid != me.pid and ("ray" in (p.info["name"] or "") or "ray/" in cmd or "raylet" in cmd):
                        total += p.memory_info().rss
                except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run(data, xte, yte, rounds: int, engine: str) -> dict:
    from sedna_lib.backends import set_backend
    from sedna_lib.collaborative_training import simulate

    backend = set_backend(SeededMLP())
    started = time.perf_counter()
    res = simulate(backend, data, "FedAvg", rounds, engine=engine,
                   evaluate=lambda b, r: {"accuracy": fc.accuracy(b.get_weights(), xte, yte)})
    total = time.perf_counter() - started
    return {"total_s": total, "round_s": [h["seconds"] for h in res.history],
            "accuracy": [h["accuracy"] for h in res.history], "weights": res.weights}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--per-client", type=int, default=14)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray-rounds", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args(argv)
    xtr, ytr, xte, yte = fc.load_digits_split()
    data = _clients(xtr, ytr, args.clients, args.per_client)
    n = args.clients
    rows = []
    ours = run(data, xte, yte, args.rounds, "inprocess")
    peak_inproc = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"inprocess": {"rounds": args.rounds, "total_s": ours["total_s"], "round_s": ours["round_s"],
                         "updates_per_s": n * args.rounds / ours["total_s"], "peak_rss_mb": peak_inproc,
                         "accuracy": ours["accuracy"]}}
    rows.append(["in-process", args.rounds, f"{ours['total_s']:.1f} s", f"{out['inprocess']['updates_per_s']:,.0f}",
                 f"{peak_inproc:.0f} MB (this process)"])
    if not args.no_ray:
        import ray

        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            with _RaySampler() as sampler:
                on_ray = run(data, xte, yte, args.ray_rounds, "ray")
        finally:
            ray.shutdown()
        same = run(data, xte, yte, args.ray_rounds, "inprocess")
        parity = all(np.array_equal(a, b) for a, b in zip(same["weights"], on_ray["weights"]))
        steady = on_ray["round_s"][1:] or on_ray["round_s"]
        out["ray"] = {"rounds": args.ray_rounds, "total_s": on_ray["total_s"], "round_s": on_ray["round_s"],
                      "updates_per_s": n * args.ray_rounds / on_ray["total_s"],
                      "updates_per_s_after_round_1": n * len(steady) / sum(steady),
                      "peak_rss_mb_with_ray": sampler.peak / 2 ** 20, "same_weights_as_inprocess": parity}
        rows.append(["Ray (local)", args.ray_rounds, f"{on_ray['total_s']:.1f} s",
                     f"{out['ray']['updates_per_s']:,.0f} ({out['ray']['updates_per_s_after_round_1']:,.0f} "
                     "after round 1)", f"{out['ray']['peak_rss_mb_with_ray']:.0f} MB (with Ray's processes)"])
    print(f"\nF5 at {n:,} clients x {args.per_client} samples, FedAvg over all clients every round")
    print(fc.table(["engine", "rounds", "total", "client-updates/s", "peak memory"], rows))
    if "ray" in out:
        print(f"Ray model == in-process model: {out['ray']['same_weights_as_inprocess']}")
    payload = {"clients": n, "per_client": args.per_client, "results": out, "machine": machine("ray")}
    write_results("f5_10k", payload)
    return payload


if __name__ == "__main__":
    main()
