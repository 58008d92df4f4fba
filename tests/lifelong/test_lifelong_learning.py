"""LifelongLearning end to end without a KB server: train, inference with unseen detection, evaluate, update."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.exceptions import DataError
from sedna_lib.lifelong_learning import LifelongLearning, Samples
from sedna_lib.lifelong_learning.index import read_index

from .conftest import make_origin_samples, with_config

ORIGIN_ALGOS = {"task_definition": {"method": "TaskDefinitionByOrigin"},
                "task_allocation": {"method": "TaskAllocationByNearestTask"}}


def _job(ctx, **kw):
    return LifelongLearning(LogisticRegression(max_iter=200), context=ctx, **{**ORIGIN_ALGOS, **kw})


@pytest.fixture
def trained(ll_context, origin_data):
    d = origin_data
    job = _job(ll_context)
    job.train(make_origin_samples(d["x_train"], d["y_train"], ["identity", "rotate"], np.arange(400)))
    return job


def test_train_publishes_a_json_index_with_one_model_per_origin(trained, ll_context):
    index_path = os.path.join(ll_context.config.output_url, "index.pkl")

    with open(index_path, "rb") as fh:
        doc = json.loads(fh.read())

    assert [g["entry"] for g in doc["seen_task"]["task_groups"]] == ["identity", "rotate"]
    assert all(os.path.isfile(g["model"]["url"]) for g in doc["seen_task"]["task_groups"])


def test_inference_routes_seen_origins_and_flags_an_unseen_origin(trained, origin_data):
    d = origin_data
    idx = np.arange(200)
    seen = make_origin_samples(d["x_test"], d["y_test"], ["identity", "rotate"], idx)
    new = make_origin_samples(d["x_test"], d["y_test"], ["invert"], idx)

    pred, is_unseen, tasks = trained.inference(Samples(seen.x))
    _, is_unseen_new, _ = trained.inference(Samples(new.x))

    assert np.mean(is_unseen) < 0.05  # quantile=0.99, calibrated on held-out samples
    known = ~np.asarray(is_unseen)
    assert np.mean(pred[known] == seen.y[known]) > 0.85
    assert sorted(t.entry for t in tasks) == ["identity", "rotate"]
    assert np.mean(is_unseen_new) > 0.95


def test_unseen_samples_are_saved_on_the_edge(trained, origin_data, ll_context):
    x_new = make_origin_samples(origin_data["x_test"], origin_data["y_test"], ["invert"], np.arange(5)).x

    result, is_unseen, _ = trained.inference(Samples(x_new))

    saved = os.listdir(os.path.join(ll_context.config.edge_output_url, "unseen_samples"))
    assert is_unseen == [True] * 5 and len(saved) == 5
    assert all(r is None for r in result)


def test_single_sample_inference_returns_a_bool_flag(trained, origin_data):
    inverted = 1.0 - origin_data["x_test"][:1]

    _, is_unseen, _ = trained.inference(Samples(inverted))

    assert is_unseen is True


def test_evaluate_scores_the_knowledge_base(trained, origin_data):
    d = origin_data
    test = make_origin_samples(d["x_test"], d["y_test"], ["identity", "rotate"], np.arange(200))

    scores = trained.evaluate(test, metrics="accuracy_score")

    assert scores["accuracy_score"] > 0.85
    assert trained.dropped_tasks_ == []


def test_update_after_initial_training_adds_the_new_origin(trained, ll_context, origin_data):
    d = origin_data
    ctx = with_config(ll_context, has_completed_initial_training=True)
    updater = _job(ctx)

    result = updater.train(make_origin_samples(d["x_train"], d["y_train"], ["invert", "identity"], np.arange(200)))
    pred, is_unseen, tasks = trained.inference(Samples(make_origin_samples(
        d["x_test"], d["y_test"], ["invert"], np.arange(200)).x))

    assert set(result) == {"invert", "identity"}
    assert np.mean(is_unseen) < 0.1
    assert [t.entry for t in tasks] == ["invert"]
    assert np.mean(pred[~np.asarray(is_unseen)] == d["y_test"][:200][~np.asarray(is_unseen)]) > 0.8


def test_older_constructor_keywords_still_work_with_a_dataframe(ll_context, rng):
    frame = pd.DataFrame({"city": rng.choice(["Berlin", "Tokyo"], 120), "temp": rng.normal(22, 3, 120),
                          "hum": rng.normal(0.5, 0.1, 120)})
    y = (frame["temp"] > 22).astype(int).to_numpy()

    with pytest.warns(DeprecationWarning) as record:
        job = LifelongLearning(estimator=LogisticRegression(),
                               task_definition={"method": "TaskDefinitionByDataAttr",
                                                "param": json.dumps({"attribute": ["city"]})},
                               task_relationship_discovery=None, task_mining={"method": "TaskMiningByDataAttr",
                                                                              "param": {"attribute": ["city"]}},
                               task_remodeling=None, inference_integrate=None, unseen_task_detect=None,
                               context=ll_context)
    res = job.train(Samples(frame, y))
    pred, _, tasks = job.inference(Samples(frame.iloc[:10]))

    assert {"estimator", "task_mining"} <= {str(w.message).split("(")[1].split("=")[0] for w in record}
    assert set(res) == {"Berlin", "Tokyo"}
    assert len(pred) == 10 and {t.entry for t in tasks} <= {"Berlin", "Tokyo"}


def test_unknown_keyword_is_a_type_error(ll_context):
    with pytest.raises(TypeError, match="unexpected"):
        LifelongLearning(LogisticRegression(), bogus=1, context=ll_context)


def test_inference_before_training_says_to_train(ll_context):
    with pytest.raises(Exception, match="train first"):
        _job(ll_context).inference(Samples(np.zeros((1, 64))))


def test_pickled_index_is_refused_unless_opted_in(tmp_path):
    path = tmp_path / "index.pkl"
    path.write_bytes(pickle.dumps({"seen_task": {"task_groups": []}, "unseen_task": {}}))

    with pytest.raises(DataError, match="allow_pickle"):
        read_index(str(path))
    assert read_index(str(path), allow_pickle=True)["seen_task"] == {"task_groups": []}


def test_a_sedna_pickled_index_loads_into_sedna_lib_artifacts_when_opted_in(tmp_path, monkeypatch):
    from sedna_lib.base import TaskGroup

    # pickle as Sedna does: the class is named by its sedna.* module path
    monkeypatch.setattr(TaskGroup, "__module__", "sedna.algorithms.seen_task_learning.artifact")
    data = pickle.dumps({"seen_task": {"task_groups": [TaskGroup("berlin", [])]}, "unseen_task": {}}, protocol=2)
    monkeypatch.undo()
    path = tmp_path / "index.pkl"
    path.write_bytes(data)

    index = read_index(str(path), allow_pickle=True)

    assert b"sedna.algorithms.seen_task_learning.artifact" in data
    loaded = index["seen_task"]["task_groups"][0]
    assert isinstance(loaded, TaskGroup) and loaded.entry == "berlin"


def test_inference_keeps_answering_while_the_knowledge_base_is_updated(trained, ll_context, origin_data):
    import threading

    d = origin_data
    x = Samples(d["x_test"][:50])
    errors, done = [], threading.Event()

    def hammer():
        while not done.is_set():
            try:
                pred, _, _ = trained.inference(x)
                assert len(pred) == 50
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        _job(with_config(ll_context, has_completed_initial_training=True)).train(
            make_origin_samples(d["x_train"], d["y_train"], ["flip"], np.arange(100)))
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30)

    assert errors == []
    _, _, tasks = trained.inference(Samples(make_origin_samples(d["x_test"], d["y_test"], ["flip"], np.arange(50)).x))
    assert "flip" in {t.entry for t in tasks}


def test_training_reports_one_line_per_task(ll_context, origin_data, caplog):
    import logging

    d = origin_data
    caplog.set_level(logging.INFO, logger="sedna_lib")
    _job(ll_context).train(make_origin_samples(d["x_train"], d["y_train"], ["identity", "rotate", "flip"],
                                               np.arange(400)))

    lines = [r.getMessage() for r in caplog.records
             if r.name == "sedna_lib.lifelong_learning.seen_task_learning" and r.getMessage().startswith("task ")]
    assert [line.split(" task=")[0] for line in lines] == ["task 1/3", "task 2/3", "task 3/3"]
    assert sorted(line.split(" task=")[1] for line in lines) == [
        "flip samples=400", "identity samples=400", "rotate samples=400"]


def test_a_nan_feature_never_makes_a_far_sample_seen(ll_context, origin_data, tmp_path):
    # one NaN cell in the training data made the profiles' mean NaN and every distance with it: nothing was
    # ever unseen; a NaN feature in a query scored NaN, which compared as seen
    from sklearn.ensemble import HistGradientBoostingClassifier

    from sedna_lib.exceptions import SednaWarning

    d = origin_data
    x = np.array(d["x_train"], dtype=float)
    x[5, 5] = np.nan
    job = LifelongLearning(HistGradientBoostingClassifier(max_iter=20), context=ll_context, **ORIGIN_ALGOS)
    with pytest.warns(SednaWarning, match="2 of .* samples hold a NaN"):  # the image under both origins
        job.train(make_origin_samples(x, d["y_train"], ["identity", "rotate"], np.arange(400)))
    far = np.full((3, x.shape[1]), 50.0)
    with_nan = far.copy()
    with_nan[:, 0] = np.nan
    assert list(job.inference(Samples(far))[1]) == [True] * 3
    assert list(job.inference(Samples(with_nan))[1]) == [True] * 3


def test_evaluating_on_no_samples_is_a_data_error_saying_so(trained):
    with pytest.raises(DataError, match="at least one labelled sample"):  # scikit-learn's ValueError before
        trained.seen_estimator.evaluate(Samples(np.zeros((0, 64)), np.zeros(0, dtype=int)))
