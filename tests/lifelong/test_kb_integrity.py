"""Models that travel are never unpickled and are bound to their SHA-256; the KB keeps its own files to itself.

A knowledge base trained through a real KB server on 127.0.0.1 publishes scikit-learn models as
skops files named by their content; the index gives each one's SHA-256 and the edge checks it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse

import numpy as np
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from sedna_lib.exceptions import BackendError, IntegrityError
from sedna_lib.lifelong_learning import LifelongLearning, Samples
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app
from sedna_lib.transport.kb_index import loads_index

from .conftest import make_origin_samples, with_config

pytestmark = pytest.mark.integration

ALGORITHMS = {"task_definition": {"method": "TaskDefinitionByOrigin"},
              "task_allocation": {"method": "TaskAllocationByNearestTask"}}


@pytest.fixture
def kb(tmp_path):
    store = KnowledgeBaseStore(str(tmp_path / "kb"), str(tmp_path / "kb" / "lifelong_kb.sqlite3"))
    with ThreadedServer(create_app(store)) as server:
        yield server, store
    store.close()


@pytest.fixture
def trained(kb, ll_context, origin_data):
    """A knowledge base of two origins published through the KB server; returns (server, store, ctx)."""
    server, store = kb
    ctx = with_config(ll_context, kb_server=server.url)
    d = origin_data
    LifelongLearning(LogisticRegression(max_iter=200), context=ctx, **ALGORITHMS).train(
        make_origin_samples(d["x_train"], d["y_train"], ["identity", "flip"], np.arange(200)))
    return server, store, ctx


def _edge(server, ctx, tmp_path):
    kb_index = f"{server.url}/knowledgebase/file/download?files=index.pkl&name=index.pkl"
    return LifelongLearning(LogisticRegression(), context=with_config(
        ctx, model_urls=(kb_index,), output_url=str(tmp_path / "none"),
        edge_output_url=str(tmp_path / "edge")), **ALGORITHMS)


def _published(store):
    with open(os.path.join(store.save_dir, "index.pkl"), "rb") as fh:
        return loads_index(fh.read())


def _file_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["files"][0]


def test_published_models_are_skops_files_named_and_bound_by_their_sha256(trained):
    import hashlib

    server, store, _ = trained

    groups = _published(store)["seen_task"]["task_groups"]

    for group in groups:
        path = os.path.join(store.save_dir, _file_of(group.model.model))
        data = open(path, "rb").read()
        assert data[:4] == b"PK\x03\x04"  # skops, not a pickle
        assert group.model.sha256 == hashlib.sha256(data).hexdigest()
        assert _file_of(group.model.model).startswith(f"seen_task-{group.model.sha256[:16]}-")
        assert group.samples_sha256 is not None


def test_a_kb_model_replaced_by_an_attacker_is_refused_by_the_edge(trained, origin_data, tmp_path):
    import joblib

    server, store, ctx = trained
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    victim = _published(store)["seen_task"]["task_groups"][0].model.model
    joblib.dump(Payload(), os.path.join(store.save_dir, _file_of(victim)))  # behind the server's back

    with pytest.raises(IntegrityError, match="does not match the knowledge-base index"):
        _edge(server, ctx, tmp_path).inference(Samples(origin_data["x_test"][:5]))
    assert not marker.exists()


def test_a_pickled_model_is_never_loaded_even_with_a_matching_hash(tmp_path):
    import joblib

    from sedna_lib.lifelong_learning.seen_task_learning import SeenTaskLearning
    from sedna_lib.base import Model

    path = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), path)

    with pytest.raises(BackendError, match="is a pickle, and this model came from elsewhere"):
        SeenTaskLearning(LogisticRegression()).backend_for(Model(0, "a", str(path)))


def test_uploading_over_a_published_model_is_refused_and_the_edge_keeps_working(
        trained, origin_data, tmp_path):
    server, store, ctx = trained
    victim = _file_of(_published(store)["seen_task"]["task_groups"][0].model.model)
    original = open(os.path.join(store.save_dir, victim), "rb").read()

    replaced = requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": (victim, b"evil")},
                             timeout=10)
    again = requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": (victim, original)},
                          timeout=10)
    pred, _, _ = _edge(server, ctx, tmp_path).inference(Samples(origin_data["x_test"][:20]))

    assert replaced.status_code == 409 and "never replaced" in replaced.json()["detail"]
    assert again.status_code == 200  # the same bytes again: idempotent
    assert open(os.path.join(store.save_dir, victim), "rb").read() == original
    assert len(pred) == 20


@pytest.mark.parametrize("name", ["index.pkl", "lifelong_kb.sqlite3", "lifelong_kb.sqlite3-journal"])
def test_the_servers_own_files_cannot_be_uploaded(trained, name):
    server, store, _ = trained

    response = requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": (name, b"x")}, timeout=10)

    assert response.status_code == 403
    assert store.query()  # the database still answers


@pytest.mark.parametrize("name", ["lifelong_kb.sqlite3", "index.source.json", ".index.source.json"])
def test_the_database_and_the_index_source_cannot_be_downloaded(trained, name):
    server, _, _ = trained

    response = requests.get(f"{server.url}/knowledgebase/file/download", params={"files": name}, timeout=10)

    assert response.status_code in (400, 404)
    assert b"SQLite" not in response.content and b"seen_task" not in response.content


def test_a_failed_update_leaves_nothing_behind_for_the_next_write(kb):
    server, store = kb
    store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON ll_tasks WHEN NEW.name = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")

    def index(*groups):
        return json.dumps({"seen_task": {"task_groups": [
            {"entry": g, "model": None, "tasks": [{"entry": t} for t in tasks]} for g, tasks in groups]},
            "unseen_task": {"task_groups": []}}).encode()

    failed = requests.post(f"{server.url}/knowledgebase/update",
                           files={"task": ("i", index(("a", ["a"]), ("b", ["boom"])))}, timeout=10)
    ok = requests.post(f"{server.url}/knowledgebase/update", files={"task": ("i", index(("c", ["c"])))},
                       timeout=10)

    assert failed.status_code == 400 and "disk says no" in failed.json()["detail"]
    assert ok.status_code == 200
    assert [g["name"] for g in store.query()] == ["c"]
    assert sqlite3.connect(store.db_path).execute("SELECT name FROM ll_tasks").fetchall() == [("c",)]


DEEP = b"[" * 100000 + b"]" * 100000
MALFORMED = {
    "a group entry that is an object": ("/update", {"files": {"task": (
        "i", b'{"seen_task":{"task_groups":[{"entry":{"x":1},"tasks":[]}]},"unseen_task":{}}')}}),
    "an index nested 100000 deep": ("/update", {"files": {"task": ("i", b'{"seen_task":' + DEEP + b"}")}}),
    "a status of 1e400": ("/update/status", {"data": b'{"status":1e400}'}),
    "a status of Infinity": ("/update/status", {"data": b'{"status":Infinity}'}),
    "a status that is text": ("/update/status", {"data": b'{"status":"deploy"}'}),
    "task names that are objects": ("/update/status", {"data": b'{"status":1,"tasks":[{"a":1}]}'}),
    "status tasks nested 100000 deep": ("/update/status", {"data": b'{"status":1,"tasks":' + DEEP + b"}"}),
    "a body that is a list": ("/update/status", {"data": b"[]"}),
    "a sha256 that is a number": ("/update", {"files": {"task": (
        "i", b'{"seen_task":{"task_groups":[{"entry":"a","model":{"sha256":5},"tasks":[]}]}}')}}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_kb_inputs_are_answered_4xx_and_counted(kb, case):
    server, _ = kb
    path, kwargs = MALFORMED[case]

    response = requests.post(f"{server.url}/knowledgebase{path}", timeout=30, **kwargs)
    health = requests.get(f"{server.url}/knowledgebase/health", timeout=10).json()

    assert response.status_code == 400, response.text
    assert health["failed"] == 0
