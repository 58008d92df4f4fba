"""The local incremental loop: budget, deploy gate, per-round JSON, hot-update hand-off, torch, the CLI."""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
import pytest

from sedna_lib.exceptions import DataError, ParameterError
from sedna_lib.incremental_learning.hot_update import parse_model_config
from sedna_lib.incremental_learning import IncrementalLoop, run_rounds, score_metric


@pytest.fixture(scope="module")
def digits_stream():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order] / 16.0, y[order]
    return (x[:40], y[:40]), (x[40:400], y[40:400]), (x[1200:], y[1200:])


def _lr():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500)


def test_rounds_respect_the_budget_and_write_json_records(tmp_path, digits_stream):
    # Arrange
    initial, stream, eval_data = digits_stream
    out = tmp_path / "run"
    progress = io.StringIO()

    # Act
    records = run_rounds(_lr(), initial, stream, eval_data, rounds=3, upload_budget=0.1, output_dir=str(out),
                         progress=progress)

    # Assert
    assert [r.uploaded for r in records] == [12, 12, 12]
    assert all(r.upload_fraction == pytest.approx(0.1) for r in records)
    assert [r.labelled_total for r in records] == [52, 64, 76]
    doc = json.loads((out / "rounds.json").read_text())
    assert [r["round"] for r in doc["rounds"]] == [1, 2, 3] and doc["upload_budget"] == 0.1
    assert set(doc["rounds"][0]) >= {"uploaded", "metric_before", "metric_after", "deployed"}
    lines = progress.getvalue().splitlines()  # a file, not a terminal: one line per round, and why
    assert lines[0].startswith("initial model: accuracy ")
    assert [line.split(" uploaded=")[0] for line in lines if " uploaded=" in line] == [
        "round 1/3", "round 2/3", "round 3/3"]
    assert lines[1].startswith("round 1/3 uploaded=12/120 accuracy=")
    for r in records:
        said = next(line for line in lines if line.startswith(f"round {r.round}: "))
        gain = r.metric_candidate - r.metric_before
        if r.deployed:
            assert said.startswith(f"round {r.round}: deployed round-000{r.round}: accuracy ")
        else:
            assert said == f"round {r.round}: kept the old model: {gain:+.4f} < min_delta 0.01"
    for r in records:
        assert r.metric_after >= r.metric_before
        assert r.deployed == (r.metric_candidate - r.metric_before >= 0.01)
    assert any(r.deployed for r in records)


def test_budget_caps_the_stream_fraction_and_carries_rounding_over(digits_stream):
    # Arrange: 20 % of 64-sample rounds is 12.8 per round
    initial, stream, eval_data = digits_stream
    x, y = stream[0][:320], stream[1][:320]

    # Act
    records = run_rounds(_lr(), initial, (x, y), eval_data, rounds=5, upload_budget=0.2, progress=False)

    # Assert: never above 20 % of the stream so far, and exactly 20 % at the end
    assert [r.uploaded for r in records] == [12, 13, 13, 13, 13]
    running = np.cumsum([r.uploaded for r in records]) / np.cumsum([r.stream_samples for r in records])
    assert np.all(running <= 0.2 + 1e-12) and running[-1] == pytest.approx(0.2)


def test_gain_of_exactly_min_delta_deploys_despite_float_rounding(digits_stream):
    # Arrange: 0.57 - 0.56 is 0.00999... in binary floating point
    initial, stream, eval_data = digits_stream
    values = iter([0.56, 0.56, 0.57])
    loop = IncrementalLoop(_lr(), upload_budget=0.1, min_delta=0.01, metric=lambda t, p: next(values),
                           progress=False)

    # Act
    [record] = loop.run(initial, stream, eval_data, rounds=1)

    # Assert
    assert record.deployed and record.metric_after == 0.57


def test_deploy_gate_refuses_a_worse_model(digits_stream):
    # Arrange: a labeller that lies, so retraining makes the model worse
    initial, stream, eval_data = digits_stream
    loop = IncrementalLoop(_lr(), upload_budget=1.0, labeler=lambda x, pred: np.zeros(len(x), dtype=int),
                           progress=False)

    # Act
    records = loop.run(initial, stream, eval_data, rounds=1)

    # Assert
    [r] = records
    assert r.metric_candidate < r.metric_before
    assert not r.deployed and r.metric_after == r.metric_before
    assert loop.slot_.version == "round-0000" and r.model_version == "round-0000"


