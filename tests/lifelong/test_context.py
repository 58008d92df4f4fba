"""Lifelong learning's pieces work in the context they are given: the job's, or the environment read once.

A piece built by a ``LifelongLearning`` job with an explicit Context follows that context even when
the process environment says otherwise; a piece built with no context reads the environment when it
is built, never again later.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.exceptions import ConfigError
from sedna_lib.lifelong_learning import (
    EdgeKnowledgeManagement,
    LifelongLearning,
    Samples,
    SeenTaskLearning,
    UnseenTaskProcessing,
)
from sedna_lib.lifelong_learning.unseen_sample_detection import UnseenSampleDetection

from .conftest import with_config


def test_unseen_sample_detection_follows_the_jobs_context(status_server, tmp_path, ll_context, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    (images / "frame.png").write_bytes(b"png")
    monkeypatch.setenv("STATUS_IP", "127.0.0.1:9")
    monkeypatch.setenv("IMAGE_TOPIC_URL", str(tmp_path / "not-here"))
    ctx = with_config(ll_context, environ={"STATUS_IP": status_server.url + "/",
                                           "IMAGE_TOPIC_URL": str(images)})
    job = LifelongLearning(LogisticRegression(), context=ctx)

    detector = UnseenSampleDetection(job.edge_knowledge_management, timeout=2.0)

    assert detector.status_url == status_server.url + "/" and detector.image_url == str(images)
    assert detector.poll_once() is True
    assert len(list((tmp_path / "edge" / "unseen_samples").iterdir())) == 1


def test_the_jobs_pieces_follow_its_context_over_the_environment(ll_context, monkeypatch):
    monkeypatch.setenv("KB_SERVER", "http://kb-from-env:9020")
    monkeypatch.setenv("MIN_TRAIN_SAMPLE", "77")
    monkeypatch.setenv("OUTPUT_URL", "/nowhere/from-env")
    ctx = with_config(ll_context, kb_server="http://kb-from-context:9020", min_train_sample=5)

    job = LifelongLearning(LogisticRegression(), context=ctx)

    assert job.seen_estimator.min_train_sample == 5
    assert job.edge_knowledge_management.kb_server == "http://kb-from-context:9020"
    assert job.cloud_knowledge_management.output_url == ll_context.config.output_url
    assert job.unseen_estimator.context is job.context is ctx


def test_pieces_built_without_a_context_read_the_environment_once_when_built(monkeypatch):
    monkeypatch.setenv("KB_SERVER", "http://kb-when-built:9020")
    monkeypatch.setenv("MIN_TRAIN_SAMPLE", "4")
    knowledge = EdgeKnowledgeManagement()
    seen = SeenTaskLearning(LogisticRegression())
    monkeypatch.setenv("KB_SERVER", "http://kb-later:9020")
    monkeypatch.setenv("MIN_TRAIN_SAMPLE", "99")

    assert knowledge.kb_server == "http://kb-when-built:9020"
    assert seen.min_train_sample == 4


def test_unseen_task_processing_does_not_reread_a_malformed_environment(monkeypatch):
    unseen = UnseenTaskProcessing(lambda x: np.zeros(len(x)),
                                  unseen_task_allocation={"method": "UnseenTaskAllocationDefault"})
    monkeypatch.setenv("MIN_TRAIN_SAMPLE", "many")
    with pytest.raises(ConfigError, match="MIN_TRAIN_SAMPLE"):
        UnseenTaskProcessing()

    result, tasks = unseen.predict(Samples(np.ones((3, 2))))

    assert list(result) == [0.0, 0.0, 0.0] and tasks == []


def test_a_job_given_no_context_reads_the_environment_into_one_context_for_all_its_pieces(monkeypatch, tmp_path):
    monkeypatch.setenv("KB_SERVER", "http://kb-from-env:9020")
    monkeypatch.setenv("OUTPUT_URL", str(tmp_path / "out"))

    job = LifelongLearning(LogisticRegression())

    pieces = [job.seen_estimator, job.unseen_estimator, job.cloud_knowledge_management,
              job.edge_knowledge_management]
    assert all(piece.context is job.context for piece in pieces)
    assert job.edge_knowledge_management.kb_server == "http://kb-from-env:9020"


@pytest.mark.parametrize("value", [0, 2.5, True, "many"])
def test_a_profile_size_that_is_not_a_whole_number_is_refused_before_anything_trains(value, tmp_path):
    # it was truncated (2.5 -> 2) or failed only after every task model had been trained
    from sedna_lib.exceptions import ParameterError

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    seen = SeenTaskLearning(LogisticRegression(), work_dir=str(tmp_path), profile_samples=value)
    with pytest.raises(ParameterError, match=f"profile_samples must be a whole number >= 1, got {value!r}"):
        seen.train((x, y))
    assert not hasattr(seen, "task_groups_") and list(tmp_path.iterdir()) == []


def test_a_negative_min_train_sample_is_a_config_error_before_anything_trains(ll_context, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    seen = SeenTaskLearning(LogisticRegression(), work_dir=str(tmp_path / "seen"),
                            context=with_config(ll_context, min_train_sample=-1))
    with pytest.raises(ConfigError, match="MIN_TRAIN_SAMPLE must be a whole number >= 0") as info:
        seen.train((x, y))
    assert info.value.variable == "MIN_TRAIN_SAMPLE" and not hasattr(seen, "task_groups_")


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), True, "high"], ids=repr)
def test_a_model_threshold_that_is_not_a_finite_number_is_refused(ll_context, threshold):
    from sedna_lib.base import Task
    from sedna_lib.exceptions import ParameterError
    from sedna_lib.lifelong_learning import CloudKnowledgeManagement

    task = Task("a", None)
    task.scores = {"accuracy": 0.9}
    km = CloudKnowledgeManagement(context=ll_context)
    with pytest.raises(ParameterError, match="model_threshold must be a finite number"):
        km.evaluate_tasks([task], model_threshold=threshold)
    assert km.evaluate_tasks([task], model_threshold="0.5") == []
