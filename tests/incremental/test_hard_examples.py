"""Hard-example store: layout, index files, storage outage, restart, S3, and the labelling step."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sedna_lib.exceptions import DataError, ParameterError, StorageError, StorageNotFoundError
from sedna_lib.incremental_learning.hard_examples import (
    INDEX_CSV,
    INDEX_TXT,
    HardExampleStore,
    load_sample,
    read_hard_examples,
    write_labels,
)


def test_layout_has_samples_predictions_and_both_indexes(tmp_path):
    # Arrange
    out = tmp_path / "out"
    sample = np.arange(64, dtype=np.float32).reshape(8, 8)

    # Act
    with HardExampleStore(str(out), batch="round-0001", spool_dir=str(tmp_path / "spool")) as store:
        store.put(sample, np.array([0.1, 0.6, 0.3]), sample_id="x1")
        store.put(b"\xff\xd8jpeg", [[1, 2, 3, 4, 0.3, 7]], sample_id="x2", ext=".jpg")
        assert store.flush(timeout=10)

    # Assert
    batch = out / "round-0001"
    assert (batch / INDEX_TXT).read_text() == "samples/x1.npy 1\nsamples/x2.jpg\n"
    header = (batch / INDEX_CSV).read_text().splitlines()[0]
    assert header == "id,sample,label,time,prediction"
    assert np.array_equal(np.load(batch / "samples" / "x1.npy", allow_pickle=False), sample)
    assert (batch / "samples" / "x2.jpg").read_bytes() == b"\xff\xd8jpeg"
    record = json.loads((batch / "predictions" / "x1.json").read_text())
    assert record["prediction"] == pytest.approx([0.1, 0.6, 0.3]) and record["label"] == "1"
    assert os.listdir(tmp_path / "spool") == []


def test_index_is_readable_by_txt_and_csv_data_parse(tmp_path):
    # Arrange
    from sedna_lib.datasources import CSVDataParse, TxtDataParse

    with HardExampleStore(str(tmp_path), batch="b") as store:
        for i in range(3):
            store.put(np.full((2, 2), i), i, sample_id=f"s{i}")
        store.flush(timeout=10)

    # Act
    txt = TxtDataParse(data_type="train")
    txt.parse(str(tmp_path / "b" / INDEX_TXT))
    table = CSVDataParse(data_type="train")
    table.parse(str(tmp_path / "b" / INDEX_CSV), label="label")

    # Assert
    assert list(txt.x) == ["samples/s0.npy", "samples/s1.npy", "samples/s2.npy"]
    assert [str(v) for v in txt.y] == ["0", "1", "2"]
    assert len(table.x) == 3 and [int(v) for v in table.y] == [0, 1, 2]


@pytest.mark.integration
def test_examples_survive_a_storage_outage(tmp_path):
    # Arrange: the output path is a file, so every upload fails until it is removed
    out = tmp_path / "out"
    out.write_text("storage is down")
    store = HardExampleStore(str(out), batch="b", spool_dir=str(tmp_path / "spool"), retry_initial=0.05,
                             retry_max=0.2).start()

    # Act
    ids = [store.put(np.full(4, i), [0.5, 0.5], sample_id=f"h{i}") for i in range(5)]
    stalled = store.flush(timeout=0.5)
    failures = store.upload_failures_
    out.unlink()  # storage comes back
    drained = store.flush(timeout=10)
    store.close()

    # Assert
    assert not stalled and failures >= 1
    assert drained and store.uploaded_ == 5
    assert [e.id for e in read_hard_examples(str(out / "b"))] == ids


def test_pending_examples_are_uploaded_by_the_next_process(tmp_path):
    # Arrange: the first store cannot upload and stops with examples spooled
    out, spool = tmp_path / "out", str(tmp_path / "spool")
    out.write_text("down")
    first = HardExampleStore(str(out), batch="b", spool_dir=spool, retry_initial=0.05).start()
    first.put(np.zeros(3), 0, sample_id="a")
    first.put(np.ones(3), 1, sample_id="b")
    assert first.close(timeout=0) is False
    out.unlink()

    # Act
    second = HardExampleStore(str(out), batch="b", spool_dir=spool).start()
    drained = second.flush(timeout=10)
    second.put(np.ones(3), 2, sample_id="c")
    second.close()

    # Assert
    assert drained
    assert (out / "b" / INDEX_TXT).read_text() == "samples/a.npy 0\nsamples/b.npy 1\nsamples/c.npy 2\n"


def test_files_left_by_a_crash_inside_put_are_removed_on_start(tmp_path):
    # Arrange: a half-written file and a sample whose commit marker was never written
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / ".000000000001-a.json.1f2e3d4c5b6a.part").write_bytes(b"{")
    (spool / "000000000001-a.sample").write_bytes(b"\x93NUMPY")

    # Act
    store = HardExampleStore(str(tmp_path / "out"), batch="b", spool_dir=str(spool)).start()
    pending = store.pending
    store.close()

    # Assert
    assert pending == 0
    assert os.listdir(spool) == []


def test_full_spool_raises_storage_error_after_timeout(tmp_path):
    out = tmp_path / "out"
    out.write_text("down")
    store = HardExampleStore(str(out), batch="b", spool_dir=str(tmp_path / "spool"), max_pending=2,
                             put_timeout=0.1, retry_initial=0.05).start()
    store.put(np.zeros(2), 0)
    store.put(np.zeros(2), 0)
    with pytest.raises(StorageError, match="spool is full"):
        store.put(np.zeros(2), 0)
    assert store.pending == 2
    store.close(timeout=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"sample": np.array([{"a": 1}], dtype=object)}, "would need pickle"),
    ({"sample": np.zeros(2), "sample_id": "../escape"}, "sample_id"),
    ({"sample": np.zeros(2), "label": "two words"}, "without whitespace"),
    ({"sample": np.zeros(2), "prediction": object()}, "cannot be stored as JSON"),
])
def test_bad_examples_raise_data_error(tmp_path, kwargs, match):
    store = HardExampleStore(str(tmp_path / "out"), spool_dir=str(tmp_path / "spool"))
    with pytest.raises(DataError, match=match):
        store.put(**kwargs)
    store.close(timeout=0)


def test_labelling_step_writes_labels_that_override_pre_labels(tmp_path):
    # Arrange
    with HardExampleStore(str(tmp_path), batch="b") as store:
        store.put(np.zeros((2, 2)), [0.9, 0.1], sample_id="p")
        store.put(np.ones((2, 2)), [0.2, 0.8], sample_id="q")
        store.flush(timeout=10)
    batch = str(tmp_path / "b")

    # Act
    path = write_labels(batch, {"p": 1, "q": np.int64(0)})
    examples = read_hard_examples(batch)

    # Assert
    assert open(path).read() == "samples/p.npy 1\nsamples/q.npy 0\n"
    assert [(e.id, e.label) for e in examples] == [("p", "1"), ("q", "0")]
    assert np.array_equal(load_sample(examples[1].sample), np.ones((2, 2)))
    with pytest.raises(DataError, match="not a hard example"):
        write_labels(batch, {"zz": 1})
    with pytest.raises(StorageNotFoundError, match="does not exist"):
        read_hard_examples(str(tmp_path / "nope"))


@pytest.mark.s3
@pytest.mark.integration
def test_s3_output_on_the_test_endpoint(tmp_path, s3_config):
    # Arrange
    from minio import Minio

    from sedna_lib.context import Context
    from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY

    endpoint = s3_config.s3_endpoint_url.split("://", 1)[1]
    client = Minio(endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    client.make_bucket("hard-examples")
    storage = Context(s3_config).storage

    # Act
    with HardExampleStore("s3://hard-examples/edge-1", storage=storage, batch="round-0001",
                          spool_dir=str(tmp_path / "spool")) as store:
        store.put(np.eye(3), [0.3, 0.7], sample_id="e1")
        store.put(np.zeros(3), [0.6, 0.4], sample_id="e2")
        assert store.flush(timeout=20)
    examples = read_hard_examples("s3://hard-examples/edge-1/round-0001", storage=storage)

    # Assert
    assert [(e.id, e.label) for e in examples] == [("e1", "1"), ("e2", "0")]
    assert examples[0].sample == "s3://hard-examples/edge-1/round-0001/samples/e1.npy"
    assert np.array_equal(load_sample(examples[0].sample, storage=storage), np.eye(3))
    assert storage.read_bytes("s3://hard-examples/edge-1/round-0001/hard_examples.txt") == \
        b"samples/e1.npy 1\nsamples/e2.npy 0\n"


def test_url_output_without_storage_raises(tmp_path):
    with pytest.raises(StorageError, match="pass storage="):
        HardExampleStore("s3://bucket/x", spool_dir=str(tmp_path)).start()


_BAD_STORE_OPTIONS = (
    [(o, v) for o in ("max_pending", "put_timeout", "retry_initial", "retry_max")
     for v in (float("nan"), float("inf"), -1, True)]
    + [("max_pending", 0), ("max_pending", 2.5), ("retry_initial", 0), ("retry_max", 0.1)])


@pytest.mark.parametrize("option, value", _BAD_STORE_OPTIONS, ids=repr)
def test_a_bad_numeric_option_fails_start_before_the_spool_is_made(tmp_path, option, value):
    spool = tmp_path / "spool"
    store = HardExampleStore(str(tmp_path / "out"), batch="b", spool_dir=str(spool), **{option: value})
    with pytest.raises(ParameterError, match=option):
        store.start()
    assert not spool.exists()
