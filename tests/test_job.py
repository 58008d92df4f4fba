"""JobBase: identity from the environment, local config, model path, inference/evaluate, LC reports."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sedna_lib.compat.class_factory import ClassFactory, ClassNotFoundError, ClassType
from sedna_lib.compat.config import BaseConfig
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError
from sedna_lib.job import JobBase
from sedna_lib.registry import default_registry


class _Doubler:
    """A user estimator in Sedna's style (train/predict/evaluate/load/save)."""

    def train(self, train_data, valid_data=None, **kwargs):
        return {}

    def predict(self, data, **kwargs):
        return np.asarray(data) * 2

    def evaluate(self, data, **kwargs):
        return {"n": len(data)}

    def load(self, model_url=""):
        pass

    def save(self, model_path=""):
        return model_path


def _ctx(**fields):
    return Context(Config(**fields))


def test_job_name_falls_back_to_service_name_and_identity_defaults():
    job = JobBase(None, context=_ctx(service_name="ji-svc"))

    assert (job.job_name, job.worker_name, job.namespace) == ("ji-svc", "ji-svc", "ji-svc")
    assert job.job_kind == "default"


def test_job_name_prefers_job_name_and_explicit_worker_and_namespace():
    job = JobBase(None, context=_ctx(job_name="il-job", service_name="svc", worker_name="w-1", namespace="ns"))

    assert (job.job_name, job.worker_name, job.namespace) == ("il-job", "w-1", "ns")


def test_without_context_the_environment_is_read(monkeypatch):
    monkeypatch.setenv("SERVICE_NAME", "from-env")

    assert JobBase(None).job_name == "from-env"


def test_config_dict_is_local_to_the_job():
    from sedna_lib.compat.core.base import JobBase

    job = JobBase(None, config={"agg_uri": "ws://a", "job_name": "cfg-job"}, context=_ctx())
    other = JobBase(None, context=_ctx())

    assert job.config.agg_uri == "ws://a" and job.job_name == "cfg-job"
    assert other.config.get("agg_uri") == ""
    assert BaseConfig().get("agg_uri") == ""


def test_constructor_starts_no_thread():
    before = threading.active_count()

    JobBase(_Doubler, context=_ctx(model_hot_update=True))

    assert threading.active_count() == before


def test_model_path_prefers_model_path_variable():
    job = JobBase(None, context=_ctx(model_path="/explicit.pb", model_url="/models"))

    assert job.model_path == "/explicit.pb"


def test_model_path_is_model_url_when_it_is_a_file(tmp_path):
    model = tmp_path / "m.pkl"
    model.write_bytes(b"x")

    assert JobBase(None, context=_ctx(model_url=str(model))).model_path == str(model)


def test_model_path_joins_a_folder_with_the_model_name(tmp_path):
    job = JobBase(None, context=_ctx(model_url=str(tmp_path), model_name="model.pb"))

    assert job.model_path == str(tmp_path / "model.pb")


def test_model_path_is_model_url_when_load_mode_is_not_file():
    job = JobBase(None, context=_ctx(model_url="org/model-id", model_load_mode="hf"))

    assert job.model_path == "org/model-id"


def test_model_path_without_model_url_names_the_variable():
    with pytest.raises(ConfigError, match="MODEL_URL is not set") as info:
        JobBase(None, context=_ctx()).model_path

    assert info.value.variable == "MODEL_URL"


def test_inference_wraps_the_estimator_and_applies_a_callable():
    job = JobBase(_Doubler, context=_ctx())

    assert job.inference([1, 2]).tolist() == [2, 4]
    assert job.inference([1, 2], post_process=lambda r: r.sum()) == 6


def test_inference_applies_a_registered_callback_by_name():
    with default_registry.scope():
        @ClassFactory.register(ClassType.CALLBACK, alias="tests.Summary")
        class Summary:
            def __init__(self, result):
                self.total = int(np.sum(result))

        out = JobBase(_Doubler, context=_ctx()).inference([1, 2], post_process="tests.Summary")

    assert isinstance(out, Summary) and out.total == 6


