"""Offload reliability: a refused, failing or garbled answer never cuts the edge off a healthy cloud.

Failures are classified: the cloud away (refused, timeout) -> breaker and queue, sent in order
later; a 4xx -> this sample is bad, dead-lettered, never retried; a 5xx or a malformed reply ->
this sample again on its own backoff, a bounded number of times, never in the way of the rest;
401/403 -> the deployment is wrong, said loudly, nothing queued.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sedna_lib.transport.outbox import OffloadQueue
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import SednaWarning
from sedna_lib.joint_inference import BigModelService, JointInference
from sedna_lib.servers._threaded import ThreadedServer

pytestmark = pytest.mark.integration

POISON = -1.0  # first value of a sample the cloud's model cannot take


class Edge:
    def predict(self, data, **kwargs):
        return [0.5, 0.5]


class Cloud:
    """Answers ``[2 * first value]``; ``fault`` decides what it does with a poison sample."""

    def __init__(self, fault: str = "shape") -> None:
        self.fault = fault
        self.seen: list[float] = []
        self.lock = threading.Lock()

    def predict(self, data, **kwargs):
        first = float(np.asarray(data).ravel()[0])
        with self.lock:
            self.seen.append(first)
        if first == POISON:
            if self.fault == "shape":
                raise ValueError("X has 1 features, but this model is expecting 64 features as input")
            raise RuntimeError("the GPU ran out of memory")  # a real server fault: 500
        return [2 * first]


def ctx(**fields) -> Context:
    return Context(Config(service_name="ji-svc", **fields))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(model, port: int = 0, **config) -> BigModelService:
    return BigModelService(model, context=ctx(**config)).start(host="127.0.0.1", port=port, block=False)


def edge_job(url: str, tmp_path, **options) -> JointInference:
    return JointInference(Edge(), "CloudOnly", context=ctx(), cloud=url + "/ji-svc",
                          offload_dir=str(tmp_path), report=False, **options)


def test_a_model_rejecting_the_input_is_a_422_with_its_reason_not_a_500():
    import requests

    with serve(Cloud("shape")) as service:
        bad = requests.post(service.url + "/ji-svc/predict", json={"data": [POISON]}, timeout=5)
        good = requests.post(service.url + "/ji-svc/predict", json={"data": [1.0]}, timeout=5)
    assert bad.status_code == 422 and "expecting 64 features" in bad.json()["detail"]
    assert good.status_code == 200 and good.json() == {"result": [2.0]}


def test_a_real_server_fault_stays_a_500():
    import requests

    with serve(Cloud("fault")) as service:
        reply = requests.post(service.url + "/ji-svc/predict", json={"data": [POISON]}, timeout=5)
    assert reply.status_code == 500 and "ran out of memory" in reply.json()["detail"]


def test_a_poison_sample_is_dead_lettered_and_every_good_one_reaches_the_cloud(tmp_path, caplog):
    cloud, letters = Cloud("shape"), []
    with serve(cloud) as service:
        ji = edge_job(service.url, tmp_path, on_dead_letter=letters.append)
        with ji, caplog.at_level(logging.WARNING, "sedna_lib"):
            first = ji.inference(np.array([POISON]))
            good = [ji.inference(np.array([float(i)])) for i in range(1, 41)]

    said = [r.getMessage() for r in caplog.records if "refused this sample" in r.getMessage()]
    assert len(said) == 1 and said[0].count("refused this sample") == 1  # said once, on one channel

    assert first.cloud is None and first.result == [0.5, 0.5]  # answered by the edge
    assert [r.cloud for r in good] == [[2.0 * i] for i in range(1, 41)]  # all at once, none queued
    assert ji.stats["cloud_ok"] == 40 and ji.pending_offloads == 0
    assert ji.stats["dead_lettered"] == 1 and cloud.seen.count(POISON) == 1  # never retried
    (letter,) = letters
    assert letter.status_code == 422 and "expecting 64 features" in letter.reason
    assert [d.data.tolist() for d in ji.dead_letters] == [[POISON]]


def test_a_queued_poison_sample_does_not_hold_up_the_ones_behind_it(tmp_path, caplog):
    port = free_port()
    ji = edge_job(f"http://127.0.0.1:{port}", tmp_path)
    ji.client.max_retries = 0
    with ji:
        for value in [POISON] + [float(i) for i in range(1, 11)]:  # the cloud is away: all queued, in order
            assert ji.inference(np.array([value])).cloud is None
        assert ji.pending_offloads == 11
    cloud, delivered, done = Cloud("shape"), [], threading.Event()

    def on_offloaded(example):
        delivered.append(float(example.data[0]))
        if len(delivered) == 10:
            done.set()

    with serve(cloud, port):
        later = edge_job(f"http://127.0.0.1:{port}", tmp_path, on_offloaded=on_offloaded)
        with caplog.at_level(logging.WARNING, "sedna_lib"):
            later.start()
            assert done.wait(15)
        later.close()

    messages = [r.getMessage() for r in caplog.records]  # the drain's and the start's
    assert any("11 hard examples already wait in" in m for m in messages)
    assert any("refused this sample" in m and "422" in m for m in messages)
    assert delivered == [float(i) for i in range(1, 11)]
    assert later.pending_offloads == 0 and [d.data.tolist() for d in later.dead_letters] == [[POISON]]


def test_a_sample_the_cloud_fails_on_is_retried_on_its_own_backoff_then_dead_lettered(tmp_path):
    cloud, letters, buried = Cloud("fault"), [], threading.Event()

    def on_dead_letter(letter):
        letters.append(letter)
        buried.set()

    with serve(cloud) as service:
        ji = edge_job(service.url, tmp_path, on_dead_letter=on_dead_letter, max_attempts=3,
                      retry_backoff=0.05)
        with ji:
            assert ji.inference(np.array([POISON])).cloud is None
            good = [ji.inference(np.array([float(i)])).cloud for i in range(1, 31)]
            assert buried.wait(15)

    assert good == [[2.0 * i] for i in range(1, 31)]  # the 500 did not open the breaker for the others
    assert cloud.seen.count(POISON) == 3 and ji.stats["retried"] == 1
    assert letters[0].status_code == 500 and "3 times" in letters[0].reason and ji.pending_offloads == 0


class Garbled:
    """A cloud whose replies are malformed in one of several ways."""

    REPLIES = {
        "not-json": (200, "application/json", b"<html>gateway</html>"),
        "json-list": (200, "application/json", b"[1, 2]"),
        "no-result": (200, "application/json", b'{"answer": 1}'),
        "error-list": (400, "application/json", b"[1, 2]"),
        "bad-binary": (200, "application/x-sedna-arrays", b"SDNA\x00\x00\x00\xff{garbage"),
        "deep-json": (200, "application/json", b"[" * 100_000),  # past the parser's recursion limit
        "deep-error": (400, "application/json", b"[" * 100_000),
    }

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def app(self):
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route

        async def predict(request):
            body = json.loads(await request.body())
            if self.kind is None:  # mended: a good answer
                answer = json.dumps({"result": [2.0 * body["data"][0]]})
                return Response(answer, media_type="application/json")
            status, ctype, reply = self.REPLIES[self.kind]
            return Response(reply, status_code=status, media_type=ctype)

        async def info(request):
            return Response(b'{"infos": []}', media_type="application/json")

        return Starlette(routes=[Route("/ji-svc/predict", predict, methods=["POST"]),
                                 Route("/ji-svc", info, methods=["GET"])])


@pytest.mark.parametrize("kind", sorted(Garbled.REPLIES))
def test_a_malformed_cloud_reply_answers_from_the_edge_and_never_raises(tmp_path, kind, caplog):
    refused = kind in ("error-list", "deep-error")  # a 4xx: the sample is dead-lettered, and that is said
    with ThreadedServer(Garbled(kind).app()) as server:
        ji = edge_job(server.url, tmp_path)
        with ji, caplog.at_level(logging.WARNING, "sedna_lib"):
            results = [ji.inference(np.array([1.0, 2.0])),
                       ji.inference(np.array([3.0, 4.0]), post_process=lambda r: r)]

    said = [r for r in caplog.records if "refused this sample" in r.getMessage()]
    assert len(said) == (1 if refused else 0)

    assert all(r.is_hard and r.cloud is None and r.result == [0.5, 0.5] for r in results)
    kept = ji.pending_offloads + ji.stats["dead_lettered"]
    assert kept == 2  # nothing lost: queued for a retry, or dead-lettered when the cloud refused it


def test_samples_kept_after_an_unreadable_reply_reach_the_cloud_once_it_is_mended(tmp_path):
    # a reply nested past the parser's recursion limit raised RecursionError out of inference() and,
    # met again by the queue's drain thread, ended that thread: the kept samples then waited for ever
    cloud, delivered, done = Garbled("deep-json"), [], threading.Event()

    def on_offloaded(example):
        delivered.append(example.result)
        if len(delivered) == 3:
            done.set()

    with ThreadedServer(cloud.app()) as server:
        ji = edge_job(server.url, tmp_path, on_offloaded=on_offloaded, retry_backoff=0.05)
        with ji:
            answers = [ji.inference(np.array([float(i)])) for i in range(1, 4)]
            time.sleep(0.3)  # the drain meets the same reply meanwhile
            cloud.kind = None
            assert done.wait(15), ji.stats
    assert all(a.cloud is None and a.result == [0.5, 0.5] for a in answers)
    assert sorted(r[0] for r in delivered) == [2.0, 4.0, 6.0] and ji.pending_offloads == 0


def test_a_sample_that_cannot_be_encoded_never_opens_the_breaker(tmp_path, caplog):
    # bytes inside an array have no JSON form: the sample's fault, not the cloud's; it used to count as a
    # cloud failure, open the breaker and send every good sample behind it to the queue
    with serve(Cloud()) as service:
        ji = edge_job(service.url, tmp_path)
        with ji, caplog.at_level("ERROR"):
            bad = ji.inference(np.array([b"raw bytes"]))
            good = [ji.inference(np.array([float(i)])).cloud for i in range(1, 4)]
            state = ji.client.breaker.state
    assert bad.cloud is None and bad.result == [0.5, 0.5]
    assert good == [[2.0], [4.0], [6.0]] and state == "closed" and ji.pending_offloads == 0
    assert any("cannot be sent" in r.getMessage() for r in caplog.records)


def test_a_wrong_token_is_said_loudly_and_fills_no_queue(tmp_path, caplog):
    with serve(Cloud(), auth_token="right") as service:
        ji = edge_job(service.url, tmp_path)
        with ji, caplog.at_level(logging.WARNING, "sedna_lib"):
            results = [ji.inference(np.array([float(i)])) for i in range(5)]

    (said,) = [r for r in caplog.records if re.search("401.*SEDNA_AUTH_TOKEN", r.getMessage())]  # once
    assert said.levelno == logging.ERROR

    assert all(r.cloud is None and r.result == [0.5, 0.5] for r in results)
    assert ji.pending_offloads == 0 and ji.stats["dead_lettered"] == 0 and ji.stats["config_errors"] == 5


# -- where the queue lives, and how old its entries may get -----------------------------------------------

def test_the_queue_is_scoped_per_service_and_cloud_under_the_work_dir(tmp_path):
    def folder(service, port):
        job = JointInference(Edge(), "CloudOnly", context=Context(Config(service_name=service,
                                                                         work_dir=str(tmp_path))),
                             cloud=f"http://127.0.0.1:{port}/{service}", report=False)
        return Path(job.queue.folder)

    a, b, c = folder("detector", 5000), folder("classifier", 5000), folder("detector", 5001)

    assert len({a, b, c}) == 3 and all(tmp_path in p.parents for p in (a, b, c))
    assert a.relative_to(tmp_path).parts[:2] == ("offload", "detector")


def test_stale_entries_are_reported_at_start_and_dead_lettered_instead_of_sent(tmp_path, caplog):
    queue = OffloadQueue(str(tmp_path))
    stale = [queue.put(np.array([float(i)]), {"callback": None}) for i in range(3)]
    for entry in stale:  # an earlier, unrelated run left these two hours ago
        path = tmp_path / f"{entry}.sdna"
        old = f"{time.time_ns() - 7200 * 10**9:020d}-{entry.split('-')[1]}"
        path.rename(tmp_path / f"{old}.sdna")
    queue = OffloadQueue(str(tmp_path))
    queue.put(np.array([7.0]), {"callback": None})
    cloud, delivered, done = Cloud(), [], threading.Event()

    def on_offloaded(example):
        delivered.append(float(example.data[0]))
        done.set()

    with serve(cloud) as service:
        ji = edge_job(service.url, tmp_path, on_offloaded=on_offloaded, max_age=3600)
        with caplog.at_level(logging.WARNING, "sedna_lib"):
            ji.start()
            assert done.wait(10)
        ji.close()

    messages = [r.getMessage() for r in caplog.records]  # the drain's and the start's
    leftovers = (r"4 hard examples already wait in .*by an earlier run or by another job"
                 r".*3 of them are older than 60 min")
    assert any(re.search(leftovers, m) for m in messages)
    assert any("3 queued hard examples were older than 60 min" in m for m in messages)

    assert delivered == [7.0] and cloud.seen == [7.0]  # the stale ones were never sent
    assert ji.stats["expired"] == 3 and ji.pending_at_start == 4
    assert sorted(float(d.data[0]) for d in ji.dead_letters) == [0.0, 1.0, 2.0]
    assert all("expired" in d.reason for d in ji.dead_letters)


# -- the edge killed mid-drain -----------------------------------------------------------------------------

EDGE_SCRIPT = Path(__file__).with_name("_offload_edge.py")


class BlockingCloud(Cloud):
    """Blocks on the ``block_at``-th request until released (the edge is killed meanwhile)."""

    def __init__(self, block_at: int) -> None:
        super().__init__()
        self.block_at = block_at
        self.reached, self.release = threading.Event(), threading.Event()

    def predict(self, data, **kwargs):
        result = super().predict(data, **kwargs)
        if len(self.seen) == self.block_at:
            self.reached.set()
            self.release.wait(30)
        return result


def run_edge(url: str, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(EDGE_SCRIPT), url, str(folder)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_edge_killed_mid_drain_and_restarted_loses_no_hard_example(tmp_path):
    n = 40
    queue = OffloadQueue(str(tmp_path))
    for i in range(n):
        queue.put(np.array([float(i)]), {"callback": None})
    cloud = BlockingCloud(block_at=15)

    with serve(cloud) as service:
        first = run_edge(service.url, tmp_path)
        try:
            assert cloud.reached.wait(60), first.communicate(timeout=10)
            first.send_signal(signal.SIGKILL)  # mid-request: the 15th answer never arrives
            first.wait(10)
        finally:
            cloud.release.set()
        second = run_edge(service.url, tmp_path)
        out, err = second.communicate(timeout=60)

    assert first.returncode == -signal.SIGKILL
    assert second.returncode == 0, err
    assert set(cloud.seen) == {float(i) for i in range(n)}  # every one reached the cloud
    assert len(cloud.seen) - n <= 1  # at most the one in flight when the edge died was sent twice
    assert json.loads(out.strip().splitlines()[-1])["pending"] == 0
    assert OffloadQueue(str(tmp_path)).ids() == []


# -- several owners of one queue folder --------------------------------------------------------------------

def fill_queue(folder: Path, n: int) -> None:
    queue = OffloadQueue(str(folder))
    for i in range(n):
        queue.put(np.array([float(i)]), {"callback": None})


def test_two_jobs_sharing_a_queue_folder_send_each_example_once(tmp_path):
    n = 40
    fill_queue(tmp_path, n)
    cloud = BlockingCloud(block_at=1)
    with serve(cloud) as service:
        first, second = edge_job(service.url, tmp_path), edge_job(service.url, tmp_path)
        drain = threading.Thread(target=first.drain_offload_queue)
        drain.start()
        try:
            assert cloud.reached.wait(30)  # the first job is sending the oldest example
            sent_meanwhile = second.drain_offload_queue(wait=False)
            pending_meanwhile = second.pending_offloads
        finally:
            cloud.release.set()
            drain.join(30)
        sent_after = second.drain_offload_queue()  # waits for no one now: nothing is left
        first.close()
        second.close()

    assert sent_meanwhile == 0 and pending_meanwhile == n  # the oldest is in flight, not delivered yet
    assert sent_after == 0 and sorted(cloud.seen) == [float(i) for i in range(n)]  # each exactly once
    assert first.stats["replayed"] == n and first.pending_offloads == second.pending_offloads == 0


def test_a_job_started_while_another_owner_sends_the_folder_says_so_and_not_that_an_earlier_run_left_them(
        tmp_path, caplog):
    import logging
    import warnings

    n = 5
    fill_queue(tmp_path, n)
    cloud = BlockingCloud(block_at=1)
    with serve(cloud) as service:
        first, second = edge_job(service.url, tmp_path), edge_job(service.url, tmp_path)
        drain = threading.Thread(target=first.drain_offload_queue)
        drain.start()
        try:
            assert cloud.reached.wait(30)  # the first job holds the folder's drain lock, sending
            with warnings.catch_warnings(record=True) as warned, caplog.at_level(logging.INFO, "sedna_lib"):
                warnings.simplefilter("always")
                second.start()
        finally:
            cloud.release.set()
            drain.join(30)
        first.close()
        second.close()

    said = [r.getMessage() for r in caplog.records if "hard examples already wait" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"{n} hard examples already wait in {tmp_path}")
    assert "another owner of the folder (a job or process sharing it) is sending them now" in said[0]
    assert not any("earlier run" in text for text in [str(w.message) for w in warned] + said)
    assert not [w for w in warned if issubclass(w.category, SednaWarning)]
    leftover = [r for r in caplog.records if "hard examples already wait" in r.getMessage()]
    assert [r.levelno for r in leftover] == [logging.INFO]  # a shared folder at work: no warning
    assert second.pending_at_start == n and sorted(cloud.seen) == [float(i) for i in range(n)]


def test_two_processes_sharing_a_queue_folder_send_each_example_once(tmp_path):
    n = 40
    fill_queue(tmp_path, n)
    cloud = BlockingCloud(block_at=1)
    with serve(cloud) as service:
        first = run_edge(service.url, tmp_path)
        try:
            assert cloud.reached.wait(60), first.communicate(timeout=10)
            second = subprocess.run([sys.executable, str(EDGE_SCRIPT), service.url, str(tmp_path), "once"],
                                    env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                                    capture_output=True, text=True, timeout=60)
        finally:
            cloud.release.set()
        out, err = first.communicate(timeout=60)

    assert second.returncode == 0 and first.returncode == 0, second.stderr + err
    assert json.loads(second.stdout.strip().splitlines()[-1])["sent"] == 0  # the first process was sending
    assert json.loads(out.strip().splitlines()[-1])["replayed"] == n
    assert sorted(cloud.seen) == [float(i) for i in range(n)]  # each exactly once
    assert OffloadQueue(str(tmp_path)).ids() == []


def test_an_absent_cloud_is_said_once_per_outage_not_once_per_sample(tmp_path, caplog):
    ji = edge_job(f"http://127.0.0.1:{free_port()}", tmp_path)
    ji.client.max_retries = 0
    with ji:
        for i in range(6):
            ji.inference(np.array([float(i)]))

    said = [r for r in caplog.records
            if r.levelname == "WARNING" and "cloud is unavailable" in r.getMessage()]
    assert len(said) == 1 and ji.pending_offloads == 6


def test_hard_examples_left_by_an_earlier_run_are_said_once_as_a_warning(tmp_path, caplog):
    import warnings

    fill_queue(tmp_path, 3)
    delivered, done = [], threading.Event()

    def on_offloaded(example):
        delivered.append(example)
        if len(delivered) == 3:
            done.set()

    with serve(Cloud()) as service:
        job = edge_job(service.url, tmp_path, on_offloaded=on_offloaded)
        with warnings.catch_warnings(record=True) as warned, caplog.at_level(logging.INFO, "sedna_lib"):
            warnings.simplefilter("always")
            job.start()
            assert done.wait(15)
        job.close()

    records = [r for r in caplog.records if "hard examples already wait" in r.getMessage()]
    said = [r.getMessage() for r in records] + [str(w.message) for w in warned
                                                if "hard examples already wait" in str(w.message)]
    assert len(said) == 1 and said[0].startswith(f"3 hard examples already wait in {tmp_path}"), said
    assert [r.levelno for r in records] == [logging.WARNING]
