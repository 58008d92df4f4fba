"""Each example worker runs as a real process in exactly the environment the GlobalManager injects.

``GM_ENVIRONMENT`` is the table of what the control plane sets for each worker kind (the
GlobalManager source line that sets each variable is kept with it); ``gm_environment`` builds one
worker's environment from it. The tests start the example scripts with that environment (plus the
few variables the container image sets), on 127.0.0.1, against a LocalController stub, and check
that each worker reads what it needs, reaches its peers and reports as the LocalController expects.
``docs/_gen_deployment_table.py`` renders the same table into docs/deployment.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import signal
import socket
import string
import sys
import time

import pytest
from worker_process import WorkerProcess

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# -- what the GlobalManager injects -----------------------------------------------------------

JI = "controllers/jointinference/jointinferenceservice.go"
FL = "controllers/federatedlearning/federatedlearningjob.go"
IL = "controllers/incrementallearning/incrementallearningjob.go"
LL = "controllers/lifelonglearning/lifelonglearningjob.go"
STORAGE = "runtime/storage_initializer_injector.go"
WORKER = "runtime/worker.go"


@dataclasses.dataclass(frozen=True)
class Injected:
    """One variable the GlobalManager sets on a worker.

    ``value`` is a ``str.format`` template over the keyword arguments of :func:`gm_environment`;
    ``cluster`` is what the value looks like in a cluster. An entry with a ``when`` condition is
    set only when the caller gives every key of ``requires`` (default: of its template).
    """

    variable: str
    source: str
    cluster: str
    value: str
    when: str = ""
    requires: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class WorkerKind:
    """A kind of worker: the custom resource and the part of it that declares the worker."""

    crd: str
    role: str
    example: str
    variables: tuple[Injected, ...]


def _common(gm: str, lines: tuple[int, int, int], prefix: str, owner: str) -> tuple[Injected, ...]:
    namespace, job, worker = lines
    owner_var = "SERVICE_NAME" if owner == "service" else "JOB_NAME"
    return (
        Injected("NAMESPACE", f"{gm}:{namespace}", "the resource's namespace", "{namespace}"),
        Injected(owner_var, f"{gm}:{job}", f"the {owner}'s name", "{job}"),
        Injected("WORKER_NAME", f"{gm}:{worker}", f"`{prefix}-` + 5 random characters", prefix + "-{suffix}"),
    )


_PREFIX = Injected("DATA_PATH_PREFIX", f"{STORAGE}:37", "`/home/data`", "{data_path_prefix}",
                   when="a host path is mounted")
_LC = "`localController.server` of the GM config (default `http://localhost:9100`)"

GM_ENVIRONMENT: dict[str, WorkerKind] = {
    "ji-edge": WorkerKind("JointInferenceService", "edgeWorker", "joint_inference", _common(
        JI, (541, 542, 543), "edgeworker", "service") + (
        Injected("MODEL_URL", f"{JI}:537", "container path of the edge Model's `url`", "{model_url}"),
        Injected("BIG_MODEL_IP", f"{JI}:507", "`<service>-cloud.<namespace>`", "{big_model_ip}"),
        Injected("BIG_MODEL_PORT", f"{JI}:508", "`5000`", "{big_model_port}"),
        Injected("HEM_NAME", f"{JI}:509", "`hardExampleMining.name`", "{hem_name}"),
        Injected("HEM_PARAMETERS", f"{JI}:510", '`[{"key":..,"value":..}]` or `null`', "{hem_parameters}"),
        Injected("LC_SERVER", f"{JI}:512", _LC, "{lc_server}"),
        _PREFIX)),
    "ji-cloud": WorkerKind("JointInferenceService", "cloudWorker", "joint_inference", _common(
        JI, (541, 542, 543), "cloudworker", "service") + (
        Injected("MODEL_URL", f"{JI}:537", "container path of the cloud Model's `url`", "{model_url}"),
        Injected("BIG_MODEL_BIND_PORT", f"{JI}:494", "`5000`", "{big_model_port}"),
        _PREFIX)),
    "fl-aggregator": WorkerKind("FederatedLearningJob", "aggregationWorker", "federated_learning", _common(
        FL, (607, 609, 608), "aggworker", "job") + (
        Injected("AGG_BIND_PORT", f"{FL}:611", "`7363`", "{agg_port}"),
        Injected("PARTICIPANTS_COUNT", f"{FL}:612", "number of `trainingWorkers`", "{participants_count}"),
        Injected("MODEL_URL", f"{FL}:622", "container path of the Model's `url`", "{model_url}"),
        Injected("PRETRAINED_MODEL_URL", f"{FL}:626", "container path of `pretrainedModel`'s `url`",
                 "{pretrained_model_url}", when="`pretrainedModel` is set"),
        Injected("TRANSMITTER", f"{FL}:557", "`ws`, or `s3` with `transmitter.s3`", "{transmitter}"),
        Injected("AGG_DATA_PATH", f"{FL}:572", "the `transmitter.s3.aggDataPath`", "{agg_data_path}",
                 when="the s3 transmitter is used"),
        _PREFIX)),
    "fl-trainer": WorkerKind("FederatedLearningJob", "trainingWorkers", "federated_learning", _common(
        FL, (687, 685, 684), "trainworker", "job") + (
        Injected("MODEL_URL", f"{FL}:664", "container path of the Model's `url`", "{model_url}"),
        Injected("MODEL_NAME", f"{FL}:688", "the Model's name (no extension)", "{model_name}"),
        Injected("PRETRAINED_MODEL_URL", f"{FL}:667", "container path of `pretrainedModel`'s `url`",
                 "{pretrained_model_url}", when="`pretrainedModel` is set"),
        Injected("TRAIN_DATASET_URL", f"{FL}:677", "container path of the Dataset's `url`",
                 "{train_dataset_url}"),
        Injected("DATASET_NAME", f"{FL}:689", "the Dataset's name", "{dataset_name}"),
        Injected("AGG_IP", f"{FL}:681", "`<job>-aggregation.<namespace>`", "{agg_ip}"),
        Injected("AGG_PORT", f"{FL}:682", "`7363`", "{agg_port}"),
        Injected("PARTICIPANTS_COUNT", f"{FL}:686", "number of `trainingWorkers`", "{participants_count}"),
        Injected("TRANSMITTER", f"{FL}:576", "`ws`, or `s3` with `transmitter.s3`", "{transmitter}"),
        Injected("LC_SERVER", f"{FL}:690", _LC, "{lc_server}"),
        _PREFIX)),
    "il-train": WorkerKind("IncrementalLearningJob", "trainSpec", "incremental_learning", _common(
        IL, (662, 663, 664), "train-worker", "job") + (
        Injected("LC_SERVER", f"{IL}:666", _LC, "{lc_server}"),
        Injected("BASE_MODEL_URL", f"{IL}:691", "container path of `initialModel`'s `url`",
                 "{base_model_url}"),
        Injected("MODEL_URL", f"{IL}:699", "`<outputDir>/<job>/train` (an output folder)", "{model_url}"),
        Injected("TRAIN_DATASET_URL", f"{IL}:708", "this round's training index (the LC writes it)",
                 "{train_dataset_url}"),
        Injected("ORIGINAL_DATASET_URL", f"{IL}:719", "container path of the Dataset's `url`",
                 "{original_dataset_url}"),
        _PREFIX)),
    "il-eval": WorkerKind("IncrementalLearningJob", "evalSpec", "incremental_learning", _common(
        IL, (728, 729, 730), "eval-worker", "job") + (
        Injected("LC_SERVER", f"{IL}:732", _LC, "{lc_server}"),
        Injected("MODEL_URLS", f"{IL}:761", "trained model `;` deployed model", "{model_urls}"),
        Injected("TEST_DATASET_URL", f"{IL}:771", "this round's test index (the LC writes it)",
                 "{test_dataset_url}"),
        Injected("ORIGINAL_DATASET_URL", f"{IL}:782", "container path of the Dataset's `url`",
                 "{original_dataset_url}"),
        _PREFIX)),
    "il-inference": WorkerKind("IncrementalLearningJob", "deploySpec", "incremental_learning", _common(
        IL, (830, 831, 832), "inference-worker", "job") + (
        Injected("MODEL_URL", f"{IL}:825", "container path of the deploy Model's `url`", "{model_url}"),
        Injected("HEM_NAME", f"{IL}:834", "`deploySpec.hardExampleMining.name`", "{hem_name}"),
        Injected("HEM_PARAMETERS", f"{IL}:835", '`[{"key":..,"value":..}]` or `null`', "{hem_parameters}"),
        Injected("LC_SERVER", f"{IL}:837", _LC, "{lc_server}"),
        Injected("MODEL_HOT_UPDATE", f"{WORKER}:473", "`true`", "true", when="`hotUpdateEnabled`",
                 requires=("hot_update_config",)),
        Injected("MODEL_POLL_PERIOD_SECONDS", f"{WORKER}:474", "`pollPeriodSeconds` (default 60)",
                 "{poll_period_seconds}", when="`hotUpdateEnabled`", requires=("hot_update_config",)),
        Injected("MODEL_HOT_UPDATE_CONFIG", f"{WORKER}:475", "`/model-hot-update/model_config.json`",
                 "{hot_update_config}", when="`hotUpdateEnabled`"),
        _PREFIX)),
    "ll-train": WorkerKind("LifelongLearningJob", "trainSpec", "lifelong_learning", _common(
        LL, (640, 641, 642), "train-worker", "job") + (
        Injected("HAS_COMPLETED_INITIAL_TRAINING", f"{LL}:643", "`false`, then `true`",
                 "{initial_training_done}"),
        Injected("LC_SERVER", f"{LL}:644", _LC, "{lc_server}"),
        Injected("KB_SERVER", f"{LL}:645", "`kbServer` of the GM config (default `http://localhost:9020`)",
                 "{kb_server}"),
        Injected("CLOUD_KB_INDEX", f"{LL}:649", "the knowledge base's index", "{cloud_kb_index}",
                 when="the initial training is done"),
        Injected("OUTPUT_URL", f"{LL}:659", "container path of `outputDir`", "{output_url}"),
        Injected("TRAIN_DATASET_URL", f"{LL}:668", "this round's training index (the LC writes it)",
                 "{train_dataset_url}"),
        Injected("ORIGINAL_DATASET_URL", f"{LL}:679", "container path of the Dataset's `url`",
                 "{original_dataset_url}"),
        _PREFIX)),
    "ll-eval": WorkerKind("LifelongLearningJob", "evalSpec", "lifelong_learning", _common(
        LL, (688, 689, 690), "eval-worker", "job") + (
        Injected("LC_SERVER", f"{LL}:692", _LC, "{lc_server}"),
        Injected("KB_SERVER", f"{LL}:693", "`kbServer` of the GM config (default `http://localhost:9020`)",
                 "{kb_server}"),
        Injected("MODEL_URLS", f"{LL}:708", "the trained knowledge base's index", "{model_urls}"),
        Injected("OUTPUT_URL", f"{LL}:717", "container path of `outputDir`", "{output_url}"),
        Injected("TEST_DATASET_URL", f"{LL}:727", "this round's test index (the LC writes it)",
                 "{test_dataset_url}"),
        Injected("ORIGINAL_DATASET_URL", f"{LL}:738", "container path of the Dataset's `url`",
                 "{original_dataset_url}"),
        _PREFIX)),
    "ll-inference": WorkerKind("LifelongLearningJob", "deploySpec", "lifelong_learning", _common(
        LL, (782, 783, 784), "inference-worker", "job") + (
        Injected("MODEL_URLS", f"{LL}:777", "`<outputDir>/deploy/index.pkl`", "{model_urls}"),
        Injected("LC_SERVER", f"{LL}:785", _LC, "{lc_server}"),
        Injected("OUTPUT_URL", f"{LL}:786", "`outputDir` as written in the resource", "{output_url}"),
        _PREFIX)),
}

_DEFAULTS = {"namespace": "default", "suffix": "abcde", "big_model_ip": "127.0.0.1", "agg_ip": "127.0.0.1",
             "transmitter": "ws", "hem_parameters": "null", "initial_training_done": "false",
             "poll_period_seconds": "60"}


def para_spec(parameters: dict[str, object] | None) -> str:
    """Encode parameters as the GlobalManager does (``json.Marshal([]ParaSpec)``), values as strings."""
    if parameters is None:
        return "null"
    return json.dumps([{"key": k, "value": str(v)} for k, v in parameters.items()], separators=(",", ":"))


def gm_environment(worker_kind: str, **paths: object) -> dict[str, str]:
    """Return the variables the GlobalManager injects into a worker of ``worker_kind``.

    Keyword arguments fill the value templates of ``GM_ENVIRONMENT`` (``job``, ``lc_server``,
    ``model_url``, ...); ``hem_parameters`` may be a dict (encoded with :func:`para_spec`) and
    ``model_urls`` a list (joined with ``;``). Entries with a ``when`` condition are set only if
    the caller gives their keys; any other missing key raises ``KeyError`` naming it.
    """
    if worker_kind not in GM_ENVIRONMENT:
        raise KeyError(f"unknown worker kind {worker_kind!r}; known: {sorted(GM_ENVIRONMENT)}")
    values = {**_DEFAULTS, **paths}
    if isinstance(values["hem_parameters"], dict) or values["hem_parameters"] is None:
        values["hem_parameters"] = para_spec(values["hem_parameters"])
    if isinstance(values.get("model_urls"), (list, tuple)):
        values["model_urls"] = ";".join(map(str, values["model_urls"]))
    env = {}
    for entry in GM_ENVIRONMENT[worker_kind].variables:
        keys = {name for _, name, _, _ in string.Formatter().parse(entry.value) if name}
        if entry.when and not set(entry.requires or keys) <= paths.keys():
            continue
        missing = keys - values.keys()
        if missing:
            raise KeyError(f"{worker_kind}: {entry.variable} needs {sorted(missing)}")
        env[entry.variable] = entry.value.format(**values)
    return env


# -- running an example worker the way its container does -------------------------------------

def image_environment(tmp_path: pathlib.Path) -> dict[str, str]:
    """The variables the example image itself sets (docker/Dockerfile), minimal PATH and PYTHONPATH."""
    return {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
            "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
            "SEDNA_WORK_DIR": str(tmp_path / "work")}


def free_port() -> int:
    """A port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def data_path_prefix(tmp_path: pathlib.Path) -> pathlib.Path:
    """The container's ``/home/data`` (host paths are mounted under it), placed under ``tmp_path``."""
    prefix = tmp_path / "home" / "data"
    prefix.mkdir(parents=True, exist_ok=True)
    return prefix


