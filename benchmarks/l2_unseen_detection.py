"""L2: unseen-task detection on digits: AUROC and FPR at 95 % TPR when a new origin (or new classes) arrives.

The knowledge base is trained on known tasks; the test mixes held-out samples of those tasks
(negatives) with samples of a task it never saw (positives). Scores compared: sedna_lib's
default recogniser (k-NN distance to the known tasks), the maximum class probability used in
Sedna's ModelProbeFilter direction (confident = unseen), and the same probability the right way.

    python benchmarks/l2_unseen_detection.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time

import numpy as np

from _common import machine, write_results
from l1_continual import transform


def fpr_at_tpr(scores_neg, scores_pos, tpr=0.95):
    threshold = np.quantile(scores_pos, 1 - tpr)
    return float(np.mean(scores_neg >= threshold))


def cases(x, y, seed):
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
    known = ("identity", "rotate", "flip")
    train = [(o, transform(xtr, o), ytr) for o in known]
    seen_test = np.concatenate([transform(xte, o) for o in known])
    yield "new origin: invert (after identity, rotate, flip)", train, seen_test, transform(xte, "invert")
    known2 = ("identity", "rotate")
    train2 = [(o, transform(xtr, o), ytr) for o in known2]
    yield ("new origin: flip (after identity, rotate)", train2,
           np.concatenate([transform(xte, o) for o in known2]), transform(xte, "flip"))
    lo_tr, lo_te = ytr < 5, yte < 5
    yield ("new classes 5-9 (after classes 0-4)", [("digits0-4", xtr[lo_tr], ytr[lo_tr])], xte[lo_te], xte[~lo_te])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from sedna_lib.algorithms.lifelong import SampleRegonitionDefault
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.lifelong_learning import LifelongLearning, Samples

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    results: dict = {}
    started = time.perf_counter()
    for seed in range(args.seeds):
        for name, train, seen_test, unseen_test in cases(x, y, seed):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = Config(output_url=f"{tmp}/cloud", edge_output_url=f"{tmp}/edge", lc_server="http://127.0.0.1:9",
                             max_retries=0, connect_timeout_s=0.2)
                ll = LifelongLearning(LogisticRegression(max_iter=300),
                                      task_definition={"method": "TaskDefinitionByOrigin"},
                                      task_allocation={"method": "TaskAllocationByNearestTask"},
                                      context=Context(cfg))
                xs = np.concatenate([t[1] for t in train])
                ys = np.concatenate([t[2] for t in train])
                origins = np.concatenate([[t[0]] * len(t[1]) for t in train])
                ll.train(Samples(xs, ys, origins))
                index = {"seen_task": ll.seen_estimator.task_index}
                recognizer = SampleRegonitionDefault(task_index=index).fit()
                both = np.concatenate([seen_test, unseen_test])
                labels = np.r_[np.zeros(len(seen_test)), np.ones(len(unseen_test))]
                dist = recognizer.score(both)
                flagged = dist > recognizer.threshold_
                single = LogisticRegression(max_iter=300).fit(xs, ys)
                maxp = single.predict_proba(both).max(1)
                scores = {"k-NN distance (SampleRegonitionDefault)": dist,
                          "max probability, Sedna ModelProbeFilter direction": maxp,
                          "1 - max probability (fixed direction)": 1 - maxp}
                row = results.setdefault(name, {})
                for sname, s in scores.items():
                    row.setdefault(sname, []).append({
                        "auroc": float(roc_auc_score(labels, s)),
                        "fpr_at_95_tpr": fpr_at_tpr(s[labels == 0], s[labels == 1])})
                row.setdefault("default threshold", []).append({
                    "tpr": float(flagged[labels == 1].mean()), "fpr": float(flagged[labels == 0].mean())})
    print(f"\nL2 unseen-task detection on digits, {args.seeds} seeds ({time.perf_counter() - started:.0f} s)\n")
    print("| new task | score | AUROC | FPR at 95 % TPR |")
    print("| --- | --- | --- | --- |")
    summary: dict = {}
    for name, row in results.items():
        for sname, runs in row.items():
            if sname == "default threshold":
                continue
            auroc = float(np.mean([r["auroc"] for r in runs]))
            fpr = float(np.mean([r["fpr_at_95_tpr"] for r in runs]))
            summary.setdefault(name, {})[sname] = {"auroc": auroc, "fpr_at_95_tpr": fpr}
            print(f"| {name} | {sname} | {auroc:.3f} | {fpr:.3f} |")
    print("\nat the default threshold (quantile 0.99 x margin 1.5):")
    for name, row in results.items():
        runs = row["default threshold"]
        tpr, fpr = np.mean([r["tpr"] for r in runs]), np.mean([r["fpr"] for r in runs])
        summary[name]["default threshold"] = {"tpr": float(tpr), "fpr": float(fpr)}
        print(f"  {name}: {tpr:.1%} of unseen flagged, {fpr:.1%} false alarms")
    main_case = next(iter(summary))
    bar = summary[main_case]["k-NN distance (SampleRegonitionDefault)"]["auroc"] >= 0.9
    print(f"\nbar: AUROC >= 0.9 on '{main_case}': {bar}")
    write_results("l2_unseen_detection", {"machine": machine("scikit-learn"), "seeds": args.seeds,
                                          "runs": results, "summary": summary, "bar_auroc_0.9": bar})
    return 0


if __name__ == "__main__":
    sys.exit(main())
