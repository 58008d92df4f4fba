"""The knowledge-base server on 127.0.0.1 with KBClient: files, index, status, safety limits, and a full job."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from sedna_lib.exceptions import RemoteError, TransportError
from sedna_lib.lifelong_learning import LifelongLearning, Samples
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app, parse_bind
from sedna_lib.transport.kb import KBClient
from sedna_lib.transport.kb_index import dumps_index, empty_index

from .conftest import make_origin_samples, with_config

pytestmark = pytest.mark.integration

TOKEN = "s3cret"


@pytest.fixture
def kb(tmp_path):
    store = KnowledgeBaseStore(str(tmp_path / "kb"), str(tmp_path / "kb.sqlite3"))
    with ThreadedServer(create_app(store, token=TOKEN, max_bytes=1024 * 1024)) as server:
        yield server, store
    store.close()


@pytest.fixture
def client(kb):
    server, _ = kb
    with KBClient(server.url, token=TOKEN, timeout=10) as c:
        yield c


def test_upload_then_download_returns_the_same_bytes(client, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00weights\x01")

    url = client.upload_file(str(src))
    client.download(url, str(tmp_path / "back.bin"))

    assert url == f"{client.kbserver}/file/download?files=model.bin&name=model.bin"
    assert (tmp_path / "back.bin").read_bytes() == b"\x00weights\x01"


def test_update_publishes_the_index_and_status_drops_a_group(client, kb, tmp_path):
    from sedna_lib.base import Model, TaskGroup, Task

    index = empty_index()
    for i, name in enumerate(["a", "b"]):
        group = TaskGroup(name, [Task(name, None, meta_attr=name)])
        group.model = Model(i, name, f"http://kb/{name}.model")
        index["seen_task"]["task_groups"].append(group)
    path = tmp_path / "index.pkl"
    path.write_bytes(dumps_index(index))

    url = client.update_db(str(path))
    status_url = client.update_task_status("a", 0)
    published = json.loads(client.read_bytes(status_url))

    assert url.endswith("files=index.pkl&name=index.pkl") and status_url == url
    groups = published["seen_task"]["task_groups"]
    assert [g["deployed"] for g in groups] == [False, True]
    assert groups[0]["model"]["url"] == "http://kb/b.model"
    assert {g["name"]: g["deploy"] for g in client.query()} == {"a": False, "b": True}


@pytest.mark.parametrize("name", ["../escape.txt", "..", "a/b.txt", ".hidden"])
def test_upload_with_a_path_in_the_name_is_refused(kb, name, tmp_path):
    server, store = kb

    response = requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": (name, b"x")},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    assert response.status_code == 400
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize("files", ["../kb.sqlite3", "%2e%2e/kb.sqlite3", "/etc/passwd"])
def test_download_outside_the_folder_is_refused(kb, files):
    server, _ = kb

    response = requests.get(f"{server.url}/knowledgebase/file/download?files={files}",
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    assert response.status_code == 400
    assert "refused" in response.json()["detail"]


def test_missing_file_is_a_404_that_reveals_no_server_path(client, kb):
    server, store = kb

    with pytest.raises(RemoteError, match="404") as info:
        client.read_bytes("/file/download?files=absent.bin&name=absent.bin")

    assert store.save_dir not in str(info.value)


def test_oversized_upload_is_refused_and_the_server_keeps_serving(client, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"0" * (1024 * 1024 + 1))
    small = tmp_path / "small.bin"
    small.write_bytes(b"1")

    with pytest.raises(RemoteError, match="413"):
        client.upload_file(str(big))
    assert client.upload_file(str(small)).endswith("files=small.bin&name=small.bin")


def test_store_failure_is_a_counted_500_and_the_server_keeps_serving(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_bytes(b"")
    store = KnowledgeBaseStore(str(blocker), str(tmp_path / "kb.sqlite3"))
    src = tmp_path / "model.bin"
    src.write_bytes(b"w")

    with ThreadedServer(create_app(store, max_bytes=1024)) as server, KBClient(server.url, timeout=10) as client:
        with pytest.raises(RemoteError, match="500") as info:
            client.upload_file(str(src))
        health = requests.get(f"{server.url}/knowledgebase/health", timeout=10).json()
    store.close()

    assert str(blocker) not in str(info.value)
    assert health["failed"] == 1


def test_pickled_index_is_refused(client, tmp_path):
    path = tmp_path / "index.pkl"
    path.write_bytes(pickle.dumps({"seen_task": {}}))

    assert client.update_db(str(path)) is None  # logged, as Sedna's client
    assert isinstance(client.last_error_, RemoteError) and client.last_error_.status_code == 415


def test_requests_without_the_token_are_refused(kb):
    server, _ = kb

    with KBClient(server.url, token="wrong") as bad, pytest.raises(RemoteError, match="401"):
        bad.query()


def test_unreachable_server_raises_transport_error(tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(b"1")

    with KBClient("http://127.0.0.1:9", connect_timeout=0.5) as c, pytest.raises(TransportError):
        c.upload_file(str(src))


def test_bind_address_accepts_urls_names_and_ipv6():
    assert parse_bind("0.0.0.0:9020") == ("0.0.0.0", 9020)
    assert parse_bind("http://kb.local:8000") == ("kb.local", 8000)
    assert parse_bind("[::1]:9021") == ("::1", 9021)


def test_a_server_built_from_a_config_serves_it_whatever_the_environment_says(tmp_path, monkeypatch):
    from sedna_lib.config import Config
    from sedna_lib.servers.knowledge_base import KBServer

    monkeypatch.setenv("KnowledgeBaseServer", "10.9.9.9:1")
    monkeypatch.setenv("KnowledgeBasePath", str(tmp_path / "from-env"))
    monkeypatch.setenv("SEDNA_AUTH_TOKEN", "from-env")
    cfg = Config(knowledge_base_server="127.0.0.1:0", knowledge_base_path=str(tmp_path / "kb"),
                 kb_url="sqlite:///kb.sqlite3", auth_token="from-config")
    src = tmp_path / "model.bin"
    src.write_bytes(b"weights")

    server = KBServer.from_config(cfg).run_in_thread()
    try:
        with KBClient(server.url, token="from-config", timeout=10) as trusted:
            trusted.upload_file(str(src))
        with KBClient(server.url, token="from-env") as env_token, pytest.raises(RemoteError, match="401"):
            env_token.query()
    finally:
        server.stop()

    assert (tmp_path / "kb" / "model.bin").read_bytes() == b"weights"
    assert not (tmp_path / "from-env").exists()


def test_job_trains_through_the_kb_and_the_edge_infers_from_kb_urls(kb, ll_context, origin_data, tmp_path):
    server, store = kb
    ctx = with_config(ll_context, kb_server=server.url, auth_token=TOKEN)
    d = origin_data
    job = LifelongLearning(LogisticRegression(max_iter=200), task_definition={"method": "TaskDefinitionByOrigin"},
                           task_allocation={"method": "TaskAllocationByNearestTask"}, context=ctx)
    job.train(make_origin_samples(d["x_train"], d["y_train"], ["identity", "flip"], np.arange(300)))
    kb_index = f"{server.url}/knowledgebase/file/download?files=index.pkl&name=index.pkl"
    edge = LifelongLearning(LogisticRegression(), task_definition={"method": "TaskDefinitionByOrigin"},
                            task_allocation={"method": "TaskAllocationByNearestTask"},
                            context=with_config(ctx, model_urls=(kb_index,), output_url=str(tmp_path / "none")))

    pred, is_unseen, _ = edge.inference(Samples(d["x_test"][:100]))

    assert all(u.startswith(server.url) for u in (g["model_url"] for g in KBClient(server.url, token=TOKEN).query()))
    known = ~np.asarray(is_unseen)
    assert np.mean(pred[known] == d["y_test"][:100][known]) > 0.85
    assert os.path.isdir(os.path.join(ctx.config.edge_output_url, "versions"))


@pytest.mark.parametrize("result", [
    b'{"__list__": [1, 2], "shape": [3]}',  # a shape its values do not fill
    b'{"__frame__": {"columns": ["a", "b"], "data": {"a": [1], "b": [1, 2]}}}',  # ragged columns
    b"[" * 600 + b"]" * 600,  # deeper than the interpreter decodes, shallower than the JSON parser's limit
])
def test_an_index_whose_values_do_not_decode_is_a_400_not_a_500(kb, result):
    server, _ = kb
    body = b'{"seen_task": {"task_groups": [{"entry": "a", "tasks": [], "model": {"result": ' + result + b"}}]}}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    reply = requests.post(f"{server.url}/knowledgebase/update", files={"task": ("index.pkl", body)},
                          headers=headers, timeout=10)
    health = requests.get(f"{server.url}/knowledgebase/health", headers=headers, timeout=10).json()
    assert reply.status_code == 400 and "malformed knowledge-base index" in reply.json()["detail"]
    assert health["failed"] == 0


def test_a_name_ending_in_a_newline_is_refused():
    from sedna_lib.servers._app import HTTPError
    from sedna_lib.servers.knowledge_base import safe_name

    with pytest.raises(HTTPError, match="refused"):  # the pattern's '$' matched before a final newline
        safe_name("evil\n")
    assert safe_name("model.v2_final-1.bin") == "model.v2_final-1.bin"


def test_a_status_update_that_changes_nothing_is_answered_as_sedna_does_and_logged(kb, tmp_path, caplog):
    # Sedna's server answers an unknown group or an update before any index like any other (its peers rely
    # on it): same reply, and the log says what did not happen; a status other than 0 or 1 is a 400
    from sedna_lib.base import Model, Task, TaskGroup

    server, _ = kb
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{server.url}/knowledgebase/update/status"
    with caplog.at_level("WARNING"):
        before = requests.post(url, json={"status": 0, "tasks": "a"}, headers=headers, timeout=10)
        index = empty_index()
        group = TaskGroup("a", [Task("a", None, meta_attr="a")])
        group.model = Model(0, "a", "http://kb/a.model")
        index["seen_task"]["task_groups"].append(group)
        reply = requests.post(f"{server.url}/knowledgebase/update", headers=headers, timeout=10,
                              files={"task": ("index.pkl", dumps_index(index))})
        unknown = requests.post(url, json={"status": 0, "tasks": "a,nope"}, headers=headers, timeout=10)
    assert before.status_code == reply.status_code == unknown.status_code == 200
    said = [r.getMessage() for r in caplog.records]
    assert any("before any index" in m for m in said) and any("'nope'" in m for m in said)
    for status in (-1, 7):
        bad = requests.post(url, json={"status": status, "tasks": "a"}, headers=headers, timeout=10)
        assert bad.status_code == 400 and "1 (deploys) or 0 (drops)" in bad.json()["detail"]


def _open_files(path) -> int:
    """How many of this process's file descriptors are open on ``path`` (Linux's /proc)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:
            continue  # closed meanwhile
    return count


