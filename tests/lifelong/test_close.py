"""Closing a lifelong-learning job releases its knowledge-base connections."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.lifelong_learning import LifelongLearning

from .conftest import make_origin_samples, with_config

ORIGIN_ALGOS = {"task_definition": {"method": "TaskDefinitionByOrigin"},
                "task_allocation": {"method": "TaskAllocationByNearestTask"}}


@pytest.fixture
def kb_url(tmp_path):
    from sedna_lib.servers.knowledge_base import KBServer

    with KBServer("127.0.0.1", 0, save_dir=str(tmp_path / "kb")) as kb:
        yield kb.url


def _pooled(session):
    """How many connection pools the session's adapters still hold."""
    return sum(len(adapter.poolmanager.pools) for adapter in session.adapters.values())


def test_close_after_training_closes_the_knowledge_base_session(ll_context, origin_data, kb_url):
    d = origin_data
    job = LifelongLearning(LogisticRegression(max_iter=50), context=with_config(ll_context, kb_server=kb_url),
                           report=False, **ORIGIN_ALGOS)
    job.train(make_origin_samples(d["x_train"][:100], d["y_train"][:100], ["identity"], np.arange(100)))
    client = job.cloud_knowledge_management.kb_client
    session = client._session
    assert session is not None and _pooled(session) == 1  # the upload kept a connection alive

    job.close()
    assert _pooled(session) == 0
    assert client._session is None
    job.close()  # a second close is harmless


def test_close_without_training_is_harmless(ll_context, kb_url):
    job = LifelongLearning(LogisticRegression(), context=with_config(ll_context, kb_server=kb_url),
                           report=False, **ORIGIN_ALGOS)
    job.close()
    job.close()
    assert job.cloud_knowledge_management._kb_client is None
    assert job.edge_knowledge_management._kb_client is None
