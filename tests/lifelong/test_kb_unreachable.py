"""A knowledge-base server that is down: the trainer keeps its work, the edge keeps serving.

Training writes the whole knowledge base to ``OUTPUT_URL`` before it talks to the KB server,
retries a refused connection a bounded number of times, and says where the knowledge base is
and how to publish it (``push_kb``). An edge that deployed from the KB keeps its models when the
KB goes away.
"""

from __future__ import annotations

import json
import logging
import os
import socket

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.exceptions import TransportError
from sedna_lib.lifelong_learning import LifelongLearning, Samples
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app

from .conftest import make_origin_samples, with_config

pytestmark = pytest.mark.integration

ALGORITHMS = {"task_definition": {"method": "TaskDefinitionByOrigin"},
              "task_allocation": {"method": "TaskAllocationByNearestTask"}}


def _closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _job(ctx, backoff=0.01):
    job = LifelongLearning(LogisticRegression(max_iter=200), context=ctx, **ALGORITHMS)
    job.cloud_knowledge_management.backoff = backoff
    return job


def _samples(d, names=("identity", "flip")):
    return make_origin_samples(d["x_train"], d["y_train"], list(names), np.arange(100))


def _kb_index_url(server):
    return f"{server.url}/knowledgebase/file/download?files=index.pkl&name=index.pkl"


@pytest.fixture
def kb(tmp_path):
    store = KnowledgeBaseStore(str(tmp_path / "kb"), str(tmp_path / "kb" / "lifelong_kb.sqlite3"))
    server = ThreadedServer(create_app(store)).start()
    yield server, store
    server.stop()
    store.close()


@pytest.fixture
def failed_training(ll_context, origin_data, caplog):
    """A training whose KB server refused every connection: (context, the error, the retry records)."""
    ctx = with_config(ll_context, kb_server=_closed_port_url(), max_retries=2)
    with caplog.at_level(logging.WARNING, logger="sedna_lib.lifelong_learning"):
        with pytest.raises(TransportError) as info:
            _job(ctx).train(_samples(origin_data))
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    return ctx, info.value, retries


def test_a_kb_that_is_down_is_retried_a_bounded_number_of_times(failed_training):
    _, error, retries = failed_training

    assert len(retries) == 2  # SEDNA_MAX_RETRIES=2: three attempts, then the error
    assert "3 attempts" in str(error)


def test_training_with_the_kb_down_keeps_the_whole_knowledge_base_in_output_url(failed_training):
    ctx, error, _ = failed_training
    out = ctx.config.output_url
    index_path = os.path.join(out, "index.pkl")

    with open(index_path, "rb") as fh:
        doc = json.loads(fh.read())
    groups = doc["seen_task"]["task_groups"]

    assert sorted(g["entry"] for g in groups) == ["flip", "identity"]
    assert all(os.path.isfile(g["model"]["url"]) and os.path.isfile(g["samples"]) for g in groups)
    assert index_path in str(error) and "push_kb" in str(error)


def test_the_saved_knowledge_base_serves_the_edge_without_the_kb(failed_training, origin_data, tmp_path):
    ctx, _, _ = failed_training
    edge = with_config(ctx, model_urls=(os.path.join(ctx.config.output_url, "index.pkl"),),
                       edge_output_url=str(tmp_path / "edge"))
    d = origin_data

    pred, _, _ = LifelongLearning(LogisticRegression(), context=edge, **ALGORITHMS).inference(
        Samples(d["x_test"][:20]))

    assert np.mean(pred == d["y_test"][:20]) >= 0.6  # ten classes: chance is 0.1


def test_push_kb_publishes_the_saved_knowledge_base_once_the_kb_is_up(failed_training, kb, origin_data,
                                                                      tmp_path):
    from sedna_lib.lifelong_learning import push_kb

    ctx, _, _ = failed_training
    server, store = kb
    out = ctx.config.output_url

    published = push_kb(out, kb_server=server.url, context=ctx)

    assert published == os.path.join(out, "index.pkl")
    assert os.path.isfile(os.path.join(store.save_dir, "index.pkl"))
    with open(published, "rb") as fh:
        groups = json.loads(fh.read())["seen_task"]["task_groups"]
    assert all(g["model"]["url"].startswith(server.url) and g["samples"].startswith(server.url)
               for g in groups)
    edge = with_config(ctx, kb_server=server.url, model_urls=(_kb_index_url(server),),
                       edge_output_url=str(tmp_path / "edge"))
    pred, _, _ = LifelongLearning(LogisticRegression(), context=edge, **ALGORITHMS).inference(
        Samples(origin_data["x_test"][:20]))
    assert np.mean(pred == origin_data["y_test"][:20]) >= 0.6


def test_push_kb_with_the_kb_still_down_says_so_and_keeps_the_saved_index(failed_training):
    from sedna_lib.lifelong_learning import push_kb

    ctx, _, _ = failed_training
    index_path = os.path.join(ctx.config.output_url, "index.pkl")
    before = open(index_path, "rb").read()

    with pytest.raises(TransportError, match="push_kb"):
        push_kb(ctx.config.output_url, context=ctx, backoff=0.01)

    assert open(index_path, "rb").read() == before


def test_training_with_the_kb_up_publishes_there(kb, ll_context, origin_data):
    server, store = kb
    ctx = with_config(ll_context, kb_server=server.url)

    _job(ctx).train(_samples(origin_data))

    with open(os.path.join(ctx.config.output_url, "index.pkl"), "rb") as fh:
        groups = json.loads(fh.read())["seen_task"]["task_groups"]
    assert all(g["model"]["url"].startswith(server.url) for g in groups)
    assert os.path.isfile(os.path.join(store.save_dir, "index.pkl"))


def test_the_edge_keeps_serving_its_models_when_the_kb_goes_down(kb, ll_context, origin_data, tmp_path,
                                                                 caplog):
    server, _ = kb
    ctx = with_config(ll_context, kb_server=server.url)
    _job(ctx).train(_samples(origin_data))
    edge = LifelongLearning(LogisticRegression(), context=with_config(
        ctx, model_urls=(_kb_index_url(server),), model_poll_period_seconds=0,
        edge_output_url=str(tmp_path / "edge")), **ALGORITHMS)
    x = Samples(origin_data["x_test"][:20])
    before, _, _ = edge.inference(x)
    server.stop()

    with caplog.at_level(logging.WARNING, logger="sedna_lib.lifelong_learning"):
        after, _, _ = edge.inference(x)

    assert np.array_equal(before, after)
    assert "could not be checked" in caplog.text


def test_an_edge_update_that_fails_part_way_leaves_no_partial_version(kb, ll_context, origin_data, tmp_path):
    import urllib.parse

    server, store = kb
    ctx = with_config(ll_context, kb_server=server.url)
    _job(ctx).train(_samples(origin_data))
    with open(os.path.join(ctx.config.output_url, "index.pkl"), "rb") as fh:
        groups = json.loads(fh.read())["seen_task"]["task_groups"]
    last = urllib.parse.parse_qs(urllib.parse.urlsplit(groups[-1]["model"]["url"]).query)["files"][0]
    os.remove(os.path.join(store.save_dir, last))  # the second model is gone from the KB
    edge = LifelongLearning(LogisticRegression(), context=with_config(
        ctx, model_urls=(_kb_index_url(server),), edge_output_url=str(tmp_path / "edge")), **ALGORITHMS)

    with pytest.raises(TransportError):
        edge.inference(Samples(origin_data["x_test"][:5]))

    versions = tmp_path / "edge" / "versions"
    assert not versions.exists() or os.listdir(versions) == []