def test_a_knowledge_base_in_a_with_block_serves_and_closes_its_database(tmp_path):
    from sedna_lib.servers.knowledge_base import KBServer

    database = tmp_path / "kb" / "kb.sqlite3"
    src = tmp_path / "model.bin"
    src.write_bytes(b"weights")
    kb = KBServer("127.0.0.1", 0, save_dir=str(tmp_path / "kb"), db_url="sqlite:///kb.sqlite3")
    with kb as served:
        assert served is kb and kb.is_running
        with KBClient(kb.url, timeout=10) as client:
            client.upload_file(str(src))
            assert client.query() == []
        assert _open_files(database) == 1

    assert not kb.is_running and _open_files(database) == 0
    kb.close()  # idempotent
    with pytest.raises(TransportError, match="not started"):
        kb.url
    with kb:  # serves again, on the same database
        with KBClient(kb.url, timeout=10) as client:
            assert client.query() == []
    assert _open_files(database) == 0


def test_stopping_what_run_in_thread_returned_closes_the_database(tmp_path):
    from sedna_lib.servers.knowledge_base import KBServer

    database = tmp_path / "kb" / "kb.sqlite3"
    kb = KBServer("127.0.0.1", 0, save_dir=str(tmp_path / "kb"), db_url="sqlite:///kb.sqlite3")
    server = kb.run_in_thread()
    with KBClient(server.url, timeout=10) as client:
        assert client.query() == []
    assert _open_files(database) == 1
    server.stop()
    assert _open_files(database) == 0


