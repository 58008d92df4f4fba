"""Worker scripts written as Sedna's examples write them run unchanged on sedna_lib through ``sedna``.

Each folder under ``scripts/`` is one example, shaped like its Sedna original: the same imports
from ``sedna.*``, the same calls and keyword arguments, and an ``interface.py`` whose stub
``Estimator`` returns fixed boxes, strings or scores in place of the real model. Every script
runs as a real process, in its folder, with the variables the control plane sets for that worker
plus the example's own ones, against a LocalController stub and real servers on 127.0.0.1. The
checks are the acceptance points of each example: return shapes, what reaches the cloud or the
aggregator, and what the LocalController receives.
"""

from __future__ import annotations

import importlib.util
import json
import re
import os
import pathlib
import socket
import sys

import pytest
from worker_process import WorkerProcess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPTS = pathlib.Path(__file__).resolve().parent / "scripts"

pytestmark = pytest.mark.integration


# -- helpers ----------------------------------------------------------------------------------

def free_port() -> int:
    """A port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(tmp_path: pathlib.Path) -> dict[str, str]:
    """What the example image sets: the library on PYTHONPATH, a home and a work folder."""
    return {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
            "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
            "SEDNA_WORK_DIR": str(tmp_path / "work")}


def para_spec(parameters: dict[str, object]) -> str:
    """Encode HEM parameters as the GlobalManager does (``[{"key": .., "value": ..}]``, string values)."""
    return json.dumps([{"key": k, "value": str(v)} for k, v in parameters.items()], separators=(",", ":"))


class Script(WorkerProcess):
    """An example script started as a real process in its own folder."""

    def __init__(self, example: str, script: str, env: dict[str, str], log_dir: pathlib.Path):
        super().__init__(SCRIPTS / example, script, env, log_dir)


@pytest.fixture
def run_script(tmp_path):
    """Start an example script: ``run_script(example, script, env) -> Script``; all are stopped after."""
    started: list[Script] = []

    def start(example: str, script: str, env: dict[str, str]) -> Script:
        started.append(Script(example, script, {**base_env(tmp_path), **env}, tmp_path))
        return started[-1]

    yield start
    for script in started:
        script.stop()


def reports(lc_stub) -> list[dict]:
    """Every report the LocalController stub has received so far."""
    return lc_stub.drain()


def home_data(tmp_path: pathlib.Path) -> pathlib.Path:
    """The container's ``/home/data`` (host paths are mounted under it), placed under ``tmp_path``."""
    prefix = tmp_path / "home" / "data"
    prefix.mkdir(parents=True, exist_ok=True)
    return prefix


# -- 10.1 joint inference: helmet detection -------------------------------------------------------

