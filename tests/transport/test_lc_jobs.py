"""LocalController reports of every job: the option that turns them off, what an absent LC is said as,
repeated failures, URLs with a password, and a final report that cannot hold a job's close."""

from __future__ import annotations

import inspect
import logging
import re
import time

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.transport import lc as lc_module
from sedna_lib.transport.lc import FORWARDED_OWNER_KINDS, LCClient, PeriodicReporter

pytestmark = pytest.mark.integration


def _lc_lines(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "LocalController report" in r.getMessage()]


def _message(kind="incrementallearningjob"):
    return {"name": "w1", "namespace": "ns", "ownerName": "job", "ownerKind": kind, "kind": "train"}


def _jobs():
    from sedna_lib.compat.core.federated_learning import FederatedLearning as SednaFederated
    from sedna_lib.compat.core.incremental_learning import IncrementalLearning as SednaIncremental
    from sedna_lib.compat.core.joint_inference import JointInference as SednaJoint
    from sedna_lib.compat.core.lifelong_learning import LifelongLearning as SednaLifelong
    from sedna_lib.federated_learning import FederatedLearning
    from sedna_lib.incremental_learning import IncrementalLearning
    from sedna_lib.joint_inference import JointInference
    from sedna_lib.lifelong_learning import LifelongLearning

    return [JointInference, SednaJoint, IncrementalLearning, SednaIncremental,
            FederatedLearning, SednaFederated, LifelongLearning, SednaLifelong]


# -- 1. every reporting job takes report= -------------------------------------------------------------

def _job_id(job):
    return f"{job.__module__.split('.')[1]}-{job.__name__}"


@pytest.mark.parametrize("job", _jobs(), ids=_job_id)
def test_every_reporting_job_takes_report_keyword_only_defaulting_to_on(job):
    parameter = inspect.signature(job).parameters["report"]

    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is True


def _federated(lc_url, **options):
    from sedna_lib.federated_learning import FederatedLearning

    ctx = Context(Config(lc_server=lc_url, job_name="fl-job", worker_name="w1", namespace="ns"))
    return FederatedLearning(None, context=ctx, **options)


def _lifelong(lc_url, **options):
    from sedna_lib.lifelong_learning import LifelongLearning

    ctx = Context(Config(lc_server=lc_url, job_name="ll-job", worker_name="w1", namespace="ns"))
    return LifelongLearning(context=ctx, **options)


@pytest.mark.parametrize("make", [_federated, _lifelong], ids=["federated", "lifelong"])
def test_report_false_sends_nothing_and_report_true_sends(make, lc_stub, caplog):
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        off = make(lc_stub.url, report=False)
        assert off.report is False
        assert off.report_task_info({"currentRound": 1}, "running") is False
        off.close()
    assert lc_stub.drain() == [] and not _lc_lines(caplog)
    assert off.lc_client.failures_ == 0 and off.lc_client.sent_ == 0

    on = make(lc_stub.url)
    assert on.report is True
    assert on.report_task_info({"currentRound": 1}, "running") is True
    on.close()
    (body,) = lc_stub.drain()
    assert body["ownerKind"] == on.job_kind


@pytest.mark.parametrize("job", _jobs()[::2], ids=lambda c: c.__name__)
def test_advice_without_a_local_controller_names_the_jobs_own_option(job, closed_port_url, caplog):
    assert job.job_kind in FORWARDED_OWNER_KINDS
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        assert client.send("w1", _message(job.job_kind)) is False

    (line,) = _lc_lines(caplog)
    assert f"{job.__name__}(..., report=False)" in line
    assert "no option" not in line
    assert ("LCReporter_enable=False" in line) == (job.__name__ == "JointInference")


# -- 2. a repeated failure is said with its count and the time since the last line ------------------------

def _repeat_line(caplog):
    lines = [line for line in _lc_lines(caplog) if "more time" in line]
    assert len(lines) == 1, _lc_lines(caplog)
    return lines[0]


def _window(line):
    match = re.search(r"in the last (\d+(?:\.\d)?) s", line)
    assert match, line
    return float(match.group(1))


