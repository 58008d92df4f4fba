"""F7: MistNet on digits: accuracy and uplink bytes per epsilon in {0.5, 1, 2, inf}, against FedAvg.

An MLP 64-H-10 extractor is pre-trained on a public 20 % of the training split (the server's
data); the other 80 % is spread IID over 10 clients. MistNet (sedna_lib's registered
aggregator, one round of communication): each client runs the first layer (``cut_layer=1``),
binarises the activations and perturbs them with symmetric unary encoding at epsilon, and
uploads them once with its labels; the server trains the head (logistic regression on the
bits). FedAvg: the same clients fine-tune the same pre-trained MLP for R rounds. Uplink bytes
are the binary codec messages the clients send (``UpdateWeight``). Accuracy on the 360 test
samples; MistNet's is the mean over 5 noise seeds.

    python benchmarks/f7_mistnet.py                  # H in {32, 128}, FedAvg 50 rounds (about 1 minute)
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import _fl_common as fc
from _common import machine, write_results


def upload_bytes(weights: list, n: int) -> int:
    from sedna_lib.transport import messages as m

    return len(m.to_binary(m.UpdateWeight("client-0", [np.asarray(w) for w in weights], n, "", 1, {}, None)))


def run_mistnet(est, clients, xte, yte, epsilon, seed: int) -> tuple[float, int, int]:
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.algorithms.aggregation import MistNet
    from sedna_lib.algorithms.aggregation._math import binarize

    agg = MistNet(cut_layer=1, epsilon=epsilon, seed=seed)
    agg.bind_head(LogisticRegression(max_iter=3000))
    agg.begin_round()
    sent = 0
    for d in clients:
        update = agg.client_update(est, d.x, d.y, client_id=f"client-{d.cid}",
                                   rng=np.random.default_rng(seed * 1000 + d.cid))
        sent += upload_bytes(update.weights, update.num_samples)
        agg.add(update)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg.finish()
    pred = agg.head_.predict(binarize(est.forward_to(xte, 1)))
    return float(np.mean(pred == yte)), sent, agg.round_


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--epsilons", nargs="+", default=["0.5", "1", "2", "inf"])
    parser.add_argument("--fedavg-rounds", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    from sedna_lib.backends import set_backend
    from sedna_lib.collaborative_training import simulate

    xtr, ytr, xte, yte = fc.load_digits_split()
    order = np.random.default_rng(1).permutation(len(xtr))
    pub, priv = order[:len(xtr) // 5], order[len(xtr) // 5:]
    clients = fc.client_datasets(xtr[priv], ytr[priv], "iid")
    out: dict = {}
    rows = []
    for hidden in args.hidden:
        pre = fc.train_mlp(fc.init_mlp(hidden), xtr[pub], ytr[pub], epochs=30, seed=7)
        est = fc.MLPEstimator(hidden)
        est.set_weights(pre)
        entry: dict = {"pretrained_accuracy": fc.accuracy(pre, xte, yte), "mistnet": {}}
        for eps in args.epsilons:
            runs = [run_mistnet(est, clients, xte, yte, eps, s) for s in range(args.seeds)]
            entry["mistnet"][eps] = {"accuracy_mean": float(np.mean([r[0] for r in runs])),
                                     "accuracy_std": float(np.std([r[0] for r in runs])),
                                     "uplink_bytes": runs[0][1], "rounds": runs[0][2]}
        # FedAvg from the same pre-trained model, same clients
        fed = fc.MLPEstimator(hidden)
        fed.set_weights(pre)
        backend = set_backend(fed)

        def on_round(e, fed=fed):
            fed.round = e["round"] + 1

        res = simulate(backend, clients, "FedAvg", args.fedavg_rounds, on_round=on_round,
                       evaluate=lambda b, r: {"accuracy": fc.accuracy(b.get_weights(), xte, yte)})
        per_round = sum(upload_bytes(pre, len(d)) for d in clients)
        entry["fedavg"] = {"rounds": args.fedavg_rounds, "accuracy": res.history[-1]["accuracy"],
                           "accuracy_round_1": res.history[0]["accuracy"],
                           "uplink_bytes": per_round * args.fedavg_rounds, "uplink_bytes_per_round": per_round}
        out[str(hidden)] = entry
        for eps in args.epsilons:
            e = entry["mistnet"][eps]
            rows.append([hidden, f"MistNet eps={eps}", 1, f"{e['accuracy_mean']:.4f} +- {e['accuracy_std']:.4f}",
                         f"{e['uplink_bytes'] / 1e3:,.1f} kB"])
        f = entry["fedavg"]
        rows.append([hidden, "FedAvg, 1 round", 1, f"{f['accuracy_round_1']:.4f}", f"{f['uplink_bytes_per_round'] / 1e3:,.1f} kB"])
        rows.append([hidden, f"FedAvg, {f['rounds']} rounds", f["rounds"], f"{f['accuracy']:.4f}",
                     f"{f['uplink_bytes'] / 1e3:,.1f} kB"])
        rows.append([hidden, "pre-trained extractor alone (public 20 %)", 0, f"{entry['pretrained_accuracy']:.4f}", "0"])
    print("\nF7: MistNet (cut after layer 1, SUE-LDP bits, head = logistic regression) vs FedAvg, digits, 10 clients")
    print(fc.table(["hidden", "method", "rounds", "test accuracy", "uplink (all clients)"], rows))
    payload = {"results": out, "machine": machine("scikit-learn")}
    write_results("f7_mistnet", payload)
    return payload


if __name__ == "__main__":
    main()
