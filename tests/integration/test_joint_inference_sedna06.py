"""Sedna 0.6's JointInference (the build Ianvs ships), as Ianvs core and its LLM examples call it.

Ianvs builds the job with keywords, ``JointInference(estimator=edge, cloud=cloud,
hard_example_mining={"method": ..., "param": {...}}, LCReporter_enable=False)``, where ``cloud``
is the user's own object (an API-served LLM) called through ``cloud.inference(data,
post_process=..., **kwargs)``, and the miner is registered through Sedna's ClassFactory. Each
sample goes through ``job.inference(data, mining_mode=...)``; Ianvs counts a sample as answered by
the edge when ``result[2]`` is set and by the cloud when ``result[3]`` is, and reads
``job.hard_example_mining_algorithm`` to clean the miner up. The model path is a Hugging Face
repository name (``model_path``), not a file.
"""

from __future__ import annotations

import pytest

from sedna_lib.exceptions import ConfigError

pytestmark = pytest.mark.integration


class EdgeModel:
    """An Ianvs-style edge LLM: ``load(**kwargs)`` only, ``predict(data, **kwargs)``."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.loaded = False
        self.calls = []

    def load(self, **kwargs):
        self.loaded = True  # it loads ``self.kwargs["model"]``, as Ianvs's EdgeModel does

    def predict(self, data, **kwargs):
        self.calls.append((data, kwargs))
        return {"completion": f"edge:{data['query']}", "perf": {"tokens": 3}}

    def cleanup(self):
        self.kwargs = None


class CloudModel:
    """An Ianvs-style cloud model: the user's own object, not a Sedna ModelClient."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.calls = []

    def inference(self, data, **kwargs):
        self.calls.append((data, kwargs))
        if self.fail:
            raise RuntimeError("Inference failed. Check input data format and model readiness.")
        return {"completion": f"cloud:{data['query']}", "perf": {"tokens": 9}}


@pytest.fixture
def router():
    """A miner registered as Ianvs examples register theirs, through Sedna's ClassFactory."""
    from sedna.common.class_factory import ClassFactory, ClassType

    from sedna_lib.registry import default_registry

    with default_registry.scope():
        @ClassFactory.register(ClassType.HEM, alias="tests.HardQueryRouter")
        class HardQueryRouter:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
                self.cleaned = False

            def __call__(self, data=None):
                return "hard" in data["query"]

            def cleanup(self):
                self.cleaned = True

        yield HardQueryRouter


@pytest.fixture
def ianvs_env(monkeypatch, tmp_path):
    """What Ianvs and its EdgeModel put in the environment before the job is built."""
    monkeypatch.setenv("model_path", "Qwen/Qwen2.5-1.5B-Instruct")  # EdgeModel._set_config
    monkeypatch.setenv("LOCAL_TEST", "TRUE")
    monkeypatch.setenv("SEDNA_WORK_DIR", str(tmp_path))


def queries():
    return [{"query": "easy one"}, {"query": "a hard one"}, {"query": "easy two"}]


def test_an_ianvs_style_job_runs_unchanged(router, ianvs_env):
    from sedna.core.joint_inference import JointInference

    edge, cloud = EdgeModel(model="Qwen/Qwen2.5-1.5B-Instruct"), CloudModel()
    mining = {"method": "tests.HardQueryRouter", "param": {"threshold": 0.5, "edgemodel": edge}}
    job = JointInference(estimator=edge, cloud=cloud, hard_example_mining=mining, LCReporter_enable=False)

    results = [job.inference(q, mining_mode="mining-then-inference") for q in queries()]
    edge_count = sum(1 for r in results if r[2])
    cloud_count = sum(1 for r in results if not r[2] and r[3])
    miner = job.hard_example_mining_algorithm
    miner.cleanup()

    assert (edge_count, cloud_count) == (2, 1)
    assert results[1][0] is True
    assert results[1][1] == {"completion": "cloud:a hard one", "perf": {"tokens": 9}}
    assert results[1][3] is results[1][1] and results[1][2] is None  # the user's answer, as it gave it
    assert results[0][1] == {"completion": "edge:easy one", "perf": {"tokens": 3}} and results[0][3] is None
    assert cloud.calls == [({"query": "a hard one"}, {"post_process": None})]
    assert all("mining_mode" not in kwargs for _, kwargs in edge.calls)
    assert edge.loaded  # model_path is a Hugging Face name, not a local file: no StorageNotFoundError
    assert isinstance(miner, router) and miner.kwargs["edgemodel"] is edge and miner.cleaned
    assert job.LCReporter_enable is False and job.report is False


def test_inference_then_mining_per_call_mines_the_edge_result(router, ianvs_env):
    from sedna.core.joint_inference import JointInference

    class EchoRouter:
        def __call__(self, result=None):
            return "hard" in result["completion"]

    job = JointInference(estimator=EdgeModel(), cloud=CloudModel(), LCReporter_enable=False,
                         hard_example_mining=EchoRouter())
    is_hard, final, edge_result, cloud_result = job.inference({"query": "a hard one"},
                                                              mining_mode="inference-then-mining")

    assert is_hard and edge_result["completion"] == "edge:a hard one" and final is cloud_result
    assert cloud_result["completion"] == "cloud:a hard one"


def test_self_design_runs_the_edge_model_alone(ianvs_env):
    from sedna.core.joint_inference import JointInference

    cloud = CloudModel()
    job = JointInference(estimator=EdgeModel(), cloud=cloud, hard_example_mining={"method": "CloudOnly"},
                         LCReporter_enable=False)

    result = job.inference({"query": "a hard one"}, mining_mode="self-design",
                           post_process=lambda r: r["completion"])

    assert result == "edge:a hard one" and cloud.calls == []


def test_an_unknown_mining_mode_is_a_config_error_listing_the_modes(ianvs_env):
    from sedna.core.joint_inference import JointInference

    job = JointInference(estimator=EdgeModel(), cloud=CloudModel(),
                         hard_example_mining={"method": "CloudOnly"}, LCReporter_enable=False)

    with pytest.raises(ConfigError, match="inference-then-mining, mining-then-inference, self-design"):
        job.inference({"query": "x"}, mining_mode="edge-first")


def test_the_user_clouds_errors_reach_the_caller_as_in_sedna_06(ianvs_env):
    from sedna.core.joint_inference import JointInference

    job = JointInference(estimator=EdgeModel(), cloud=CloudModel(fail=True),
                         hard_example_mining={"method": "CloudOnly"}, LCReporter_enable=False)

    with pytest.raises(RuntimeError, match="Inference failed"):
        job.inference({"query": "q"}, mining_mode="mining-then-inference")


def test_the_positional_06_signature(ianvs_env):
    from sedna.core.joint_inference import JointInference

    cloud = CloudModel()
    job = JointInference(EdgeModel(), cloud, {"method": "CloudOnly"}, False)

    assert job.cloud is cloud and job.report is False
    assert job.inference({"query": "q"}, mining_mode="mining-then-inference")[3]["completion"] == "cloud:q"


def test_the_positional_041_signature_still_takes_the_miner_second(ianvs_env):
    from sedna.core.joint_inference import JointInference

    job = JointInference(EdgeModel(), {"method": "EdgeOnly"})

    assert job.cloud is None and type(job.hard_example_mining_algorithm).__name__ == "EdgeOnlyFilter"
    assert job.report is True
