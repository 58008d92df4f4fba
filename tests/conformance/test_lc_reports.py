"""Worker -> LocalController reports of every job kind: golden bodies, written from the contract.

Each feature runs for real (its own classes, on 127.0.0.1) against a LocalController stub, and the
body it posts is compared with a golden body written by hand from the contract
(``POST {LC_SERVER}/sedna/workers/{WORKER_NAME}/info``; keys ``name, namespace, ownerName,
ownerKind, kind, status, results, ownerInfo`` in that order, ``status`` absent from
joint-inference reports, ``results`` an array of ``{format, url, metrics}`` objects whose url is
the host path, i.e. the container path minus ``DATA_PATH_PREFIX``). Values that change from run
to run are matched by pattern (:data:`TIME`). Where sedna_lib deliberately differs from what the
original lib sends, the golden body is the LocalController's contract and the difference is named
next to it (docs/sedna-compatibility.md, "What is fixed").
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from typing import Any

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context

pytestmark = pytest.mark.integration

KEY_ORDER = ["name", "namespace", "ownerName", "ownerKind", "kind", "status", "results", "ownerInfo"]


class _Pattern:
    def __init__(self, regex: str, what: str) -> None:
        self.regex, self.what = re.compile(regex), what

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(self.regex.fullmatch(other))

    def __repr__(self) -> str:
        return f"<{self.what}>"


#: A LocalController time stamp, ``YYYY-mm-dd HH:MM:SS`` (local time, as the original's ``strftime``).
TIME = _Pattern(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "YYYY-mm-dd HH:MM:SS")


def _identity(name: str, owner: str, kind: str) -> dict[str, str]:
    return {"name": name, "namespace": "default", "ownerName": owner, "ownerKind": kind}


def _assert_golden(body: dict[str, Any], golden: dict[str, Any]) -> None:
    """``body`` equals ``golden`` (patterns matched), with its keys in the contract's order."""
    assert list(body) == [k for k in KEY_ORDER if k in golden], "keys or their order differ from the contract"
    assert body == golden


def _context(lc_stub, **fields) -> Context:
    return Context(Config(lc_server=lc_stub.url, namespace="default", **fields))


# -- joint inference (edge) ---------------------------------------------------------------------------

class _Edge:
    def predict(self, data, **kwargs):
        return data


class _Cloud:
    def inference(self, data, **kwargs):
        return data


def test_joint_inference_edge_report(lc_stub):
    from sedna_lib.joint_inference import JointInference

    ctx = _context(lc_stub, worker_name="ji-edge-7f9c2", service_name="ji-svc", lc_period=3600.0)
    job = JointInference(_Edge(), cloud=_Cloud(), hard_example_mining={"method": "IBT", "param": {}},
                         context=ctx)
    for score in (0.99, 0.1, 0.1):  # one easy box, then two hard ones
        job.inference([[0, 0, 1, 1, score, 1]])
    job.close()  # a short-lived edge sends the counts of its last period

    (body,) = lc_stub.drain()

    # The original counts a hard example twice (inferenceNumber 5, uploadCloudRatio 0.4 here) and
    # names the owner "sedna" when JOB_NAME is unset; the LocalController's contract is below.
    _assert_golden(body, {
        **_identity("ji-edge-7f9c2", "ji-svc", "jointinferenceservice"),
        "kind": "inference",
        "results": [],
        "ownerInfo": body["ownerInfo"] | {"startTime": TIME, "updateTime": TIME, "inferenceNumber": 3,
                                          "hardExampleNumber": 2, "uploadCloudRatio": pytest.approx(2 / 3)},
    })
    assert list(body["ownerInfo"])[:5] == ["startTime", "updateTime", "inferenceNumber", "hardExampleNumber",
                                           "uploadCloudRatio"]


# -- model hot update (any JobBase) -------------------------------------------------------------------

