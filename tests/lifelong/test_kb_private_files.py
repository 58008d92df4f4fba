"""The knowledge base's own files stay its own: uploads cannot take their names, and a stored index that
cannot be read is answered with a clear 409 while the server keeps serving.

A real KB server on 127.0.0.1 (port 0) with its files in tmp_path.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
import requests

from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app

pytestmark = pytest.mark.integration

INDEX = {"seen_task": {"task_groups": [{"entry": "a", "model": None, "tasks": [{"entry": "a"}],
                                        "samples": "/file/download?files=a.samples&name=a.samples"}]},
         "unseen_task": {"task_groups": []}}


def _serve(folder, **options):
    store = KnowledgeBaseStore(str(folder), str(folder / "kb.sqlite3"), **options)
    return store, ThreadedServer(create_app(store))


@pytest.fixture
def kb(tmp_path):
    store, server = _serve(tmp_path / "kb")
    with server:
        yield server, store
    store.close()


def _upload(server, name, data):
    return requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": (name, data)}, timeout=10)


def _status(server, status=1):
    return requests.post(f"{server.url}/knowledgebase/update/status", json={"status": status, "tasks": None},
                         timeout=10)


def _update(server, doc):
    return requests.post(f"{server.url}/knowledgebase/update",
                         files={"task": ("index.json", json.dumps(doc).encode())}, timeout=10)


def _failed(server):
    return requests.get(f"{server.url}/knowledgebase/health", timeout=10).json()["failed"]


@pytest.mark.parametrize("data", [b"[1,2", json.dumps({**INDEX, "seen_task": {"task_groups": []}}).encode()])
def test_an_upload_named_as_the_index_source_is_refused_and_the_index_stays_the_servers(kb, data):
    server, store = kb
    assert _update(server, INDEX).status_code == 200

    planted = _upload(server, "index.source.json", data)
    status = _status(server)
    published = json.loads(open(os.path.join(store.save_dir, "index.pkl"), "rb").read())

    assert planted.status_code == 403 and "own file" in planted.json()["detail"]
    assert not os.path.exists(os.path.join(store.save_dir, "index.source.json"))
    assert status.status_code == 200
    assert [g["entry"] for g in published["seen_task"]["task_groups"]] == ["a"]
    assert _failed(server) == 0


def test_a_planted_index_source_is_refused_before_any_index_exists(kb):
    server, store = kb

    planted = _upload(server, "index.source.json", json.dumps(INDEX).encode())
    status = _status(server)

    assert planted.status_code == 403
    assert status.status_code == 200
    assert not os.path.exists(os.path.join(store.save_dir, "index.pkl"))  # nothing was published
    assert _failed(server) == 0


def test_an_old_stores_visible_index_source_is_taken_over_once_at_start(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "index.source.json").write_text(json.dumps(INDEX))
    store, server = _serve(folder)

    store.db  # noqa: B018 - opening the store, as the server does at start
    with server:
        status = _status(server, 0)
    store.close()

    assert sorted(os.listdir(folder)) == [".index.source.json", "index.pkl", "kb.sqlite3"]
    assert status.status_code == 200
    assert json.loads((folder / "index.pkl").read_text())["seen_task"]["task_groups"][0]["entry"] == "a"


def test_an_old_stores_index_source_that_is_no_index_is_left_out_and_logged(tmp_path, caplog):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "index.source.json").write_bytes(b"[1,2")
    store, server = _serve(folder)

    with caplog.at_level(logging.WARNING, logger="sedna_lib.servers.knowledge_base"), server:
        status = _status(server)
        download = requests.get(f"{server.url}/knowledgebase/file/download",
                                params={"files": "index.source.json"}, timeout=10)
        failed = _failed(server)
    store.close()

    assert status.status_code == 200 and failed == 0
    assert download.status_code == 404
    assert not (folder / ".index.source.json").exists() and not (folder / "index.pkl").exists()
    assert "index.source.json" in caplog.text and "not a knowledge-base index" in caplog.text


@pytest.mark.parametrize("stored", [b"[1,2", b"{\"seen_task\": 5}", b"\xff\xfe"])
def test_a_stored_index_that_cannot_be_read_is_a_409_and_the_server_serves_on(kb, stored):
    server, store = kb
    assert _update(server, INDEX).status_code == 200
    assert _upload(server, "a.samples", b"1").status_code == 200
    with open(os.path.join(store.save_dir, ".index.source.json"), "wb") as fh:
        fh.write(stored)  # the disk changed behind the server's back

    status = _status(server)
    replaced = _upload(server, "a.samples", b"2")
    failed = _failed(server)
    republished = _update(server, INDEX)
    after = _status(server)

    assert status.status_code == 409 and "/update" in status.json()["detail"]
    assert replaced.status_code == 409 and "cannot be read" in replaced.json()["detail"]
    assert open(os.path.join(store.save_dir, "a.samples"), "rb").read() == b"1"
    assert failed == 0
    assert republished.status_code == 200 and after.status_code == 200


def test_an_upload_named_as_a_folder_of_the_knowledge_base_is_a_409(tmp_path):
    folder = tmp_path / "kb"
    store = KnowledgeBaseStore(str(folder), str(folder / "db" / "kb.sqlite3"))
    with ThreadedServer(create_app(store)) as server:
        store.db  # noqa: B018 - creates the database's folder
        response = _upload(server, "db", b"x")
        failed = _failed(server)
    store.close()

    assert response.status_code == 409 and "folder" in response.json()["detail"]
    assert failed == 0
    assert (folder / "db").is_dir()
