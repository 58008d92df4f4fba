"""close() while inference calls are running: their answers are in the last LocalController report."""

import logging
import threading

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ClosedError
from sedna_lib.joint_inference import JointInference
from sedna_lib.joint_inference.model import load_model


class _GatedEdge:
    """An edge model whose calls wait for ``release`` once ``entered`` says one has begun."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def predict(self, data, **kwargs):
        self.entered.set()
        assert self.release.wait(10), "the test never released the edge model"
        return np.array([0.9, 0.1])


def _job(lc_stub, edge, tmp_path):
    ctx = Context(Config(service_name="ji", lc_server=lc_stub.url, worker_name="ji-edge", lc_period=3600))
    return JointInference(edge, {"method": "EdgeOnly"}, context=ctx, cloud="http://127.0.0.1:9/none",
                          offload_dir=str(tmp_path / "q"))


def _close_during_call(job, edge, call):
    """Run ``call`` in a thread, close the job while the edge model is inside it, then let it finish."""
    answers, errors = [], []

    def run():
        try:
            answers.append(call())
        except Exception as exc:  # told apart below
            errors.append(exc)

    caller = threading.Thread(target=run)
    caller.start()
    assert edge.entered.wait(5)
    closer = threading.Thread(target=job.close)
    closer.start()
    closer.join(0.2)
    waited = closer.is_alive()  # close() waits for the call in flight...
    with pytest.raises(ClosedError):  # ...while new calls are refused
        job.inference(np.zeros(4))
    edge.release.set()
    caller.join(5)
    closer.join(5)
    assert not closer.is_alive() and not errors and len(answers) == 1
    return waited


def _last_number(lc_stub):
    bodies = lc_stub.drain()
    return bodies[-1]["ownerInfo"]["inferenceNumber"] if bodies else 0


@pytest.mark.parametrize("options", [{}, {"post_process": lambda r: r}], ids=["plain", "with-callback"])
def test_the_last_report_counts_the_calls_that_were_running_when_close_was_called(lc_stub, tmp_path, options):
    edge = _GatedEdge()
    job = _job(lc_stub, edge, tmp_path)
    edge.release.set()
    job.inference(np.zeros(4), **options)  # one answered before close()
    edge.release.clear()
    edge.entered.clear()
    waited = _close_during_call(job, edge, lambda: job.inference(np.zeros(4), **options))
    assert job.stats["inferences"] == 2
    assert _last_number(lc_stub) == 2
    assert waited


def test_load_models_joint_model_is_counted_too(lc_stub, tmp_path):
    edge = _GatedEdge()
    ctx = Context(Config(service_name="ji", lc_server=lc_stub.url, worker_name="ji-edge", lc_period=3600))
    model = load_model(edge, cloud_offload_algorithm={"method": "EdgeOnly"}, context=ctx, report=True,
                       big_model_endpoint="http://127.0.0.1:9/none", offload_dir=str(tmp_path / "q"))
    waited = _close_during_call(model.joint, edge, lambda: model.predict(np.zeros(4)))
    assert model.stats["inferences"] == 1
    assert _last_number(lc_stub) == 1
    assert waited


def test_close_gives_up_on_a_call_that_does_not_end_and_says_so(lc_stub, tmp_path, caplog, monkeypatch):
    from sedna_lib.joint_inference import edge as edge_module

    monkeypatch.setattr(edge_module, "_LAST_REPORT_WAIT", 0.2)
    edge = _GatedEdge()
    job = _job(lc_stub, edge, tmp_path)
    caller = threading.Thread(target=job.inference, args=(np.zeros(4),))
    caller.start()
    assert edge.entered.wait(5)
    with caplog.at_level(logging.WARNING, logger="sedna_lib.joint_inference"):
        job.close()
    edge.release.set()
    caller.join(5)
    said = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
    assert len(said) == 1 and "1 inference call still running" in said[0] and "its answer is not" in said[0]