def host_file(prefix: pathlib.Path, host_path: str, text: str = "") -> pathlib.Path:
    """Create the container view of a host file (``<DATA_PATH_PREFIX>/<host path>``) and return it."""
    path = prefix / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class Worker(WorkerProcess):
    """An example worker started as a real process in its example folder."""

    def __init__(self, example: str, script: str, env: dict[str, str], tmp_path: pathlib.Path):
        super().__init__(EXAMPLES / example, script, env, tmp_path)


@pytest.fixture
def spawn(tmp_path):
    """Start an example worker: ``spawn(example, script, env) -> Worker``; each is stopped after the test."""
    started: list[Worker] = []

    def start(example: str, script: str, env: dict[str, str]) -> Worker:
        started.append(Worker(example, script, env, tmp_path))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def reports(lc_stub) -> list[dict]:
    """Every report the LocalController stub has received so far."""
    return lc_stub.drain()


pytestmark = [pytest.mark.integration, pytest.mark.slow]


# -- the table itself ---------------------------------------------------------------------------

def test_gm_environment_sets_every_variable_of_a_worker_kind():
    env = gm_environment("ji-edge", job="svc", model_url="/home/data/m.txt", big_model_port=5000,
                         hem_name="Margin", hem_parameters={"upload_ratio": 0.3},
                         lc_server="http://localhost:9100",
                         data_path_prefix="/home/data")

    assert env == {"NAMESPACE": "default", "SERVICE_NAME": "svc", "WORKER_NAME": "edgeworker-abcde",
                   "MODEL_URL": "/home/data/m.txt", "BIG_MODEL_IP": "127.0.0.1", "BIG_MODEL_PORT": "5000",
                   "HEM_NAME": "Margin", "HEM_PARAMETERS": '[{"key":"upload_ratio","value":"0.3"}]',
                   "LC_SERVER": "http://localhost:9100", "DATA_PATH_PREFIX": "/home/data"}


