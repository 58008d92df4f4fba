"""Model hot update: the LC's config format, atomic swaps under load, bad models, the Sedna thread."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import DataError, ParameterError
from sedna_lib.incremental_learning.hot_update import (
    ModelLoadingThread,
    ModelSlot,
    ModelWatcher,
    UpdateStatus,
    dump_model_config,
    parse_model_config,
    write_model_config,
)


def test_dump_matches_go_marshal_indent_byte_for_byte():
    # Arrange: what Go's json.MarshalIndent(cfg, "", " ") writes (sorted keys, 1-space indent, no newline)
    expected = ('{\n "model_config": {\n  "model_path": "/model-hot-update/model.pb",\n'
                '  "model_update_time": "2025-10-29 22:15:31.1 +0800 CST m=+1234.5"\n }\n}')

    # Act
    text = dump_model_config("/model-hot-update/model.pb", "2025-10-29 22:15:31.1 +0800 CST m=+1234.5")

    # Assert
    assert text == expected


def test_version_token_is_opaque_text_whatever_its_json_type():
    numeric = parse_model_config('{"model_config": {"model_path": "/m", "model_update_time": 17}}')
    go_time = parse_model_config(dump_model_config("/m", "not a date m=+1"))

    assert numeric.model_update_time == "17"
    assert go_time.model_update_time == "not a date m=+1"


@pytest.mark.parametrize("text, match", [
    ("{not json", "is not JSON"),
    ('{"other": {}}', "no 'model_config'"),
    ('{"model_config": {"model_update_time": "v"}}', "model_path must be a non-empty string"),
    ('{"model_config": {"model_path": "/m"}}', "model_update_time is missing"),
])
def test_malformed_config_raises_data_error(text, match):
    with pytest.raises(DataError, match=match):
        parse_model_config(text)


def _save(model, path):
    import joblib

    joblib.dump(model, path)
    return str(path)


def _joblib_loader(path):
    import joblib

    model = joblib.load(path)
    if not hasattr(model, "predict"):
        raise ValueError(f"{path} is not a model")
    return model


@pytest.fixture
def two_models(iris_split):
    """Two fitted classifiers whose predictions on x_test differ, and that data."""
    from sklearn.linear_model import LogisticRegression

    x, y, x_test, _ = iris_split
    a = LogisticRegression(max_iter=300).fit(x, y)
    b = LogisticRegression(max_iter=300).fit(x, (y + 1) % 3)
    pa, pb = a.predict(x_test), b.predict(x_test)
    assert not np.array_equal(pa, pb)
    return a, b, x_test, pa, pb


@pytest.mark.integration
def test_swap_under_concurrent_predictions_is_never_torn_and_is_seen_within_one_period(tmp_path, two_models):
    # Arrange: two threads predict continuously while the watcher polls every 0.2 s
    a, b, x_test, pa, pb = two_models
    path_b = _save(b, tmp_path / "b.pkl")
    cfg = tmp_path / "model_config.json"
    slot = ModelSlot(a, version="v1")
    reports = []
    watcher = ModelWatcher(slot, config_path=str(cfg), loader=_joblib_loader, period=0.2,
                           report=lambda **kw: reports.append(kw), initial_version="v1")
    stop = threading.Event()
    outcomes = {"a": 0, "b": 0, "torn": 0, "errors": []}
    after_swap_old = []
    seen_new = threading.Event()

    def hammer():
        while not stop.is_set():
            version = slot.version
            try:
                pred = slot.get().predict(x_test)
            except Exception as exc:  # noqa: BLE001 - any failure is what the test counts
                outcomes["errors"].append(exc)
                continue
            if np.array_equal(pred, pa):
                outcomes["a"] += 1
                if version == "v2":
                    after_swap_old.append(version)
            elif np.array_equal(pred, pb):
                outcomes["b"] += 1
                if outcomes["b"] >= 20:
                    seen_new.set()
            else:
                outcomes["torn"] += 1

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    watcher.start()
    try:
        # Act
        write_model_config(cfg, path_b, "v2")
        swapped = slot.wait_for_version("v2", timeout=0.2 + 2.0)
        served = seen_new.wait(5.0)  # the new model answers a few predictions
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        watcher.stop()

    # Assert
    assert swapped and served
    assert outcomes["errors"] == [] and outcomes["torn"] == 0
    assert outcomes["a"] > 0 and outcomes["b"] >= 20
    assert after_swap_old == []
    assert watcher.events_[-1].status is UpdateStatus.DEPLOYED
    assert reports == [{"task_info": None, "status": "completed", "kind": "deploy"}]
    assert not watcher.is_alive()


def test_broken_new_model_keeps_old_serving_and_is_reported_failed_once(tmp_path, two_models):
    # Arrange
    a, b, x_test, pa, pb = two_models
    cfg = tmp_path / "model_config.json"
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"this is not a model")
    slot = ModelSlot(a, version="v1")
    reports = []
    watcher = ModelWatcher(slot, config_path=str(cfg), loader=_joblib_loader, period=60,
                           report=lambda **kw: reports.append(kw["status"]), initial_version="v1")
    write_model_config(cfg, str(broken), "v2")

    # Act
    first = watcher.poll_once()
    again = watcher.poll_once()
    write_model_config(cfg, _save(b, tmp_path / "b.pkl"), "v3")
    fixed = watcher.poll_once()

    # Assert
    assert first.status is UpdateStatus.FAILED and first.error
    assert again.status is UpdateStatus.UNCHANGED
    assert fixed.status is UpdateStatus.DEPLOYED
    assert reports == ["failed", "completed"]
    assert np.array_equal(slot.get().predict(x_test), pb) and slot.version == "v3"


def test_torn_config_and_missing_model_are_retried_without_a_report(tmp_path, two_models):
    a, b, *_ = two_models
    cfg = tmp_path / "model_config.json"
    reports = []
    watcher = ModelWatcher(ModelSlot(a), config_path=str(cfg), loader=_joblib_loader, period=60,
                           report=lambda **kw: reports.append(kw))
    cfg.write_text('{"model_config": {"model_pa')
    assert watcher.poll_once().status is UpdateStatus.NO_CONFIG
    write_model_config(cfg, str(tmp_path / "not-yet.pkl"), "v2")
    assert watcher.poll_once().status is UpdateStatus.MISSING_MODEL
    _save(b, tmp_path / "not-yet.pkl")
    assert watcher.poll_once().status is UpdateStatus.DEPLOYED
    assert [r["status"] for r in reports] == ["completed"]


def test_model_from_storage_url_is_downloaded_and_old_download_deleted(tmp_path, two_models, s3_config):
    # Arrange: config and models on the S3 test endpoint
    from minio import Minio

    from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY

    a, b, x_test, pa, pb = two_models
    endpoint = s3_config.s3_endpoint_url.split("://", 1)[1]
    Minio(endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False).make_bucket("hotupdate")
    storage = Context(s3_config).storage
    storage.upload(_save(b, tmp_path / "b.pkl"), "s3://hotupdate/models/b.pkl")
    storage.upload(_save(a, tmp_path / "a.pkl"), "s3://hotupdate/models/a.pkl")
    work = tmp_path / "work"
    slot = ModelSlot(a)
    watcher = ModelWatcher(slot, config_path="s3://hotupdate/model_config.json", loader=_joblib_loader,
                           storage=storage, work_dir=str(work))

    # Act
    config_url = "s3://hotupdate/model_config.json"
    storage.write_bytes(config_url, dump_model_config("s3://hotupdate/models/b.pkl", "v2").encode())
    first = watcher.poll_once()
    storage.write_bytes(config_url, dump_model_config("s3://hotupdate/models/a.pkl", "v3").encode())
    second = watcher.poll_once()
    downloads = sorted(p.name for p in work.rglob("*.pkl"))
    watcher.stop()

    # Assert
    assert (first.status, second.status) == (UpdateStatus.DEPLOYED, UpdateStatus.DEPLOYED)
    assert np.array_equal(slot.get().predict(x_test), pa)
    assert downloads == ["a.pkl"]
    assert list(work.rglob("*.pkl")) == []


def test_stop_ends_the_thread_without_waiting_a_period(tmp_path):
    watcher = ModelWatcher(ModelSlot("m"), config_path=str(tmp_path / "none.json"), loader=str, period=3600)
    watcher.start()
    watcher.stop(timeout=5)
    assert not watcher.is_alive() and watcher.daemon


def test_sedna_model_loading_thread_swaps_backend_and_reports_deploy(tmp_path, two_models):
    # Arrange: the Sedna-named thread over a real sklearn backend
    from sedna_lib.backends import set_backend

    a, b, x_test, pa, pb = two_models
    ctx = Context(Config(model_hot_update_config=str(tmp_path / "model_config.json"),
                         model_poll_period_seconds=60))
    backend = set_backend(a, ctx.config, context=ctx)
    backend.has_load = True
    reports = []
    thread = ModelLoadingThread(backend, callback=lambda **kw: reports.append(kw), context=ctx)
    write_model_config(tmp_path / "model_config.json", _save(b, tmp_path / "b.pkl"), "v2")

    # Act
    event = thread.poll_once()

    # Assert
    assert event.status is UpdateStatus.DEPLOYED
    assert thread.estimator is not backend and np.array_equal(thread.estimator.predict(x_test), pb)
    assert np.array_equal(backend.predict(x_test), pa)  # the old backend was not touched
    assert reports == [{"task_info": None, "status": "completed", "kind": "deploy"}]
    assert json.loads(dump_model_config("/m", "v"))["model_config"]["model_update_time"] == "v"


def test_a_model_that_loads_but_cannot_serve_like_the_old_one_is_refused(tmp_path, two_models, iris_split):
    # a classifier of another input width, or a regressor, was deployed: every request then failed (or
    # answered floats) until a good model came
    from sklearn.linear_model import LinearRegression, LogisticRegression

    a, b, x_test, pa, _ = two_models
    x, y, _, _ = iris_split
    cfg = tmp_path / "model_config.json"
    slot = ModelSlot(a, version="v1")
    watcher = ModelWatcher(slot, config_path=str(cfg), loader=_joblib_loader, period=60, initial_version="v1")
    events = []
    for version, model in (("v2", LogisticRegression(max_iter=300).fit(x[:, :2], y)),
                           ("v3", LinearRegression().fit(x, y))):
        write_model_config(cfg, _save(model, tmp_path / f"{version}.pkl"), version)
        events.append(watcher.poll_once())
    assert [e.status for e in events] == [UpdateStatus.FAILED] * 2
    assert "takes 2 features; the serving one takes 4" in events[0].error
    assert "regressor; the serving one is a classifier" in events[1].error
    assert slot.version == "v1" and np.array_equal(slot.get().predict(x_test), pa)


def test_stop_returns_within_its_timeout_while_a_poll_is_loading_and_the_poll_cleans_up(
        tmp_path, two_models, s3_config):
    from minio import Minio

    from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY

    a, b, _, _, _ = two_models
    endpoint = s3_config.s3_endpoint_url.split("://", 1)[1]
    Minio(endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False).make_bucket("slowload")
    storage = Context(s3_config).storage
    storage.upload(_save(b, tmp_path / "b.pkl"), "s3://slowload/models/b.pkl")
    storage.write_bytes("s3://slowload/model_config.json",
                        dump_model_config("s3://slowload/models/b.pkl", "v2").encode())
    loading, release = threading.Event(), threading.Event()

    def slow_loader(path):
        loading.set()
        release.wait(60)
        return _joblib_loader(path)

    work = tmp_path / "work"
    slot = ModelSlot(a)
    watcher = ModelWatcher(slot, config_path="s3://slowload/model_config.json", loader=slow_loader,
                           storage=storage, work_dir=str(work), period=3600)
    watcher.start()
    stopper = threading.Thread(target=watcher.stop, kwargs={"timeout": 0})
    try:
        assert loading.wait(30)
        stopper.start()
        stopper.join(30)  # a bound for a broken stop, not a timing: stop(timeout=0) does not wait
        returned = not stopper.is_alive()
        downloaded = sorted(p.name for p in work.rglob("*.pkl"))
    finally:
        release.set()
    watcher.join(30)
    stopper.join(30)

    assert returned and downloaded == ["b.pkl"]  # the poll was still loading its download
    assert not watcher.is_alive() and slot.version == "v2"  # the poll in progress finished
    assert list(work.rglob("*.pkl")) == []  # and deleted the download as it ended


@pytest.mark.parametrize("period", [float("nan"), float("inf"), -1, 0, True], ids=repr)
def test_a_poll_period_that_is_not_a_positive_number_fails_start_before_polling(tmp_path, period):
    watcher = ModelWatcher(ModelSlot("a"), config_path=str(tmp_path / "model_config.json"),
                           loader=lambda path: path, period=period)
    with pytest.raises(ParameterError, match="period must be a finite number > 0"):
        watcher.start()
    assert watcher.polls_ == 0 and not watcher.is_alive()


def test_a_poll_period_given_as_text_is_the_seconds_between_polls(tmp_path):
    # start() reads the text as a number (as a control plane writes it); the thread polls on with that number
    watcher = ModelWatcher(ModelSlot("a"), config_path=str(tmp_path / "model_config.json"),
                           loader=lambda path: path, period="0.01")
    watcher.start()
    try:
        deadline = time.monotonic() + 3
        while watcher.polls_ < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert watcher.polls_ >= 3 and watcher.is_alive()
    finally:
        watcher.stop()
