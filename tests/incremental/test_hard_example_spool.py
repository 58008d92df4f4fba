"""Hard examples are never reported as uploaded while they sit in a temporary folder.

An ``s3://`` output with no ``S3_ENDPOINT_URL`` is a configuration error at start (naming the
variable), before anything is trained or spooled; an output that cannot be written keeps the
examples in the spool folder the user chose (``SEDNA_HARD_EXAMPLE_SPOOL``), says so, and the next
run on that spool uploads them.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError
from sedna_lib.incremental_learning.hard_examples import HardExampleStore, read_hard_examples, spool_for
from sedna_lib.incremental_learning import IncrementalLoop
from sedna_lib.storage import StorageRouter


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return (x[:15], y[:15]), (x[15:75], y[15:75]), (x[105:], y[105:])


def test_store_to_s3_without_endpoint_is_a_config_error_naming_the_variable(tmp_path):
    store = HardExampleStore("s3://hard-examples/edge-1", storage=StorageRouter.from_config(Config()),
                             spool_dir=str(tmp_path / "spool"))

    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL") as caught:
        store.start()

    assert caught.value.variable == "S3_ENDPOINT_URL"


def test_loop_to_s3_without_endpoint_fails_at_start_before_training(tmp_path, iris):
    initial, _, eval_data = iris
    loop = IncrementalLoop(LogisticRegression(max_iter=300), hard_example_output="s3://hard-examples/edge-1",
                           output_dir=str(tmp_path / "loop"), progress=False,
                           context=Context(Config(work_dir=str(tmp_path / "work"))))

    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL"):
        loop.start(initial, eval_data)

    assert not (tmp_path / "loop").exists() and not (tmp_path / "work").exists()


def test_cli_to_s3_without_endpoint_exits_1_naming_the_variable(tmp_path, monkeypatch, capsys):
    from sedna_lib.cli import main

    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("SEDNA_WORK_DIR", str(tmp_path / "work"))

    code = main(["incremental", "--dataset", "iris", "--rounds", "1", "--initial", "20", "--no-progress",
                 "--hard-examples", "s3://hard-examples/edge-1"])

    out, err = capsys.readouterr()
    assert code == 1
    assert "S3_ENDPOINT_URL" in err and "uploaded" not in out


def test_unwritable_output_keeps_examples_in_the_chosen_spool_and_the_next_run_uploads_them(
        tmp_path, iris, caplog):
    initial, stream, eval_data = iris
    output = tmp_path / "hard"
    output.write_text("a file where the output folder should be")  # the output cannot be written
    spool = tmp_path / "my-spool"

    def loop():
        return IncrementalLoop(LogisticRegression(max_iter=300), upload_budget=0.2, progress=False,
                               hard_example_output=str(output), spool_dir=str(spool), upload_timeout=0.5,
                               context=Context(Config(work_dir=str(tmp_path / "work"))))

    first = loop()
    with caplog.at_level("WARNING", logger="sedna_lib.incremental_learning.hard_examples"):
        [record] = first.run(initial, stream, eval_data, rounds=1)

    folder = spool_for(str(spool), str(output))
    assert record.uploaded == 12 and record.hard_examples_pending == 12
    assert any(f"12 not uploaded to {output}" in m and folder in m for m in caplog.messages)
    assert len([p for p in (spool.iterdir()) for _ in p.glob("*.json")]) == 12

    output.unlink()  # the output is back; the next run on the same spool uploads what waited
    again_loop = loop()
    [again] = again_loop.run(initial, stream, eval_data, rounds=1)

    assert again.hard_examples_pending == 0
    uploaded = read_hard_examples(str(output / "round-0001"))  # both runs' round 1, none overwritten
    assert len(uploaded) == 24 and len({e.id for e in uploaded}) == 24
    assert {e.id.split("-")[1] for e in uploaded} == {first.run_id_, again_loop.run_id_}


def test_inference_worker_saving_to_s3_without_endpoint_fails_at_start(tmp_path):
    import joblib

    from sedna_lib.incremental_learning import IncrementalLearning

    x, y = load_iris(return_X_y=True)
    model = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=300).fit(x, y), model)
    cfg = Config(model_url=str(model), work_dir=str(tmp_path / "work"), lc_server="http://127.0.0.1:9",
                 max_retries=0)
    job = IncrementalLearning(estimator=LogisticRegression(), context=Context(cfg),
                              hard_example_output="s3://hard-examples/edge-1")

    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL"):
        job.start()
    job.close()
