"""J1: accuracy vs cloud-offload ratio for every miner on digits, plus a detection-shaped variant.

Protocol of the reference pilot (P1 in the inference anchors): ``load_digits``, 5 random
stratified 50/50 splits; edge = standardised logistic regression on 2x2-average-pooled 4x4
images (16 features); cloud = RBF SVC on all 64 pixels. Each miner's ``score()`` ranks the
test samples and the top k % go to the cloud, whose answer replaces the edge's. Random offloads
a random k % (mean of 50 draws per split), Oracle the edge's mistakes first (an upper bound).

Detection-shaped variant: mosaics of 4 test digits (a 16x16 image), one "box"
``[x1, y1, x2, y2, score, label]`` per 8x8 cell whose score is the edge's top probability; a
mosaic is right if all 4 cells are. Only the box-reading miners (IBT, Threshold) apply.

Run: python benchmarks/j1_offload_accuracy.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import machine, write_results
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sedna_lib.registry import default_registry

RATIOS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0]
FINE = np.round(np.arange(0, 101) / 100, 2)  # 1 % steps: area under the curve, smallest offload at 99 %
MINERS = {"Threshold": {}, "CrossEntropy": {}, "IBT": {"threshold_box": 0.9}, "Margin": {}}
BOX_MINERS = {"Threshold": {}, "IBT": {"threshold_box": 0.9}}
RANDOM_DRAWS = 50
CELLS = np.array([[0, 0, 8, 8], [8, 0, 16, 8], [0, 8, 8, 16], [8, 8, 16, 16]], dtype=np.float64)


def pool(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of 8x8 digits: 16 features."""
    return x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)


def curve(order: np.ndarray, edge_ok: np.ndarray, cloud_ok: np.ndarray, ratios) -> np.ndarray:
    """Accuracy when the first ``r`` share of ``order`` is answered by the cloud, for each r."""
    out = []
    for r in ratios:
        k = int(round(r * len(order)))
        ok = edge_ok.copy()
        ok[order[:k]] = cloud_ok[order[:k]]
        out.append(ok.mean())
    return np.asarray(out)


def random_curve(rng: np.random.Generator, edge_ok: np.ndarray, cloud_ok: np.ndarray,
                 draws: int = RANDOM_DRAWS) -> np.ndarray:
    """The Random row: mean accuracy over ``draws`` random offload orders (one draw is noisy)."""
    return np.mean([curve(rng.permutation(len(edge_ok)), edge_ok, cloud_ok, FINE) for _ in range(draws)], axis=0)


def rank(name: str, params: dict, batch) -> np.ndarray:
    score = default_registry.create("hard_example_mining", name, **params).score(batch)
    return np.argsort(-score, kind="stable")


def run_seed(seed: int) -> tuple[dict, dict, dict]:
    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    edge = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(pool(xtr), ytr)
    cloud = SVC(kernel="rbf").fit(xtr, ytr)
    probs = edge.predict_proba(pool(xte))
    edge_ok, cloud_ok = probs.argmax(1) == yte, cloud.predict(xte) == yte
    rng = np.random.default_rng(seed)
    orders = {name: rank(name, params, probs) for name, params in MINERS.items()}
    orders["Oracle"] = np.argsort(edge_ok, kind="stable")
    digits = {name: curve(o, edge_ok, cloud_ok, FINE) for name, o in orders.items()}
    digits["Random"] = random_curve(rng, edge_ok, cloud_ok)

    m = len(yte) // 4
    idx = rng.permutation(len(yte))[: m * 4].reshape(m, 4)
    boxes = np.concatenate([np.broadcast_to(CELLS, (m, 4, 4)), probs.max(1)[idx][..., None],
                            probs.argmax(1)[idx][..., None]], axis=2)  # (m, 4 boxes, 6)
    m_edge, m_cloud = edge_ok[idx].all(1), cloud_ok[idx].all(1)
    morders = {name: rank(name, params, boxes) for name, params in BOX_MINERS.items()}
    morders["Oracle"] = np.argsort(m_edge, kind="stable")
    mosaics = {name: curve(o, m_edge, m_cloud, FINE) for name, o in morders.items()}
    mosaics["Random"] = random_curve(rng, m_edge, m_cloud)
    return digits, mosaics, {"edge": edge_ok.mean(), "cloud": cloud_ok.mean()}


