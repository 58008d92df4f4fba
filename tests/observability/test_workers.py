"""Long-lived workers: a joint-inference edge's metrics port, its numbers, and its counted warnings."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.context import Context

from .test_metrics_status import scrape

pytestmark = pytest.mark.integration


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


def test_edge_worker_serves_metrics_that_follow_an_outage_and_counts_its_warnings(tmp_path, caplog):
    pytest.importorskip("fastapi")
    from sedna_lib.joint_inference import BigModelService, JointInference

    caplog.set_level(logging.INFO, logger="sedna_lib")
    cloud_port = _free_port()
    context = Context(Config(service_name="ji-svc", worker_name="edge-0", metrics_port=0,
                             metrics_bind_ip="127.0.0.1"))
    job = JointInference(Edge(), "CloudOnly", context=context, offload_dir=str(tmp_path), report=False,
                         cloud=f"http://127.0.0.1:{cloud_port}/ji-svc")
    job.client.max_retries = 0
    job.start()
    url = job.status_.url
    try:
        before = scrape(url)
        for i in range(25):  # the cloud is down: the edge answers every sample
            assert job.inference(np.array([float(i)])).cloud is None
        down = scrape(url)
        ready_down = requests.get(url + "/readyz", timeout=5)
        with BigModelService(Cloud(), context=Context(Config(service_name="ji-svc"))).start(
                host="127.0.0.1", port=cloud_port, block=False):
            job.client.breaker.reset_timeout = 0.0  # the next call is the breaker's trial
            result = job.inference(np.array([21.0]))
            up = scrape(url)
            ready_up = requests.get(url + "/readyz", timeout=5)
        page = requests.get(url + "/", timeout=5).text
        series = requests.get(url + "/status/series", timeout=5).json()["charts"]
    finally:
        job.close()

    edge = 'sedna_ji_samples_total{answered_by="edge"}'
    cloud = 'sedna_ji_samples_total{answered_by="cloud"}'
    assert before[edge] == 0 and before["sedna_ji_offload_budget_ratio"] == 1
    assert down[edge] == 25 and down["sedna_ji_hard_examples_total"] == 25
    assert down["sedna_ji_cloud_breaker_state"] == 1 and down["sedna_ji_offload_ratio"] == 0
    assert down["sedna_ji_offload_queue_depth"] == 25
    assert down['sedna_ji_cloud_failures_total{reason="away"}'] >= 1
    assert ready_down.status_code == 503
    assert "answered by the edge" in ready_down.json()["checks"]["cloud"]["detail"]
    assert result.cloud == [42.0]
    assert up[cloud] == 1 and up["sedna_ji_cloud_breaker_state"] == 0
    assert up["sedna_ji_offload_ratio"] == pytest.approx(1 / 26)
    assert ready_up.status_code == 200
    assert "sedna_lib joint-inference edge &#x27;edge-0&#x27;" in page
    (offload,) = series
    points = offload["series"]["offload ratio"]
    assert offload["title"] == "Share of samples answered by the cloud" and points[0][1] == 0.0
    assert all(0.0 <= y <= 1.0 for _, y in points)
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "sedna_lib.joint_inference" and r.levelno >= logging.WARNING]
    # one line when the cloud goes, one count of what the edge answered, one when it is back: not 25
    assert warnings[0].startswith("the cloud is unavailable; hard examples are answered by the edge")
    counted = [w for w in warnings if w.startswith("cloud unreachable: ")]
    assert len(counted) == 1 and counted[0].startswith("cloud unreachable: 25 samples answered by the edge "
                                                       "in the last ")
    assert any(w.startswith("the cloud answers again") for w in warnings)
    assert len(warnings) <= 4
    info = [r.getMessage() for r in caplog.records if r.name == "sedna_lib.joint_inference"]
    assert f"joint-inference edge 'edge-0': status page {url}/, metrics {url}/metrics" in info
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/metrics", timeout=2)  # the port closes with the job


def test_edge_worker_without_a_metrics_port_serves_nothing_but_keeps_counting(tmp_path):
    from sedna_lib.joint_inference import JointInference

    job = JointInference(Edge(), "EdgeOnly", context=Context(Config(service_name="ji-svc")),
                         cloud="http://127.0.0.1:9/ji-svc", offload_dir=str(tmp_path), report=False)
    with job:
        job.inference(np.array([1.0]))

    assert job.status_.url is None
    assert job.status_.site.metrics.value("sedna_ji_samples_total", answered_by="edge") == 1


def test_edge_worker_metrics_are_exact_when_read_after_any_number_of_samples(tmp_path):
    from sedna_lib.joint_inference import JointInference

    class UserCloud:  # Sedna 0.6's cloud object: answers in the process
        def inference(self, data, post_process=None, **kwargs):
            return [1.0, 0.0]

    class Echo:
        def predict(self, data, **kwargs):
            return np.asarray(data, dtype=float)

    job = JointInference(Echo(), lambda result: result[1] > 0.5, context=Context(Config(service_name="ji-svc")),
                         cloud=UserCloud(), offload_dir=str(tmp_path), report=False)
    with job:
        metrics = job.status_.site.metrics
        values = lambda: (metrics.value("sedna_ji_samples_total", answered_by="edge"),  # noqa: E731
                          metrics.value("sedna_ji_samples_total", answered_by="cloud"),
                          metrics.value("sedna_ji_hard_examples_total"),
                          metrics.value("sedna_ji_hard_example_ratio"), metrics.value("sedna_ji_offload_ratio"))
        assert values() == (0, 0, 0, 0, 0)
        seen = []
        for i in range(7):
            job.inference(np.array([0.0, 1.0 if i % 3 == 0 else 0.0]))  # samples 0, 3 and 6 are hard
            seen.append(values())

    assert seen[0] == (0, 1, 1, 1.0, 1.0)
    assert seen[1] == (1, 1, 1, 1 / 2, 1 / 2)
    assert seen[5] == (4, 2, 2, 2 / 6, 2 / 6)
    assert seen[6] == (4, 3, 3, 3 / 7, 3 / 7)
    assert job.stats["inferences"] == 7 and job.stats["hard"] == 3


def test_edge_worker_counters_read_during_inferences_from_threads_never_run_ahead_and_end_exact(tmp_path):
    import threading

    from sedna_lib.joint_inference import JointInference

    class Echo:
        def predict(self, data, **kwargs):
            return np.asarray(data, dtype=float)

    job = JointInference(Echo(), lambda result: result[1] > 0.5, context=Context(Config(service_name="ji-svc")),
                         cloud="http://127.0.0.1:9/ji-svc", offload_dir=str(tmp_path), report=False)
    job.start()
    job.client.max_retries = 0
    metrics, stop, reads = job.status_.site.metrics, threading.Event(), []

    def read():
        while not stop.is_set():
            hard = metrics.value("sedna_ji_hard_examples_total")
            edge = metrics.value("sedna_ji_samples_total", answered_by="edge")
            reads.append((hard, edge, job.stats["inferences"]))

    def work():
        for i in range(300):
            job.inference(np.array([0.5, 0.0]))

    reader = threading.Thread(target=read)
    workers = [threading.Thread(target=work) for _ in range(3)]
    reader.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    stop.set()
    reader.join(10)
    with job:
        assert metrics.value("sedna_ji_samples_total", answered_by="edge") == 900
        assert metrics.value("sedna_ji_samples_total", answered_by="cloud") == 0
        assert metrics.value("sedna_ji_hard_examples_total") == 0
    assert reads and all(edge <= total for _, edge, total in reads)
