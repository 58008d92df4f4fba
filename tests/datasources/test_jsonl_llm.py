"""Sedna 0.6's JSON Lines and LLM-benchmark parsers, as Ianvs reads its datasets with them."""

from __future__ import annotations

import json

import pytest

from sedna_lib.datasources import BaseDataSource, JsonlDataParse, JSONMetaDataParse
from sedna_lib.exceptions import DataError, StorageNotFoundError


def _write_jsonl(path, rows, extra=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra, encoding="utf-8")
    return path


def test_jsonl_questions_are_x_and_answers_are_y_in_file_order(tmp_path):
    rows = [{"question": "1+1?", "answer": "2"}, {"question": "capital of France?", "answer": "Paris"}]
    path = _write_jsonl(tmp_path / "test.jsonl", rows, extra="\n")

    ds = JsonlDataParse(data_type="test")
    returned = ds.parse(str(path))

    assert returned is ds and isinstance(ds, BaseDataSource)
    assert ds.x.tolist() == ["1+1?", "capital of France?"]
    assert ds.y.tolist() == ["2", "Paris"]  # test data keeps its answers: Ianvs scores against them
    assert len(ds) == 2


def test_jsonl_line_without_answer_names_file_line_and_field(tmp_path):
    path = _write_jsonl(tmp_path / "t.jsonl", [{"question": "a", "answer": "b"}, {"question": "c"}])

    with pytest.raises(DataError, match=r"t\.jsonl:2: no 'answer' field"):
        JsonlDataParse("train").parse(str(path))


def test_jsonl_line_that_is_not_json_names_file_and_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"question": "a", "answer": "b"}\n{"question": \n', encoding="utf-8")

    with pytest.raises(DataError, match=r"t\.jsonl:2: not a JSON object"):
        JsonlDataParse("train").parse(str(path))


def test_jsonl_missing_file_is_an_error_and_empty_names_are_skipped(tmp_path):
    with pytest.raises(StorageNotFoundError, match="absent.jsonl"):
        JsonlDataParse("train").parse(str(tmp_path / "absent.jsonl"))
    assert len(JsonlDataParse("train").parse(None, "")) == 0


@pytest.fixture
def llm_bench(tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "metadata.json").write_text(json.dumps({
        "dataset": "tiny-gov", "description": "two questions", "level_1_dim": "single-modal",
        "level_2_dim": "text", "level_3_dim": "government", "level_4_dim": "policy"}), encoding="utf-8")
    _write_jsonl(folder / "data.jsonl", [
        {"prompt": "Answer briefly. ", "query": "Who signs laws?", "response": "The president",
         "explanation": "constitution", "judge_prompt": "Score 0-10: ", "level_3_dim": "gov",
         "level_4_dim": "law"},
        {"query": "What is a budget?", "response": "A plan", "level_3_dim": "gov", "level_4_dim": "finance"},
    ])
    return folder / "metadata.json"


def test_metadata_parse_reads_the_metadata_and_the_data_file_beside_it(llm_bench):
    ds = JSONMetaDataParse(data_type="test")
    returned = ds.parse(str(llm_bench))

    assert returned is ds and ds.need_other_info is True
    assert (ds.dataset_name, ds.description, ds.level_1_dim, ds.level_2_dim) == (
        "tiny-gov", "two questions", "single-modal", "text")
    assert (ds.level_3_dim, ds.level_4_dim) == ("government", "policy")
    assert ds.x.tolist() == ["Answer briefly. Who signs laws?", "What is a budget?"]
    assert ds.y.tolist() == ["The president", "A plan"]
    assert ds.explanation.tolist() == ["constitution", ""]
    assert ds.judge_prompts.tolist() == ["Score 0-10: ", ""]
    assert ds.level_3.tolist() == ["gov", "gov"] and ds.level_4.tolist() == ["law", "finance"]


def test_metadata_parse_without_required_fields_names_them(llm_bench):
    meta = {"dataset": "x", "description": "y", "level_1_dim": "z"}
    (llm_bench.parent / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(DataError, match=r"metadata\.json:1: no 'level_2_dim' field"):
        JSONMetaDataParse("test").parse(str(llm_bench))


def test_metadata_parse_data_line_without_level_names_the_line(llm_bench):
    _write_jsonl(llm_bench.parent / "data.jsonl", [{"query": "q", "response": "r", "level_3_dim": "a"}])

    with pytest.raises(DataError, match=r"data\.jsonl:1: no 'level_4_dim' field"):
        JSONMetaDataParse("test").parse(str(llm_bench))


def test_metadata_parse_without_data_file_names_it(llm_bench):
    (llm_bench.parent / "data.jsonl").unlink()

    with pytest.raises(StorageNotFoundError, match=r"data file of metadata\.json .*data\.jsonl"):
        JSONMetaDataParse("test").parse(str(llm_bench))


def test_sedna_06_import_path_has_both_parsers():
    import sedna.datasources as sd

    assert sd.JsonlDataParse is JsonlDataParse and sd.JSONMetaDataParse is JSONMetaDataParse
    assert {"JsonlDataParse", "JSONMetaDataParse"} <= set(sd.__all__)