def summarise(curves: dict) -> dict:
    """Per miner: accuracy at RATIOS, area under the curve, smallest offload reaching 99 % of cloud-only."""
    out = {}
    for name, c in curves.items():
        cloud_only = c[-1]
        reach = FINE[np.nonzero(c >= 0.99 * cloud_only)[0]]
        out[name] = {"acc": [float(c[list(FINE).index(r)]) for r in RATIOS],
                     "auc": float(np.sum((c[1:] + c[:-1]) / 2) / 100),
                     "min_offload_99": float(reach[0]) if reach.size else None}
    return out


def print_table(title: str, rows: dict) -> None:
    print(f"\n{title}")
    print(f"{'miner':<14}" + "".join(f"{int(r * 100):>6d}%" for r in RATIOS) + "    AUC  99%-at")
    for name in [*(k for k in rows if k not in ("Random", "Oracle")), "Random", "Oracle"]:
        row = rows[name]
        at = "-" if row["min_offload_99"] is None else f"{row['min_offload_99']:.0%}"
        print(f"{name:<14}" + "".join(f"{a:7.3f}" for a in row["acc"]) + f"  {row['auc']:.3f}  {at:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    runs = [run_seed(s) for s in range(args.seeds)]
    digits = summarise({k: np.mean([r[0][k] for r in runs], axis=0) for k in runs[0][0]})
    mosaics = summarise({k: np.mean([r[1][k] for r in runs], axis=0) for k in runs[0][1]})
    models = {k: float(np.mean([r[2][k] for r in runs])) for k in ("edge", "cloud")}
    print(f"edge alone {models['edge']:.3f}, cloud alone {models['cloud']:.3f} (mean of {args.seeds} splits)")
    print_table("digits: accuracy at offload ratio", digits)
    print_table("4-digit mosaics: all 4 cells right, at offload ratio", mosaics)

    i20, i30 = RATIOS.index(0.2), RATIOS.index(0.3)
    cloud_only = digits["Margin"]["acc"][-1]
    summary = {
        "margin_at_30_vs_cloud": digits["Margin"]["acc"][i30] / cloud_only,
        "best_at_30_vs_cloud": max(v["acc"][i30] for k, v in digits.items() if k != "Oracle") / cloud_only,
        "margin_minus_random_at_20_pt": 100 * (digits["Margin"]["acc"][i20] - digits["Random"]["acc"][i20]),
    }
    per_split = {  # the spread over splits, to tell a robust miss from seed noise
        "margin_at_30_vs_cloud": [float(r[0]["Margin"][30] / r[0]["Margin"][-1]) for r in runs],
        "margin_minus_random_at_20_pt": [float(100 * (r[0]["Margin"][20] - r[0]["Random"][20])) for r in runs],
    }
    summary["per_split"] = per_split
    summary["bar_99pct_at_30"] = summary["margin_at_30_vs_cloud"] >= 0.99
    summary["bar_5pt_over_random_at_20"] = summary["margin_minus_random_at_20_pt"] >= 5.0
    print(f"\nMargin at 30 %: {summary['margin_at_30_vs_cloud']:.1%} of cloud-only (bar 99 %: "
          f"{'met' if summary['bar_99pct_at_30'] else 'NOT met'}); "
          f"+{summary['margin_minus_random_at_20_pt']:.1f} pt over Random at 20 % (bar +5 pt: "
          f"{'met' if summary['bar_5pt_over_random_at_20'] else 'NOT met'})")
    print("per split: Margin at 30 % / cloud-only " + ", ".join(f"{v:.1%}" for v in per_split["margin_at_30_vs_cloud"])
          + "; Margin - Random at 20 % " + ", ".join(f"{v:+.1f}" for v in per_split["margin_minus_random_at_20_pt"]))
    write_results("j1_offload_accuracy", {
        "protocol": "digits, stratified 50/50 splits; edge = StandardScaler + LogisticRegression on 2x2-pooled "
                    "4x4 pixels; cloud = SVC(rbf) on 64 pixels; mosaics of 4 test digits, one box per cell",
        "ratios": RATIOS, "seeds": args.seeds, "models": models, "digits": digits, "mosaics": mosaics,
        "summary": summary, "seconds": time.perf_counter() - start, "machine": machine("scikit-learn")})


if __name__ == "__main__":
    main()
