"""Demo section: digits of new origins arrive one by one; the knowledge base grows and spots an unseen one."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

ORIGINS = ("identity", "rotate", "flip")
UNSEEN = "invert"


def transform(x: np.ndarray, origin: str) -> np.ndarray:
    """Digits (rows of 64 pixels in [0, 1]) as seen through an origin: a domain of the same ten classes."""
    imgs = x.reshape(-1, 8, 8)
    out = {"identity": imgs, "rotate": np.rot90(imgs, 1, axes=(1, 2)), "flip": imgs[:, :, ::-1],
           "invert": 1.0 - imgs}[origin]
    return np.ascontiguousarray(out).reshape(len(x), -1)


def run(workdir: pathlib.Path) -> None:
    """Train on one origin, update with two more through a KB server, then meet an unseen origin."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.lifelong_learning import LifelongLearning, Samples
    from sedna_lib.lifelong_learning.metrics import summary
    from sedna_lib.lifelong_learning.replay import ReplayLearner
    from sedna_lib.servers.knowledge_base import KBServer

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1200], order[1200:]
    algos = {"task_definition": {"method": "TaskDefinitionByOrigin"},
             "task_allocation": {"method": "TaskAllocationByNearestTask"}}
    from ._incremental_learning import _lc_stub

    lc, reports = _lc_stub()
    kb = KBServer("127.0.0.1", 0, save_dir=str(workdir / "kb"), db_url=f"sqlite:///{workdir / 'kb.sqlite3'}")
    server = kb.run_in_thread()
    try:
        base = Config(kb_server=server.url, output_url=str(workdir / "cloud"),
                      edge_output_url=str(workdir / "edge"),
                      lc_server=lc.url, worker_name="ll-demo-train", job_name="ll-demo")
        kb_index = f"{server.url}/knowledgebase/file/download?files=index.pkl&name=index.pkl"
        edge = LifelongLearning(LogisticRegression(max_iter=300), **algos,
                                context=Context(dataclasses.replace(base, model_urls=(kb_index,))))
        replay = ReplayLearner(LogisticRegression(max_iter=300), memory_size=300)
        print(f"   knowledge base on {server.url}; tasks arrive in order {', '.join(ORIGINS)}")
        kb_rows, replay_rows = [], []
        for step, origin in enumerate(ORIGINS):
            cfg = dataclasses.replace(base, has_completed_initial_training=step > 0)
            cloud = LifelongLearning(LogisticRegression(max_iter=300), **algos, context=Context(cfg))
            xs = transform(x[train], origin)
            cloud.train(Samples(xs, y[train], np.full(len(xs), origin)))
            replay.fit_task(xs, y[train])
            edge.reload_index()  # the edge also polls every MODEL_POLL_PERIOD_SECONDS
            kb_row, replay_row = [], []
            for other in ORIGINS:
                xt = transform(x[test], other)
                pred, _, _ = edge.inference(Samples(xt))
                kb_row.append(float(np.mean(pred == y[test])))
                replay_row.append(float(np.mean(replay.predict(xt) == y[test])))
            kb_rows.append(kb_row)
            replay_rows.append(replay_row)
            print(f"   after '{origin}': knowledge base accuracy per origin "
                  + ", ".join(f"{o}={a:.3f}" for o, a in zip(ORIGINS, kb_row)))
        kb_sum, rp_sum = summary(kb_rows), summary(replay_rows)
        print(f"   knowledge base: ACC {kb_sum['acc']:.3f}  BWT {kb_sum['bwt']:+.3f}   "
              f"replay (300 samples): ACC {rp_sum['acc']:.3f}  BWT {rp_sum['bwt']:+.3f}")
        _, seen_flags, _ = edge.inference(Samples(np.concatenate([transform(x[test], o) for o in ORIGINS])))
        _, unseen_flags, _ = edge.inference(Samples(transform(x[test], UNSEEN)))
        saved = len(list((workdir / "edge" / "unseen_samples").iterdir()))
        print(f"   unseen origin '{UNSEEN}': {np.mean(unseen_flags):.1%} flagged unseen "
              f"(false alarms on known origins {np.mean(seen_flags):.1%}); "
              f"{saved} samples saved for labelling")
        kinds = sorted({(r.get("ownerKind"), r.get("kind")) for r in reports})
        print(f"   LocalController received {len(reports)} reports {kinds}")
    finally:
        server.stop()
        lc.stop()
