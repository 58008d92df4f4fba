"""LocalController reports against a real HTTP stub: body keys, LC replies, absent and hanging LCs."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sedna_lib.compat.client import LCClient as SednaLCClient
from sedna_lib.compat.client import LCReporter
from sedna_lib.exceptions import ParameterError
from sedna_lib.transport.lc import LCClient, PeriodicReporter, Report

pytestmark = pytest.mark.integration


@pytest.fixture
def lc(lc_stub):
    return lc_stub.url, lc_stub.received


def _report(**kw):
    base = dict(name="w1", namespace="ns", owner_name="job", owner_kind="incrementallearningjob", kind="train",
                status="completed")
    base.update(kw)
    return Report(**base)


def test_report_body_has_sednas_keys_in_order():
    body = _report(results=[{"format": "pb", "url": "/m.pb", "metrics": {"recall": [0.5]}}],
                   owner_info={"currentRound": 1}).to_dict()

    assert list(body) == ["name", "namespace", "ownerName", "ownerKind", "kind", "status", "results", "ownerInfo"]


def test_report_omits_optional_keys_when_none():
    assert list(_report(status=None).to_dict()) == ["name", "namespace", "ownerName", "ownerKind", "kind"]


def test_report_refuses_unknown_owner_kind_and_non_list_results():
    with pytest.raises(ParameterError, match="ownerKind 'job' is not a Sedna resource kind"):
        _report(owner_kind="job").to_dict()
    with pytest.raises(ParameterError, match="results must be a list of objects"):
        _report(results={"format": "pb"}).to_dict()


def test_send_posts_json_to_the_worker_path_and_counts(lc):
    url, received = lc
    client = LCClient(url, timeout=(1, 2))

    ok = client.send("w1", _report(results=[{"format": "pb", "url": "/m", "metrics": {"a": np.float32(0.5)}}]))

    path, content_type, body = received.get(timeout=5)
    assert ok and client.sent_ == 1 and client.failures_ == 0
    assert path == "/sedna/workers/w1/info" and content_type == "application/json"
    assert body["ownerKind"] == "incrementallearningjob" and body["results"][0]["metrics"] == {"a": 0.5}


def test_lc_400_on_name_mismatch_is_a_counted_failure_without_retry(lc):
    url, received = lc
    client = LCClient(url, timeout=(1, 2), max_retries=3)

    ok = client.send("other-worker", _report())

    assert not ok and client.failures_ == 1
    assert "HTTP 400" in client.last_error_ and "different" in client.last_error_
    assert received.qsize() == 1


def test_absent_lc_returns_false_quickly(closed_port_url):
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=1, backoff=0.01)
    start = time.monotonic()

    ok = client.send("w1", _report())

    assert not ok and client.failures_ == 1 and "ConnectionError" in client.last_error_
    assert time.monotonic() - start < 5


def test_silent_lc_times_out_and_does_not_raise(silent_lc):
    client = LCClient(silent_lc, timeout=(0.5, 0.3), max_retries=0)

    ok = client.send("w1", _report())

    assert not ok and "no answer" in client.last_error_


def test_unencodable_message_is_a_failure_not_an_exception(lc):
    url, _ = lc
    client = LCClient(url)

    assert client.send("w1", {"name": "w1", "ownerInfo": {"x": object()}}) is False
    assert "cannot be sent" in client.last_error_


def test_sedna_lc_client_static_send(lc):
    url, received = lc

    assert SednaLCClient.send(url, "w1", _report().to_dict())
    assert received.get(timeout=5)[2]["name"] == "w1"


def _ji_message(name="edge-w"):
    return {"name": name, "namespace": "ns", "ownerName": "ji-svc", "ownerKind": "jointinferenceservice",
            "kind": "inference"}


def test_periodic_reporter_sends_cumulative_counts_each_period(lc):
    url, received = lc
    reporter = PeriodicReporter(LCClient(url, timeout=(1, 2)), _ji_message(), period=0.05)
    reporter.record()
    reporter.record(hard=True)

    with reporter:
        path, _, body = received.get(timeout=5)
        reporter.record()
        while True:  # the next report carries the new inference
            _, _, second = received.get(timeout=5)
            if second["ownerInfo"]["inferenceNumber"] == 3:
                break

    assert path == "/sedna/workers/edge-w/info"
    assert list(body) == ["name", "namespace", "ownerName", "ownerKind", "kind", "results", "ownerInfo"]
    assert "status" not in body and body["results"] == []
    info = body["ownerInfo"]
    assert set(info) == {"startTime", "updateTime", "inferenceNumber", "hardExampleNumber", "uploadCloudRatio"}
    assert (info["inferenceNumber"], info["hardExampleNumber"], info["uploadCloudRatio"]) == (2, 1, 0.5)
    assert second["ownerInfo"]["hardExampleNumber"] == 1
    assert not reporter.is_alive


def test_periodic_reporter_skips_periods_without_inference(lc):
    url, received = lc
    reporter = PeriodicReporter(LCClient(url), _ji_message(), period=60)

    assert reporter.report_now() is False
    reporter.update_for_collaboration_inference()
    assert reporter.report_now() is True
    assert reporter.report_now() is False
    assert received.qsize() == 1


def test_reporter_survives_an_absent_lc_and_keeps_counting(closed_port_url):
    client = LCClient(closed_port_url, timeout=(0.2, 0.2), max_retries=0)
    reporter = PeriodicReporter(client, _ji_message(), period=0.02).start()
    deadline = time.monotonic() + 10

    while client.failures_ < 3 and time.monotonic() < deadline:
        reporter.record()
        threading.Event().wait(0.01)

    assert client.failures_ >= 3 and reporter.is_alive
    reporter.stop()
    assert not reporter.is_alive


def test_counting_never_blocks_while_the_lc_hangs(silent_lc):
    client = LCClient(silent_lc, timeout=(0.5, 1.0), max_retries=0)
    reporter = PeriodicReporter(client, _ji_message(), period=0.01)
    reporter.record()
    reporter.start()
    deadline = time.monotonic() + 5
    while reporter.reports_ == 0 and time.monotonic() < deadline:  # a report is now in flight
        threading.Event().wait(0.005)

    start = time.monotonic()
    for _ in range(1000):
        reporter.update_for_edge_inference()
    elapsed = time.monotonic() - start
    reporter.stop(timeout=2)

    assert elapsed < 0.5
    assert reporter.inference_number_ == 1001


def test_sedna_lc_reporter_face(lc):
    url, received = lc
    reporter = LCReporter(url, _ji_message(), period_interval=0.05)
    reporter.update_for_collaboration_inference()

    reporter.start()
    body = received.get(timeout=5)[2]
    reporter.stop()

    assert body["ownerInfo"]["hardExampleNumber"] == 1 == body["ownerInfo"]["inferenceNumber"]
    assert reporter.inference_number == 1 and reporter.hard_example_number == 1
