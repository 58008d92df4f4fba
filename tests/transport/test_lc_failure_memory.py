"""LCClient remembers the failures it said, for saying each once, in bounded memory."""

from __future__ import annotations

import logging

import pytest

from sedna_lib.transport import lc as lc_module
from sedna_lib.transport.lc import LCClient, Report

pytestmark = pytest.mark.integration


def _report(name):
    return Report(name=name, namespace="ns", owner_name="job", owner_kind="incrementallearningjob",
                  kind="train", status="completed")


def _said(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()
            and "more time" not in r.getMessage()]


def test_failures_with_ever_new_reasons_are_remembered_in_bounded_memory(lc_stub, caplog):
    client = LCClient(lc_stub.url, timeout=(1, 2), max_retries=0)
    limit = lc_module._SAID_MAX
    with caplog.at_level(logging.WARNING, logger=lc_module.__name__):
        for i in range(limit + 20):  # the stub's 400 names the body's worker: a new reason each time
            assert client.send("w1", _report(f"other-{i}")) is False
    assert client.failures_ == limit + 20
    assert len(client._said) <= limit
    assert len(_said(caplog, "failed: HTTP 400")) == limit + 20  # each new reason said once


def test_a_repeated_failure_is_still_said_once(lc_stub, caplog):
    client = LCClient(lc_stub.url, timeout=(1, 2), max_retries=0)
    with caplog.at_level(logging.WARNING, logger=lc_module.__name__):
        for i in range(5):
            client.send("w1", _report("again"))  # the same reason each time
            client.send("w1", _report(f"new-{i}"))  # other reasons between the repeats
    assert len(_said(caplog, "name=again")) == 1
    assert client.failures_ == 10
