"""Incremental learning on pandas DataFrames: through the loop and the job; hard examples kept as tables."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.incremental_learning import IncrementalLearning, IncrementalLoop
from sedna_lib.incremental_learning.hard_examples import (HardExampleStore, join_uri, load_sample,
                                                          read_hard_examples)
from sedna_lib.transport.lc import LCClient

pd = pytest.importorskip("pandas")


def _table(n, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"city": rng.choice(["paris", "rome", "oslo"], n), "age": rng.normal(40, 10, n)})
    return df, ((df.city == "rome") ^ (df.age > 40)).astype(int).to_numpy()


def _column_pipeline():
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    # strings name the columns: only a DataFrame can be given to it
    return make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["city"]),
                                                 remainder="passthrough"), LogisticRegression())


@pytest.fixture(scope="module")
def tables():
    return _table(40, 0), _table(120, 1), _table(60, 2)


# -- the local loop ----------------------------------------------------------------------------------

def test_loop_trains_a_column_pipeline_on_dataframes_and_keeps_hard_examples_as_tables(tables, tmp_path):
    initial, stream, held_out = tables
    seen = []

    def labeler(samples, predictions):
        seen.append(samples)
        return stream[1][samples.index.to_numpy()]  # the stream frame's own row labels

    loop = IncrementalLoop(_column_pipeline(), upload_budget=0.25, labeler=labeler, progress=False,
                           hard_example_output=str(tmp_path / "he"), spool_dir=str(tmp_path / "spool"))
    records = loop.run(initial, stream, held_out, rounds=2)

    assert [r.stream_samples for r in records] == [60, 60]
    assert [r.uploaded for r in records] == [15, 15]
    assert all(isinstance(s, pd.DataFrame) and list(s.columns) == ["city", "age"] for s in seen)
    assert isinstance(loop.labelled_x_, pd.DataFrame) and len(loop.labelled_x_) == 40 + 30
    examples = read_hard_examples(join_uri(str(tmp_path / "he"), "round-0001"))
    assert len(examples) == 15
    row = load_sample(examples[0].sample)
    assert isinstance(row, pd.DataFrame) and list(row.columns) == ["city", "age"] and len(row) == 1
    assert row["city"].iloc[0] in {"paris", "rome", "oslo"} and row["age"].dtype.kind == "f"


def test_loop_splits_one_dataframe_stream_by_rows(tables):
    _, stream, _ = tables
    batches = list(IncrementalLoop._batches(stream[0], 3))
    assert [len(b) for b in batches] == [40, 40, 40]
    assert all(isinstance(b, pd.DataFrame) for b in batches)
    pairs = IncrementalLoop._batches(stream, 4)
    assert [len(x) for x, _ in pairs] == [30] * 4 and isinstance(pairs[0][0], pd.DataFrame)


def test_loop_still_takes_lists_and_arrays(iris_split):
    x, y, xt, yt = iris_split
    from sklearn.linear_model import LogisticRegression

    loop = IncrementalLoop(LogisticRegression(max_iter=300), upload_budget=0.2, progress=False)
    records = loop.run((x[:20].tolist(), y[:20].tolist()), (x[20:], y[20:]), (xt, yt), rounds=2)
    assert [r.uploaded for r in records] == [8, 8]
    assert isinstance(loop.labelled_x_, np.ndarray) and loop.labelled_x_.shape == (36, 4)


# -- the hard-example store --------------------------------------------------------------------------

def test_store_keeps_a_dataframe_as_a_table_that_reads_back_with_its_types(tmp_path):
    frame = pd.DataFrame({"city": ["rome", "oslo"], "age": [31.5, 52.0], "n": [1, 2], "ok": [True, False]})
    with HardExampleStore(str(tmp_path), batch="b", spool_dir=str(tmp_path / "spool")) as store:
        store.put(frame, [0.4, 0.6], sample_id="t1")
        assert store.flush(timeout=5)

    (example,) = read_hard_examples(join_uri(str(tmp_path), "b"))
    back = load_sample(example.sample)
    pd.testing.assert_frame_equal(back, frame)
    assert example.label == "1"


def test_store_keeps_a_table_in_the_json_form_joint_inference_sends(tmp_path):
    import json

    from sedna_lib._json import table_to_json

    frame = pd.DataFrame({"when": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 11:30"]),
                          "took": pd.to_timedelta([1.5, 90], unit="s"),
                          "city": pd.Categorical(["rome", "oslo"]),
                          "n": np.array([7, 8], dtype="int32"), "ok": [True, False]}, index=[37, 12])
    with HardExampleStore(str(tmp_path), batch="b", spool_dir=str(tmp_path / "spool")) as store:
        store.put(frame, 1, sample_id="t1")
        assert store.flush(timeout=5)

    (example,) = read_hard_examples(join_uri(str(tmp_path), "b"))
    assert example.sample.endswith("t1.table.json")
    with open(example.sample, encoding="utf-8") as fh:
        assert json.load(fh) == json.loads(json.dumps(table_to_json(frame)))
    back = load_sample(example.sample)
    # names, order and types come back; the index does not (rows are numbered from 0)
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))


def test_store_refuses_a_table_cell_json_cannot_hold(tmp_path):
    from sedna_lib.exceptions import DataError

    frame = pd.DataFrame({"city": ["rome"], "what": [object()]})
    with HardExampleStore(str(tmp_path), batch="b", spool_dir=str(tmp_path / "spool")) as store:
        with pytest.raises(DataError, match="sample of type DataFrame cannot be kept as a table"):
            store.put(frame, 1)
        assert store.pending == 0


def test_load_sample_keeps_bytes_named_like_a_table_and_reads_the_earlier_table_form(tmp_path):
    with HardExampleStore(str(tmp_path), batch="b", spool_dir=str(tmp_path / "spool")) as store:
        store.put(b'{"data": [1], "note": "mine"}', 1, sample_id="x.table", ext=".json")
        assert store.flush(timeout=5)
    (example,) = read_hard_examples(join_uri(str(tmp_path), "b"))
    assert load_sample(example.sample) == b'{"data": [1], "note": "mine"}'

    frame = pd.DataFrame({"city": ["rome", "oslo"], "age": [31.5, 52.0]})
    earlier = tmp_path / "old.table.json"
    earlier.write_text(frame.to_json(orient="table"), encoding="utf-8")
    pd.testing.assert_frame_equal(load_sample(str(earlier)), frame)


def test_store_names_the_real_type_of_a_sample_it_cannot_keep(tmp_path):
    from sedna_lib.exceptions import DataError

    with HardExampleStore(str(tmp_path), batch="b", spool_dir=str(tmp_path / "spool")) as store:
        with pytest.raises(DataError, match="sample of type list"):
            store.put([{"city": "rome"}], 1)


# -- the job (Sedna's face) --------------------------------------------------------------------------

def _job(tmp_path, estimator, lc_server, **options):
    cfg = Config(lc_server=lc_server, worker_name="w1", namespace="default", job_name="il",
                 model_url=str(tmp_path / "model"), model_name="model.pkl",
                 hard_example_spool=str(tmp_path / "spool"))
    return IncrementalLearning(estimator=estimator, hard_example_mining={"method": "CloudOnly"},
                               hard_example_output=str(tmp_path / "he"), context=Context(cfg), **options)


def test_job_infers_on_a_dataframe_and_keeps_the_hard_example_as_a_table(tables, tmp_path, lc_stub):
    (df, y), _, _ = tables
    job = _job(tmp_path, _column_pipeline(), lc_stub.url)
    job.train((df, y))

    infer_res, _, is_hard = job.inference(df[:3])
    job.close()

    assert len(infer_res) == 3 and is_hard
    (batch,) = [p for p in (tmp_path / "he").iterdir()]
    (example,) = read_hard_examples(str(batch))
    pd.testing.assert_frame_equal(load_sample(example.sample), df[:3])


def test_job_says_once_that_a_hard_example_cannot_be_kept_and_still_answers(tmp_path, lc_stub, caplog):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = [{"city": c, "age": float(a)} for c, a in zip(["rome", "oslo"] * 10, range(20))]
    job = _job(tmp_path, make_pipeline(DictVectorizer(), LogisticRegression()), lc_stub.url)
    job.train((rows, [i % 2 for i in range(20)]))

    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        answers = [job.inference(rows[:2]) for _ in range(3)]
        job.close()

    assert all(len(a.infer_res) == 2 and a.is_hard_example for a in answers)
    said = [r.getMessage() for r in caplog.records if "not kept" in r.getMessage()]
    assert len(said) == 2, said  # the first failure, and the count when the job closes
    assert "sample of type list" in said[0] and "ndarray" not in said[0]
    assert "3 hard examples" in said[1]
    assert job.hard_examples_not_kept_ == 3
    registry = job.status_.site.metrics.registry  # the metrics say it too: found 3, none kept
    assert registry.get_sample_value("sedna_il_hard_examples_total") == 3
    assert registry.get_sample_value("sedna_il_hard_examples_not_kept_total") == 3


# -- turning LocalController reports off -------------------------------------------------------------

def test_job_with_reports_off_trains_without_a_local_controller(tables, tmp_path, closed_port_url, caplog):
    (df, y), _, _ = tables
    job = _job(tmp_path, _column_pipeline(), closed_port_url, report=False)
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        job.train((df, y))
    assert job.report is False
    assert not [r for r in caplog.records if "LocalController" in r.getMessage()]
    assert job.lc_client.failures_ == 0


def _reporting_jobs():
    from sedna_lib.compat.core.federated_learning import FederatedLearning as SednaFederated
    from sedna_lib.compat.core.incremental_learning import IncrementalLearning as SednaIncremental
    from sedna_lib.compat.core.joint_inference import JointInference as SednaJoint
    from sedna_lib.compat.core.lifelong_learning import LifelongLearning as SednaLifelong
    from sedna_lib.federated_learning import FederatedLearning
    from sedna_lib.joint_inference import JointInference
    from sedna_lib.lifelong_learning import LifelongLearning

    return [(JointInference, SednaJoint), (IncrementalLearning, SednaIncremental),
            (FederatedLearning, SednaFederated), (LifelongLearning, SednaLifelong)]


@pytest.mark.parametrize("native, sedna", _reporting_jobs(), ids=lambda c: c.__name__)
def test_advice_without_a_local_controller_names_only_what_that_job_accepts(
        native, sedna, closed_port_url, caplog):
    client = LCClient(closed_port_url, timeout=(0.5, 0.5), max_retries=0)
    message = {"name": "w1", "namespace": "ns", "ownerName": "job", "ownerKind": native.job_kind,
               "kind": "train"}
    with caplog.at_level(logging.WARNING, logger="sedna_lib"):
        assert client.send("w1", message) is False
    (line,) = [r.getMessage() for r in caplog.records if "LocalController" in r.getMessage()]

    assert "outside a Sedna cluster" in line
    if "report=False" in line:
        assert "report" in inspect.signature(native).parameters
        assert "report" in inspect.signature(sedna).parameters
    if "LCReporter_enable" in line:
        assert "LCReporter_enable" in inspect.signature(sedna).parameters