def test_gm_environment_leaves_out_conditional_variables_and_names_missing_ones():
    env = gm_environment("ji-cloud", job="svc", model_url="s3://b/m", big_model_port=5000)

    assert "DATA_PATH_PREFIX" not in env
    assert "MODEL_HOT_UPDATE" not in gm_environment("il-inference", job="j", model_url="m", hem_name="IBT",
                                                    lc_server="http://localhost:9100")
    with pytest.raises(KeyError, match="MODEL_URL needs"):
        gm_environment("ji-cloud", job="svc", big_model_port=5000)
    with pytest.raises(KeyError, match="unknown worker kind"):
        gm_environment("ji-fog")


def test_every_variable_the_gm_injects_is_one_the_library_reads():
    from sedna_lib.config import describe

    read = {alias.upper() for spec in describe() for alias in (spec.variable, *spec.aliases)}
    injected = {e.variable for kind in GM_ENVIRONMENT.values() for e in kind.variables}

    assert injected <= read


# -- joint inference: the cloud serves on BIG_MODEL_BIND_PORT, the edge reaches it and reports ---

def test_joint_inference_workers_run_in_the_gm_environment(tmp_path, lc_stub, spawn):
    prefix = data_path_prefix(tmp_path)
    port = free_port()
    service = "digits-joint-inference"
    cloud_env = gm_environment("ji-cloud", job=service, big_model_port=port, data_path_prefix=prefix,
                               model_url=host_file(prefix, "/data/joint_inference/big_model.txt"))
    edge_env = gm_environment("ji-edge", job=service, big_model_port=port, data_path_prefix=prefix,
                              model_url=host_file(prefix, "/data/joint_inference/little_model.txt"),
                              hem_name="Margin", hem_parameters={"upload_ratio": 0.3}, lc_server=lc_stub.url)
    image = image_environment(tmp_path)
    # BIG_MODEL_BIND_IP is left at its default (all interfaces) by the GM; tests bind loopback only,
    # and LC_PERIOD (user-level) is shortened so that a few reports arrive during the run.
    cloud_env["BIG_MODEL_BIND_IP"] = "127.0.0.1"
    cloud = spawn("joint_inference", "big_model.py", {**image, **cloud_env})
    cloud.wait_serving(f"http://127.0.0.1:{port}/{service}", timeout=40)

    edge = spawn("joint_inference", "little_model.py", {**image, **edge_env, "LC_PERIOD": "0.5"})
    status = edge.wait(timeout=60)

    assert status == 0, edge.output
    answered = re.search(r"cloud accuracy on the (\d+) hard digits", edge.output)
    assert answered and int(answered.group(1)) > 0, edge.output  # the edge reached the cloud
    offload = float(re.search(r"offload ratio\s+([\d.]+)", edge.output).group(1))
    assert offload == pytest.approx(0.3, abs=0.05)  # HEM_NAME/HEM_PARAMETERS were read
    bodies = reports(lc_stub)
    assert bodies, "the edge sent no report to LC_SERVER"
    assert {(b["name"], b["namespace"], b["ownerKind"], b["ownerName"], b["kind"]) for b in bodies} == {
        ("edgeworker-abcde", "default", "jointinferenceservice", service, "inference")}
    assert bodies[-1]["ownerInfo"]["inferenceNumber"] > 0
    assert cloud.stop() in (0, -signal.SIGTERM)