class _Clock:
    """The LC client's clock, moved by the test (the time module otherwise)."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(lc_module, "time", fake)
    return fake


def test_repeats_said_at_close_name_their_count_and_the_time_since_the_first_line(
        closed_port_url, caplog, clock):
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        client.send("w1", _message())
        clock.now += 0.4
        client.send("w1", _message())
        client.send("w1", _message())
        clock.now += 0.3
        client.close()

    line = _repeat_line(caplog)
    assert "failed 2 more times in the last" in line
    assert "times in the last 0 s" not in line and "(2 times" not in line
    assert _window(line) == 0.7
    assert f"no LocalController reachable at LC_SERVER={closed_port_url}" in line


def test_a_single_repeat_is_said_in_the_singular(closed_port_url, caplog):
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        client.send("w1", _message())
        client.send("w1", _message())
        client.close()

    assert "failed 1 more time in the last" in _repeat_line(caplog)


def test_after_a_repeat_line_the_next_window_starts_at_that_line(
        closed_port_url, caplog, monkeypatch, clock):
    monkeypatch.setattr(lc_module, "_REPEAT_INTERVAL", 0.3)
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        client.send("w1", _message())
        clock.now += 0.36
        client.send("w1", _message())  # the interval has passed: said now, 1 more time
        clock.now += 0.1
        client.send("w1", _message())
        client.close()  # 1 more time since that line

    lines = [line for line in _lc_lines(caplog) if "more time" in line]
    assert len(lines) == 2, _lc_lines(caplog)
    assert "failed 1 more time" in lines[0] and _window(lines[0]) == 0.4
    assert "failed 1 more time" in lines[1] and _window(lines[1]) == 0.1


def test_close_with_no_repeat_says_nothing_more(closed_port_url, caplog):
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        client.send("w1", _message())
        client.close()

    assert len(_lc_lines(caplog)) == 1


# -- 3. a LocalController URL with a password is shown without it ---------------------------------------

def test_absent_lc_url_with_a_password_is_shown_redacted(closed_port_url, caplog):
    url = closed_port_url.replace("http://", "http://u:hunter2@")
    client = LCClient(url, timeout=(0.5, 0.5), max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="sedna_lib"):
        client.send("w1", _message())
        client.send("w1", _message())
        client.close()

    lines = [r.getMessage() for r in caplog.records if "LocalController" in r.getMessage()]  # DEBUG too
    assert len(lines) >= 4 and not [line for line in lines if "hunter2" in line]
    first, repeats = _lc_lines(caplog)
    for line in (first, repeats):
        assert "LocalController report to http://u:***@127.0.0.1:" in line
        assert "LC_SERVER=http://u:***@127.0.0.1:" in line
    assert "hunter2" not in client.last_error_


def test_refusing_lc_url_with_a_password_is_shown_redacted(lc_stub, caplog):
    client = LCClient(lc_stub.url.replace("http://", "http://u:hunter2@"), timeout=(1, 2), max_retries=0)
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        assert client.send("w1", dict(_message(), name="other")) is False  # the stub answers 400

    (line,) = _lc_lines(caplog)
    assert "HTTP 400" in line and "hunter2" not in line and "u:***@" in line


# -- 4. the final report is bounded -----------------------------------------------------------------------

def _ji_message():
    return {"name": "edge-w", "namespace": "ns", "ownerName": "ji-svc", "ownerKind": "jointinferenceservice",
            "kind": "inference"}


def test_send_with_a_time_limit_ends_within_it_against_a_silent_lc(silent_lc):
    client = LCClient(silent_lc, timeout=(3.0, 5.0), max_retries=2, backoff=0.5)

    start = time.monotonic()
    ok = client.send("w1", _message(), timeout=0.5)
    elapsed = time.monotonic() - start

    assert ok is False and elapsed < 1.5
    assert client.failures_ == 1 and "no answer within" in client.last_error_


def test_reporter_close_sends_the_last_counts_within_final_timeout(silent_lc):
    client = LCClient(silent_lc, timeout=(3.0, 5.0), max_retries=2, backoff=0.5)
    reporter = PeriodicReporter(client, _ji_message(), period=60, final_timeout=0.5).start()
    reporter.record()

    start = time.monotonic()
    reporter.close()
    elapsed = time.monotonic() - start

    assert elapsed < 2.0
    assert reporter.reports_ == 1 and client.failures_ == 1 and not reporter.is_alive


def test_report_now_takes_a_time_limit(silent_lc):
    reporter = PeriodicReporter(LCClient(silent_lc, timeout=(3.0, 5.0), max_retries=2), _ji_message())
    reporter.record()

    start = time.monotonic()
    assert reporter.report_now(timeout=0.4) is False
    assert time.monotonic() - start < 1.5


def test_reporter_close_delivers_the_last_counts(lc_stub):
    reporter = PeriodicReporter(LCClient(lc_stub.url, timeout=(1, 2)), _ji_message(), period=60).start()
    reporter.record(hard=True)

    reporter.close()

    (body,) = lc_stub.drain()
    assert body["ownerInfo"]["inferenceNumber"] == 1 == body["ownerInfo"]["hardExampleNumber"]
    assert not reporter.is_alive


def test_reporter_close_with_nothing_new_sends_nothing(lc_stub):
    reporter = PeriodicReporter(LCClient(lc_stub.url, timeout=(1, 2)), _ji_message(), period=60).start()

    reporter.close()
    reporter.close()  # twice is fine

    assert lc_stub.drain() == [] and not reporter.is_alive


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "soon"])
def test_a_bad_final_timeout_is_said_at_close_and_close_still_stops(bad, lc_stub):
    from sedna_lib.exceptions import ParameterError

    reporter = PeriodicReporter(LCClient(lc_stub.url, timeout=(1, 2)), _ji_message(), period=60,
                                final_timeout=bad).start()
    reporter.record()

    with pytest.raises(ParameterError, match="final_timeout"):
        reporter.close()
    assert not reporter.is_alive
