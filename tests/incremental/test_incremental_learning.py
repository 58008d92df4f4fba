"""IncrementalLearning (Sedna's face): train/eval/deploy report bodies against a LocalController stub."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError
from sedna_lib.incremental_learning.hot_update import write_model_config
from sedna_lib.incremental_learning import IncrementalLearning, as_list_metrics

pytestmark = pytest.mark.integration

IDENTITY = {"name": "trainworker-x1y2z", "namespace": "default", "ownerName": "helmet-il",
            "ownerKind": "incrementallearningjob"}


def _config(lc_stub, **fields):
    return Config(lc_server=lc_stub.url, worker_name=IDENTITY["name"], namespace="default",
                  job_name="helmet-il", **fields)


def _lr():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300)


def test_train_saves_under_model_url_and_reports_host_paths(tmp_path, lc_stub, iris_split):
    # Arrange: a tree laid out like the GM's (container prefix /home/data -> tmp_path/home/data)
    x, y, _, _ = iris_split
    prefix = tmp_path / "home" / "data"
    cfg = _config(lc_stub, model_url=str(prefix / "output" / "train" / "1"), data_path_prefix=str(prefix))
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg))

    # Act
    backend = job.train((x, y))
    body = lc_stub.wait_for(1)[0]

    # Assert
    assert (prefix / "output" / "train" / "1" / backend.model_name).is_file()
    assert list(body) == ["name", "namespace", "ownerName", "ownerKind", "kind", "status", "results"]
    assert {k: body[k] for k in IDENTITY} == IDENTITY
    assert (body["kind"], body["status"]) == ("train", "completed")
    assert body["results"] == [{"format": "pkl", "url": f"/output/train/1/{backend.model_name}",
                                "metrics": body["results"][0]["metrics"]}]
    metrics = body["results"][0]["metrics"]
    assert metrics is None or isinstance(metrics, dict)


def test_train_without_model_url_raises_config_error(lc_stub, iris_split):
    x, y, _, _ = iris_split
    job = IncrementalLearning(estimator=_lr(), context=Context(_config(lc_stub)))
    with pytest.raises(ConfigError, match="MODEL_URL"):
        job.train((x, y))


def test_eval_reports_one_entry_per_model_url_in_order_with_list_metrics(tmp_path, lc_stub, iris_split):
    # Arrange: a good "new" model and a worse "deployed" one
    import joblib

    x, y, x_test, y_test = iris_split
    new, old = tmp_path / "new" / "model.pkl", tmp_path / "deployed" / "model.pkl"
    new.parent.mkdir()
    old.parent.mkdir()
    joblib.dump(_lr().fit(x, y), new)
    joblib.dump(_lr().fit(x[:12], y[:12]), old)
    cfg = _config(lc_stub, model_urls=(str(new), str(old)), data_path_prefix=str(tmp_path))
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg))

    # Act
    results = job.evaluate((x_test, y_test))
    body = lc_stub.wait_for(1)[0]

    # Assert
    assert (body["kind"], body["status"]) == ("eval", "completed")
    assert body["ownerKind"] == "incrementallearningjob"
    assert [r["url"] for r in body["results"]] == ["/new/model.pkl", "/deployed/model.pkl"]
    assert body["results"] == results
    for entry in body["results"]:
        assert entry["format"] == "pkl"
        assert isinstance(entry["metrics"]["accuracy"], list) and len(entry["metrics"]["accuracy"]) == 1
    assert results[0]["metrics"]["accuracy"][0] > results[1]["metrics"]["accuracy"][0]


def test_eval_of_sedna_style_estimator_gets_model_path_and_keeps_per_class_lists(tmp_path, lc_stub):
    # Arrange: a Sedna-style estimator returning per-class recall/precision lists
    class Estimator:
        def load(self, model_url):
            self.loaded = model_url

        def evaluate(self, data, model_path="", **kwargs):
            assert model_path == self.loaded
            return {"recall": [0.5, 0.75], "precision": np.array([0.25, 1.0])}

        def predict(self, data):
            return data

    paths = []
    for name in ("a.pb", "b.pb"):
        (tmp_path / name).write_bytes(b"pb")
        paths.append(str(tmp_path / name))
    job = IncrementalLearning(estimator=Estimator, context=Context(_config(lc_stub, model_urls=tuple(paths))))

    # Act
    job.evaluate([1, 2])
    body = lc_stub.wait_for(1)[0]

    # Assert
    assert [r["metrics"] for r in body["results"]] == [{"recall": [0.5, 0.75], "precision": [0.25, 1.0]}] * 2
    assert [r["format"] for r in body["results"]] == ["pb", "pb"]


def test_inference_returns_sedna_tuple_mines_and_saves_hard_examples(tmp_path, lc_stub, iris_split):
    # Arrange
    import joblib

    from sedna_lib.incremental_learning.hard_examples import read_hard_examples

    x, y, x_test, _ = iris_split
    model = tmp_path / "model.pkl"
    joblib.dump(_lr().fit(x, y), model)
    cfg = _config(lc_stub, model_url=str(model), hem_name="Margin",
                  hem_parameters={"threshold_margin": "0.999"}, work_dir=str(tmp_path / "work"))
    out = tmp_path / "hard"
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg), hard_example_output=str(out),
                              mining_input="proba")

    # Act
    infer_res, res, is_hard = job.inference(x_test[:1], post_process=lambda r: r.tolist())
    job.hard_examples_.flush(timeout=10)
    job.close()

    # Assert
    assert isinstance(infer_res, np.ndarray) and res == infer_res.tolist()
    assert is_hard is True
    batch = next(out.iterdir())
    [example] = read_hard_examples(str(batch))
    assert example.label == str(res[0]) and len(example.prediction) == 3


def test_inference_after_close_is_a_closed_error_and_start_runs_the_uploader_again(
        tmp_path, lc_stub, iris_split):
    import joblib

    from sedna_lib.exceptions import ClosedError
    from sedna_lib.incremental_learning.hard_examples import read_hard_examples

    x, y, x_test, _ = iris_split
    model = tmp_path / "model.pkl"
    joblib.dump(_lr().fit(x, y), model)
    cfg = _config(lc_stub, model_url=str(model), hem_name="Margin",
                  hem_parameters={"threshold_margin": "0.999"}, work_dir=str(tmp_path / "work"))
    out = tmp_path / "hard"
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg), hard_example_output=str(out),
                              mining_input="proba")
    assert job.inference(x_test[:1]).is_hard_example
    first_store = job.hard_examples_
    job.close()

    with pytest.raises(ClosedError, match=r"IncrementalLearning was closed; call start\(\)"):
        job.inference(x_test[1:2])
    assert first_store._thread is None  # the closed uploader was not started again behind the job's back
    job.close()  # idempotent

    job.start()
    assert job.inference(x_test[2:3]).is_hard_example
    assert job.hard_examples_ is not first_store and job.hard_examples_.flush(timeout=10)
    job.close()
    with job:  # a with block opens it again; its first inference starts it
        assert job.inference(x_test[3:4]).is_hard_example
    assert job.hard_examples_.pending == 0

    assert len(read_hard_examples(str(next(out.iterdir())))) == 3


def test_get_hem_algorithm_from_config_lets_caller_override(monkeypatch):
    from sedna_lib.compat.core.incremental_learning import IncrementalLearning

    monkeypatch.setenv("HEM_NAME", "IBT")
    monkeypatch.setenv("HEM_PARAMETERS", '[{"key": "threshold_img", "value": "0.9"}, {"key": "x"}]')
    assert IncrementalLearning.get_hem_algorithm_from_config(threshold_img=0.5) == \
        {"method": "IBT", "param": {"threshold_img": 0.5, "x": ""}}
    monkeypatch.delenv("HEM_NAME")
    assert IncrementalLearning.get_hem_algorithm_from_config() == {}


def test_inference_hot_swaps_deployed_model_and_reports_deploy(tmp_path, lc_stub, iris_split):
    # Arrange: hot update on, the LC's config in a mounted folder
    import joblib

    x, y, x_test, _ = iris_split
    first, second = tmp_path / "m1.pkl", tmp_path / "hot" / "m2.pkl"
    second.parent.mkdir()
    joblib.dump(_lr().fit(x, y), first)
    new_model = _lr().fit(x, (y + 1) % 3)
    joblib.dump(new_model, second)
    config_path = tmp_path / "hot" / "model_config.json"
    cfg = _config(lc_stub, model_url=str(first), model_hot_update=True, model_poll_period_seconds=0.2,
                  model_hot_update_config=str(config_path), work_dir=str(tmp_path / "work"))
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg))
    before = job.inference(x_test).infer_res

    # Act
    version = write_model_config(config_path, str(second), "2025-10-29 22:15:31 +0800 CST m=+1.5")
    swapped = job.slot.wait_for_version(version, timeout=3.0)
    after = job.inference(x_test).infer_res
    body = lc_stub.wait_for(1)[0]
    job.close()

    # Assert
    assert swapped
    assert np.array_equal(after, new_model.predict(x_test)) and not np.array_equal(after, before)
    assert body == {**IDENTITY, "kind": "deploy", "status": "completed"}
    assert json.loads(lc_stub.raw[0]) == body and not job.watcher_.is_alive()


def test_constructor_starts_nothing(lc_stub):
    cfg = _config(lc_stub, model_hot_update=True, model_hot_update_config="/nonexistent/model_config.json")
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg))
    assert job.watcher_ is None and job.hard_examples_ is None and lc_stub.bodies == []


def test_hot_update_without_config_path_raises(tmp_path, lc_stub, iris_split):
    import joblib

    x, y, _, _ = iris_split
    joblib.dump(_lr().fit(x, y), tmp_path / "m.pkl")
    cfg = _config(lc_stub, model_url=str(tmp_path / "m.pkl"), model_hot_update=True)
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg))
    with pytest.raises(ConfigError, match="MODEL_HOT_UPDATE_CONFIG"):
        job.start()


def test_scalar_metrics_become_lists():
    assert as_list_metrics({"accuracy": np.float64(0.5)}) == {"accuracy": [0.5]}
    assert as_list_metrics(None) is None


def test_sedna_alias_imports_the_same_class():
    from sedna.core.incremental_learning import IncrementalLearning as Aliased

    from sedna_lib.compat.core.incremental_learning import IncrementalLearning as Face

    assert Aliased is Face and issubclass(Face, IncrementalLearning)


def test_inference_worker_serves_metrics_that_count_samples_and_hot_swaps(tmp_path, lc_stub, iris_split):
    import joblib
    import requests

    x, y, x_test, _ = iris_split
    first, second, broken = tmp_path / "m1.pkl", tmp_path / "hot" / "m2.pkl", tmp_path / "hot" / "bad.pkl"
    second.parent.mkdir()
    joblib.dump(_lr().fit(x, y), first)
    joblib.dump(_lr().fit(x, (y + 1) % 3), second)
    broken.write_bytes(b"not a model")
    config_path = tmp_path / "hot" / "model_config.json"
    cfg = _config(lc_stub, model_url=str(first), model_hot_update=True, model_poll_period_seconds=0.2,
                  model_hot_update_config=str(config_path), work_dir=str(tmp_path / "work"), metrics_port=0,
                  metrics_bind_ip="127.0.0.1")
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg), hard_example_mining=lambda r: True)
    job.inference(x_test)
    url = job.status_.url

    def value(name, **labels):
        text = requests.get(url + "/metrics", timeout=5).text
        key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(key + " "))

    before = value("sedna_model_hot_swaps_total", outcome="done")
    version = write_model_config(config_path, str(second), "2025-10-29 22:15:31 +0800 CST m=+1.5")
    assert job.slot.wait_for_version(version, timeout=3.0)
    lc_stub.wait_for(1)
    job.inference(x_test)
    write_model_config(config_path, str(broken), "2025-10-29 22:16:00 +0800 CST m=+2.5")
    lc_stub.wait_for(2)  # the failed deploy is reported after it is counted
    ready = requests.get(url + "/readyz", timeout=5).json()
    done, failed = value("sedna_model_hot_swaps_total", outcome="done"), \
        value("sedna_model_hot_swaps_total", outcome="failed")
    samples, hard = value("sedna_inference_samples_total"), value("sedna_il_hard_examples_total")
    job.close()

    assert before == 0 and done == 1 and failed == 1
    assert samples == 2 and hard == 2
    assert ready["status"] == "ok" and ready["model_version"] == version


def test_a_callback_name_is_looked_up_in_the_jobs_own_registry(tmp_path, lc_stub, iris_split):
    # Arrange: the callback lives only in the registry of the job's context, not the default one
    import joblib

    from sedna_lib.registry import Kind, Registry

    x, y, x_test, _ = iris_split
    model = tmp_path / "model.pkl"
    joblib.dump(_lr().fit(x, y), model)
    own = Registry()
    own.register(Kind.CALLBACK, "tests.Count", lambda result: ("counted", len(result)))
    cfg = _config(lc_stub, model_url=str(model), hem_name="Margin",
                  hem_parameters={"threshold_margin": "0.0"}, work_dir=str(tmp_path / "work"))
    job = IncrementalLearning(estimator=_lr(), context=Context(cfg, registry=own),
                              hard_example_output=str(tmp_path / "hard"), mining_input="proba")

    # Act
    _, res, _ = job.inference(x_test[:2], post_process="tests.Count")
    job.close()

    # Assert
    assert res == ("counted", 2)
