"""The registered task algorithms: definition, allocation, SVC extractor, update decision, unseen recognition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sedna_lib.algorithms.lifelong import (
    DefaultInferenceIntegrate,
    DefaultTaskRelationDiscover,
    DefaultTaskRemodeling,
    ModelProbeFilter,
    SampleRegonitionDefault,
    TaskAllocationByDataAttr,
    TaskAllocationByNearestTask,
    TaskAllocationBySVC,
    TaskDefinitionByDataAttr,
    TaskDefinitionByOrigin,
    TaskDefinitionBySVC,
    UpdateStrategyDefault,
)
from sedna_lib.algorithms.lifelong.task_definition import svc_predict
from sedna_lib.base import Task
from sedna_lib.exceptions import NotRegisteredError, ParameterError
from sedna_lib.lifelong_learning import Samples
from sedna_lib.registry import build, parse_spec
from sedna_lib.lifelong_learning._data import build_profiles
from sedna_lib.registry import Kind, default_registry

SEDNA_NAMES = {
    Kind.SEEN_TASK_PROCESSING: ["TaskDefinitionByDataAttr", "TaskDefinitionBySVC", "TaskDefinitionByOrigin",
                                "DefaultTaskRelationDiscover", "TaskAllocationDefault", "TaskAllocationByDataAttr",
                                "TaskAllocationBySVC", "TaskAllocationByOrigin", "TaskAllocationStream",
                                "TaskAllocationByNearestTask", "DefaultTaskRemodeling", "DefaultInferenceIntegrate"],
    Kind.MULTI_TASK_LEARNING: ["TaskDefinitionBySVC", "TaskDefinitionByDataAttr", "DefaultTaskRelationDiscover",
                               "TaskMiningBySVC", "TaskMiningByDataAttr", "DefaultTaskRemodeling",
                               "DefaultInferenceIntegrate"],
    Kind.UNSEEN_TASK_DETECT: ["ModelProbeFilter", "TaskAttrFilter", "SampleRegonitionDefault",
                              "SampleReRegonitionDefault", "UnseenSampleDetection"],
    Kind.UNSEEN_TASK_PROCESSING: ["UnseenTaskAllocationDefault"],
    Kind.KNOWLEDGE_MANAGEMENT: ["UpdateStrategyDefault", "UpdateStrategyByFinetune", "CloudKnowledgeManagement",
                                "EdgeKnowledgeManagement"],
}


@pytest.mark.parametrize("kind,name", [(k, n) for k, names in SEDNA_NAMES.items() for n in names])
def test_sedna_names_are_registered_and_load(kind, name):
    assert default_registry.get(kind, name) is not None


def _city_frame():
    return pd.DataFrame({"city": ["Berlin", "Berlin", "Tokyo", "Tokyo", "New York"],
                         "temp": [20.0, 21.0, 25.0, 26.0, 22.0], "hum": [0.4, 0.5, 0.7, 0.6, 0.5]})


def test_definition_by_data_attr_names_tasks_like_sedna_and_drops_the_attribute():
    samples = Samples(_city_frame(), np.array([0, 1, 0, 1, 1]))

    tasks, extractor, stripped = TaskDefinitionByDataAttr(attribute=["city"])(samples)

    assert [t.entry for t in tasks] == ["Berlin", "NewYork", "Tokyo"]
    assert extractor == {"Berlin": 0, "NewYork": 1, "Tokyo": 2}
    assert "city" not in stripped.x.columns
    assert tasks[2].samples.inx == [2, 3] and list(tasks[2].samples.y) == [0, 1]


def test_allocation_by_data_attr_maps_known_and_unknown_values():
    samples = Samples(_city_frame(), None)

    out, alloc = TaskAllocationByDataAttr(task_extractor={"Berlin": 0, "Tokyo": 2}, attribute="city", default=1)(samples)

    assert alloc == [0, 0, 2, 2, 1]
    assert list(out.x.columns) == ["temp", "hum"]


def test_definition_by_data_attr_without_attribute_raises():
    with pytest.raises(ParameterError, match="attribute"):
        TaskDefinitionByDataAttr()(Samples(_city_frame(), None))


def test_svc_extractor_predicts_like_sklearn(rng):
    from sklearn.svm import SVC

    x = np.concatenate([rng.normal(0, 1, (30, 3)), rng.normal(4, 1, (30, 3)), rng.normal(-4, 1, (30, 3))])
    samples = Samples(x, np.zeros(90))

    tasks, extractor, _ = TaskDefinitionBySVC(n_class=3)(samples)
    labels = np.concatenate([np.full(len(t.samples.x), i) for i, t in enumerate(tasks)])
    order = np.concatenate([t.samples.inx for t in tasks])
    reference = SVC(gamma=0.01).fit(x[order], labels)

    assert np.array_equal(svc_predict(extractor, x), reference.predict(x))
    assert TaskAllocationBySVC(task_extractor=extractor)(samples)[1] == list(reference.predict(x))


def test_definition_by_origin_reads_per_sample_origins():
    samples = Samples(np.arange(8.0).reshape(4, 2), np.arange(4), np.array(["a", "b", "a", "b"]))

    tasks, extractor, _ = TaskDefinitionByOrigin()(samples)

    assert extractor == {"a": 0, "b": 1}
    assert tasks[1].samples.inx == [1, 3]


def test_nearest_task_allocation_picks_the_closest_task(rng):
    a = Samples(rng.normal(0, 0.1, (20, 2)), None)
    b = Samples(rng.normal(5, 0.1, (20, 2)), None)
    profiles = build_profiles([a, b])

    _, alloc = TaskAllocationByNearestTask(task_profiles=profiles)(Samples(np.array([[0.0, 0.0], [5.0, 5.0]])))

    assert alloc == [0, 1]


def test_remodeling_and_integration_restore_sample_order():
    samples = Samples(np.arange(5.0).reshape(5, 1), np.arange(5))
    subsets, models = DefaultTaskRemodeling(models=["m0", "m1"])(samples, [1, 0, 1, 0, 7])
    tasks = []
    for sub in subsets:
        task = Task("t", sub)
        task.result = sub.x[:, 0] * 10
        tasks.append(task)

    result = DefaultInferenceIntegrate()(tasks)

    assert models == ["m0", "m1", "m0"]
    assert result.tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]


def test_relation_discovery_makes_one_group_per_task():
    groups = DefaultTaskRelationDiscover()([Task("a", Samples([1], [1])), Task("b", Samples([2], [2]))])

    assert [g.entry for g in groups] == ["a", "b"] and groups[0].samples.x == [1]


def test_update_strategy_default_finetunes_known_tasks_and_adds_new_ones():
    index = {"seen_task": {"task_groups": DefaultTaskRelationDiscover()([Task("a", None)])}}

    _, strategies = UpdateStrategyDefault(task_index=index)(None, tasks=[Task("a", None), Task("z", None)])

    assert strategies == {"a": "finetune", "z": "new"}


def test_default_recognition_flags_far_samples_and_keeps_near_ones(rng):
    known = Samples(rng.normal(0, 1, (200, 4)), None)
    index = {"seen_task": {"profiles": build_profiles([known])}}
    query = Samples(np.concatenate([rng.normal(0, 1, (50, 4)), rng.normal(8, 1, (50, 4))]))
    recognizer = SampleRegonitionDefault(task_index=index)

    seen, unseen = recognizer(query)
    scores = recognizer.score(query.x)

    assert len(unseen.x) >= 48 and min(unseen.inx) >= 45
    assert scores[50:].min() > scores[:50].max()


class _Confident:
    def __init__(self, p):
        self.p = p

    def predict_proba(self, x):
        return np.tile([self.p, 1 - self.p], (len(x), 1))


def test_model_probe_filter_flags_unsure_models_as_unseen():
    def task(p):
        t = Task("t", Samples(np.zeros((3, 1))))
        t.model = _Confident(p)
        return t

    assert ModelProbeFilter()([task(0.99)], threshold=0.6) is False
    assert ModelProbeFilter()([task(0.5)], threshold=0.6) is True


def test_spec_param_as_json_string_is_parsed():
    spec = parse_spec({"method": "TaskDefinitionByDataAttr", "param": '{"attribute": ["city"]}'}, None, label="td")

    algo = build(default_registry, Kind.SEEN_TASK_PROCESSING, spec)

    assert algo.attribute == ["city"]


def test_spec_with_bad_json_raises_parameter_error():
    with pytest.raises(ParameterError, match="param"):
        parse_spec({"method": "X", "param": "{not json"}, None, label="td")


def test_unknown_method_lists_known_names():
    with pytest.raises(NotRegisteredError, match="TaskDefinitionByOrigin"):
        build(default_registry, Kind.SEEN_TASK_PROCESSING, parse_spec("Nope", None, label="td"))