def test_a_blocking_start_stopped_from_another_thread_says_stopped_once_the_port_is_free(tmp_path, caplog):
    import logging
    import threading

    from sedna_lib.servers.knowledge_base import KBServer

    database = tmp_path / "kb" / "kb.sqlite3"
    kb = KBServer("127.0.0.1", 0, save_dir=str(tmp_path / "kb"), db_url="sqlite:///kb.sqlite3")
    serving = threading.Thread(target=kb.start)  # serves until stopped
    with caplog.at_level(logging.INFO, "sedna_lib.servers.knowledge_base"):
        serving.start()
        while not kb.is_running:
            assert serving.is_alive(), "the blocking start ended before serving"
            serving.join(0.01)
        url = kb.url
        kb.stop()
        serving.join(30)

    assert not serving.is_alive() and not kb.is_running
    said = [r.getMessage() for r in caplog.records if " stopped after " in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"knowledge base on {url} stopped after ")
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)
    assert _open_files(database) == 0


def test_a_knowledge_base_that_cannot_bind_says_the_address_is_in_use(tmp_path):
    import socket

    from sedna_lib.servers.knowledge_base import KBServer

    database = tmp_path / "kb" / "kb.sqlite3"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        kb = KBServer("127.0.0.1", taken.getsockname()[1], save_dir=str(tmp_path / "kb"),
                      db_url="sqlite:///kb.sqlite3")
        with pytest.raises(TransportError, match="address already in use"):
            kb.start(block=False)
    assert not kb.is_running and _open_files(database) == 0


def test_an_uploaded_form_is_closed_when_its_request_ends(client, tmp_path):
    import gc
    import sys
    import warnings

    src = tmp_path / "big.bin"
    src.write_bytes(b"\x01" * (1024 * 1024 - 4096))  # past starlette's 1 MB spool once framed: a file on disk
    leaked = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: leaked.append(repr(unraisable.exc_value))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)  # an unclosed file's __del__ then raises
            for _ in range(3):
                client.upload_file(str(src))
            index = tmp_path / "index.pkl"
            index.write_bytes(dumps_index(empty_index()))
            client.update_db(str(index))
            gc.collect()
    finally:
        sys.unraisablehook = hook
    assert not [text for text in leaked if "SpooledTemporaryFile" in text]  # each form was left to the GC
