"""TxtDataParse: Sedna's line rules, explicit errors for missing files and failing funcs, path resolution."""

from __future__ import annotations

import pytest

from sedna_lib.compat.class_factory import ClassFactory, ClassType
from sedna_lib.datasources import BaseDataSource, TxtDataParse
from sedna_lib.exceptions import DataError, StorageError, StorageNotFoundError
from sedna_lib.registry import default_registry


@pytest.fixture
def index(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("images/a.jpg labels/a.txt\n\n  images/b.jpg 1  \nimages/c.jpg\n", encoding="utf-8")
    return path


def test_first_item_is_x_second_is_y_and_missing_label_is_zero(index):
    ds = TxtDataParse("train")

    ds.parse(str(index))

    assert ds.x.tolist() == ["images/a.jpg", "images/b.jpg", "images/c.jpg"]
    assert ds.y.tolist() == ["labels/a.txt", "1", "0"]  # Sedna: a mixed array becomes strings
    assert len(ds) == ds.num_examples() == 3


def test_test_data_has_no_labels(index):
    ds = TxtDataParse("test").parse(str(index))

    assert ds.is_test_data and ds.y.tolist() == [] and len(ds.x) == 3


def test_use_raw_keeps_rows_and_ragged_rows_work(index):
    ds = TxtDataParse("train").parse(str(index), use_raw=True)

    assert ds.x.dtype == object
    assert list(ds.x[0]) == ["images/a.jpg", "labels/a.txt"] and list(ds.x[2]) == ["images/c.jpg"]


def test_func_receives_each_stripped_line(tmp_path):
    path = tmp_path / "fl.txt"
    path.write_text("a.jpg,1\nb.jpg,0\n")

    ds = TxtDataParse("train", func=lambda line: line.split(",")).parse(str(path))

    assert ds.x.tolist() == ["a.jpg", "b.jpg"] and ds.y.tolist() == ["1", "0"]


def test_func_by_registered_callback_name_is_instantiated(tmp_path):
    path = tmp_path / "i.txt"
    path.write_text("x 1\n")
    with default_registry.scope():
        @ClassFactory.register(ClassType.CALLBACK, alias="tests.Upper")
        class Upper:
            def __call__(self, line):
                return line.upper().split()

        ds = TxtDataParse("train", func="tests.Upper").parse(str(path))

    assert ds.x.tolist() == ["X"]


def test_resolve_paths_joins_relative_paths_with_the_index_folder(index, tmp_path):
    ds = TxtDataParse("train").parse(str(index), resolve_paths=True)

    assert ds.x.tolist()[0] == str(tmp_path / "images/a.jpg")
    assert ds.y.tolist()[:2] == [str(tmp_path / "labels/a.txt"), "1"]


def test_unset_files_give_an_empty_falsy_source():
    ds = TxtDataParse("eval").parse(None, "")

    assert not ds and len(ds) == 0


def test_missing_file_raises_storage_not_found(tmp_path):
    with pytest.raises(StorageNotFoundError, match="index file .*nope.txt.* does not exist"):
        TxtDataParse("train").parse(str(tmp_path / "nope.txt"))


def test_remote_url_is_refused_with_a_fix():
    with pytest.raises(StorageError, match="is remote; download it first"):
        TxtDataParse("train").parse("s3://bucket/index.txt")


def test_failing_func_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("ok,1\nbroken\n")

    def func(line):
        name, label = line.split(",")
        return [name, label]

    with pytest.raises(DataError, match=r"bad.txt:2: func failed on 'broken'"):
        TxtDataParse("train", func=func).parse(str(path))


def test_non_utf8_file_names_file_and_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"a 1\n\xff\xfe 2\n")

    with pytest.raises(DataError, match=r"latin.txt:2: not UTF-8"):
        TxtDataParse("train").parse(str(path))


def test_save_writes_a_local_file_and_refuses_remote(tmp_path, index):
    import joblib

    ds = TxtDataParse("train").parse(str(index))

    out = ds.save(str(tmp_path / "out" / "ds.pkl"))

    assert joblib.load(out).x.tolist() == ds.x.tolist()
    with pytest.raises(StorageError, match="local files only"):
        BaseDataSource().save("s3://bucket/ds.pkl")


def test_save_to_a_file_url_writes_the_local_path(tmp_path, index):
    import joblib

    ds = TxtDataParse("train").parse(str(index))
    target = tmp_path / "out" / "ds.pkl"

    out = ds.save(f"file://{target}")

    assert out == str(target)
    assert joblib.load(target).x.tolist() == ds.x.tolist()
