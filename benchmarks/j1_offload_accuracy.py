"""J1: accuracy vs cloud-offload ratio for every miner on digits, plus a detection-shaped variant.

Edge: logistic regression on 4x4 pooled digits; cloud: 4-nearest neighbours on all 64 pixels.
Each miner ranks the test samples by its hardness score and the top k % go to the cloud
(Random: a random k %, Oracle: edge mistakes first). Detection variant: mosaics of 4 digits,
one "box" per cell whose score is the edge's top probability; a mosaic is right if all 4 cells are.
Run: python benchmarks/j1_offload_accuracy.py [--seeds 5]
"""

import argparse
import json
import pathlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from sedna_lib.registry import default_registry

RATIOS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]


def pool(x):
    return x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)


def curve(order, edge_ok, cloud_ok):
    n = len(order)
    out = []
    for r in RATIOS:
        k = int(round(r * n))
        ok = edge_ok.copy()
        ok[order[:k]] = cloud_ok[order[:k]]
        out.append(float(ok.mean()))
    return out


def run_seed(seed):
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    edge = LogisticRegression(max_iter=300).fit(pool(xtr), ytr)
    cloud = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(xtr, ytr)
    pe, pc = edge.predict_proba(pool(xte)), cloud.predict_proba(xte)
    edge_ok, cloud_ok = pe.argmax(1) == yte, pc.argmax(1) == yte
    rng = np.random.default_rng(seed)
    res = {}
    for name in ["Threshold", "CrossEntropy", "IBT", "Margin"]:
        score = default_registry.create("hard_example_mining", name).score(pe)
        res[name] = curve(np.argsort(-score, kind="stable"), edge_ok, cloud_ok)
    res["Random"] = curve(rng.permutation(len(yte)), edge_ok, cloud_ok)
    res["Oracle"] = curve(np.argsort(edge_ok, kind="stable"), edge_ok, cloud_ok)
    # detection-shaped: mosaics of 4 test digits
    m = len(yte) // 4
    idx = rng.permutation(len(yte))[: m * 4].reshape(m, 4)
    boxes = [np.column_stack([np.zeros((4, 4)), pe[i].max(1), pe[i].argmax(1)]) for i in idx]
    m_edge, m_cloud = edge_ok[idx].all(1), cloud_ok[idx].all(1)
    det = {}
    for name in ["Threshold", "IBT"]:
        score = default_registry.create("hard_example_mining", name, **({"threshold_box": 0.9} if name == "IBT" else {})).score(boxes)
        det[name] = curve(np.argsort(-score, kind="stable"), m_edge, m_cloud)
    det["Random"] = curve(rng.permutation(m), m_edge, m_cloud)
    return res, det


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    runs = [run_seed(s) for s in range(args.seeds)]
    table = {k: np.mean([r[0][k] for r in runs], axis=0).tolist() for k in runs[0][0]}
    det = {k: np.mean([r[1][k] for r in runs], axis=0).tolist() for k in runs[0][1]}
    header = "miner         " + " ".join(f"{int(r * 100):>5d}%" for r in RATIOS)
    print("digits (accuracy at offload ratio)\n" + header)
    for k, v in table.items():
        print(f"{k:<14}" + " ".join(f"{a:6.3f}" for a in v))
    print("\n4-digit mosaics (all 4 cells right)\n" + header)
    for k, v in det.items():
        print(f"{k:<14}" + " ".join(f"{a:6.3f}" for a in v))
    cloud_only = table["Margin"][-1]
    i30, i20 = RATIOS.index(0.3), RATIOS.index(0.2)
    summary = {"margin_at_30_vs_cloud": table["Margin"][i30] / cloud_only,
               "margin_minus_random_at_20": table["Margin"][i20] - table["Random"][i20]}
    print(f"\nMargin at 30 %: {summary['margin_at_30_vs_cloud']:.1%} of cloud-only; "
          f"+{100 * summary['margin_minus_random_at_20']:.1f} pt over Random at 20 %")
    out = pathlib.Path(__file__).parent / "results" / "j1_offload_accuracy.json"
    out.write_text(json.dumps({"ratios": RATIOS, "digits": table, "mosaics": det, "summary": summary,
                               "seeds": args.seeds}, indent=1))


if __name__ == "__main__":
    main()
