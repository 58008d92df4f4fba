"""J7: language-model routing: accuracy and cloud-token share vs routed fraction, budget error, overhead.

Task: which standard module defines a function ("module of dedent is" -> textwrap), 625 questions
built from the Python standard library (``sedna_lib.llm.qa``). Per seed, a weak edge and a
stronger cloud are trained on the spot (word trigram models, ``NGramLanguageModel``): the cloud
learns 90 % of the facts; the edge about 55 %, a tenth of them wrongly, and it knows half the
modules (drawn per seed) better than the others (85 % vs 25 % of the facts the cloud knows). The
questions are split 50/50: the first half trains the learned router (the edge's logged outcomes),
the second half is the test stream. The cloud is served by a real ``BigModelService`` on
127.0.0.1 and asked through ``OpenAIClient`` on ``/v1/chat/completions``.

Curves: each router's ``score()`` ranks the test queries and the top k % go to the cloud, whose
answer replaces the edge's. Random routes a random k % (mean of 50 draws), Oracle the edge's
mistakes first (those the cloud gets right before the others). Cloud-token share: cloud tokens /
all tokens; the edge runs on every query, except with the learned router, which routes on the
query alone (mining-then-inference) and spares the edge the routed ones.

Budget: ``LLMJointInference`` with ``upload_ratio`` r on a stream of the test questions (each
twice, shuffled) through the real routes; the error is realised minus requested share.
Overhead: the router's decision per query against the edge model's generation, thread CPU time,
medians.

Run: python benchmarks/j7_llm_routing.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import machine, write_results

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService
from sedna_lib.llm import EdgeLM, LLMJointInference, NGramLanguageModel
from sedna_lib.llm.qa import fact_sentences, module_qa, split_knowledge
from sedna_lib.registry import default_registry
from sedna_lib.transport.openai import OpenAIClient

RATIOS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0]
FINE = np.round(np.arange(0, 101) / 100, 2)
CONFIDENCE = ("MeanLogProb", "MinLogProb", "TokenEntropy", "SelfConsistency")
ROUTERS = (*CONFIDENCE, "LearnedRouter")
BUDGETS = (0.1, 0.2, 0.3, 0.5)
RANDOM_DRAWS = 50
K_SAMPLES = 4
TOPIC_SKEW = 0.6  # the edge knows half the modules (drawn per seed) better: 85 % vs 25 % of their facts


def create(name: str, **params):
    return default_registry.create("hard_example_mining", name, **params)


def answer(generation) -> str:
    """The first word of an answer ("textwrap" of " textwrap .")."""
    words = generation.text.replace(".", " ").split()
    return words[0] if words else ""


def curve(order, edge_ok, cloud_ok, ratios) -> np.ndarray:
    out = []
    for r in ratios:
        k = int(round(r * len(order)))
        ok = edge_ok.copy()
        ok[order[:k]] = cloud_ok[order[:k]]
        out.append(ok.mean())
    return np.asarray(out)


def token_share(order, edge_tokens, cloud_tokens, ratios, *, edge_always: bool) -> np.ndarray:
    out = []
    for r in ratios:
        k = int(round(r * len(order)))
        routed = np.zeros(len(order), dtype=bool)
        routed[order[:k]] = True
        cloud = cloud_tokens[routed].sum()
        edge = edge_tokens.sum() if edge_always else edge_tokens[~routed].sum()
        out.append(cloud / (cloud + edge))
    return np.asarray(out)


def cpu_median(fn, items, reps: int = 3) -> float:
    """Median thread CPU time of ``fn(item)`` over the items (best of ``reps`` passes each)."""
    times = []
    for item in items:
        best = np.inf
        for _ in range(reps):
            t0 = time.thread_time_ns()
            fn(item)
            best = min(best, time.thread_time_ns() - t0)
        times.append(best)
    return float(np.median(times)) / 1e3  # microseconds


def run_seed(seed: int, items) -> dict:
    rng = np.random.default_rng(1000 + seed)  # not the knowledge split's stream: test facts are a fair half
    edge_facts, cloud_facts = split_knowledge(items, topic_skew=TOPIC_SKEW, seed=seed)
    edge_lm = NGramLanguageModel(order=3, name="edge").fit(fact_sentences(edge_facts, wrong=0.1, seed=seed))
    cloud_lm = NGramLanguageModel(order=3, name="cloud").fit(fact_sentences(cloud_facts))
    order = rng.permutation(len(items))
    train = [items[i] for i in order[:len(items) // 2]]
    test = [items[i] for i in order[len(items) // 2:]]
    edge = EdgeLM(edge_lm, max_tokens=4, top_logprobs=5, num_samples=K_SAMPLES - 1, sample_temperature=1.0,
                  seed=seed)
    out: dict = {"seed": seed, "n_test": len(test)}
    ctx = Context(Config())
    service = BigModelService(estimator=cloud_lm, context=ctx).start(host="127.0.0.1", port=0, block=False)
    try:
        client = OpenAIClient(service.url + "/v1", max_tokens=4)
        gens = [edge.predict({"prompt": it.question, "reference": it.answer}) for it in test]
        clouds = [client.predict(it.question) for it in test]
        edge_ok = np.array([answer(g) == it.answer for g, it in zip(gens, test)])
        cloud_ok = np.array([answer(c) == it.answer for c, it in zip(clouds, test)])
        edge_tokens = np.array([g.prompt_tokens + g.completion_tokens for g in gens], dtype=float)
        cloud_tokens = np.array([c.prompt_tokens + c.completion_tokens for c in clouds], dtype=float)
        train_wrong = [answer(edge.predict(it.question, num_samples=0)) != it.answer for it in train]
        learned = create("LearnedRouter").fit([it.question for it in train], train_wrong)

        orders, scorers = {}, {}
        for name in CONFIDENCE:
            router = create(name)
            orders[name] = np.argsort(-router.score(gens), kind="stable")
            scorers[name] = router
        orders["LearnedRouter"] = np.argsort(-learned.score([it.question for it in test]), kind="stable")
        orders["Oracle"] = np.lexsort((~cloud_ok, edge_ok))  # edge wrong first, the cloud's right ones first
        acc = {name: curve(o, edge_ok, cloud_ok, FINE) for name, o in orders.items()}
        share = {name: token_share(o, edge_tokens, cloud_tokens, FINE, edge_always=name != "LearnedRouter")
                 for name, o in orders.items()}
        perms = [rng.permutation(len(test)) for _ in range(RANDOM_DRAWS)]
        acc["Random"] = np.mean([curve(p, edge_ok, cloud_ok, FINE) for p in perms], axis=0)
        share["Random"] = np.mean([token_share(p, edge_tokens, cloud_tokens, FINE, edge_always=True)
                                   for p in perms], axis=0)
        out.update(edge_acc=float(edge_ok.mean()), cloud_acc=float(cloud_ok.mean()),
                   accuracy={k: v.tolist() for k, v in acc.items()},
                   token_share={k: v.tolist() for k, v in share.items()})

        # budget error through the real path: LLMJointInference, the routes, upload_ratio
        stream = [test[i] for i in np.concatenate([rng.permutation(len(test)) for _ in range(2)])]
        budgets: dict = {}
        for name in ROUTERS:
            for ratio in BUDGETS:
                router = learned.clone().set_params(upload_ratio=ratio) if name == "LearnedRouter" \
                    else create(name, upload_ratio=ratio)
                mode = "mining-then-inference" if name == "LearnedRouter" else "inference-then-mining"
                job = LLMJointInference(edge, router, cloud=OpenAIClient(service.url + "/v1", max_tokens=4),
                                        context=Context(Config(mining_mode=mode)), report=False,
                                        offload_dir=f"/tmp/j7-offload-{seed}-{name}-{ratio}")
                with job:
                    results = [job.inference({"prompt": it.question, "reference": it.answer})
                               for it in stream]
                    totals = job.llm_metrics.totals()
                ok = np.mean([answer(r.result) == it.answer for r, it in zip(results, stream)])
                budgets[f"{name}@{ratio}"] = {"realised": totals["routed_share"],
                                              "error_pt": 100 * (totals["routed_share"] - ratio),
                                              "accuracy": float(ok),
                                              "cloud_token_share": totals["cloud_token_share"]}
        out["budget"] = budgets

        # overhead: the decision per query vs the edge's generation
        sample = gens[:100]
        overhead = {name: cpu_median(scorers[name], sample) for name in CONFIDENCE}
        overhead["LearnedRouter"] = cpu_median(learned, [it.question for it in test[:100]])
        single = EdgeLM(edge_lm, max_tokens=4, top_logprobs=5)
        questions = [it.question for it in test[:100]]
        overhead["edge generation (1 answer)"] = cpu_median(single.predict, questions, reps=1)
        overhead["edge generation (k=4 answers)"] = cpu_median(edge.predict, questions, reps=1)
        out["overhead_us"] = overhead
    finally:
        service.close()
    return out


def at(values, ratio: float) -> float:
    return float(values[int(round(ratio * 100))])


def smallest(values, target: float) -> float | None:
    for r, v in zip(FINE, values):
        if v >= target:
            return float(r)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    items = module_qa()
    t0 = time.perf_counter()
    runs = [run_seed(seed, items) for seed in range(args.seeds)]
    names = [*ROUTERS, "Random", "Oracle"]
    acc = {n: np.mean([r["accuracy"][n] for r in runs], axis=0) for n in names}
    share = {n: np.mean([r["token_share"][n] for r in runs], axis=0) for n in names}
    edge_acc = float(np.mean([r["edge_acc"] for r in runs]))
    cloud_acc = float(np.mean([r["cloud_acc"] for r in runs]))
    print(f"{len(items)} questions, {runs[0]['n_test']} per test stream, {args.seeds} seeds; "
          f"edge-only {edge_acc:.3f}, cloud-only {cloud_acc:.3f}\n")
    print("accuracy vs routed fraction")
    print(f"{'router':<16}" + "".join(f"{r:>7.0%}" for r in RATIOS) + "   share@95%cloud")
    summary = {}
    for n in names:
        first = smallest(acc[n], 0.95 * cloud_acc)
        summary[n] = {"acc_at": {str(r): at(acc[n], r) for r in RATIOS},
                      "token_share_at": {str(r): at(share[n], r) for r in RATIOS},
                      "routed_at_95pct_cloud": first,
                      "token_share_at_95pct_cloud": at(share[n], first) if first is not None else None}
        print(f"{n:<16}" + "".join(f"{at(acc[n], r):>7.3f}" for r in RATIOS)
              + f"   {'-' if first is None else f'{first:.0%}':>6}")
    print("\ncloud-token share vs routed fraction")
    for n in names:
        print(f"{n:<16}" + "".join(f"{at(share[n], r):>7.3f}" for r in RATIOS))
    print("\nbars")
    for n in CONFIDENCE:
        first = summary[n]["routed_at_95pct_cloud"]
        gain = 100 * (at(acc[n], 0.2) - at(acc["Random"], 0.2))
        summary[n]["gain_over_random_at_20pt"] = gain
        tokens = summary[n]["token_share_at_95pct_cloud"]
        print(f"{n:<16} 95% of cloud-only at {first:.0%} routed (cloud-token share {tokens:.3f}); "
              f"{gain:+.1f} pt over Random at 20 %")
    print("\nbudget: realised - requested share (pt), mean and worst over seeds; accuracy")
    budget = {}
    for key in runs[0]["budget"]:
        errs = [r["budget"][key]["error_pt"] for r in runs]
        accs = [r["budget"][key]["accuracy"] for r in runs]
        budget[key] = {"mean_error_pt": float(np.mean(errs)), "worst_error_pt": float(max(errs, key=abs)),
                       "accuracy": float(np.mean(accs))}
        print(f"{key:<22} {np.mean(errs):+6.2f} (worst {max(errs, key=abs):+6.2f})  acc {np.mean(accs):.3f}")
    print("\nper-query overhead, thread CPU us (median over queries, mean over seeds)")
    overhead = {k: float(np.mean([r["overhead_us"][k] for r in runs])) for k in runs[0]["overhead_us"]}
    for k, v in overhead.items():
        print(f"{k:<30} {v:9.1f}")
    elapsed = time.perf_counter() - t0
    print(f"\n{elapsed:.1f} s")
    write_results("j7_llm_routing", {
        "machine": machine("fastapi", "uvicorn", "requests"), "seeds": args.seeds, "questions": len(items),
        "edge_acc": edge_acc, "cloud_acc": cloud_acc, "summary": summary, "budget": budget,
        "overhead_us": overhead, "elapsed_s": elapsed, "runs": runs})


if __name__ == "__main__":
    main()
