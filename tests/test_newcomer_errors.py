"""What a first run outside a cluster says: no model, no miner, no LocalController, a misspelt name."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import sedna_lib
from sedna_lib.backends.loaders import load_estimator
from sedna_lib.compat.core.joint_inference import JointInference as SednaJointInference
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, NotRegisteredError
from sedna_lib.joint_inference import BigModelService, JointInference
from sedna_lib.registry import Kind, Registry, default_registry
from sedna_lib.transport.lc import LCClient, PeriodicReporter

NO_MODEL = r"no model: set MODEL_URL \(or MODEL_PATH\), or pass a model object or path"


class Edge:
    """A confident edge model: every answer would be easy for a threshold miner."""

    def predict(self, x, **kwargs):
        return np.array([0.9, 0.1])


@pytest.fixture
def ctx():
    return Context(Config())


def _warnings(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


# -- 1. no model ---------------------------------------------------------------------------------

def test_load_model_without_a_model_path_names_model_url(ctx):
    path = sedna_lib.context.get_model_path()  # MODEL_URL and MODEL_PATH unset
    assert path is None

    with pytest.raises(ConfigError, match=NO_MODEL) as info:
        sedna_lib.load_model(path, big_model_endpoint="http://127.0.0.1:9/svc", context=ctx)

    assert info.value.variable == "MODEL_URL"


def test_load_estimator_refuses_none():
    with pytest.raises(ConfigError, match=NO_MODEL):
        load_estimator(None)


def test_joint_inference_without_estimator_fails_at_start_not_at_predict(ctx):
    job = JointInference(None, {"method": "EdgeOnly"}, context=ctx, report=False)  # only stores

    with pytest.raises(ConfigError, match=NO_MODEL):
        job.inference(np.zeros(4))
    job.close()


def test_big_model_service_without_estimator_fails_at_start(ctx):
    service = BigModelService(None, context=ctx)

    with pytest.raises(ConfigError, match=NO_MODEL):
        service.start(host="127.0.0.1", port=0, block=False)
    assert service.server is None


# -- 2. no hard-example miner ----------------------------------------------------------------------

def test_sedna_hem_from_config_without_hem_name_warns_once_per_job(ctx, caplog):
    hem = SednaJointInference.get_hem_algorithm_from_config(threshold_img=0.9)  # HEM_NAME unset
    assert hem == {}  # Sedna's contract is kept
    job = SednaJointInference(estimator=Edge, hard_example_mining=hem, context=ctx, report=False)

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        for _ in range(3):
            is_hard, _, _, cloud = job.inference(np.zeros(4))
            assert not is_hard and cloud is None
    job.close()

    said = _warnings(caplog, "no hard-example miner is configured")
    assert len(said) == 1
    message = said[0].getMessage()
    assert "HEM_NAME is unset" in message and "answered at the edge" in message
    assert "get_hem_algorithm_from_config" in message and "not used" in message


def test_a_configured_miner_says_nothing_about_missing_miners(ctx, caplog):
    job = JointInference(Edge, {"method": "EdgeOnly"}, context=ctx, report=False)

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        job.inference(np.zeros(4))
    job.close()

    assert not _warnings(caplog, "hard-example miner")


# -- 3. no LocalController -------------------------------------------------------------------------

def test_absent_lc_is_said_once_briefly_with_the_fix(closed_port_url, caplog):
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)
    message = {"name": "w1", "namespace": "ns", "ownerName": "job", "ownerKind": "jointinferenceservice",
               "kind": "inference"}

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        for _ in range(3):
            assert client.send("w1", message) is False

    assert client.failures_ == 3 and "ConnectionError" in client.last_error_
    said = _warnings(caplog, "LocalController")
    assert len(said) == 1
    line = said[0].getMessage()
    assert f"no LocalController reachable at LC_SERVER={closed_port_url}" in line
    assert "report=False" in line and "LCReporter_enable=False" in line
    assert "Max retries" not in line and "HTTPConnectionPool" not in line

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        client.close()  # the repeats are counted, not lost
    assert "failed 2 more times in the last" in _warnings(caplog, "LocalController")[-1].getMessage()


def test_unset_worker_name_reports_as_sedna_and_says_so(lc_stub, caplog):
    reporter = PeriodicReporter(LCClient(lc_stub.url, timeout=(1, 2)),
                                {"name": "", "namespace": "", "ownerName": "",
                                 "ownerKind": "jointinferenceservice", "kind": "inference"}, period=60)
    reporter.record()

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        assert reporter.report_now() is True
        reporter.record()
        assert reporter.report_now() is True

    path, _, body = lc_stub.received.get(timeout=5)
    assert path == "/sedna/workers/sedna/info" and body["name"] == "sedna"
    assert len(_warnings(caplog, "WORKER_NAME is unset")) == 1


# -- 4. a misspelt registered name -----------------------------------------------------------------

def test_unknown_name_suggests_a_case_insensitive_match():
    with pytest.raises(NotRegisteredError, match=r"no aggregation named 'fedavg'; known names: .*FedAvg.*; "
                                                 r"did you mean 'FedAvg'\?"):
        default_registry.get(Kind.AGGREGATION, "fedavg")


def test_unknown_name_suggests_a_close_match_and_nothing_when_none_is_close():
    reg = Registry(use_entry_points=False)
    reg.register("k", "Threshold", Edge)

    with pytest.raises(NotRegisteredError, match=r"did you mean 'Threshold'\?"):
        reg.get("k", "Treshold")
    with pytest.raises(NotRegisteredError) as info:
        reg.get("k", "zzz")
    assert "did you mean" not in str(info.value)
