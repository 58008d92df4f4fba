"""A server worker stopped with Ctrl-C (SIGINT) or by the kubelet (SIGTERM) exits within a bound,
even with a request busy in the model, another waiting for a large-request slot, and the CPU taken."""

import json
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests
from worker_process import WorkerProcess

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXIT_BOUND = 20.0  # seconds; a clean exit takes about one, the slot wait and the busy model take 300

SERVER = textwrap.dedent("""
    import time

    from sedna_lib.servers import ServerLimits
    from sedna_lib.servers.inference import InferenceServer


    class Busy:
        def predict(self, data):
            print("BUSY", flush=True)
            end = time.monotonic() + 300  # a model that computes for minutes
            while time.monotonic() < end:
                pass
            return [0]


    limits = ServerLimits(large_request_bytes=1024, max_large_requests=1, body_timeout=300)
    server = InferenceServer(Busy(), "svc", http_port=0, limits=limits)
    server.start(block=False)
    print("URL", server.url, flush=True)
    server.start()  # serve until stopped
""")


def _seconds_to_exit(worker, signum, who):
    """Send ``signum`` to the worker and return how long it took to exit (failing past EXIT_BOUND)."""
    started = time.monotonic()
    worker.proc.send_signal(signum)
    try:
        worker.proc.wait(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{who} did not exit within {EXIT_BOUND} s of {signum.name}:\n{worker.output[-3000:]}")
    return time.monotonic() - started


def _post_in_background(url, body):
    def post():
        try:
            requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=(5, 600))
        except requests.RequestException:
            pass  # the server went away: what the test does to it

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def cpu_hog():
    """Another process spinning on the CPU, as other jobs on a loaded node do."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    hog.kill()
    hog.wait(10)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_busy_server_worker_exits_within_a_bound(tmp_path, cpu_hog, signum):
    (tmp_path / "server.py").write_text(SERVER)
    worker = WorkerProcess(tmp_path, "server.py", {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                   "HOME": str(tmp_path)}, tmp_path)
    try:
        worker.wait_for_line("URL", timeout=120)
        url = [line.split()[1] for line in worker.output.splitlines() if line.startswith("URL ")]
        big = json.dumps({"data": list(range(1000))}).encode()  # large: over 1024 bytes
        _post_in_background(url[0] + "/svc/predict", big)  # holds the only large-request slot, busy
        worker.wait_for_line("BUSY", timeout=60)
        _post_in_background(url[0] + "/svc/predict", big)  # waits for the slot (up to 300 s)
        time.sleep(0.5)  # let the second request reach the gate; nothing is synchronised on this pause

        took = _seconds_to_exit(worker, signum, "the worker")
    finally:
        worker.stop()

    assert took < EXIT_BOUND
    if signum == signal.SIGINT:
        assert worker.proc.returncode != 0  # interrupted: the KeyboardInterrupt reaches the script
    else:  # the blocking start stops the server through stop() and returns: the script ends
        assert worker.proc.returncode == 0, worker.output  # SIGTERM's default would give -15


KB_SERVER = textwrap.dedent("""
    from sedna_lib.servers import ServerLimits
    from sedna_lib.servers.knowledge_base import KBServer

    limits = ServerLimits(large_request_bytes=1024, max_large_requests=1, body_timeout=300)
    server = KBServer("127.0.0.1", 0, save_dir="kb", limits=limits).run_in_thread()
    print("URL", server.url, flush=True)
    server.wait()
""")


def test_a_knowledge_base_worker_with_uploads_in_flight_exits_on_sigint_within_a_bound(tmp_path, cpu_hog):
    (tmp_path / "kb.py").write_text(KB_SERVER)
    worker = WorkerProcess(tmp_path, "kb.py", {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                               "HOME": str(tmp_path)}, tmp_path)
    socks = []
    try:
        worker.wait_for_line("URL", timeout=120)
        url = [line.split()[1] for line in worker.output.splitlines() if line.startswith("URL ")][0]
        port = int(url.rsplit(":", 1)[1])
        head = (b"POST /knowledgebase/file/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                b"boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n")
        for _ in range(2):  # the first holds the only large-request slot, stalled; the second waits for it
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
            time.sleep(0.5)  # let it reach the gate; nothing is synchronised on this pause

        took = _seconds_to_exit(worker, signal.SIGINT, "the knowledge base")
    finally:
        for sock in socks:
            sock.close()
        worker.stop()

    assert took < EXIT_BOUND