def test_deploy_writes_lc_style_hot_update_config(tmp_path, digits_stream):
    initial, stream, eval_data = digits_stream
    cfg = tmp_path / "hot" / "model_config.json"
    loop = IncrementalLoop(_lr(), upload_budget=0.5, min_delta=0.0, output_dir=str(tmp_path / "out"),
                           hot_update_config=str(cfg), progress=False)
    records = loop.run(initial, stream, eval_data, rounds=1)
    parsed = parse_model_config(cfg.read_text())
    assert records[0].deployed and parsed.model_update_time == "round-0001"
    assert (tmp_path / "out" / "models" / "round-0001").is_dir() and parsed.model_path.endswith(".pkl")


def test_hard_examples_of_each_round_are_saved(tmp_path, digits_stream):
    from sedna_lib.incremental_learning.hard_examples import read_hard_examples

    initial, stream, eval_data = digits_stream
    run_rounds(_lr(), initial, stream, eval_data, rounds=2, upload_budget=0.05,
               hard_example_output=str(tmp_path / "he"), progress=False)
    assert len(read_hard_examples(str(tmp_path / "he" / "round-0002"))) == 9


@pytest.mark.parametrize("kwargs, match", [
    ({"upload_budget": 0}, "upload_budget"),
    ({"min_delta": -0.1}, "min_delta"),
    ({"min_delta": float("nan")}, "min_delta must be a finite number"),
    ({"min_delta": float("inf")}, "min_delta must be a finite number"),
    ({"min_delta": "a lot"}, "min_delta must be a number"),
    ({"upload_budget": float("nan")}, "upload_budget must be a finite number"),
    ({"upload_timeout": float("nan")}, "upload_timeout must be a finite number"),
    ({"upload_timeout": -1}, "upload_timeout must be seconds"),
    ({"hot_update_config": "x.json"}, "needs output_dir"),
    ({"metric": "auc"}, "unknown metric"),
])
def test_bad_parameters_raise(digits_stream, kwargs, match):
    initial, stream, eval_data = digits_stream
    with pytest.raises(ParameterError, match=match):
        IncrementalLoop(_lr(), progress=False, **kwargs).run(initial, stream, eval_data, rounds=1)


def test_unlabelled_stream_without_labeler_raises(digits_stream):
    initial, stream, eval_data = digits_stream
    with pytest.raises(DataError, match="no labeler"):
        IncrementalLoop(_lr(), progress=False).run(initial, [stream[0][:50]], eval_data)


def test_metrics():
    assert score_metric("macro_f1", [0, 1, 2, 2], [0, 1, 2, 2]) == 1.0
    assert score_metric(lambda t, p: 0.5, [0], [1]) == 0.5


@pytest.mark.torch
def test_loop_runs_a_torch_model(digits_stream):
    # Arrange
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    initial, stream, eval_data = digits_stream
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    f32 = [(x.astype("float32"), y) for x, y in (initial, stream, eval_data)]

    # Act
    records = run_rounds(model, f32[0], f32[1], f32[2], rounds=1, upload_budget=0.3, min_delta=0.0,
                         train_kwargs={"epochs": 3, "batch_size": 64}, progress=False)

    # Assert
    assert records[0].uploaded == 108
    assert records[0].metric_after >= records[0].metric_before


def test_cli_runs_rounds_and_prints_them(tmp_path, capsys):
    from sedna_lib.cli.incremental import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["incremental", "--dataset", "iris", "--rounds", "2", "--initial", "15",
                              "--budget", "0.2", "--output", str(tmp_path), "--no-progress"])
    assert args.handler(args) == 0
    text = capsys.readouterr().out
    assert "round 1: uploaded" in text and "round 2: uploaded" in text
    assert len(json.loads((tmp_path / "rounds.json").read_text())["rounds"]) == 2


def test_an_empty_round_records_nothing_mined_and_the_loop_goes_on(digits_stream):
    # a stream split into more rounds than it has samples gives empty rounds: the miner's predict_proba
    # raised scikit-learn's "0 sample(s)" ValueError and ended the loop
    initial, stream, evaluation = digits_stream
    few = (stream[0][:3], stream[1][:3])
    records = run_rounds(_lr(), initial, few, evaluation, rounds=5, miner="Margin", progress=False)
    assert [r.stream_samples for r in records] == [1, 1, 1, 0, 0]
    assert all(r.uploaded <= r.stream_samples for r in records)
