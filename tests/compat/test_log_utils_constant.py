"""The sedna logger, get_host_ip/singleton, and the constant enums' wire values."""

from __future__ import annotations

import ipaddress
import json
import logging
import pickle
import subprocess
import sys

import pytest

from sedna_lib.compat import log
from sedna_lib.compat.constant import K8sResourceKind, K8sResourceKindStatus, KBResourceConstant
from sedna_lib.compat.utils import get_host_ip, singleton
from sedna_lib.exceptions import ConfigError


@pytest.fixture
def sedna_logger_state():
    logger = logging.getLogger("sedna")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_importing_log_adds_no_handler():
    code = "import logging, sedna_lib.compat.log as l; print(len(logging.getLogger('sedna').handlers))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "0"
    assert log.LOGGER.name == "sedna"


def test_logger_adds_one_console_handler_however_often_created(sedna_logger_state):
    log.Logger(level="DEBUG")
    log.Logger()

    ours = [h for h in sedna_logger_state.handlers if getattr(h, "_sedna_console", False)]
    assert len(ours) == 1
    assert sedna_logger_state.level == logging.INFO  # LOG_LEVEL default, second call


def test_logger_reads_log_level(monkeypatch, sedna_logger_state):
    monkeypatch.setenv("LOG_LEVEL", "warning")

    assert log.Logger().logger.level == logging.WARNING


def test_logger_bad_level_raises_config_error(sedna_logger_state):
    with pytest.raises(ConfigError, match="LOG_LEVEL must be"):
        log.Logger(level="LOUD")


def test_get_host_ip_returns_an_ipv4_address():
    assert ipaddress.ip_address(get_host_ip()).version == 4


def test_singleton_returns_one_instance_and_exposes_class_attributes():
    @singleton
    class Thing:
        size = 3

        def __init__(self, value=0):
            self.value = value

    first = Thing(1)

    assert Thing(2) is first and first.value == 1
    assert Thing.size == 3


def test_constant_values_are_sednas():
    assert [k.value for k in K8sResourceKind] == [
        "default", "reidjob", "videoanalyticsjob", "featureextractionservice", "jointinferenceservice",
        "federatedlearningjob", "incrementallearningjob", "lifelonglearningjob"]
    assert K8sResourceKind.INCREMENTAL_JOB.value == "incrementallearningjob"
    assert K8sResourceKind.LIFELONG_JOB.value == "lifelonglearningjob"
    assert [s.value for s in K8sResourceKindStatus] == ["completed", "failed", "running"]
    assert KBResourceConstant.MIN_TRAIN_SAMPLE.value == 10
    assert KBResourceConstant.KB_INDEX_NAME.value == "index.pkl"
    assert KBResourceConstant.TASK_EXTRACTOR_NAME.value == "task_attr_extractor.pkl"
    assert KBResourceConstant.EDGE_KB_DIR.value == "/var/lib/sedna/kb"
    assert {m.name for m in KBResourceConstant} >= {"SEEN_TASK", "UNSEEN_TASK", "TASK_GROUPS", "EXTRACTOR"}


def test_kinds_serialise_as_their_strings_and_pickle():
    assert json.dumps({"ownerKind": K8sResourceKind.JOINT_INFERENCE_SERVICE}) == \
        '{"ownerKind": "jointinferenceservice"}'
    assert pickle.loads(pickle.dumps(K8sResourceKindStatus.RUNNING)) is K8sResourceKindStatus.RUNNING
