"""Shared fixtures: environment isolation, seeded data, and helpers for real servers."""

from __future__ import annotations

import http.server
import json
import queue
import signal
import threading

import numpy as np
import pytest

from sedna_lib.config import describe


def pytest_configure(config):
    """Give SIGINT back its default when the suite was started with it ignored.

    A shell without job control starts a background command (``make test &``, ``nohup``) with
    SIGINT ignored, and every process the tests start inherits that: the workers they stop with
    Ctrl-C's signal, or whose scripts wait on Python's KeyboardInterrupt, would never see it.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# The files that take one worker longest (measured on 2 cores), longest first. The workers take
# whole files (``--dist loadfile``) in the order they were collected: started first, they no longer
# land on a worker in the last minute and keep the others waiting for it.
_LONG_FILES = tuple(f"tests/{name}.py" for name in (
    "integration/test_control_plane_contract", "test_docs_browser", "test_install_wheel", "servers/test_fuzz",
    "integration/test_federated_simulation", "test_cli_messages", "backends/test_skops_import",
    "test_docs_snippets", "backends/test_tensorflow", "algorithms/test_aggregation_layers",
    "sedna_examples/test_atcii", "integration/test_joint_inference_detection_example",
    "test_operator_workers", "servers/test_ws_frames", "test_serving_entry_points", "llm/test_example",
    "servers/test_shutdown", "sedna_examples/test_sedna_examples", "test_cli",
))


def pytest_collection_modifyitems(session, config, items):
    """Put the long files first (each file's own order, and the others', is kept)."""
    rank = {name: k for k, name in enumerate(_LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def pytest_collection_finish(session):
    """Move what collection loaded (the frameworks the test modules import) out of the collector's way.

    A worker holding torch, TensorFlow and scikit-learn keeps half a million objects; every full
    collection (Python's own, or a library's ``gc.collect()``) walked them all, about 0.3 s each.
    Frozen, they are never collected (they live as long as the worker anyway).
    """
    import gc

    gc.collect()
    gc.freeze()


# Worker scripts that tests run as subprocesses are not test modules (nor doctest modules).
collect_ignore_glob = ["sedna_examples/scripts/*", "sedna_examples/ianvs_jobs/*", "integration/_*.py"]

# Every variable sedna_lib reads, plus the script-level ones Sedna examples read.
_SEDNA_VARIABLES = {alias for spec in describe() for alias in (spec.variable, *spec.aliases)} | {
    "epochs", "EPOCHS", "video_url", "VIDEO_URL", "HE_SAVED_URL", "RESULT_SAVED_URL", "UTD_NAME",
    "UTD_PARAMETERS", "cut_layer", "epsilon", "CUT_LAYER", "EPSILON", "STATUS_IP", "IMAGE_TOPIC_URL",
    "API_KEY", "input_shape", "class_names", "learning_rate", "LEARNING_RATE",
}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch, tmp_path_factory):
    """Drop every Sedna variable so that no test depends on the machine's environment.

    The default ``SEDNA_WORK_DIR`` (the user's state folder) points into the session's temporary
    folder, so tests (and the workers they start) never write into the real home folder.
    """
    for name in _SEDNA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "xdg_state"))
    yield


@pytest.fixture
def eventually():
    """``eventually(check, within=5.0)``: whether ``check()`` comes true within ``within`` seconds.

    For what a server settles just after a peer has seen its answer (a refused peer is forgotten once
    its close handshake ends).
    """
    import time

    def wait(check, within: float = 5.0) -> bool:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    return wait


@pytest.fixture
def rng():
    """A seeded random generator."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits, scaled to [0, 1], split 1400/397."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:1400], y[:1400], x[1400:], y[1400:]


# -- S3: a real S3 endpoint (moto's server) on 127.0.0.1 --------------------------------------

S3_ACCESS_KEY = "sedna-test-access"
S3_SECRET_KEY = "sedna-test-secret"


@pytest.fixture(scope="session")
def s3_endpoint():
    """Start moto's S3 server on 127.0.0.1 (free port) and yield its ``http://`` endpoint URL.

    Use the credentials ``S3_ACCESS_KEY``/``S3_SECRET_KEY`` from this module (moto accepts them
    while authentication is off, its default), and create buckets through minio.
    """
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_config(s3_endpoint):
    """A Config pointing at the test S3 endpoint with the test credentials."""
    from sedna_lib.config import Config

    return Config(s3_endpoint_url=s3_endpoint, access_key_id=S3_ACCESS_KEY, secret_access_key=S3_SECRET_KEY)


