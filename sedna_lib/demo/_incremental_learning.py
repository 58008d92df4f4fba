"""Demo section: incremental learning on digits; an inference worker hot-swaps each deployed model."""

from __future__ import annotations

import pathlib
from typing import Any


def _lc_stub() -> tuple[Any, list[dict]]:
    """Start a LocalController report endpoint on 127.0.0.1 that records what it receives."""
    from fastapi import FastAPI

    from ..servers._threaded import ThreadedServer

    received: list[dict] = []
    app = FastAPI()

    @app.post("/sedna/workers/{worker}/info")
    def info(worker: str, body: dict) -> dict:
        received.append(body)
        return {"Status": 200, "Message": "OK"}

    return ThreadedServer(app).start(), received


def run(workdir: pathlib.Path) -> None:
    """Three rounds of infer -> mine (10 % budget) -> label -> retrain -> deploy if better, served hot."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from ..config import Config
    from ..context import Context
    from ..incremental_learning import IncrementalLearning, IncrementalLoop

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order] / 16.0, y[order]
    initial, stream, eval_data = (x[:40], y[:40]), (x[40:1040], y[40:1040]), (x[1200:], y[1200:])
    hot_config = workdir / "model-hot-update" / "model_config.json"

    loop = IncrementalLoop(LogisticRegression(max_iter=500), miner="Margin", upload_budget=0.1,
                           min_delta=0.005, output_dir=str(workdir / "loop"),
                           hot_update_config=str(hot_config),
                           hard_example_output=str(workdir / "hard_examples"), progress=False)
    loop.start(initial, eval_data)
    print(f"   initial model on 40 labels: accuracy {loop.initial_metric_:.3f} (deployed as round-0000)")

    lc, received = _lc_stub()
    ctx = Context(Config(model_url=str(next((workdir / "loop" / "models").rglob("*.pkl"))), lc_server=lc.url,
                         worker_name="infer-demo", job_name="digits-il", model_hot_update=True,
                         model_poll_period_seconds=0.1, model_hot_update_config=str(hot_config),
                         work_dir=str(workdir / "worker")))
    worker = IncrementalLearning(estimator=LogisticRegression(), context=ctx)
    try:
        worker.start()
        for batch in np.array_split(np.arange(len(stream[1])), 3):
            record = loop.step((stream[0][batch], stream[1][batch]))
            swapped = worker.slot.wait_for_version(record.model_version, timeout=5.0)
            infer_res, _, _ = worker.inference(eval_data[0])
            served = float(np.mean(infer_res == eval_data[1]))
            print(f"   round {record.round}: uploaded {record.uploaded}/{record.stream_samples} "
                  f"hard examples, accuracy {record.metric_before:.3f} -> {record.metric_candidate:.3f}, "
                  f"{'deployed' if record.deployed else 'not deployed (gain below 0.005)'}; "
                  f"worker serves {worker.slot.version} ({'swapped' if swapped else 'unchanged'}), "
                  f"accuracy {served:.3f}")
    finally:
        worker.close()
        lc.stop()
    deploys = [b["status"] for b in received if b.get("kind") == "deploy"]
    print(f"   deploy reports the LocalController received: {deploys}")
    print(f"   per-round records: {workdir / 'loop' / 'rounds.json'}; "
          f"hard examples: {workdir / 'hard_examples'}")
