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
    "sedna.algorithms.seen_task_learning": ["SeenTaskLearning"],
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
    assert importlib.import_module("sedna.core.lifelong_learning") is ll


def test_class_factory_finds_the_default_update_strategy():
    from sedna.common.class_factory import ClassFactory, ClassType

    cls = ClassFactory.get_cls(ClassType.KM, "UpdateStrategyDefault")

    assert cls.__name__ == "UpdateStrategyDefault"
