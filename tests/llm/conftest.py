"""Language models trained on the spot (a weak edge, a stronger cloud) and the cloud served on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService
from sedna_lib.llm import NGramLanguageModel
from sedna_lib.llm.qa import fact_sentences, module_qa, split_knowledge
from sedna_lib.transport.openai_wire import sse_event


@pytest.fixture(scope="session")
def qa_items():
    """Which standard module defines a function: 600-odd questions with known answers."""
    return module_qa()


@pytest.fixture(scope="session")
def edge_lm(qa_items):
    """The edge: knows 55 % of the facts, a tenth of them wrongly."""
    edge, _ = split_knowledge(qa_items)
    return NGramLanguageModel(order=3, name="edge-ngram").fit(fact_sentences(edge, wrong=0.1))


@pytest.fixture(scope="session")
def cloud_lm(qa_items):
    """The cloud: knows 90 % of the facts."""
    _, cloud = split_knowledge(qa_items)
    return NGramLanguageModel(order=3, name="cloud-ngram").fit(fact_sentences(cloud))


@pytest.fixture(scope="session")
def cloud_url(cloud_lm):
    """The cloud LM served by a BigModelService on a free local port; yields its OpenAI API root."""
    service = BigModelService(estimator=cloud_lm, context=Context(Config()))
    service.start(host="127.0.0.1", port=0, block=False)
    try:
        yield service.url + "/v1"
    finally:
        service.close()


@pytest.fixture
def serve():
    """Serve an estimator with the given config for one test; yields a function returning the base URL."""
    services = []

    def start(estimator, **config):
        service = BigModelService(estimator=estimator, context=Context(Config(**config)))
        services.append(service.start(host="127.0.0.1", port=0, block=False))
        return service.url

    try:
        yield start
    finally:
        for service in services:
            service.close()


class _CannedHandler(http.server.BaseHTTPRequestHandler):
    """Answer every POST with the server's canned reply: 200, its Content-Type and body, as it is."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type, data, hold = self.server.reply
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if not hold and content_type == "application/json":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()  # HTTP/1.0 without a length: the body ends when the connection closes
        self.wfile.write(data)
        self.wfile.flush()
        if hold:  # headers and the first events sent, then silence until the test ends
            self.server.release.wait(30)

    def log_message(self, *args):
        pass


@pytest.fixture
def canned_cloud():
    """An OpenAI-compatible cloud on 127.0.0.1 that answers 200 with whatever body it is given.

    Yields a function ``start(body, *, stream=False, hold=False) -> API root``: ``body`` is a
    JSON value (sent as ``application/json``), or with ``stream=True`` a list of events (chunks
    and ``'[DONE]'``) sent as ``text/event-stream``; ``hold=True`` keeps the connection open
    after the body without sending more.
    """
    servers = []

    def start(body, *, stream=False, hold=False):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CannedHandler)
        server.daemon_threads = True
        if stream:
            data = b"".join(sse_event(event) for event in body)
            server.reply = ("text/event-stream", data, hold)
        else:
            server.reply = ("application/json", json.dumps(body).encode(), hold)
        server.release = threading.Event()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    try:
        yield start
    finally:
        for server in servers:
            server.release.set()
            server.shutdown()
            server.server_close()