# -- incremental learning: train writes a model and reports, eval reports per model, inference mines --

def _example_module(example: str, name: str):
    import importlib.util

    path = EXAMPLES / example / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_example_{example.replace('/', '_')}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lc_round_file(prefix: pathlib.Path, job: str, name: str, index: pathlib.Path) -> pathlib.Path:
    """Copy an index's lines verbatim into a per-round sample file under the job's output, as the LC does."""
    path = prefix / "output" / job / "data" / "1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(index.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_incremental_learning_workers_run_in_the_gm_environment(tmp_path, lc_stub, spawn):
    prefix = data_path_prefix(tmp_path)
    job = "digits-incremental"
    dataset = prefix / "data" / "incremental_learning" / "digits"
    _example_module("incremental_learning", "interface").prepare(str(dataset))  # the Dataset's url: train.txt
    common = dict(job=job, lc_server=lc_stub.url, data_path_prefix=prefix,
                  original_dataset_url=dataset / "train.txt")
    image = image_environment(tmp_path)
    out = prefix / "output" / job / "train"

    train = spawn("incremental_learning", "train.py", {**image, **gm_environment(
        "il-train", **common, base_model_url=host_file(prefix, "/models/incremental_learning/initial.pkl"),
        model_url=out, train_dataset_url=lc_round_file(prefix, job, "train.txt", dataset / "train.txt"))})
    assert train.wait(timeout=60) == 0, train.output
    [trained] = list(out.iterdir())
    [report] = reports(lc_stub)
    assert (report["name"], report["ownerKind"], report["ownerName"], report["kind"], report["status"]) == (
        "train-worker-abcde", "incrementallearningjob", job, "train", "completed")
    assert report["results"][0]["format"] == "pkl"  # must equal the initial Model's format (manifests)
    assert report["results"][0]["url"] == "/" + str(trained.relative_to(prefix))  # the host path

    evaluate = spawn("incremental_learning", "eval.py", {**image, **gm_environment(
        "il-eval", **common, model_urls=[trained, trained],
        test_dataset_url=lc_round_file(prefix, job, "test.txt", dataset / "test.txt"))})
    assert evaluate.wait(timeout=60) == 0, evaluate.output
    [report] = reports(lc_stub)
    assert (report["name"], report["kind"], report["status"], len(report["results"])) == (
        "eval-worker-abcde", "eval", "completed", 2)
    assert all(isinstance(v, list) for r in report["results"] for v in r["metrics"].values())

    # deploy: the LC copies the model into the hot-update folder and writes model_config.json
    hot = tmp_path / "model-hot-update"
    hot.mkdir()
    (hot / trained.name).write_bytes(trained.read_bytes())
    (hot / "model_config.json").write_text(json.dumps({"model_config": {
        "model_path": str(hot / trained.name),
        "model_update_time": "2025-10-29 22:15:31.1 +0800 CST m=+1.5"}},
        indent=1, sort_keys=True), encoding="utf-8")
    he_saved = tmp_path / "hard_examples"
    infer_env = gm_environment("il-inference", job=job, lc_server=lc_stub.url, data_path_prefix=prefix,
                               model_url=trained, hem_name="Margin", hem_parameters={"upload_ratio": 0.2},
                               poll_period_seconds=1, hot_update_config=hot / "model_config.json")
    # example-level variables of the inference pod (its manifest sets them): where the hard
    # examples go and which samples to infer
    infer = spawn("incremental_learning", "inference.py", {
        **image, **infer_env, "HE_SAVED_URL": str(he_saved), "test_dataset_url": str(dataset / "test.txt")})
    assert infer.wait(timeout=60) == 0, infer.output
    hard = int(re.search(r"hard examples (\d+)/", infer.output).group(1))
    assert 0 < hard < 397 * 0.3
    assert list(he_saved.rglob("hard_examples.txt"))
    deploys = [r for r in reports(lc_stub) if r["kind"] == "deploy"]
    assert [(r["name"], r["status"]) for r in deploys] == [("inference-worker-abcde", "completed")]