# -- LocalController: a real HTTP stub of POST /sedna/workers/{name}/info ---------------------

class _LCHandler(http.server.BaseHTTPRequestHandler):
    """Answers as the LocalController does: 200 ``{"Status":200,"Message":"OK"}``, 400 on a name mismatch."""

    def do_POST(self):  # noqa: N802
        parts = self.path.strip("/").split("/")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.server.received.put((self.path, self.headers.get("Content-Type"), body))
        if len(parts) != 4 or parts[:2] != ["sedna", "workers"] or parts[3] != "info":
            self._reply(404, {"Status": 404, "Message": "not found"})
        elif not isinstance(body, dict) or body.get("name") != parts[2]:
            name = body.get("name") if isinstance(body, dict) else None
            self._reply(400, {"Status": 400, "Message": f"worker name(name={parts[2]}) in the api is different "
                                                        f"from that(name={name}) in the message body"})
        else:
            self._reply(200, {"Status": 200, "Message": "OK"})

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class LCStub:
    """A running LocalController stub: ``url``, and ``received`` (a queue of (path, content type, body))."""

    def __init__(self, server):
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.received = server.received

    def next_body(self, timeout=5.0):
        """Wait for the next report and return its JSON body."""
        return self.received.get(timeout=timeout)[2]

    def drain(self):
        """Return every report body received so far, checking each is JSON posted to its worker's own path."""
        bodies = []
        while True:
            try:
                path, content_type, body = self.received.get_nowait()
            except queue.Empty:
                return bodies
            assert content_type == "application/json"
            assert path == f"/sedna/workers/{body['name']}/info"
            bodies.append(body)


@pytest.fixture
def lc_stub():
    """Start a LocalController stub on 127.0.0.1 (free port); yields an :class:`LCStub`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LCHandler)
    server.received = queue.Queue()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield LCStub(server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def reset_console_logging():
    """Start and end each test with the library's logging default (no console handler).

    Importing ``sedna`` (as many test modules do) installs Sedna's console handler; tests
    that need it install it themselves.
    """
    from sedna_lib.observability.logs import reset_logging

    reset_logging()
    yield
    reset_logging()


# -- The documentation site, built once per session --------------------------------------------

@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Build the documentation site with ``mkdocs build --strict`` into ``site/`` and yield its path.

    Yields ``(path, problems)``: ``problems`` holds mkdocs' warnings and errors when the build failed,
    so that the strict-build test can show them; tests that need the pages skip on ``None``. Under
    pytest-xdist the first worker that asks builds the site and the others wait for it (a file lock in
    the session's temporary folder, which every worker shares) and read its outcome.
    """
    import os
    import pathlib
    import subprocess
    import sys

    from filelock import FileLock

    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    root = pathlib.Path(__file__).resolve().parents[1]
    site = root / "site"
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this run's folder: one for all the workers
    outcome = shared / "site-build.json"
    with FileLock(str(shared / "site-build.lock")):
        if not outcome.exists():
            # No --quiet: mkdocs counts strict-mode warnings only when it logs them.
            done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                                  cwd=root, capture_output=True, text=True, timeout=240,
                                  env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
            problems = [line for line in done.stderr.splitlines() if not line.startswith("INFO")]
            outcome.write_text(json.dumps(None if done.returncode == 0 else "\n".join(problems)[-4000:]))
    yield site, json.loads(outcome.read_text())


@pytest.fixture(params=["compiled", "numpy"])
def sum_path(request):
    """Run an aggregation test with the compiled weighted sums (numba) and again with the numpy path."""
    from sedna_lib.algorithms.aggregation import _kernels

    if request.param == "numpy":
        with _kernels.disabled():
            yield "numpy"
        return
    if not _kernels.available():
        pytest.skip("numba is not installed (the `fast` extra)")
    yield "compiled"


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 nobody listens on (bound a moment, then freed): connections are refused."""
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return closed.getsockname()[1]


@pytest.fixture
def closed_port_url(closed_port):
    """``http://127.0.0.1:<closed_port>``: a server that refuses every connection."""
    return f"http://127.0.0.1:{closed_port}"


@pytest.fixture
def silent_lc():
    """The URL of a server that accepts connections (its backlog) and never answers."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
