"""The ATCII lifelong-learning workers, train -> eval -> deploy -> inference, as the control plane runs them.

``examples/lifelong_learning/atcii`` holds our scripts: the same library calls and variables as
Sedna's published ATCII example (the first lifelong-learning API: ``estimator=``, ``task_mining=``,
``unseen_task_detect=``, a JSON-string ``param``). The same run drives the published scripts
unchanged when ``SEDNA_UPSTREAM_EXAMPLES`` names a checkout of Sedna's ``examples`` folder (they
need xgboost; ``SEDNA_UPSTREAM_PYTHON`` may name an interpreter that has it, with sedna_lib installed).
"""

from __future__ import annotations

import csv
import os
import pathlib
import shutil
import signal
import sys
import time

import pytest
from worker_process import WorkerProcess

ROOT = pathlib.Path(__file__).resolve().parents[2]
OURS = ROOT / "examples" / "lifelong_learning" / "atcii"
ATTRIBUTES = ["Season", "Cooling startegy_building level"]
FEATURES = ["Air temperature (C)", "Relative humidity (%)", "Air velocity (m/s)", "Clo", "Met"]
LABEL = "Thermal preference"

pytestmark = pytest.mark.integration


def write_dataset(folder: pathlib.Path, n_per_task: int = 40) -> dict[str, pathlib.Path]:
    """ATCII-shaped CSVs: two seasons x two cooling strategies (four tasks), City and five features."""
    import numpy as np

    rng = np.random.default_rng(3)
    rows = []
    for season, shift in (("Summer", 1.0), ("Winter", -1.0)):
        for strategy in (1, 2):
            for i in range(n_per_task):
                label = i % 3  # every task sees every class
                temp = 24 + shift + (2.5, 0.0, -2.5)[label] + rng.normal(0, 0.8)
                rows.append([season, strategy, ("Berkeley", "Sydney", "Bangkok")[i % 3], round(temp, 2),
                             round(rng.uniform(20, 80), 1), round(rng.exponential(0.2), 3),
                             round(rng.uniform(0.3, 1.2), 2), round(rng.uniform(1.0, 1.6), 2), label])
    order = rng.permutation(len(rows))
    parts = {"train": order[: len(rows) * 6 // 10], "test": order[len(rows) * 6 // 10: len(rows) * 9 // 10],
             "infer": order[len(rows) * 9 // 10:]}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, idx in parts.items():
        paths[name] = folder / f"{name}Data.csv"
        with open(paths[name], "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Season", ATTRIBUTES[1], "City", *FEATURES, LABEL])
            writer.writerows(rows[i] for i in idx)
    return paths


def _read_tsv(path: pathlib.Path) -> list[list[str]]:
    return [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def _wait_files(folder: pathlib.Path, count: int, worker: WorkerProcess, timeout: float) -> None:
    """Wait until ``folder`` holds ``count`` files; fail if the worker exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and len(list(folder.iterdir())) >= count:
            return
        if not worker._alive_after(0.1):
            pytest.fail(f"{worker.log.stem} exited with {worker.proc.returncode}:\n{worker.output[-3000:]}")
    pytest.fail(f"{count} files not in {folder} within {timeout} s:\n{worker.output[-3000:]}")


@pytest.fixture
def kb_server(tmp_path):
    """The knowledge-base server of the control plane (KB_SERVER), on 127.0.0.1."""
    from sedna_lib.servers._threaded import ThreadedServer
    from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app

    store = KnowledgeBaseStore(str(tmp_path / "kb"))
    with ThreadedServer(create_app(store)) as server:
        yield server.url
    store.close()


def run_atcii(folder: pathlib.Path, tmp_path: pathlib.Path, lc_stub, kb_url: str,
              python: str | None = None) -> dict:
    """Run train.py, eval.py and inference.py of ``folder`` (copied) the way the control plane does."""
    work = tmp_path / "scripts"
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("__pycache__", "*.md", "image"))
    prefix = tmp_path / "home" / "data"  # the container's /home/data: DATA_PATH_PREFIX
    data = write_dataset(prefix / "data" / "atcii")
    job = "atcii-classifier-demo"
    output = prefix / "output" / job
    base = {"PATH": os.pathsep.join([os.path.dirname(python or sys.executable), "/usr/bin", "/bin"]),
            "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
            "SEDNA_WORK_DIR": str(tmp_path / "work"), "NAMESPACE": "default", "JOB_NAME": job,
            "LC_SERVER": lc_stub.url, "DATA_PATH_PREFIX": str(prefix)}
    started: list[WorkerProcess] = []

    def start(script: str, env: dict[str, str]) -> WorkerProcess:
        started.append(WorkerProcess(work, script, {**base, **env}, tmp_path, python=python))
        return started[-1]

    try:
        train = start("train.py", {
            "WORKER_NAME": "train-worker-abcde", "KB_SERVER": kb_url, "OUTPUT_URL": str(output),
            "HAS_COMPLETED_INITIAL_TRAINING": "false", "TRAIN_DATASET_URL": str(data["train"]),
            "ORIGINAL_DATASET_URL": str(data["train"]), "early_stopping_rounds": "5",
            "metric_name": "mlogloss"})
        assert train.wait(timeout=120) == 0, train.output
        [trained] = lc_stub.drain()

        # eval: MODEL_URLS is the trained index; it writes the index it judged to its own OUTPUT_URL
        eval_out = prefix / "output" / job / "eval"
        evaluate = start("eval.py", {
            "WORKER_NAME": "eval-worker-abcde", "KB_SERVER": kb_url, "OUTPUT_URL": str(eval_out),
            "MODEL_URLS": str(prefix / trained["results"][0]["url"].lstrip("/")),
            "TEST_DATASET_URL": str(data["test"]), "ORIGINAL_DATASET_URL": str(data["train"])})
        assert evaluate.wait(timeout=120) == 0, evaluate.output
        [evaluated] = lc_stub.drain()

        # deploy: the LocalController copies the reported index to <outputDir>/deploy/index.pkl
        deployed = prefix / "output" / job / "deploy" / "index.pkl"
        deployed.parent.mkdir(parents=True)
        shutil.copyfile(prefix / evaluated["results"][0]["url"].lstrip("/"), deployed)

        infer_csv = tmp_path / "stream" / "infer.csv"
        infer_csv.parent.mkdir()
        lines = data["infer"].read_text().splitlines()
        spring = ["Spring", "1", "Oslo", "23.0", "50.0", "0.1", "0.5", "1.2", "1"]  # a season never trained
        infer_csv.write_text("\n".join([*lines, ",".join(spring)]) + "\n")
        (tmp_path / "utd").mkdir()
        edge = tmp_path / "edge-kb"
        infer = start("inference.py", {
            "WORKER_NAME": "inference-worker-abcde", "MODEL_URLS": str(deployed),
            "OUTPUT_URL": str(output), "EDGE_OUTPUT_URL": str(edge),
            "UTD_SAVED_URL": str(tmp_path / "utd"), "infer_dataset_url": str(infer_csv)})
        # The worker follows its input for ever. Each unseen row is also kept on the edge for labelling:
        # once a second unseen row (appended after the first) is kept, every earlier row was written.
        _wait_files(edge / "unseen_samples", 1, infer, timeout=120)
        with open(infer_csv, "a") as fh:
            fh.write(",".join(["Autumn", *spring[1:]]) + "\n")
        _wait_files(edge / "unseen_samples", 2, infer, timeout=30)
        infer.proc.send_signal(signal.SIGINT)  # Ctrl-C: the published worker's files are flushed at exit
        infer.proc.wait(timeout=30)
        rows = _read_tsv(pathlib.Path(f"{infer_csv}_out.csv"))
        unseen = _read_tsv(tmp_path / "utd" / "unseen_sample.csv")
        return {"train": trained, "eval": evaluated, "eval_out": eval_out, "rows": rows, "unseen": unseen,
                "n_infer": len(lines) - 1, "job": job}
    finally:
        for worker in started:
            worker.stop()


def _check_run(run: dict) -> None:
    job = run["job"]
    train, evaluated = run["train"], run["eval"]
    assert (train["name"], train["ownerKind"], train["ownerName"], train["kind"], train["status"]) == (
        "train-worker-abcde", "lifelonglearningjob", job, "train", "completed")
    assert train["results"][0]["url"] == f"/output/{job}/index.pkl"
    assert (evaluated["name"], evaluated["kind"], evaluated["status"]) == ("eval-worker-abcde", "eval",
                                                                           "completed")
    [result] = evaluated["results"]
    # the index the eval judged is written where it reports it, and its metrics are plain numbers
    assert result["url"] == f"/output/{job}/eval/index.pkl"
    assert (run["eval_out"] / "index.pkl").is_file()
    assert set(result["metrics"]) == {"precision_score"}
    assert isinstance(result["metrics"]["precision_score"], float)
    # every row is answered with a class; only the seasons never trained are unseen
    rows = run["rows"][:run["n_infer"] + 1]
    assert len(rows) == run["n_infer"] + 1 and rows[-1][0] == "Spring"
    assert all(row[-1] in {"0", "1", "2"} for row in rows)
    assert [row[0] for row in run["unseen"]][:1] == ["Spring"]
    assert {row[0] for row in run["unseen"]} <= {"Spring", "Autumn"}


def test_atcii_example_trains_evaluates_and_infers_with_the_first_lifelong_api(tmp_path, lc_stub, kb_server):
    run = run_atcii(OURS, tmp_path, lc_stub, kb_server)

    _check_run(run)
    assert 0.5 < run["eval"]["results"][0]["metrics"]["precision_score"] <= 1.0
    correct = [row[-1] == row[-2] for row in run["rows"][:run["n_infer"]]]
    assert sum(correct) / len(correct) > 0.5


UPSTREAM = os.environ.get("SEDNA_UPSTREAM_EXAMPLES")


@pytest.mark.skipif(not UPSTREAM, reason="set SEDNA_UPSTREAM_EXAMPLES to Sedna's examples folder")
def test_published_atcii_scripts_run_unchanged_through_the_sedna_alias(tmp_path, lc_stub, kb_server):
    folder = pathlib.Path(UPSTREAM) / "lifelong_learning" / "atcii"
    python = os.environ.get("SEDNA_UPSTREAM_PYTHON") or None

    run = run_atcii(folder, tmp_path, lc_stub, kb_server, python=python)

    _check_run(run)
