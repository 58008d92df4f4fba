"""The knowledge-base REST wire, as original Sedna peers speak it: golden bodies, written from the contract.

Contract section 8.4: under ``/knowledgebase``, ``POST /file/upload`` (multipart ``file``, the file
name used as the stored name) and ``POST /update`` (multipart ``task``) and ``POST /update/status``
(JSON ``{"tasks", "status"}``) all answer a JSON *string*, a download path relative to the
knowledge base; ``GET /file/download?files=&name=`` answers the bytes as an attachment named
``name``. A client turns a relative reply into ``{KB_SERVER}/knowledgebase/{reply without the
leading '/'}``. Two pairings are checked: an original ``KBClient`` (its requests, as ``requests``
sends ``files={"file": fin}`` and ``json=...``) against the sedna_lib server, and sedna_lib's
``KBClient`` against a server held to the original's replies. Where sedna_lib differs on purpose
(``/query`` answers the task groups; the original answers ``null``), the test says so.
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest
import requests

from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app
from sedna_lib.transport.kb import KBClient
from sedna_lib.transport.kb_index import dumps_index, empty_index

pytestmark = pytest.mark.integration

# -- golden replies (JSON strings: the quotes are part of the body) -------------------------------------------
UPLOAD_REPLY = b'"/file/download?files=Summer.model&name=Summer.model"'
INDEX_REPLY = b'"/file/download?files=index.pkl&name=index.pkl"'
# -- golden request an original KBClient.update_task_status sends (requests' json=, default separators) --
STATUS_REQUEST = b'{"tasks": "Summer", "status": 0}'


@pytest.fixture
def kb(tmp_path):
    store = KnowledgeBaseStore(str(tmp_path / "kb"))
    with ThreadedServer(create_app(store)) as server:
        yield f"{server.url}/knowledgebase", store
    store.close()


def test_an_original_clients_upload_is_stored_under_its_file_name_and_answered_a_download_path(kb, tmp_path):
    base, _ = kb
    model = tmp_path / "Summer.model"
    model.write_bytes(b"\x00model bytes\xff")

    with open(model, "rb") as fin:  # KBClient.upload_file: files={"file": fin}
        reply = requests.post(f"{base}/file/upload", files={"file": fin}, timeout=10)
    fetched = requests.get(f"{base}/file/download", params={"files": "Summer.model", "name": "Summer.model"},
                           timeout=10)

    assert (reply.status_code, reply.content) == (200, UPLOAD_REPLY)
    assert reply.headers["content-type"] == "application/json"
    assert fetched.status_code == 200 and fetched.content == b"\x00model bytes\xff"
    assert fetched.headers["content-disposition"] == 'attachment; filename="Summer.model"'


def test_an_index_update_and_a_status_change_are_answered_the_index_path(kb, tmp_path):
    base, _ = kb
    index = empty_index()
    path = tmp_path / "tmpk3x9q1"  # the original writes its index to a mkstemp() file
    path.write_bytes(dumps_index(index))

    with open(path, "rb") as fin:  # KBClient.update_db: files={"task": fin}
        update = requests.post(f"{base}/update", files={"task": fin}, timeout=10)
    status = requests.post(f"{base}/update/status", data=STATUS_REQUEST,
                           headers={"Content-Type": "application/json"}, timeout=10)

    assert (update.status_code, update.content) == (200, INDEX_REPLY)
    assert (status.status_code, status.content) == (200, INDEX_REPLY)


def test_query_answers_the_task_groups_where_the_original_answered_null(kb):
    base, _ = kb

    reply = requests.post(f"{base}/query", timeout=10)

    assert reply.status_code == 200 and reply.json() == {"task_groups": []}  # the original: 200 null


class _OriginalReplies(http.server.BaseHTTPRequestHandler):
    """A KB held to the original's replies: relative download paths as JSON strings; it records requests."""

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append((self.path, self.headers.get("Content-Type", ""), body))
        if self.path.endswith("/file/upload"):
            name = body.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
            reply = json.dumps(f"/file/download?files={name}&name={name}")
        else:
            reply = json.dumps("/file/download?files=index.pkl&name=index.pkl")
        data = reply.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        """Keep test output quiet."""


@pytest.fixture
def original_kb():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OriginalReplies)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_sedna_lib_client_speaks_the_original_requests_and_resolves_relative_replies(original_kb, tmp_path):
    url = f"http://127.0.0.1:{original_kb.server_address[1]}"
    model = tmp_path / "Summer.model"
    model.write_bytes(b"weights")
    index = tmp_path / "index.pkl"
    index.write_bytes(dumps_index(empty_index()))

    with KBClient(url) as client:
        uploaded = client.upload_file(str(model), "seen_task-Summer.model")
        updated = client.update_db(str(index))
        status = client.update_task_status("Summer", 0)

    (up_path, up_type, up_body), (db_path, db_type, db_body), (st_path, st_type, st_body) = original_kb.seen
    assert up_path == "/knowledgebase/file/upload" and up_type.startswith("multipart/form-data")
    assert b'Content-Disposition: form-data; name="file"; filename="seen_task-Summer.model"' in up_body
    assert db_path == "/knowledgebase/update" and b'name="task"; filename="index.pkl"' in db_body
    assert (st_path, st_type, st_body) == ("/knowledgebase/update/status", "application/json", STATUS_REQUEST)
    assert uploaded == (f"{url}/knowledgebase/file/download?files=seen_task-Summer.model"
                        "&name=seen_task-Summer.model")
    assert updated == status == f"{url}/knowledgebase/file/download?files=index.pkl&name=index.pkl"
