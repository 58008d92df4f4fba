"""Joint inference with tabular and record inputs: DataFrame rows, a mapping, a Series, multi-output."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import sedna_lib
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService, CloudOnly, JointInference

OFFLINE = "http://127.0.0.1:9/s"  # nothing listens on port 9: a hard sample is queued


def ctx() -> Context:
    return Context(Config(lc_server="http://127.0.0.1:9"))


def tabular(clf):
    return make_pipeline(make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"), clf)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"city": rng.choice(["paris", "rome", "oslo"], 200), "age": rng.normal(40, 10, 200)})
    y = ((df.city == "rome") ^ (df.age > 40)).astype(int)
    edge = tabular(LogisticRegression()).fit(df[:30], y[:30])
    big = tabular(RandomForestClassifier(n_estimators=20, random_state=0)).fit(df, y)
    return df, edge, big


@pytest.fixture(scope="module")
def table_cloud(frame):
    _, _, big = frame
    with BigModelService(big, context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        yield service.url + "/ji-svc"


@pytest.fixture(scope="module")
def numeric_cloud():
    """A cloud whose model takes numbers only: a row with a string column is refused (422)."""
    x = pd.DataFrame(np.arange(20, dtype=float).reshape(10, 2), columns=["city", "age"])
    with BigModelService(LogisticRegression().fit(x, np.arange(10) % 2), context=ctx()).start(
            host="127.0.0.1", port=0, block=False) as service:
        yield service.url + "/ji-svc"


def load(model, endpoint, tmp_path, **kwargs):
    return sedna_lib.load_model(model, cloud_offload_algorithm=CloudOnly(), big_model_endpoint=endpoint,
                                context=ctx(), offload_dir=str(tmp_path / "queue"), report=False, **kwargs)


# -- DataFrame batches --------------------------------------------------------------------------

def test_each_hard_row_of_a_dataframe_reaches_the_cloud_as_a_one_row_table(frame, table_cloud, tmp_path):
    df, edge, big = frame
    with load(edge, table_cloud, tmp_path) as model:
        got = model.predict(df[:8])
        stats = model.stats
    assert got.tolist() == big.predict(df[:8]).tolist()
    assert (stats["hard"], stats["cloud_ok"], stats["cloud_failed"]) == (8, 8, 0)


def test_one_row_of_a_dataframe_as_a_series_is_one_sample(frame, table_cloud, tmp_path):
    df, edge, big = frame
    with load(edge, table_cloud, tmp_path) as model:
        assert model.predict(df.iloc[3]) == big.predict(df[3:4])[0]
        assert model.stats["cloud_ok"] == 1


def test_dataframe_rows_queued_while_the_cloud_is_away_are_sent_as_tables_later(frame, table_cloud, tmp_path):
    df, edge, big = frame
    sent = []
    with load(edge, OFFLINE, tmp_path, on_offloaded=sent.append) as model:
        model.predict(df[:3])
        assert (model.stats["queued"], model.stats["cloud_failed"]) == (3, 3)
    # the same queue folder, now with a cloud that answers
    with load(edge, table_cloud, tmp_path, on_offloaded=sent.append) as model:
        assert model.joint.drain_offload_queue() == 3
    assert [e.result for e in sent] == [[v] for v in big.predict(df[:3]).tolist()]
    for example, (_, row) in zip(sent, df[:3].iterrows()):
        assert isinstance(example.data, pd.DataFrame)
        assert example.data.columns.tolist() == ["city", "age"]
        assert example.data.iloc[0].tolist() == row.tolist()


def test_a_dataframe_row_the_cloud_refuses_is_kept_as_a_table_in_the_dead_letter_folder(
        frame, numeric_cloud, tmp_path):
    df, edge, _ = frame
    with load(edge, numeric_cloud, tmp_path) as model:
        model.predict(df[:2])
        stats = model.stats
        letters = model.joint.dead_letters
    assert (stats["cloud_failed"], stats["dead_lettered"]) == (2, 2)
    assert [d.status_code for d in letters] == [422, 422]
    pd.testing.assert_frame_equal(letters[1].data, df[1:2].reset_index(drop=True))
    for name in os.listdir(tmp_path / "queue"):  # nothing pickled: the entries' headers are JSON
        assert b"pickle" not in b"".join(p.read_bytes() for p in (tmp_path / "queue" / name).rglob("*.*"))


def test_the_table_encoding_keeps_columns_order_and_types():
    from sedna_lib._json import table_from_json, table_to_json

    df = pd.DataFrame({"b": ["x", None], "a": [1, 2], "f": [0.5, np.nan], "ok": [True, False],
                       "when": pd.to_datetime(["2024-01-02 03:04:05", None]),
                       "kind": pd.Categorical(["p", "q"])})
    wire = json.loads(json.dumps(table_to_json(df)))
    assert wire["columns"] == ["b", "a", "f", "ok", "when", "kind"]
    assert wire["data"][0] == ["x", 1, 0.5, True, "2024-01-02T03:04:05", "p"]
    back = table_from_json(wire["data"], wire["columns"], wire["dtypes"])
    pd.testing.assert_frame_equal(back, df)


# -- what cannot travel is kept or refused loudly ---------------------------------------------

class Refusing:
    """A big model that refuses every input (a 422: the model cannot take it)."""

    def predict(self, x):
        raise ValueError("no")


@pytest.fixture(scope="module")
def refusing_cloud():
    with BigModelService(Refusing(), context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        yield service.url + "/ji-svc"


class Echo:
    """An edge model that answers its input."""

    def predict(self, x):
        return x


def job(endpoint, tmp_path):
    return JointInference(Echo(), lambda result: True, context=ctx(), cloud=endpoint,
                          offload_dir=str(tmp_path / "queue"), report=False)


@pytest.mark.parametrize("sample", [
    pd.Series({"city": "rome", "age": 31.5}),
    [{"n": np.int64(3), "x": np.float32(0.5)}, {"n": np.int64(4), "x": np.float32(1.5)}],
    pd.DataFrame({"when": pd.to_datetime(["2024-05-06"]), "n": [1]}),
], ids=["series", "records-with-numpy-scalars", "datetime-column"])
def test_a_refused_sample_of_another_kind_is_kept_in_the_dead_letter_folder(sample, refusing_cloud, tmp_path):
    with job(refusing_cloud, tmp_path) as ji:
        ji.inference(sample)
        assert (ji.stats["cloud_failed"], ji.stats["dead_lettered"]) == (1, 1)
        assert len(ji.dead_letters) == 1


# -- one record, and structured outputs ----------------------------------------------------------

@pytest.fixture(scope="module")
def records():
    recs = [{"city": c, "n": float(i % 7)} for i, c in enumerate(["paris", "rome", "oslo"] * 5)]
    labels = [int(r["city"] == "rome") for r in recs]
    pipe = make_pipeline(DictVectorizer(), LogisticRegression()).fit(recs, labels)
    return recs, pipe


def test_one_mapping_is_one_sample(records, tmp_path):
    recs, pipe = records
    model = sedna_lib.load_model(pipe, context=ctx(), report=False, offload_dir=str(tmp_path / "q"))
    assert model.predict(recs[1]) == pipe.predict(recs[1])[0]
    assert model.predict(recs[:4]).tolist() == pipe.predict(recs[:4]).tolist()


def test_one_mapping_goes_to_the_cloud_as_a_list_of_one(records, tmp_path):
    recs, pipe = records
    with BigModelService(pipe, context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        with load(pipe, service.url + "/ji-svc", tmp_path) as model:
            assert model.predict(recs[1]) == pipe.predict([recs[1]])[0]
            assert model.stats["cloud_ok"] == 1


class TwoOutputs:
    """A multi-output classifier: predict_proba answers a list of one (n, k) array per output."""

    classes_ = np.arange(2)

    def predict(self, x):
        return np.zeros((len(x), 2), int)

    def predict_proba(self, x):
        n = len(x)
        return [np.full((n, 2), 0.5), np.full((n, 3), 1 / 3)]


def test_rows_of_a_multi_output_answer_are_the_leading_axis_of_each_array(tmp_path):
    model = sedna_lib.load_model(TwoOutputs(), context=ctx(), report=False, offload_dir=str(tmp_path / "q"))
    edge = model.joint.estimator
    out = edge.predict(np.zeros((4, 2)))
    assert [a.shape for a in out] == [(4, 2), (4, 3)]
    one = edge.predict(np.zeros(2))
    assert [np.shape(a) for a in one] == [(2,), (3,)]


@pytest.mark.parametrize("columns", [[["a", "b"]], [{"a": 1}], "city", [["a"], ["b"]]])
def test_malformed_table_columns_are_answered_422_and_the_server_serves_on(table_cloud, columns):
    import requests

    url = table_cloud.rsplit("/", 1)[0] + "/sedna/predict"  # the path every service answers on
    bad = requests.post(url, json={"data": [["rome", 31.0]], "columns": columns},
                        timeout=10)
    good = requests.post(url,
                         json={"data": [["rome", 31.0]], "columns": ["city", "age"]}, timeout=10)
    assert bad.status_code == 422, bad.text
    assert "columns" in bad.json()["detail"]
    assert good.status_code == 200 and len(good.json()["result"]) == 1


@pytest.mark.parametrize("dtypes", [["float64[pyarrow]", "float64"], ["interval", "int64"], ["int64x", None],
                                    ["datetime64[ns, Mars/Olympus]", "category"]])
def test_column_types_the_table_cannot_restore_leave_the_columns_as_json_gave_them(table_cloud, dtypes):
    # a name that only began like a known type was tried, and pyarrow's ImportError answered 500
    import requests

    url = table_cloud.rsplit("/", 1)[0] + "/sedna/predict"
    answer = requests.post(url, json={"data": [["rome", 31.0]], "columns": ["city", "age"], "dtypes": dtypes},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["result"]) == 1
