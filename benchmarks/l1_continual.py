"""L1: continual learning on digits, class-incremental (5x2) and domain-incremental (4 origins).

Strategies: naive (retrain on the new task only), replay (one model, fixed memory), the sedna_lib
knowledge base (LifelongLearning: a model per task, nearest-task routing with the same memory
of reference samples on the edge), cumulative (retrain on everything, the upper bound).
Metrics by the Lopez-Paz / Avalanche definitions; FWT against a random-guess baseline.

    python benchmarks/l1_continual.py [--seeds 2] [--memory 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time

import numpy as np

from _common import machine, write_results

ORIGINS = ("identity", "rotate", "flip", "invert")


def transform(x, origin):
    imgs = x.reshape(-1, 8, 8)
    out = {"identity": imgs, "rotate": np.rot90(imgs, 1, axes=(1, 2)), "flip": imgs[:, :, ::-1],
           "invert": 1.0 - imgs}[origin]
    return np.ascontiguousarray(out).reshape(len(x), -1)


def scenarios(x, y, seed):
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
    class_il = []
    for t in range(5):
        cls = (2 * t, 2 * t + 1)
        mtr, mte = np.isin(ytr, cls), np.isin(yte, cls)
        class_il.append((f"{cls[0]}-{cls[1]}", xtr[mtr], ytr[mtr], xte[mte], yte[mte]))
    domain_il = [(o, transform(xtr, o), ytr, transform(xte, o), yte) for o in ORIGINS]
    return {"class-incremental": class_il, "domain-incremental": domain_il}


def model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300)


def run_naive(tasks, memory):
    rows = []
    for _, xt, yt, _, _ in tasks:
        m = model().fit(xt, yt)
        rows.append([float(np.mean(m.predict(xe) == ye)) for _, _, _, xe, ye in tasks])
    return rows, 0


def run_cumulative(tasks, memory):
    rows, xs, ys = [], [], []
    for _, xt, yt, _, _ in tasks:
        xs.append(xt)
        ys.append(yt)
        m = model().fit(np.concatenate(xs), np.concatenate(ys))
        rows.append([float(np.mean(m.predict(xe) == ye)) for _, _, _, xe, ye in tasks])
    return rows, sum(len(v) for v in ys)


def run_replay(tasks, memory):
    from sedna_lib.lifelong_learning.replay import ReplayLearner

    learner = ReplayLearner(model(), memory_size=memory)
    rows = []
    for _, xt, yt, _, _ in tasks:
        learner.fit_task(xt, yt)
        rows.append([float(np.mean(learner.predict(xe) == ye)) for _, _, _, xe, ye in tasks])
    return rows, memory


def run_kb(tasks, memory):
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.lifelong_learning import LifelongLearning, Samples

    per_task = memory // len(tasks)
    with tempfile.TemporaryDirectory() as tmp:
        base = Config(output_url=f"{tmp}/cloud", edge_output_url=f"{tmp}/edge", lc_server="http://127.0.0.1:9",
                      max_retries=0, connect_timeout_s=0.2, min_train_sample=1)
        rows = []
        for i, (name, xt, yt, _, _) in enumerate(tasks):
            ctx = Context(dataclasses.replace(base, has_completed_initial_training=i > 0))
            ll = LifelongLearning(model(), task_definition={"method": "TaskDefinitionByOrigin"},
                                  task_allocation={"method": "TaskAllocationByNearestTask"}, context=ctx)
            ll.seen_estimator.profile_samples = per_task
            ll.train(Samples(xt, yt, np.full(len(xt), name)))
            rows.append([float(np.mean(ll.seen_estimator.predict(Samples(xe))[0] == ye))
                         for _, _, _, xe, ye in tasks])
    return rows, per_task * len(tasks)


STRATEGIES = {"naive": run_naive, "replay": run_replay, "knowledge base (sedna_lib)": run_kb,
              "cumulative (one model, all data)": run_cumulative}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--memory", type=int, default=200, help="replay memory = edge reference samples")
    args = parser.parse_args(argv)
    from sklearn.datasets import load_digits

    from sedna_lib.lifelong_learning.metrics import summary

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    results: dict = {}
    started = time.perf_counter()
    for seed in range(args.seeds):
        for scen, tasks in scenarios(x, y, seed).items():
            rng = np.random.default_rng(seed)
            baseline = [float(np.mean(rng.integers(0, 10, len(ye)) == ye)) for _, _, _, _, ye in tasks]
            for strat, fn in STRATEGIES.items():
                t0 = time.perf_counter()
                rows, mem = fn(tasks, args.memory)
                entry = results.setdefault(scen, {}).setdefault(strat, {"runs": []})
                entry["runs"].append({"seed": seed, "matrix": rows, "memory": mem,
                                      "seconds": time.perf_counter() - t0, **summary(rows, baseline)})
    print(f"\nL1 continual learning on digits, {args.seeds} seeds, memory {args.memory} "
          f"({time.perf_counter() - started:.0f} s)\n")
    print("| scenario | strategy | ACC | BWT | FWT | forgetting | edge memory | train s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for scen, strats in results.items():
        for strat, entry in strats.items():
            runs = entry["runs"]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in ("acc", "bwt", "fwt", "forgetting", "seconds")}
            entry["mean"] = mean
            mem = runs[0]["memory"]
            print(f"| {scen} | {strat} | {mean['acc']:.3f} | {mean['bwt']:+.3f} | {mean['fwt']:+.3f} | "
                  f"{mean['forgetting']:.3f} | {mem} | {mean['seconds']:.1f} |")
    dom = results["domain-incremental"]
    kb, rp = dom["knowledge base (sedna_lib)"]["mean"], dom["replay"]["mean"]
    verdict = {"kb_acc_at_least_replay": kb["acc"] >= rp["acc"], "kb_bwt_at_least_minus_0.05": kb["bwt"] >= -0.05}
    print(f"\nbars (domain-incremental): KB ACC {kb['acc']:.3f} >= replay {rp['acc']:.3f}: "
          f"{verdict['kb_acc_at_least_replay']}; KB BWT {kb['bwt']:+.3f} >= -0.05: {verdict['kb_bwt_at_least_minus_0.05']}")
    example = dom["knowledge base (sedna_lib)"]["runs"][0]["matrix"]
    print("\naccuracy matrix, domain-incremental, knowledge base, seed 0 (rows: after task; columns: "
          + ", ".join(ORIGINS) + ")")
    for origin, row in zip(ORIGINS, example):
        print(f"  {origin:9s} " + " ".join(f"{v:.3f}" for v in row))
    write_results("l1_continual", {"machine": machine("scikit-learn"), "seeds": args.seeds, "memory": args.memory,
                                   "results": results, "bars": verdict})
    return 0


if __name__ == "__main__":
    sys.exit(main())
