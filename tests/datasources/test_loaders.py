"""solar_corona's load_train_dataset / load_eval_dataset from TRAIN_DATASET_URL / TEST_DATASET_URL."""

from __future__ import annotations

import numpy as np
import pytest

import sedna_lib
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.datasources import load_dataset, load_eval_dataset, load_train_dataset
from sedna_lib.exceptions import ConfigError, DataError, StorageNotFoundError


def test_npz_from_train_dataset_url(tmp_path, monkeypatch, rng):
    x, y = rng.normal(size=(5, 3)), np.arange(5)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    monkeypatch.setenv("TRAIN_DATASET_URL", str(tmp_path / "train.npz"))

    got_x, got_y = sedna_lib.load_train_dataset()

    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object), y=np.arange(1))

    with pytest.raises(DataError, match="without pickled objects"):
        load_dataset(str(tmp_path / "obj.npz"))


def test_csv_from_test_dataset_url_in_a_context(tmp_path):
    path = tmp_path / "eval.csv"
    path.write_text("f1,f2,label\n0.5,1.5,1\n2.0,3.0,0\n")

    x, y = load_eval_dataset(context=Context(Config(test_dataset_url=str(path))))

    assert x.tolist() == [[0.5, 1.5], [2.0, 3.0]] and y.tolist() == [1, 0] and y.dtype.kind == "i"


def test_csv_ragged_row_names_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3\n")

    with pytest.raises(DataError, match=r"bad.csv:3: expected 2 columns, got 1"):
        load_dataset(str(path))


def test_txt_index_resolves_paths_and_numeric_labels(tmp_path):
    path = tmp_path / "index.txt"
    path.write_text("img/a.png 1\nimg/b.png 2\n")

    x, y = load_train_dataset(str(path))

    assert x.tolist() == [str(tmp_path / "img/a.png"), str(tmp_path / "img/b.png")]
    assert y.tolist() == [1, 2]


def test_unset_variable_raises_config_error_naming_it():
    with pytest.raises(ConfigError, match="TEST_DATASET_URL is not set"):
        load_eval_dataset()


def test_missing_file_raises(tmp_path):
    with pytest.raises(StorageNotFoundError):
        load_train_dataset(str(tmp_path / "none.npz"))