def test_helmet_joint_inference_offloads_hard_frames_and_returns_sedna_four_tuples(
        tmp_path, lc_stub, run_script):
    service, port = "helmet-detection-inference-example", free_port()
    prefix = home_data(tmp_path)
    for role in ("big", "little"):
        (prefix / "models" / f"{role}_model.pb").parent.mkdir(parents=True, exist_ok=True)
        (prefix / "models" / f"{role}_model.pb").write_bytes(b"stub")
    common = {"NAMESPACE": "default", "SERVICE_NAME": service, "DATA_PATH_PREFIX": str(prefix)}
    cloud = run_script("helmet_detection_inference", "big_model.py", {
        **common, "WORKER_NAME": "cloudworker-abcde", "MODEL_URL": str(prefix / "models" / "big_model.pb"),
        "BIG_MODEL_BIND_PORT": str(port), "BIG_MODEL_BIND_IP": "127.0.0.1", "STUB_ROLE": "cloud"})
    cloud.wait_serving(f"http://127.0.0.1:{port}/{service}", timeout=30)
    out = tmp_path / "output"
    edge = run_script("helmet_detection_inference", "little_model.py", {
        **common, "WORKER_NAME": "edgeworker-abcde", "MODEL_URL": str(prefix / "models" / "little_model.pb"),
        "BIG_MODEL_IP": "127.0.0.1", "BIG_MODEL_PORT": str(port), "LC_SERVER": lc_stub.url,
        "LC_PERIOD": "0.2",
        "HEM_NAME": "IBT", "HEM_PARAMETERS": para_spec({"threshold_img": 0.9, "threshold_box": 0.9}),
        "video_url": "rtsp://camera/stream", "all_examples_inference_output": str(out / "all"),
        "hard_example_edge_inference_output": str(out / "edge"),
        "hard_example_cloud_inference_output": str(out / "cloud"), "frames": "40"})

    edge.wait_for_line("STREAM ENDED", timeout=30)
    results = edge.records("RESULT")
    bodies = [lc_stub.next_body(timeout=10)]
    while bodies[-1]["ownerInfo"]["inferenceNumber"] < 4:  # reports come every LC_PERIOD
        bodies.append(lc_stub.next_body(timeout=10))
    edge.stop()

    assert [r["frame"] for r in results] == [0, 10, 20, 30]
    assert [r["is_hard"] for r in results] == [False, True, False, True]
    for r in results:
        assert r["edge"] == [[1.0, 1.0, 8.0, 8.0, 0.3 if r["is_hard"] else 0.95, 0.0]]
        if r["is_hard"]:  # the cloud saw the whole 12x16 frame (its mean is the frame's fill value)
            assert r["final"] == r["cloud"] == [[0.0, 0.0, 16.0, 12.0, 0.99, float(r["frame"] // 10)]]
        else:
            assert r["final"] == r["edge"] and r["cloud"] is None
    assert sorted(p.name for p in (out / "cloud").iterdir()) == ["10.json", "30.json"]
    assert {(b["name"], b["namespace"], b["ownerKind"], b["ownerName"], b["kind"]) for b in bodies} == {
        ("edgeworker-abcde", "default", "jointinferenceservice", service, "inference")}
    assert bodies[-1]["ownerInfo"]["inferenceNumber"] == 4
    info = bodies[-1]["ownerInfo"]
    assert (info["hardExampleNumber"], info["uploadCloudRatio"]) == (2, 0.5)


# -- 10.2 joint inference: answer generation (strings, mining-then-inference) ----------------------

def test_answer_generation_returns_strings_in_mining_then_inference_mode(tmp_path, lc_stub, run_script):
    service, port = "answer-generation-inference-example", free_port()
    prefix = home_data(tmp_path)
    common = {"NAMESPACE": "default", "SERVICE_NAME": service, "DATA_PATH_PREFIX": str(prefix),
              "BACKEND_TYPE": "TORCH"}
    cloud = run_script("answer_generation_inference", "big_model.py", {
        **common, "WORKER_NAME": "cloudworker-abcde", "MODEL_URL": f"{prefix}/api.deepseek.com",
        "MODEL_LOAD_MODE": "https", "MODEL_NAME": "deepseek-chat", "API_KEY": "not-a-key",
        "BIG_MODEL_BIND_PORT": str(port), "BIG_MODEL_BIND_IP": "127.0.0.1", "STUB_ROLE": "cloud"})
    cloud.wait_serving(f"http://127.0.0.1:{port}/{service}", timeout=30)
    edge_env = {**common, "WORKER_NAME": "edgeworker-abcde",
                "MODEL_URL": f"{prefix}/Qwen/Qwen2-0.5B-Instruct",
                "MODEL_LOAD_MODE": "hf", "MINING_MODE": "mining-then-inference", "BIG_MODEL_IP": "127.0.0.1",
                "BIG_MODEL_PORT": str(port), "LC_SERVER": lc_stub.url, "input_text": "Who are you?",
                "all_examples_inference_output": str(tmp_path / "output"), "HEM_PARAMETERS": "null"}

    example = "answer_generation_inference"
    to_cloud = run_script(example, "little_model.py", {**edge_env, "HEM_NAME": "CloudOnly"})
    at_edge = run_script(example, "little_model.py", {**edge_env, "HEM_NAME": "EdgeOnly"})
    assert to_cloud.wait(timeout=30) == 0, to_cloud.output
    assert at_edge.wait(timeout=30) == 0, at_edge.output

    # the edge model was loaded by its Hugging Face id (MODEL_URL less DATA_PATH_PREFIX), the
    # cloud's from MODEL_URL as an https endpoint: both through load() with no path
    assert "LOADED Qwen/Qwen2-0.5B-Instruct" in at_edge.output
    assert "LOADED https://api.deepseek.com/v1 deepseek-chat" in cloud.output
    [hard] = to_cloud.records("RESULT")
    answer = ["cloud(https://api.deepseek.com/v1 deepseek-chat): Who are you?"]
    # final is the cloud's result, not its whole reply
    assert hard == {"is_hard": True, "final": answer, "edge": None, "cloud": answer}
    [easy] = at_edge.records("RESULT")
    assert easy == {"is_hard": False, "final": "edge(Qwen/Qwen2-0.5B-Instruct): Who are you?",
                    "edge": "edge(Qwen/Qwen2-0.5B-Instruct): Who are you?", "cloud": None}


# -- 10.3 incremental learning: helmet detection (train, eval, inference with hot update) ----------

@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                    reason="the example's default backend is TensorFlow's, which is not installed")
def test_helmet_incremental_train_eval_and_hot_updated_inference(tmp_path, lc_stub, run_script):
    job, prefix = "helmet-detection-demo", home_data(tmp_path)
    dataset = prefix / "data" / "helmet_detection"
    (dataset / "images").mkdir(parents=True)
    lines = [f"images/{i}.jpg labels/{i}.txt" for i in range(6)]
    (dataset / "train_data.txt").write_text("\n".join(lines) + "\n")
    (dataset / "test_data.txt").write_text("\n".join(lines[:2]) + "\n")
    common = {"NAMESPACE": "default", "JOB_NAME": job, "LC_SERVER": lc_stub.url,
              "DATA_PATH_PREFIX": str(prefix), "ORIGINAL_DATASET_URL": str(dataset / "train_data.txt"),
              "class_names": "person,helmet,helmet_on",
              "input_shape": "352,640"}
    output = prefix / "output" / job

    train = run_script("helmet_detection_incremental", "train.py", {
        **common, "WORKER_NAME": "train-worker-abcde", "MODEL_URL": str(output / "train" / "1"),
        "BASE_MODEL_URL": str(prefix / "models" / "base_model"),
        "TRAIN_DATASET_URL": str(dataset / "train_data.txt"),
        "obj_threshold": "0.3", "nms_threshold": "0.4", "epochs": "1", "batch_size": "8"})
    assert train.wait(timeout=30) == 0, train.output
    [report] = reports(lc_stub)
    assert (report["name"], report["ownerKind"], report["ownerName"], report["kind"], report["status"]) == (
        "train-worker-abcde", "incrementallearningjob", job, "train", "completed")
    [pb, ckpt] = report["results"]
    assert pb["format"] == "pb" and pb["url"].endswith(".pb")
    assert pb["url"].startswith(f"/output/{job}/train/1/")
    assert (ckpt["format"], ckpt["url"]) == ("ckpt", f"/output/{job}/train/1")  # host paths
    trained = prefix / pb["url"].lstrip("/")
    assert trained.read_text() == "helmet-v6"  # six samples, joined with the original dataset's folder

    deployed = prefix / "models" / "deployed.pb"
    deployed.parent.mkdir(parents=True, exist_ok=True)
    deployed.write_text("helmet-v3")
    evaluate = run_script("helmet_detection_incremental", "eval.py", {
        **common, "WORKER_NAME": "eval-worker-abcde", "MODEL_URLS": f"{trained};{deployed}",
        "TEST_DATASET_URL": str(dataset / "test_data.txt")})
    assert evaluate.wait(timeout=30) == 0, evaluate.output
    [report] = reports(lc_stub)
    assert (report["kind"], report["status"]) == ("eval", "completed")
    assert [(r["url"], r["metrics"]) for r in report["results"]] == [  # one per MODEL_URLS item, in order
        (pb["url"], {"recall": [0.6] * 3, "precision": [0.3] * 3}),
        ("/models/deployed.pb", {"recall": [0.3] * 3, "precision": [0.15] * 3})]

    hot = tmp_path / "model-hot-update"
    hot.mkdir()
    (hot / "model.pb").write_text("helmet-v3")
    new_model = hot / "model.2.pb"
    new_model.write_text("helmet-v9")
    infer = run_script("helmet_detection_incremental", "inference.py", {
        **common, "WORKER_NAME": "inference-worker-abcde", "MODEL_URL": str(hot / "model.pb"),
        "HEM_NAME": "IBT", "HEM_PARAMETERS": para_spec({"threshold_img": 0.9, "threshold_box": 0.9}),
        "MODEL_HOT_UPDATE": "true", "MODEL_POLL_PERIOD_SECONDS": "1",
        "MODEL_HOT_UPDATE_CONFIG": str(hot / "model_config.json"), "wait_for_model": "helmet-v9",
        "HE_SAVED_URL": str(tmp_path / "hard_examples"), "RESULT_SAVED_URL": str(tmp_path / "results")})
    infer.wait_for_line("RESULT", timeout=30)
    (hot / "model_config.json").write_text(json.dumps({"model_config": {
        "model_path": str(new_model), "model_update_time": "2026-11-22 10:00:00.1 +0800 CST m=+1.5"}}))
    infer.wait_for_line("MODEL UPDATED", timeout=30)
    bodies = [lc_stub.next_body(timeout=10)]
    while bodies[-1]["kind"] != "deploy":
        bodies.append(lc_stub.next_body(timeout=10))
    infer.stop()

    results = infer.records("RESULT")
    assert results[0]["results"] == [[0, 0, 16, 12, 0.3, 0, "helmet-v3"]]  # the raw prediction comes first
    assert results[-1]["results"][0][-1] == "helmet-v9" and all(r["is_hard"] for r in results)
    deploys = [r for r in bodies if r["kind"] == "deploy"]
    assert [(r["name"], r["ownerName"], r["status"]) for r in deploys] == [
        ("inference-worker-abcde", job, "completed")]
    assert list((tmp_path / "hard_examples").rglob("*"))


# -- 10.5 federated learning: surface defect detection (KERAS backend type, numpy weights) ---------

def test_surface_defect_federated_averages_two_trainers_and_stops_after_exit_round(
        tmp_path, lc_stub, run_script):
    import numpy as np

    job, port, prefix = "surface-defect-detection", free_port(), home_data(tmp_path)
    sizes = {"edge1": 4, "edge2": 12}
    for node, size in sizes.items():
        folder = prefix / "data" / node
        (folder / "images").mkdir(parents=True)
        for i in range(size):
            np.save(folder / "images" / f"{i}.npy", np.full((4, 4), i, dtype=np.float32))
        (folder / "train.txt").write_text("".join(f"images/{i}.npy,{i % 2}\n" for i in range(size)))
    model_dir = prefix / "model"
    model_dir.mkdir()
    common = {"NAMESPACE": "default", "JOB_NAME": job, "AGG_BIND_PORT": str(port), "PARTICIPANTS_COUNT": "2",
              "MODEL_URL": str(model_dir), "DATA_PATH_PREFIX": str(prefix), "TRANSMITTER": "ws",
              "exit_round": "2"}
    aggregator = run_script("surface_defect_detection", "aggregate.py", {
        **common, "WORKER_NAME": "aggworker-abcde", "AGG_BIND_IP": "127.0.0.1"})
    aggregator.wait_serving(f"http://127.0.0.1:{port}/FedAvg", timeout=30)
    trainers = [run_script("surface_defect_detection", "train.py", {
        **common, "WORKER_NAME": f"trainworker-{node}", "LC_SERVER": lc_stub.url, "AGG_IP": "127.0.0.1",
        "AGG_PORT": str(port), "MODEL_NAME": "surface-defect-detection-model",
        "DATASET_NAME": f"dataset-{node}",
        "TRAIN_DATASET_URL": str(prefix / "data" / node / "train.txt"), "STUB_STEP": str(step)})
        for node, step in zip(sizes, (1, 2))]

    for trainer in trainers:
        assert trainer.wait(timeout=40) == 0, trainer.output
    assert aggregator.wait(timeout=30) == 0, aggregator.output

    # FedAvg weights the steps by sample count: (4 * 1 + 12 * 2) / 16 = 1.75 more per round
    for trainer, size in zip(trainers, sizes.values()):
        assert trainer.output.count(f"TRAINED {size} samples") == 2, trainer.output
        assert "kwargs ['batch_size', 'epochs', 'learning_rate', 'validation_split']" in trainer.output
        assert [float(v) for v in re.findall(r"AGGREGATED ([\d.]+)", trainer.output)][-2:] == [1.75, 3.5]
    assert (model_dir / "surface-defect-detection-model").is_file()  # MODEL_URL/MODEL_NAME, no extension
    bodies = reports(lc_stub)
    assert {(b["ownerKind"], b["ownerName"], b["namespace"], b["kind"]) for b in bodies} == {
        ("federatedlearningjob", job, "default", "train")}
    last = {b["name"]: b for b in bodies}
    assert sorted(last) == ["trainworker-edge1", "trainworker-edge2"]
    assert all((b["status"], b["ownerInfo"]["currentRound"]) == ("completed", 2) for b in last.values())


# -- 10.6 / 10.7 federated learning v2 and MistNet: the objects the scripts build --------------------

def test_v2_and_mistnet_scripts_build_their_objects_from_the_environment(tmp_path, run_script):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text("images/0.jpg,0\nimages/1.jpg,1\n")
    common = {"NAMESPACE": "default", "JOB_NAME": "fl-v2", "WORKER_NAME": "aggworker-abcde",
              "TRANSMITTER": "ws",
              "AGG_DATA_PATH": str(tmp_path / "agg")}

    v2 = run_script("surface_defect_detection_v2", "aggregate.py", {
        **common, "MODEL_URL": str(tmp_path / "model"), "TRAIN_DATASET_URL": str(data / "train.txt")})
    mistnet = run_script("yolov5_coco128_mistnet", "aggregate.py", {
        **common, "PRETRAINED_MODEL_URL": str(tmp_path / "pretrained" / "yolov5.pth"),
        "cut_layer": "4", "epsilon": "100"})
    assert v2.wait(timeout=30) == 0, v2.output
    assert mistnet.wait(timeout=30) == 0, mistnet.output

    [objects] = v2.records("OBJECTS")
    assert objects["aggregation"] == "FedAvgV2" and objects["chooser"] == "SimpleClientChoose"
    assert (objects["per_round"], objects["saved"], objects["samples"]) == (2, str(tmp_path / "model"), 2)
    assert objects["server"] == "AggregationServerV2" and objects["client"] == "FederatedLearningV2"
    [objects] = mistnet.records("OBJECTS")
    assert objects["aggregation"] == "MistNet" and objects["per_round"] == 1
    assert float(objects["cut_layer"]) == 4 and float(objects["epsilon"]) == 100
    assert objects["pretrained"] == str(tmp_path / "pretrained") + "/"


# -- 10.8 lifelong learning: atcii (the pre-2022 keywords, a JSON-string task-definition param) -----

@pytest.fixture
def kb_server(tmp_path):
    """The knowledge-base server of the control plane (KB_SERVER), on 127.0.0.1."""
    from sedna_lib.servers._threaded import ThreadedServer
    from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app

    (tmp_path / "kb").mkdir()
    store = KnowledgeBaseStore(str(tmp_path / "kb"))
    with ThreadedServer(create_app(store)) as server:
        yield server.url
    store.close()


def test_atcii_train_with_the_old_keywords_splits_tasks_by_attribute_and_reports(
        tmp_path, lc_stub, kb_server, run_script):
    job, prefix = "atcii-classifier-demo", home_data(tmp_path)
    rows = ["Season,Cooling startegy_building level,City,Air temperature (C),Thermal preference"]
    for i in range(48):  # two seasons x two strategies: four tasks of 12 samples
        rows.append(f"{('Summer', 'Winter')[i % 2]},{('Mixed Mode', 'Air Conditioned')[i // 2 % 2]},"
                    f"{('Berkeley', 'Sydney')[i % 3 % 2]},{20 + i % 7},{(i // 4) % 3}")
    dataset = prefix / "data" / "atcii"
    dataset.mkdir(parents=True)
    (dataset / "trainData.csv").write_text("\n".join(rows) + "\n")
    output = prefix / "output" / job

    train = run_script("atcii", "train.py", {
        "NAMESPACE": "default", "JOB_NAME": job, "WORKER_NAME": "train-worker-abcde",
        "LC_SERVER": lc_stub.url,
        "KB_SERVER": kb_server, "OUTPUT_URL": str(output), "DATA_PATH_PREFIX": str(prefix),
        "HAS_COMPLETED_INITIAL_TRAINING": "false", "TRAIN_DATASET_URL": str(dataset / "trainData.csv"),
        "ORIGINAL_DATASET_URL": str(dataset / "trainData.csv"), "MIN_TRAIN_SAMPLE": "5",
        "early_stopping_rounds": "7", "metric_name": "mlogloss"})

    assert train.wait(timeout=30) == 0, train.output
    trained = train.records("TRAIN")
    assert sorted(t["samples"] for t in trained) == [12, 12, 12, 12]  # one task per (season, strategy)
    assert all((t["metric_name"], t["early_stopping_rounds"]) == ("mlogloss", 7) for t in trained)
    [report] = reports(lc_stub)
    assert (report["name"], report["ownerKind"], report["ownerName"], report["kind"], report["status"]) == (
        "train-worker-abcde", "lifelonglearningjob", job, "train", "completed")
    assert report["results"][0]["url"] == f"/output/{job}/index.pkl"  # a host path


# -- 10.4 incremental learning: dog_croissants (a data source returning a dataset, scalar metrics) ---

def test_dog_croissants_trains_on_a_parsed_dataset_and_reports_scalar_accuracy_as_a_list(
        tmp_path, lc_stub, run_script):
    import numpy as np

    job, prefix = "dog-croissants-classification-demo", home_data(tmp_path)
    dataset = prefix / "data" / "dog_croissants"
    for split, count in (("train", 5), ("val", 2)):
        for name in ("croissants", "dog"):
            folder = dataset / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                np.save(folder / f"{i}.npy", np.zeros((8, 8, 3), dtype=np.float32))
    base = prefix / "models" / "base_model.ckpt"
    base.parent.mkdir(parents=True)
    base.write_text("mobilenet")
    output = prefix / "output" / job / "train" / "1"
    output.mkdir(parents=True)
    common = {"NAMESPACE": "default", "JOB_NAME": job, "LC_SERVER": lc_stub.url,
              "DATA_PATH_PREFIX": str(prefix), "ORIGINAL_DATASET_URL": str(dataset)}

    train = run_script("dog_croissants_classification", "train.py", {
        **common, "WORKER_NAME": "train-worker-abcde", "BASE_MODEL_URL": str(base), "MODEL_URL": str(output),
        "base_model_url": str(base), "model_url": str(output / "trained.ckpt"),
        "TRAIN_DATASET_URL": str(dataset),
        "input_shape": "224", "epochs": "1", "batch_size": "4", "num_parallel_workers": "1"})
    assert train.wait(timeout=30) == 0, train.output
    assert "TRAINED finetuned-from-mobilenet-3-batches-1-epochs valid batches 1" in train.output
    [report] = reports(lc_stub)
    assert (report["ownerName"], report["kind"], report["status"]) == (job, "train", "completed")
    assert report["results"][0]["url"].startswith(f"/output/{job}/train/1/")  # a host path
    trained = prefix / report["results"][0]["url"].lstrip("/")
    assert trained.read_text() == "finetuned-from-mobilenet-3-batches-1-epochs"

    evaluate = run_script("dog_croissants_classification", "eval.py", {
        **common, "WORKER_NAME": "eval-worker-abcde", "MODEL_URLS": f"{trained};{base}",
        "TEST_DATASET_URL": str(dataset / "val")})
    assert evaluate.wait(timeout=30) == 0, evaluate.output
    [report] = reports(lc_stub)
    # the scalar accuracy reaches the LocalController as the list its deploy trigger compares
    assert [r["metrics"] for r in report["results"]] == [{"accuracy": [0.75]}, {"accuracy": [0.5]}]