def test_deploy_report_after_a_hot_reload(lc_stub):
    from sedna_lib.job import JobBase

    ctx = _context(lc_stub, worker_name="il-infer-5d2", job_name="helmet-il")
    job = JobBase(_Edge(), context=ctx)
    job.job_kind = "incrementallearningjob"

    job.report_task_info(None, "completed", kind="deploy")
    job.report_task_info(None, "failed", kind="deploy")
    bodies = lc_stub.drain()

    identity = _identity("il-infer-5d2", "helmet-il", "incrementallearningjob")
    assert len(bodies) == 2
    _assert_golden(bodies[0], {**identity, "kind": "deploy", "status": "completed"})
    _assert_golden(bodies[1], {**identity, "kind": "deploy", "status": "failed"})


# -- incremental learning: train and eval ---------------------------------------------------------------

class _SednaStyleEstimator:
    """An estimator as Sedna's incremental examples write it (train/save/load/evaluate)."""

    def __init__(self):
        self.loaded = None

    def train(self, train_data, valid_data=None, **kwargs):
        return {"loss": 0.25}

    def save(self, model_path=None, **kwargs):
        with open(model_path, "wb") as fh:
            fh.write(b"model")
        return model_path

    def load(self, model_url=None, **kwargs):
        self.loaded = model_url

    def evaluate(self, data, model_path=None, **kwargs):
        return {"accuracy": 0.9 if model_path.endswith("new.pkl") else 0.8, "recall": [0.5, 0.75]}

    def predict(self, data, **kwargs):
        return data


def test_incremental_train_and_eval_reports(tmp_path, lc_stub):
    from sedna_lib.incremental_learning import IncrementalLearning

    prefix = tmp_path / "home" / "data"
    (prefix / "output" / "train" / "1").mkdir(parents=True)
    (prefix / "deployed").mkdir()
    (prefix / "deployed" / "model.pkl").write_bytes(b"old")
    new = prefix / "output" / "train" / "1" / "new.pkl"
    ctx = _context(lc_stub, worker_name="il-train-6c1", job_name="helmet-il", data_path_prefix=str(prefix),
                   model_url=str(new.parent), model_name="new.pkl",
                   model_urls=(str(new), str(prefix / "deployed" / "model.pkl")))

    job = IncrementalLearning(_SednaStyleEstimator(), context=ctx)
    job.train([1, 2, 3])
    job.evaluate([1, 2, 3])
    train, evaluation = lc_stub.drain()

    identity = _identity("il-train-6c1", "helmet-il", "incrementallearningjob")
    _assert_golden(train, {**identity, "kind": "train", "status": "completed",
                           "results": [{"format": "pkl", "url": "/output/train/1/new.pkl",
                                        "metrics": train["results"][0]["metrics"]}]})
    assert train["results"][0]["metrics"] in (None, {"loss": 0.25}, {"loss": [0.25]})
    # The original sends "accuracy": 0.9; the LocalController decodes eval metrics as
    # map[string][]float64, so a scalar fails its deploy trigger: sedna_lib sends one-element lists.
    recall = [0.5, 0.75]
    _assert_golden(evaluation, {**identity, "kind": "eval", "status": "completed", "results": [
        {"format": "pkl", "url": "/output/train/1/new.pkl", "metrics": {"accuracy": [0.9], "recall": recall}},
        {"format": "pkl", "url": "/deployed/model.pkl", "metrics": {"accuracy": [0.8], "recall": recall}},
    ]})


# -- federated learning: one report per round -------------------------------------------------------------

class _Averaged:
    """A trainer whose weights are one array; each round adds 1 to the aggregated weights."""

    def __init__(self):
        self.weights = [np.zeros(3, dtype=np.float32)]

    def train(self, train_data, valid_data=None, **kwargs):
        if not self.weights[0].any():
            time.sleep(1.05)  # round 1 takes over a second: round 2 starts in a later second
        self.weights = [w + 1 for w in self.weights]
        return {"num_samples": len(train_data), "loss": 0.5}

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = [np.asarray(w) for w in weights]

    def save(self, model_path=None, **kwargs):
        np.savez(model_path, *self.weights)
        return model_path

    def predict(self, data, **kwargs):
        return data