def test_unknown_callback_name_raises():
    with pytest.raises(ClassNotFoundError, match="post_process_callback class name nope"):
        JobBase(_Doubler, context=_ctx()).inference([1], post_process="nope")


def test_evaluate_passes_data_and_post_process():
    job = JobBase(_Doubler, context=_ctx())

    assert job.evaluate([1, 2, 3], post_process=lambda r: r["n"]) == 3


def test_get_parameters_uses_the_context():
    job = JobBase(None, context=Context.from_env({"EPOCHS": "4"}))

    assert job.get_parameters("epochs") == "4"
    assert job.get_parameters("batch_size", 8) == 8


def test_report_task_info_posts_sedna_body(lc_stub):
    class Incremental(JobBase):
        job_kind = "incrementallearningjob"

    job = Incremental(None, context=_ctx(job_name="il", worker_name="w-1", namespace="ns", lc_server=lc_stub.url))
    results = [{"format": "pb", "url": "/out/m.pb", "metrics": {"recall": [0.9]}}]

    ok = job.report_task_info({"currentRound": 2}, "completed", results, kind="eval")
    job.report_task_info(None, "failed", [], kind="deploy")

    first, second = lc_stub.next_body(), lc_stub.next_body()
    assert ok
    assert first == {"name": "w-1", "namespace": "ns", "ownerName": "il", "ownerKind": "incrementallearningjob",
                     "kind": "eval", "status": "completed", "results": results, "ownerInfo": {"currentRound": 2}}
    assert second == {"name": "w-1", "namespace": "ns", "ownerName": "il", "ownerKind": "incrementallearningjob",
                      "kind": "deploy", "status": "failed"}


def test_report_task_info_never_raises_without_lc():
    job = JobBase(None, context=_ctx(worker_name="w", lc_server="http://127.0.0.1:1",
                                     connect_timeout_s=0.2, max_retries=0))

    with job:
        assert job.report_task_info(None, "completed") is False
    assert job.lc_client.failures_ == 1


def test_an_explicit_context_wins_over_a_conflicting_environment(monkeypatch, tmp_path):
    for name, value in {"JOB_NAME": "env-job", "WORKER_NAME": "env-worker", "NAMESPACE": "env-ns",
                        "MODEL_URL": "/env/model.pkl", "LC_SERVER": "http://env-lc:9100",
                        "HEM_NAME": "nope"}.items():
        monkeypatch.setenv(name, value)
    model = tmp_path / "m.pkl"
    model.write_bytes(b"x")
    ctx = _ctx(job_name="ctx-job", worker_name="ctx-worker", namespace="ctx-ns", model_url=str(model),
               lc_server="http://127.0.0.1:1")

    job = JobBase(_Doubler, context=ctx)

    assert job.context is ctx
    assert (job.job_name, job.worker_name, job.namespace) == ("ctx-job", "ctx-worker", "ctx-ns")
    assert job.model_path == str(model) and job.lc_server == "http://127.0.0.1:1"
    assert job.config.get("hem_name") is None and job.make_report("train").owner_name == "ctx-job"


def test_a_native_feature_job_with_a_context_reads_no_environment(monkeypatch):
    from sedna_lib.joint_inference import JointInference

    monkeypatch.setenv("HEM_NAME", "NoSuchMiner")
    monkeypatch.setenv("SERVICE_NAME", "env-svc")
    ji = JointInference(_Doubler, context=_ctx(service_name="ctx-svc"), report=False)

    assert ji.miner is None and ji.job_name == "ctx-svc"


def test_the_native_config_is_the_context_under_the_jobs_own_values():
    job = JobBase(None, config={"job_name": "own", "mining_mode": ""}, context=_ctx(job_name="ctx", namespace="ns"))

    assert (job.job_name, job.namespace, job.config.namespace) == ("own", "ns", "ns")
    assert job.config.get("mining_mode", "fallback") == "fallback" and job.config.get("unknown") is None
    with pytest.raises(AttributeError, match="no setting 'agg_uri'"):
        job.config.agg_uri