# -- federated learning: the aggregator and two trainers finish their rounds and report -----------

def test_federated_learning_workers_run_in_the_gm_environment(tmp_path, lc_stub, spawn):
    pytest.importorskip("torch")
    from sklearn.datasets import load_digits

    prefix = data_path_prefix(tmp_path)
    job, port, rounds = "digits-federated", free_port(), 2
    data = prefix / "data" / "federated_learning"
    x, y = load_digits(return_X_y=True)
    prepare = _example_module("federated_learning", "prepare_data")  # the layout its Datasets point at
    for i in range(2):  # 300 samples per node keep the rounds short
        prepare.write_index(str(data / f"client-{i}"), (x[i::2][:300] / 16).astype("float32"), y[i::2][:300])
    model_dir = prefix / "models" / "federated_learning"
    model_dir.mkdir(parents=True)
    common = dict(job=job, agg_port=port, participants_count=2, model_url=model_dir, data_path_prefix=prefix)
    image = image_environment(tmp_path)
    # example-level: fewer rounds than the manifest's; the aggregator binds loopback only in tests
    aggregator = spawn("federated_learning", "aggregate.py", {
        **image, **gm_environment("fl-aggregator", **common), "exit_round": str(rounds),
        "AGG_BIND_IP": "127.0.0.1"})
    aggregator.wait_serving(f"http://127.0.0.1:{port}/FedAvg", timeout=40)

    trainers = []
    for i in range(2):
        env = gm_environment("fl-trainer", **common, suffix=f"edge{i}", lc_server=lc_stub.url,
                             model_name="digits-federated-model", dataset_name=f"digits-federated-edge{i}",
                             train_dataset_url=data / f"client-{i}" / "train.txt")
        trainers.append(spawn("federated_learning", "train.py", {**image, **env, "BACKEND_TYPE": "TORCH"}))

    for trainer in trainers:
        assert trainer.wait(timeout=90) == 0, trainer.output
        assert f"{rounds} rounds on" in trainer.output
    assert aggregator.wait(timeout=30) == 0, aggregator.output
    assert re.findall(r"round (\d+): 2 trainers", aggregator.output) == ["1", "2"]
    assert (model_dir / "digits-federated-model").is_file()  # MODEL_URL/MODEL_NAME
    bodies = reports(lc_stub)
    assert {(b["ownerKind"], b["ownerName"], b["namespace"], b["kind"]) for b in bodies} == {
        ("federatedlearningjob", job, "default", "train")}
    last = {b["name"]: b for b in bodies}
    assert sorted(last) == ["trainworker-edge0", "trainworker-edge1"]
    assert all(b["status"] == "completed" and b["ownerInfo"]["currentRound"] == rounds for b in last.values())