def test_federated_round_reports(tmp_path, lc_stub):
    from sedna_lib.federated_learning import FederatedLearning
    from sedna_lib.servers.aggregation import AggregationServer

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, done_grace=5, exit_round=2,
                               participants_count=1, context=Context(Config())).start(block=False)
    try:
        ctx = _context(lc_stub, worker_name="fl-trainer-0", job_name="surface-fl", agg_ip="127.0.0.1",
                       agg_port=server.port, model_url=str(tmp_path / "m"), model_name="model.npz",
                       backend_type="ESTIMATOR")
        job = FederatedLearning(_Averaged(), aggregation="FedAvg", context=ctx)
        errors: list[BaseException] = []

        def train() -> None:
            try:
                job.train([1, 2, 3, 4])
            except BaseException as exc:  # shown by the assertion below
                errors.append(exc)

        worker = threading.Thread(target=train, daemon=True)
        worker.start()
        worker.join(30)
        assert not worker.is_alive() and errors == []
        assert server.wait(15)
    finally:
        server.stop()
    rounds = lc_stub.drain()

    # The original reports ownerKind "default" here, which the LocalController drops.
    identity = _identity("fl-trainer-0", "surface-fl", "federatedlearningjob")
    assert [r["status"] for r in rounds] == ["running", "completed"]
    for number, body in enumerate(rounds, 1):
        owner_info = {"currentRound": number, "sampleCount": 4, "startTime": TIME, "updateTime": TIME}
        _assert_golden(body, {**identity, "kind": "train", "status": body["status"],
                              "results": body["results"], "ownerInfo": owner_info})
        assert [set(r) for r in body["results"]] == [{"format", "url", "metrics"}]
        assert isinstance(body["results"][0]["metrics"], dict)  # the GM reads models[0].metrics as a map
    first, last = rounds
    # startTime is each round's own start, as the original sends it (not the job's)
    assert first["ownerInfo"]["startTime"] < last["ownerInfo"]["startTime"]
    assert first["ownerInfo"]["updateTime"] <= last["ownerInfo"]["startTime"]
    assert last["ownerInfo"]["startTime"] <= last["ownerInfo"]["updateTime"]


# -- lifelong learning: train and eval ----------------------------------------------------------------------

def _ll_samples(rng, origins, n=40):
    from sedna_lib.lifelong_learning import Samples

    xs, ys, attrs = [], [], []
    for k, origin in enumerate(origins):
        x = rng.normal(size=(n, 4)) + k
        xs.append(x)
        ys.append((x[:, 0] > k).astype(int))
        attrs += [origin] * n
    return Samples(np.concatenate(xs), np.concatenate(ys), np.asarray(attrs))


def test_lifelong_train_and_eval_reports(tmp_path, lc_stub):
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.lifelong_learning import LifelongLearning

    prefix = tmp_path / "home" / "data"
    ctx = _context(lc_stub, worker_name="ll-train-2b7", job_name="atcii-ll", data_path_prefix=str(prefix),
                   output_url=str(prefix / "output" / "cloud"), edge_output_url=str(tmp_path / "edge"),
                   work_dir=str(tmp_path / "work"))
    rng = np.random.default_rng(0)
    job = LifelongLearning(LogisticRegression(max_iter=200), context=ctx,
                           task_definition={"method": "TaskDefinitionByOrigin"},
                           task_allocation={"method": "TaskAllocationByNearestTask"})

    job.train(_ll_samples(rng, ["real", "sim"]))
    scores = job.evaluate(_ll_samples(rng, ["real", "sim"]), metrics="accuracy_score")
    train, evaluation = lc_stub.drain()

    identity = _identity("ll-train-2b7", "atcii-ll", "lifelonglearningjob")
    _assert_golden(train, {**identity, "kind": "train", "status": "completed",
                           "results": [{"format": "pkl", "url": "/output/cloud/index.pkl", "metrics": None}]})
    # the judged index evaluate() writes to OUTPUT_URL/index.pkl (the file the deploy step copies), and
    # metrics as numbers, as the original sends them for lifelong learning (not one-element lists)
    _assert_golden(evaluation, {**identity, "kind": "eval", "status": "completed",
                                "results": [{"format": "pkl", "url": "/output/cloud/index.pkl",
                                             "metrics": {"accuracy_score": scores["accuracy_score"]}}]})
    assert isinstance(evaluation["results"][0]["metrics"]["accuracy_score"], float)


def test_time_stamps_are_local_time_to_the_second():
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")

    assert now == TIME and "2024-01-02T03:04:05" != TIME and "2024-01-02 03:04" != TIME
