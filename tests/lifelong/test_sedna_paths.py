"""Sedna's lifelong-learning module paths and ClassFactory names resolve to sedna_lib."""

from __future__ import annotations

import importlib

import pytest

import sedna_lib.lifelong_learning as ll

PATHS = {
    "sedna.core.lifelong_learning": ["LifelongLearning", "SeenTaskLearning", "UnseenTaskProcessing",
                                     "CloudKnowledgeManagement", "EdgeKnowledgeManagement", "KBClient"],
    "sedna.core.lifelong_learning.knowledge_management": ["BaseKnowledgeManagement", "CloudKnowledgeManagement",
                                                         "EdgeKnowledgeManagement"],
    # Sedna 0.6 (the build Ianvs ships) imports the knowledge managers from their own modules
    "sedna.core.lifelong_learning.knowledge_management.base_knowledge_management": ["BaseKnowledgeManagement"],
    "sedna.core.lifelong_learning.knowledge_management.cloud_knowledge_management": ["CloudKnowledgeManagement"],
    "sedna.core.lifelong_learning.knowledge_management.edge_knowledge_management": ["EdgeKnowledgeManagement"],
    "sedna.algorithms.seen_task_learning": ["SeenTaskLearning"],
    # Sedna 0.6's module of each algorithm
    "sedna.algorithms.seen_task_learning.task_definition.task_definition": ["TaskDefinitionByDataAttr",
                                                                           "TaskDefinitionBySVC"],
    "sedna.algorithms.seen_task_learning.task_definition.task_definition_by_origin": ["TaskDefinitionByOrigin"],
    "sedna.algorithms.seen_task_learning.task_allocation.task_allocation": ["TaskAllocationByDataAttr",
                                                                           "TaskAllocationDefault"],
    "sedna.algorithms.seen_task_learning.task_allocation.task_allocation_by_origin": ["TaskAllocationByOrigin"],
    "sedna.algorithms.seen_task_learning.task_allocation.task_allocation_stream": ["TaskAllocationStream"],
    "sedna.algorithms.seen_task_learning.task_relation_discovery.task_relation_discovery":
        ["DefaultTaskRelationDiscover"],
    "sedna.algorithms.seen_task_learning.task_remodeling.task_remodeling": ["DefaultTaskRemodeling"],
    "sedna.algorithms.seen_task_learning.inference_integration.inference_integrate":
        ["DefaultInferenceIntegrate"],
    "sedna.algorithms.seen_task_learning.task_update_decision.task_update_decision_finetune":
        ["UpdateStrategyByFinetune"],
    "sedna.algorithms.unseen_task_detection.unseen_sample_recognition.unseen_sample_recognition":
        ["SampleRegonitionDefault"],
    "sedna.algorithms.unseen_task_detection.unseen_sample_recognition.unseen_sample_detection":
        ["UnseenSampleDetection"],
    "sedna.algorithms.unseen_task_detection.unseen_sample_re_recognition.unseen_sample_re_recognition":
        ["SampleReRegonitionDefault"],
    "sedna.algorithms.unseen_task_processing.unseen_task_allocation.unseen_task_allocation":
        ["UnseenTaskAllocationDefault"],
    "sedna.algorithms.unseen_task_processing.unseen_task_processing": ["UnseenTaskProcessing"],
    "sedna.algorithms.unseen_task_detect.unseen_task_detect": ["ModelProbeFilter", "TaskAttrFilter"],
    "sedna.algorithms.multi_task_learning.multi_task_learning": ["MulTaskLearning"],
    "sedna.algorithms.multi_task_learning.task_jobs.artifact": ["Task", "TaskGroup", "Model"],
    "sedna.algorithms.seen_task_learning.artifact": ["Task", "TaskGroup", "Model"],
    "sedna.algorithms.unseen_task_processing": ["UnseenTaskProcessing"],
    "sedna.algorithms.unseen_task_detect": ["ModelProbeFilter", "TaskAttrFilter"],
    "sedna.algorithms.multi_task_learning": ["MulTaskLearning"],
    "sedna.service.server.knowledgeBase.server": ["KBServer"],
    "sedna.service.run_kb": ["main"],
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_sedna_module_path_exposes_its_names(path):
    module = importlib.import_module(path)

    assert all(hasattr(module, name) for name in PATHS[path])


def test_sedna_path_is_the_same_module_object():
    face = importlib.import_module("sedna_lib.compat.core.lifelong_learning")

    assert importlib.import_module("sedna.core.lifelong_learning") is face
    assert importlib.import_module("sedna.core.lifelong_learning.lifelong_learning") is face
    assert issubclass(face.LifelongLearning, ll.LifelongLearning) and face.SeenTaskLearning is ll.SeenTaskLearning


def test_class_factory_finds_the_default_update_strategy():
    from sedna.common.class_factory import ClassFactory, ClassType

    cls = ClassFactory.get_cls(ClassType.KM, "UpdateStrategyDefault")

    assert cls.__name__ == "UpdateStrategyDefault"


def test_task_definition_by_origin_takes_sedna_06_string_attribute_and_names_tasks_as_upstream():
    from sedna_lib.lifelong_learning import Samples
    from sedna_lib.registry import build, parse_spec
    from sedna_lib.registry import Kind, default_registry

    y = ["leftImg8bit/train/berlin/a.png", "sim/0001.png", "leftImg8bit/train/berlin/b.png", "sim/0002.png"]
    samples = Samples([[0.0], [1.0], [2.0], [3.0]], y)
    spec = parse_spec({"method": "TaskDefinitionByOrigin", "param": {"attribute": "real, sim", "city": "berlin"}},
                      None, label="task_definition")

    tasks, extractor, _ = build(default_registry, Kind.SEEN_TASK_PROCESSING, spec)(samples)

    assert [t.entry for t in tasks] == ["real.model", "sim.model"]
    assert [t.meta_attr for t in tasks] == ["real", "sim"]
    assert extractor == {"real": 0, "sim": 1}
    assert [list(t.samples.inx) for t in tasks] == [[0, 2], [1, 3]]


def test_upstream_task_names_key_the_kb_index_and_the_scores(tmp_path):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.lifelong_learning import LifelongLearning, Samples
    from sedna_lib.transport.kb_index import loads_index

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(4, 1, (30, 2))])
    labels = [f"berlin_{i % 2}" for i in range(30)] + [f"carla_{i % 2}" for i in range(30)]  # the city in y
    ctx = Context(Config(output_url=str(tmp_path / "kb"), work_dir=str(tmp_path / "work"),
                         lc_server="http://127.0.0.1:9", max_retries=0, connect_timeout_s=0.2))
    job = LifelongLearning(LogisticRegression(), context=ctx,
                           task_definition={"method": "TaskDefinitionByOrigin",
                                            "param": {"attribute": "real, sim", "city": "berlin"}},
                           task_allocation={"method": "TaskAllocationByOrigin", "param": {"default": "real"}})

    feedback = job.train(Samples(x, np.array(labels), None))
    index = loads_index((tmp_path / "kb" / "index.pkl").read_bytes())

    assert sorted(feedback) == ["real.model", "sim.model"]
    assert [g.entry for g in index["seen_task"]["task_groups"]] == ["real.model", "sim.model"]