# -- lifelong learning: train publishes the knowledge base, eval scores it, inference uses the deployed one --

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


def test_lifelong_learning_workers_run_in_the_gm_environment(tmp_path, lc_stub, kb_server, spawn):
    prefix = data_path_prefix(tmp_path)
    job, example = "atcii-lifelong", "lifelong_learning/atcii"
    dataset = prefix / "data" / "lifelong_learning" / "atcii"
    train_csv, test_csv, infer_csv = map(pathlib.Path, _example_module(example, "interface").make_dataset(
        str(dataset), n_per_task=40))
    output = prefix / "output" / "lifelong_learning"
    common = dict(job=job, lc_server=lc_stub.url, kb_server=kb_server, output_url=output,
                  original_dataset_url=train_csv, data_path_prefix=prefix)
    image = image_environment(tmp_path)

    train = spawn(example, "train.py", {**image, **gm_environment(
        "ll-train", **common, train_dataset_url=lc_round_file(prefix, job, "train.csv", train_csv))})
    assert train.wait(timeout=60) == 0, train.output
    [report] = reports(lc_stub)
    assert (report["name"], report["ownerKind"], report["ownerName"], report["kind"], report["status"]) == (
        "train-worker-abcde", "lifelonglearningjob", job, "train", "completed")
    index = prefix / report["results"][0]["url"].lstrip("/")  # a host path: the LC finds it on the node
    assert index == output / "index.pkl" and index.is_file()

    evaluate = spawn(example, "eval.py", {**image, **gm_environment(
        "ll-eval", **common, model_urls=[index],
        test_dataset_url=lc_round_file(prefix, job, "test.csv", test_csv))})
    assert evaluate.wait(timeout=60) == 0, evaluate.output
    [report] = reports(lc_stub)
    assert (report["name"], report["kind"], report["status"]) == ("eval-worker-abcde", "eval", "completed")
    assert isinstance(report["results"][0]["metrics"]["precision_score"], float)  # a scalar, as Sedna's
    assert report["results"][0]["url"] == "/output/lifelong_learning/index.pkl"  # rewritten by the eval

    # deploy: the LC copies the reported index to <outputDir>/deploy/index.pkl
    (output / "deploy").mkdir()
    (output / "deploy" / "index.pkl").write_bytes(index.read_bytes())
    edge_kb = tmp_path / "edge-kb"  # the manifest mounts an emptyDir at EDGE_OUTPUT_URL's default
    infer = spawn(example, "inference.py", {**image, **gm_environment(
        "ll-inference", job=job, lc_server=lc_stub.url, model_urls=[output / "deploy" / "index.pkl"],
        output_url=tmp_path / "outputDir-as-written", data_path_prefix=prefix),
        "infer_dataset_url": str(infer_csv), "UTD_SAVED_URL": str(tmp_path),
        "EDGE_OUTPUT_URL": str(edge_kb)})
    expected = len(infer_csv.read_text().splitlines())  # the header and one line per row
    results = pathlib.Path(f"{infer_csv}_out.csv")
    deadline = time.monotonic() + 60
    while not (results.exists() and len(results.read_text().splitlines()) >= expected):
        assert time.monotonic() < deadline, infer.output
        assert infer._alive_after(0.2), infer.output  # it follows its input for ever
    assert all(line.split("\t")[-1] in {"0", "1", "2"} for line in results.read_text().splitlines()[1:])
    assert (edge_kb / "index.pkl").is_file()  # the edge keeps its own copy of the knowledge base
