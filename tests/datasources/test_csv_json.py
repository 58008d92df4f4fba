"""CSVDataParse (pandas, no pycocotools) and JSONDataParse (COCO-MOT over plain json)."""

from __future__ import annotations

import json

import pytest

from sedna_lib.datasources import CSVDataParse, JSONDataParse
from sedna_lib.exceptions import DataError, SednaWarning, StorageNotFoundError

pd = pytest.importorskip("pandas")


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "atcii.csv"
    path.write_text("Season,Air temperature,Thermal preference\nsummer,24.1,1\nwinter,19.5,0\n")
    return path


def test_label_column_goes_to_y(table):
    ds = CSVDataParse("train").parse(str(table), label="Thermal preference")

    assert list(ds.x.columns) == ["Season", "Air temperature"]
    assert ds.y.tolist() == [1, 0] and len(ds) == 2


def test_without_label_y_is_none(table):
    ds = CSVDataParse("train").parse(str(table))

    assert ds.y is None and ds.x.shape == (2, 3)


def test_usecols_string_adds_the_label(table):
    ds = CSVDataParse("train").parse(str(table), label="Thermal preference", usecols="Air temperature")

    assert list(ds.x.columns) == ["Air temperature"] and ds.y.tolist() == [1, 0]


def test_dict_rows_and_func_per_frame():
    ds = CSVDataParse("test", func=lambda df: df.assign(t2=df["t"] * 2))

    ds.parse({"t": 1.0, "y": 0}, [{"t": 2.0, "y": 1}], label="y")

    assert ds.x["t2"].tolist() == [2.0, 4.0] and ds.y.tolist() == [0, 1]


def test_frame_without_label_is_skipped_with_a_warning():
    with pytest.warns(SednaWarning, match="no label column 'y'"):
        ds = CSVDataParse("train").parse({"t": 1.0}, label="y")

    assert ds.x is None and not ds


def test_missing_csv_raises(tmp_path):
    with pytest.raises(StorageNotFoundError, match="CSV file"):
        CSVDataParse("train").parse(str(tmp_path / "none.csv"))


def test_malformed_csv_raises_data_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('a,b\n1,"unterminated\n')

    with pytest.raises(DataError, match="bad.csv: not a valid CSV file"):
        CSVDataParse("train").parse(str(path))


@pytest.fixture
def mot(tmp_path):
    root = tmp_path / "mot"
    (root / "annotations").mkdir(parents=True)
    (root / "train" / "seq1" / "gt").mkdir(parents=True)
    (root / "train" / "seq1" / "gt" / "gt_val_half.txt").write_text("")
    coco = {
        "images": [{"id": 1, "width": 640, "height": 480, "frame_id": 1, "video_id": 1, "file_name": "a.jpg"},
                   {"id": 2, "width": 640, "height": 480, "frame_id": 2, "video_id": 1}],
        "annotations": [
            {"id": 10, "image_id": 1, "bbox": [10, 20, 30, 40], "area": 1200, "category_id": 7, "track_id": 3,
             "iscrowd": 0},
            {"id": 11, "image_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "category_id": 7, "track_id": 4,
             "iscrowd": 1},
        ],
        "categories": [{"id": 7, "name": "person"}],
    }
    path = root / "annotations" / "val_half.json"
    path.write_text(json.dumps(coco))
    return path


def test_json_parse_reads_coco_mot_without_pycocotools(mot):
    ds = JSONDataParse("train").parse(str(mot))

    boxes, info, name = ds.x["annotations"][0]
    assert ds.x["ids"] == [1, 2] and ds.x["class_ids"] == [7]
    assert boxes.tolist() == [[10, 20, 40, 60, 0, 3]]
    assert info == (480, 640, 1, 1, "a.jpg") and name == "a.jpg"
    assert ds.x["annotations"][1][0].shape == (0, 6) and ds.x["annotations"][1][2] == "000000000002.jpg"
    assert [p.name for p in ds.y] == ["gt_val_half.txt"] and len(ds) == 2


def test_json_parse_bad_file_names_it(tmp_path):
    bad = tmp_path / "a" / "b.json"
    bad.parent.mkdir()
    bad.write_text("{")
    incomplete = tmp_path / "a" / "c.json"
    incomplete.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))

    with pytest.raises(DataError, match="b.json:1: not JSON"):
        JSONDataParse("train").parse(str(bad))
    with pytest.raises(DataError, match="c.json: image 1: missing or bad field 'height'"):
        JSONDataParse("train").parse(str(incomplete))
