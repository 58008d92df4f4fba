"""The joint-inference edge under faults: a full disk, a cloud that comes back, a silent LocalController."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService, JointInference
from sedna_lib.transport.outbox import OffloadQueue


class Edge:
    def predict(self, data, **kwargs):
        return [0.5, 0.5]


class Cloud:
    def predict(self, data, **kwargs):
        return [2 * float(np.asarray(data).ravel()[0])]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _messages(caplog, name="sedna_lib.joint_inference", level=logging.WARNING):
    """The messages of ``name``'s logger (and of its children) at ``level`` or above."""
    return [r.getMessage() for r in caplog.records
            if (r.name == name or r.name.startswith(name + ".")) and r.levelno >= level]


# a queue folder where no entry fits: files may not grow past 256 bytes (RLIMIT_FSIZE), as on a full disk
_FULL_DISK = r"""
import json, logging, os, resource, signal, sys
import numpy as np
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import JointInference

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
lines = []
class Keep(logging.Handler):
    def emit(self, record):
        lines.append([record.levelname, record.getMessage()])
logging.getLogger("sedna_lib").addHandler(Keep())
class Edge:
    def predict(self, data, **kwargs):
        return [0.5, 0.5]
folder = sys.argv[1]
job = JointInference(Edge(), "CloudOnly", context=Context(Config(service_name="ji-svc")),
                     cloud="http://127.0.0.1:9/ji-svc", offload_dir=folder, report=False).start()
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (256, hard))
try:
    for i in range(20):
        job.inference(np.full(64, float(i)))
finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
stats = job.stats
job.close()
print(json.dumps({"stats": stats, "files": sorted(os.listdir(folder)), "lines": lines}))
"""


def test_a_full_disk_leaves_no_partial_entries_says_the_loss_once_and_counts_it(tmp_path):
    folder = tmp_path / "q"
    done = subprocess.run([sys.executable, "-c", _FULL_DISK, str(folder)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["stats"]["lost"] == 20 and out["stats"]["queued"] == 0
    assert not [name for name in out["files"] if name.endswith(".tmp")]  # the disk is given back
    lost = [text for level, text in out["lines"] if "could not be queued" in text]
    assert all(level == "ERROR" for level, text in out["lines"] if "could not be queued" in text)
    # the first loss at once with its cause, the rest counted (said when the job closes), not one per sample
    assert len(lost) == 2, lost
    assert "File too large" in lost[0] and str(folder) in lost[0]
    assert "19 " in lost[1] and "20 lost in all" in lost[1]


def test_partial_entries_left_by_an_interrupted_write_are_removed_when_the_queue_is_read(tmp_path):
    writer = OffloadQueue(str(tmp_path))
    kept = writer.put(np.arange(3.0))
    writer.bury(None, np.arange(2.0), reason="refused")
    stale = [tmp_path / ".00000000000000000001-aaaaaaaa.tmp",
             tmp_path / "dead-letter" / ".00000000000000000002-bbbbbbbb.tmp"]
    fresh = tmp_path / ".00000000000000000003-cccccccc.tmp"  # another owner may be writing it right now
    for path in stale + [fresh]:
        path.write_bytes(b"half an entry")
    hour_ago = time.time() - 3600
    for path in stale:
        os.utime(path, (hour_ago, hour_ago))
    queue = OffloadQueue(str(tmp_path))
    assert queue.ids() == [kept] and len(queue.dead_letters()) == 1
    assert not any(path.exists() for path in stale) and fresh.exists()
    assert queue.partial_removed == 2


def test_the_cloud_coming_back_is_said_once_by_the_drain_with_the_kept_count(tmp_path, caplog, eventually):
    caplog.set_level(logging.INFO, logger="sedna_lib")
    port = _free_port()
    job = JointInference(Edge(), "CloudOnly", context=Context(Config(service_name="ji-svc")),
                         cloud=f"http://127.0.0.1:{port}/ji-svc", offload_dir=str(tmp_path), report=False)
    job.client.max_retries = 0
    job.client.breaker.reset_timeout = 0.0  # each drain pass makes a trial call
    try:
        for i in range(5):  # the cloud is down: kept
            assert job.inference(np.array([float(i)])).cloud is None
        assert job.pending_offloads == 5
        with BigModelService(Cloud(), context=Context(Config(service_name="ji-svc"))).start(
                host="127.0.0.1", port=port, block=False):
            assert eventually(lambda: job.pending_offloads == 0, within=10.0)
            assert eventually(lambda: any("answers again" in m for m in _messages(caplog)), within=2.0)
            assert job.inference(np.array([9.0])).cloud == [18.0]  # a live call after the drain
    finally:
        job.close()
    warnings = _messages(caplog)
    back = [i for i, m in enumerate(warnings) if m.startswith("the cloud answers again")]
    assert len(back) == 1, warnings
    assert "5 kept hard examples" in warnings[back[0]]
    counted = [i for i, m in enumerate(warnings) if m.startswith("cloud unreachable: ")]
    assert all(i < back[0] for i in counted), warnings  # said before the cloud is back, never after
    assert job.stats["replayed"] == 5


@pytest.fixture
def silent_lc():
    """A LocalController that accepts connections and never answers; yields its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_close_is_bounded_when_the_local_controller_never_answers(tmp_path, silent_lc, caplog):
    context = Context(Config(service_name="ji-svc", lc_server=silent_lc, lc_period=60.0, worker_name="w"))
    job = JointInference(Edge(), "EdgeOnly", context=context, offload_dir=str(tmp_path))
    job.inference(np.array([1.0, 2.0]))  # a count to report
    started = time.monotonic()
    job.close()
    took = time.monotonic() - started
    assert took < 5.0, took  # within a pod's grace period, with room for the rest of the shutdown
    # said by the edge (the report still waits at the bound) or by the LC client (it gave up first)
    said = _messages(caplog, name="sedna_lib")
    missed = [m for m in said if silent_lc in m and ("last report" in m or "report to" in m)]
    assert missed, said


def test_a_forgotten_count_starts_afresh_instead_of_being_said_against_the_last_line():
    from sedna_lib.observability.logs import RateLimitedLog

    said, now = [], [0.0]

    class Keep(logging.Handler):
        def emit(self, record):
            said.append(record.getMessage())

    log = logging.getLogger("sedna_lib.test_edge_faults")
    log.addHandler(Keep())
    try:
        limiter = RateLimitedLog(log, interval=10.0, say_first=False, clock=lambda: now[0])
        message = "cloud unreachable: {count} samples answered by the edge in the last {window}"
        for _ in range(3):
            limiter.add("away", message)
        now[0] = 5.0
        limiter.forget("away")  # the outage is over: its count is said now
        now[0] = 100.0
        limiter.add("away", message)  # a new outage: counted from here, not from the line at 5 s
        assert said == ["cloud unreachable: 3 samples answered by the edge in the last 5 s"]
        now[0] = 104.0
        limiter.flush()
        assert said[-1] == "cloud unreachable: 1 samples answered by the edge in the last 4 s"
    finally:
        log.handlers.clear()
