"""I1: incremental-learning label efficiency: final metric vs exact upload fraction, per miner.

Protocol (the Ianvs incremental paradigm made honest, the anchors' pilot P2 / measurement M3): a
logistic-regression model trained on 60 labels; 5 rounds of 180 unlabelled stream samples
(breast_cancer: 64); per round the miner picks the hardest samples within the budget (never more
than ``budget`` of the stream so far), their ground truth is revealed, a new model is trained on
all labels so far, and it is deployed only if the held-out metric improves by at least 0.01.
"Upload-all" is the same loop at budget 100 %. 5 seeds, as in the pilot. Digits uses accuracy,
breast_cancer uses F1 of the positive class. Also reports the rounds until the deploy trigger
first fires and checks that no deployed model was ever worse than the one it replaced. Writes
benchmarks/results/i1_label_efficiency.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.incremental_learning import IncrementalLoop

BUDGETS = (0.05, 0.1, 0.2, 0.5, 1.0)


class RandomScore:
    """Random ranking: the random-upload baseline with an exact budget."""

    scored = True

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def score(self, batch):
        return self.rng.random(len(batch))


def _data(name: str, seed: int):
    if name == "digits":
        x, y = load_digits(return_X_y=True)
        x = x / 16.0
        make = lambda: LogisticRegression(max_iter=1000)  # noqa: E731
        metric = "accuracy"
    else:
        x, y = load_breast_cancer(return_X_y=True)
        make = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))  # noqa: E731
        metric = "f1"
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    n_eval = len(y) // 3
    eval_data = (x[:n_eval], y[:n_eval])
    initial = (x[n_eval:n_eval + 60], y[n_eval:n_eval + 60])
    rest = (x[n_eval + 60:], y[n_eval + 60:])
    per_round = min(180, len(rest[1]) // 5)
    stream = [(rest[0][i * per_round:(i + 1) * per_round], rest[1][i * per_round:(i + 1) * per_round])
              for i in range(5)]
    return make, metric, initial, stream, eval_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    ctx = Context(Config())
    started = time.perf_counter()
    table: dict = {}
    regressions = 0
    for dataset in ("digits", "breast_cancer"):
        upload_all = None  # at 100 % every miner uploads every sample: one run serves all three
        for miner in ("Margin", "CrossEntropy", "random"):
            for budget in BUDGETS:
                if budget == 1.0 and upload_all is not None:
                    table[dataset][miner]["1.0"] = upload_all
                    continue
                finals, fractions, first, deploys = [], [], [], []
                for seed in range(args.seeds):
                    make, metric, initial, stream, eval_data = _data(dataset, seed)
                    chosen = RandomScore(seed) if miner == "random" else miner
                    loop = IncrementalLoop(make(), miner=chosen, upload_budget=budget, metric=metric,
                                           min_delta=0.01, progress=False, context=ctx)
                    records = loop.run(initial, stream, eval_data)
                    regressions += sum(r.metric_after < r.metric_before for r in records)
                    finals.append(records[-1].metric_after)
                    uploaded = sum(r.uploaded for r in records)
                    fractions.append(uploaded / sum(r.stream_samples for r in records))
                    first.append(next((r.round for r in records if r.deployed), None))
                    deploys.append(sum(r.deployed for r in records))
                cell = {"metric": float(np.mean(finals)), "upload_fraction": float(np.mean(fractions)),
                        "max_upload_fraction": float(np.max(fractions)),
                        "per_seed": [float(v) for v in finals],
                        "first_deploy_round": first, "deploys": deploys}
                table.setdefault(dataset, {}).setdefault(miner, {})[str(budget)] = cell
                if budget == 1.0:
                    upload_all = cell
    print(f"{'dataset':<14} {'miner':<13}" + "".join(f"{int(b * 100):>7}%" for b in BUDGETS))
    verdict = {}
    for dataset, miners in table.items():
        for miner, row in miners.items():
            print(f"{dataset:<14} {miner:<13}" + "".join(f"{row[str(b)]['metric']:>8.3f}" for b in BUDGETS))
        full = miners["Margin"]["1.0"]["metric"]
        margin = miners["Margin"]
        low = [str(b) for b in BUDGETS if b <= 0.2 and margin[str(b)]["max_upload_fraction"] <= b]
        best = max(low, key=lambda b: margin[b]["metric"])
        per_seed = np.asarray(margin[best]["per_seed"]) / np.asarray(margin["1.0"]["per_seed"])
        verdict[dataset] = {"margin_best_at_or_below_20pct_over_upload_all": margin[best]["metric"] / full,
                            "at_budget": float(best),
                            "per_seed_ratio": [float(v) for v in per_seed],
                            "per_seed_ratio_std": float(np.std(per_seed, ddof=1 if len(per_seed) > 1 else 0)),
                            "margin_beats_random_at_or_below_20pct": all(
                                miners["Margin"][str(b)]["metric"] >= miners["random"][str(b)]["metric"]
                                for b in BUDGETS if b <= 0.2)}
    result = {"machine": f"{platform.machine()} python {platform.python_version()}", "seeds": args.seeds,
              "protocol": ("60 initial labels, 5 rounds x 180 samples (breast_cancer 64), budget caps the "
                           "stream fraction, retrain on all labels, deploy if +0.01; "
                           "upload-all = budget 100 %"),
              "table": table, "verdict": verdict, "deployed_regressions": regressions,
              "seconds": time.perf_counter() - started,
              "bar": "at least 99% of upload-all at 20% upload or less; a deployed model is never worse"}
    result["passes_bar"] = regressions == 0 and all(
        v["margin_best_at_or_below_20pct_over_upload_all"] >= 0.99 for v in verdict.values())
    print(json.dumps(verdict, indent=2))
    print(f"deployed regressions: {regressions}; bar met: {result['passes_bar']}; {result['seconds']:.1f} s")
    out = pathlib.Path(__file__).parent / "results" / "i1_label_efficiency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
