"""Every server: start and stop lines, /metrics numbers that move with requests, the health contract."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.context import Context

from .test_metrics_status import scrape

pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration

HEALTH_KEYS = {"status", "service", "version", "uptime_seconds", "checks"}


def _contract(url: str, service: str) -> None:
    alive = requests.get(url + "/healthz", timeout=5)
    ready = requests.get(url + "/readyz", timeout=5)
    page = requests.get(url + "/", timeout=5)
    assert alive.status_code == 200 and HEALTH_KEYS <= set(alive.json())
    assert alive.json()["service"] == service and alive.json()["status"] == "ok"
    assert ready.status_code == 200 and HEALTH_KEYS <= set(ready.json())
    assert page.status_code == 200 and "status/assets/status.js" in page.text


def test_big_model_server_counts_predictions_and_says_when_it_starts_and_stops(caplog):
    from sedna_lib.servers.inference import InferenceServer

    caplog.set_level(logging.INFO, logger="sedna_lib")
    with InferenceServer(lambda data: [sum(data)], "adder", http_port=0, token="t0k",
                         max_buffer_size=1024 * 1024) as server:
        url = server.url
        before = scrape(url)
        for _ in range(3):
            requests.post(url + "/adder/predict", json={"data": [1, 2]},
                          headers={"Authorization": "Bearer t0k"}, timeout=5)
        requests.post(url + "/adder/predict", json={"data": [1]}, timeout=5)  # no token: 401
        requests.post(url + "/adder/predict", data=b"{", headers={"Authorization": "Bearer t0k"}, timeout=5)
        after = scrape(url)
        _contract(url, "adder")
        health = requests.get(url + "/healthz", timeout=5).json()

    ok = 'sedna_http_requests_total{method="POST",route="/adder/predict",status="200"}'
    assert before.get(ok, 0) == 0 and after[ok] == 3
    assert after['sedna_http_requests_total{method="POST",route="/adder/predict",status="401"}'] == 1
    assert after['sedna_http_requests_total{method="POST",route="/adder/predict",status="400"}'] == 1
    assert after['sedna_http_request_duration_seconds_count{method="POST",route="/adder/predict"}'] == 5
    assert health["requests"] == 5 and health["rejected"] == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "sedna_lib.servers.inference"]
    assert lines[0] == (f"big-model server 'adder' started on {url}: auth on, TLS off, max request bytes "
                        f"1 MiB; status page {url}/, metrics {url}/metrics")
    assert lines[-1].startswith(f"big-model server 'adder' on {url} stopped after ")
    assert lines[-1].endswith("requests 5, rejected 2, failed 0")


def test_aggregation_server_counts_rounds_bytes_and_reports_accuracy_per_round(caplog):
    from sedna_lib.servers.aggregation import AggregationServer
    from sedna_lib.transport.ws import AggregationClient

    caplog.set_level(logging.INFO, logger="sedna_lib")
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=2, participants_count=2,
                               done_grace=2, context=Context(Config())).start(block=False)
    http = server.url.replace("ws", "http", 1).rsplit("/", 1)[0]
    try:
        before = scrape(http)
        _contract(http, "aggregation")
        barrier = threading.Barrier(2, timeout=10)

        def train(i):
            with AggregationClient(server.url, f"c{i}", connect_timeout=5, recv_timeout=10) as client:
                weights = [np.full(4, float(i), "float32")]
                for r in (1, 2):
                    barrier.wait()
                    client.send_update(weights, 10, round_number=r,
                                       metrics={"accuracy": 0.5 + 0.1 * r + 0.02 * i, "loss": 1.0 / r})
                    weights = client.recv_weights().weights

        threads = [threading.Thread(target=train, args=(i,)) for i in range(2)]
        [t.start() for t in threads]
        [t.join(20) for t in threads]
        assert server.wait(10)
        after = scrape(http)
        series = requests.get(http + "/status/series", timeout=5).json()["charts"][0]["series"]
        ready = requests.get(http + "/readyz", timeout=5)
    finally:
        server.stop()

    assert before["sedna_fl_round"] == 0 and after["sedna_fl_round"] == 2
    assert after["sedna_fl_rounds_total"] == 2 and after["sedna_fl_round_participants"] == 2
    assert after["sedna_fl_round_duration_seconds_count"] == 2
    assert after["sedna_fl_received_bytes_total"] > 2 * 2 * 16 and after["sedna_fl_sent_bytes_total"] > 0
    assert after["sedna_fl_accuracy"] == pytest.approx(0.71) and after["sedna_fl_loss"] == pytest.approx(0.5)
    assert series["accuracy"] == [[1, pytest.approx(0.61)], [2, pytest.approx(0.71)]]
    assert series["loss"] == [[1, 1.0], [2, 0.5]]
    assert ready.status_code == 503
    assert ready.json()["checks"]["rounds"]["detail"] == "the job is done (2 rounds)"
    lines = [r.getMessage() for r in caplog.records if r.name == "sedna_lib.servers.aggregation"]
    assert lines[0].startswith(f"aggregation server 'FedAvg' started on {server.url}: auth off, TLS off, "
                               f"rounds 2, participants 2, round deadline 600 s")
    rounds = [line for line in lines if line.startswith("round ")]
    assert len(rounds) == 2  # one line per round
    assert rounds[1].endswith("(quorum), accuracy 0.71, loss 0.5")
    assert "stopped after" in lines[-1] and lines[-1].endswith("rounds 2, done True")


def test_knowledge_base_counts_tasks_and_uploads_and_leaves_probes_open(tmp_path):
    from sedna_lib.base import Model, Task, TaskGroup
    from sedna_lib.servers._threaded import ThreadedServer
    from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app
    from sedna_lib.transport.kb import KBClient
    from sedna_lib.transport.kb_index import dumps_index, empty_index

    store = KnowledgeBaseStore(str(tmp_path / "kb"), str(tmp_path / "kb.sqlite3"))
    index = empty_index()
    for i, name in enumerate(["a", "b"]):
        group = TaskGroup(name, [Task(name, None, meta_attr=name), Task(name + "2", None, meta_attr=name)])
        group.model = Model(i, name, f"http://kb/{name}.model")
        index["seen_task"]["task_groups"].append(group)
    (tmp_path / "index.pkl").write_bytes(dumps_index(index))
    (tmp_path / "m.bin").write_bytes(b"weights")
    try:
        with ThreadedServer(create_app(store, token="t0k")) as server:
            before = scrape(server.url)  # no token needed for Prometheus
            _contract(server.url, "kb")
            with KBClient(server.url, token="t0k", timeout=10) as client:
                client.upload_file(str(tmp_path / "m.bin"))
                client.update_db(str(tmp_path / "index.pkl"))
            after = scrape(server.url)
            refused = requests.post(server.url + "/knowledgebase/query", timeout=5)
    finally:
        store.close()

    assert before["sedna_kb_tasks"] == 0 and after["sedna_kb_tasks"] == 4
    assert before.get("sedna_kb_uploads_total", 0) == 0 and after["sedna_kb_uploads_total"] == 1
    assert after['sedna_http_requests_total{method="POST",route="/knowledgebase/update",status="200"}'] == 1
    assert refused.status_code == 401


def test_multi_edge_service_counts_requests_and_logs_its_lines(caplog):
    from sedna_lib.servers.multi_edge import ReIDServer
    from sedna_lib.transport.objects import MEDIA_TYPE, dumps

    class Matcher:
        def __init__(self):
            self.seen = []

        def put(self, data):
            self.seen.append(data)

    caplog.set_level(logging.INFO, logger="sedna_lib")
    matcher = Matcher()
    with ReIDServer(matcher, "reid") as server:
        url = server.url
        requests.post(url + "/reid/reid", data=dumps({"x": 1}), headers={"Content-Type": MEDIA_TYPE},
                      timeout=5)
        requests.post(url + "/reid/reid", data=b"junk", timeout=5)
        after = scrape(url)
        _contract(url, "reid")

    assert matcher.seen == [{"x": 1}]
    assert after['sedna_http_requests_total{method="POST",route="/reid/reid",status="200"}'] == 1
    assert after['sedna_http_requests_total{method="POST",route="/reid/reid",status="400"}'] == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "sedna_lib.servers.multi_edge"]
    assert lines[0].startswith(f"reid service started on {url}: auth off, TLS off, max request bytes 64 MiB")
    assert lines[-1].startswith(f"reid service on {url} stopped after ")


def test_a_served_pipeline_has_the_common_face_and_counts_its_requests():
    from sedna_lib.pipeline import pipeline

    @pipeline(name="double")
    def double(x):
        return [2 * v for v in x]

    with double:
        server = double.serve(config=Config())
        requests.post(server.url + "/double/predict", json={"data": [1, 2]}, timeout=5)
        after = scrape(server.url)
        _contract(server.url, "double")

    assert after['sedna_http_requests_total{method="POST",route="/double/predict",status="200"}'] == 1
