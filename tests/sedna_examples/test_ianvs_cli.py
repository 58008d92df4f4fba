"""Ianvs's own command line as the client: small benchmarking jobs of each paradigm, run by ``ianvs -f``.

Opt-in: set ``IANVS_PYTHON`` to an interpreter that has Ianvs core installed (kubeedge/ianvs, with
its requirements) and sedna_lib providing ``sedna`` (``pip install -e .`` of this repository).
The jobs, their data and their algorithm modules (``ianvs_jobs/modules.py``) are written here; each
job must finish with Ianvs's "runs successfully" and rank its metric. Lifelong learning is not
among them: Ianvs core calls ``my_inference``, ``inference_2`` and ``my_evaluate``, which no released
Sedna has. Incremental learning is not either: Ianvs uses what ``IncrementalLearning.train`` returns
as a model path, and Sedna returns the estimator (docs/sedna-compatibility.md, "Ianvs").
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

IANVS_PYTHON = os.environ.get("IANVS_PYTHON", "")
MODULES = pathlib.Path(__file__).resolve().parent / "ianvs_jobs" / "modules.py"

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not IANVS_PYTHON,
                                 reason="set IANVS_PYTHON to an interpreter with Ianvs core")]


def _feature_files(folder: pathlib.Path, name: str, n: int, rng) -> pathlib.Path:
    """``n`` files of 5 x 4 features around +2 (label 1) or -2 (label 0), and their index."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        label = i % 2
        path = folder / f"{name}_{i:03d}.npy"
        np.save(path, rng.normal(size=(5, 4)) + (2.0 if label else -2.0) * np.array([1, 1, 0, 0]))
        lines.append(f"{path} {label}")
    index = folder / f"{name}.txt"
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index


def _sums(folder: pathlib.Path) -> pathlib.Path:
    """An LLM-style benchmark (metadata.json + data.jsonl) of sums; 2-digit ones defeat the edge."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.json").write_text(json.dumps({
        "dataset": "sums", "description": "additions", "level_1_dim": "text", "level_2_dim": "math"}))
    rows = [{"query": f"{a}+{b}", "response": str(a + b), "level_3_dim": "add", "level_4_dim": "sum"}
            for a, b in [(1, 2), (3, 4), (12, 5), (40, 9), (7, 1), (25, 3)]]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "metadata.json"


def _yaml(path: pathlib.Path, doc: dict) -> pathlib.Path:
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def _module(kind: str, name: str, **hyperparameters) -> dict:
    out = {"type": kind, "name": name, "url": str(MODULES)}
    if hyperparameters:
        out["hyperparameters"] = [{k: {"values": [v]}} for k, v in hyperparameters.items()]
    return out


def _job(tmp_path: pathlib.Path, testenv: dict, algorithm: dict, metrics: list[str]) -> pathlib.Path:
    env = _yaml(tmp_path / "testenv.yaml", {"testenv": testenv})
    algo = _yaml(tmp_path / "algorithm.yaml", {"algorithm": algorithm})
    return _yaml(tmp_path / "benchmarkingjob.yaml", {"benchmarkingjob": {
        "name": "job", "workspace": str(tmp_path / "workspace"), "testenv": str(env),
        "test_object": {"type": "algorithms", "algorithms": [{"name": "tiny", "url": str(algo)}]},
        "rank": {"sort_by": [{metrics[0]: "descend"}],
                 "visualization": {"mode": "selected_only", "method": "print_table"},
                 "selected_dataitem": {"paradigms": ["all"], "modules": ["all"], "hyperparameters": ["all"],
                                       "metrics": metrics},
                 "save_mode": "selected_and_all"}}})


def _run(job: pathlib.Path, tmp_path: pathlib.Path) -> dict[str, str]:
    code = ("import sys; from core.cmd.benchmarking import main; "
            "sys.argv = ['ianvs', '-f', sys.argv[1]]; main()")
    done = subprocess.run([IANVS_PYTHON, "-c", code, str(job)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "runs successfully" in done.stderr + done.stdout, done.stderr[-3000:]
    with open(tmp_path / "workspace" / "job" / "rank" / "all_rank.csv", encoding="utf-8") as fh:
        [row] = list(csv.DictReader(fh))
    return row


def test_single_task_learning(tmp_path):
    rng = np.random.default_rng(0)
    testenv = {"dataset": {"train_index": str(_feature_files(tmp_path / "data", "train", 40, rng)),
                           "test_index": str(_feature_files(tmp_path / "data", "test", 20, rng))},
               "metrics": [{"name": "accuracy", "url": str(MODULES)}]}
    algorithm = {"paradigm_type": "singletasklearning", "initial_model_url": "",
                 "modules": [_module("basemodel", "TinyLinear", learning_rate=0.5)]}

    row = _run(_job(tmp_path, testenv, algorithm, ["accuracy"]), tmp_path)

    assert row["paradigm"] == "singletasklearning" and float(row["accuracy"]) == 1.0


def test_joint_inference_with_a_cloud_object_and_an_llm_benchmark(tmp_path):
    testenv = {"dataset": {"train_data": str(tmp_path / "sums" / "data.jsonl"),
                           "test_data_info": str(_sums(tmp_path / "sums"))},
               "metrics": [{"name": "answer_accuracy", "url": str(MODULES)},
                           {"name": "cloud_share", "url": str(MODULES)}]}
    algorithm = {"paradigm_type": "jointinference",
                 "modules": [_module("edgemodel", "SumEdge", temperature=0.1),
                             _module("cloudmodel", "SumCloud"),
                             _module("hard_example_mining", "LongQueryRouter", limit=3)]}

    row = _run(_job(tmp_path, testenv, algorithm, ["answer_accuracy", "cloud_share"]), tmp_path)

    # the three 2-digit sums go to the cloud, which answers them right; the edge answers the rest right
    assert float(row["answer_accuracy"]) == 1.0 and float(row["cloud_share"]) == 0.5


def test_federated_learning_with_an_upstream_style_aggregation(tmp_path):
    rng = np.random.default_rng(1)
    testenv = {"dataset": {"train_index": str(_feature_files(tmp_path / "data", "train", 40, rng)),
                           "test_index": str(_feature_files(tmp_path / "data", "test", 20, rng))},
               "metrics": [{"name": "accuracy", "url": str(MODULES)}], "round": 3, "client_number": 2}
    algorithm = {"paradigm_type": "federatedlearning", "initial_model_url": "",
                 "fl_data_setting": {"train_ratio": 1.0, "splitting_method": "default",
                                     "label_data_ratio": 1.0, "data_partition": "iid"},
                 "modules": [_module("basemodel", "TinyLinear", learning_rate=0.5),
                             _module("aggregation", "TinyFedAvg")]}

    row = _run(_job(tmp_path, testenv, algorithm, ["accuracy"]), tmp_path)

    assert row["paradigm"] == "federatedlearning" and float(row["accuracy"]) == 1.0
