"""UnseenSampleDetection copies the newest image when the status service says so, and survives its absence."""

from __future__ import annotations

import time

import pytest

from sedna_lib.exceptions import ParameterError
from sedna_lib.lifelong_learning import EdgeKnowledgeManagement
from sedna_lib.lifelong_learning.unseen_sample_detection import UnseenSampleDetection


def test_poll_copies_the_newest_image_when_flagged(status_server, tmp_path, ll_context):
    images = tmp_path / "images"
    images.mkdir()
    (images / "frame.png").write_bytes(b"png")
    km = EdgeKnowledgeManagement(context=ll_context)
    detector = UnseenSampleDetection(km, status_url=status_server.url + "/", image_url=str(images),
                                     context=ll_context)

    assert detector.poll_once() is True
    assert detector.copied == 1 and len(list((tmp_path / "edge" / "unseen_samples").iterdir())) == 1


def test_unreachable_status_service_counts_a_failure(tmp_path, ll_context):
    detector = UnseenSampleDetection(EdgeKnowledgeManagement(context=ll_context), status_url="127.0.0.1:9",
                                     timeout=0.5, context=ll_context)

    assert detector.poll_once() is False and detector.failures == 1


def test_thread_stops_on_request(tmp_path, ll_context):
    detector = UnseenSampleDetection(EdgeKnowledgeManagement(context=ll_context), status_url="127.0.0.1:9",
                                     period=0.05, timeout=0.2, context=ll_context)

    detector.start()
    detector.stop()

    assert not detector.is_alive() and detector.daemon


@pytest.mark.parametrize("option", ["period", "timeout"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 0, True], ids=repr)
def test_a_period_or_timeout_that_is_not_positive_fails_start(tmp_path, ll_context, option, value):
    detector = UnseenSampleDetection(EdgeKnowledgeManagement(context=ll_context), status_url="127.0.0.1:9",
                                     context=ll_context, **{option: value})
    with pytest.raises(ParameterError, match=f"{option} must be a finite number > 0"):
        detector.start()
    assert not detector.is_alive() and detector.failures == 0


def test_a_period_and_timeout_given_as_text_are_read_as_seconds(status_server, tmp_path, ll_context):
    # start() reads the text as numbers; the thread polls (and times its requests) with those numbers
    images = tmp_path / "images"
    images.mkdir()
    (images / "frame.png").write_bytes(b"png")
    detector = UnseenSampleDetection(EdgeKnowledgeManagement(context=ll_context),
                                     status_url=status_server.url + "/", image_url=str(images),
                                     period="0.01", timeout="5", context=ll_context)
    detector.start()
    try:
        deadline = time.monotonic() + 5
        while detector.copied < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert detector.copied >= 2 and detector.failures == 0 and detector.is_alive()
    finally:
        detector.stop()
