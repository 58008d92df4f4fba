"""`sedna-lib config`: variables grouped by feature, every value checked, all errors listed, --json."""

from __future__ import annotations

import json

from sedna_lib.cli import main
from sedna_lib.config import GROUPS, check, describe


def test_every_variable_belongs_to_a_feature_group():
    groups = [spec.group for spec in describe()]

    assert all(groups)
    assert list(dict.fromkeys(groups)) == [title for title, _ in GROUPS]  # each group once, in order
    groups = {spec.variable: spec.group for spec in describe()}
    assert {v for v, g in groups.items() if g == "Observability"} == {
        "SEDNA_LOG_LEVEL", "SEDNA_LOG_FORMAT", "SEDNA_METRICS_PORT", "SEDNA_METRICS_BIND_IP"}
    assert groups["SEDNA_LLM_MODEL"] == "Language models" and groups["AGG_PORT"] == "Federated learning"


def test_check_lists_every_problem_not_only_the_first(tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("key")  # a TLS file must exist; here the key is there, the certificate is missing
    values, errors = check({"AGG_PORT": "x", "BIG_MODEL_PORT": "99999", "SEDNA_REQUEST_TIMEOUT": "0",
                            "SEDNA_MAX_RETRIES": "-1", "SEDNA_TLS_KEY": str(key), "MODEL_URL": "m.pkl"})

    assert [e.variable for e in errors] == ["BIG_MODEL_PORT", "AGG_PORT", "SEDNA_REQUEST_TIMEOUT",
                                            "SEDNA_MAX_RETRIES", "SEDNA_TLS_KEY"]
    assert str(errors[2]) == "SEDNA_REQUEST_TIMEOUT must be greater than 0, got '0'"
    assert str(errors[3]) == "SEDNA_MAX_RETRIES must be 0 or more, got '-1'"
    assert "set the certificate too" in str(errors[4])
    assert values == {"MODEL_URL": "m.pkl", "SEDNA_TLS_KEY": str(key)}


def test_misspelt_backend_is_named_with_the_known_ones(monkeypatch, capsys):
    monkeypatch.setenv("BACKEND_TYPE", "PYTOCH")
    monkeypatch.setenv("HEM_NAME", "IBTX")
    monkeypatch.setenv("AGG_PORT", "not-a-port")
    monkeypatch.setenv("AGGREGATION_ALGORITHM", "FedAvg")

    status = main(["config"])
    captured = capsys.readouterr()

    assert status == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert errors[0] == "error: AGG_PORT must be an int, got 'not-a-port'"
    assert errors[1].startswith("error: BACKEND_TYPE: unknown backend 'PYTOCH'; known: ")
    assert "PYTORCH" in errors[1] and "TORCH" in errors[1] and "SKLEARN" in errors[1]
    assert errors[2].startswith("error: HEM_NAME: unknown hard-example miner 'IBTX'; known: ")
    assert "IBT" in errors[2]
    assert len(errors) == 3  # FedAvg is registered: no error
    assert "3 invalid variables" in captured.err
    assert "Backend:\n" in captured.out and "Federated learning:\n" in captured.out
    assert " ! BACKEND_TYPE" in captured.out and " * AGGREGATION_ALGORITHM" in captured.out


def test_json_output_for_tools(monkeypatch, capsys):
    monkeypatch.setenv("AGG_PORT", "8123")
    monkeypatch.setenv("SECRET_ACCESS_KEY", "very-secret")
    monkeypatch.setenv("SEDNA_LOG_FORMAT", "xml")

    status = main(["config", "--changed", "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 1
    rows = {row["variable"]: row for group in report["groups"] for row in group["variables"]}
    assert set(rows) == {"AGG_PORT", "SECRET_ACCESS_KEY", "SEDNA_LOG_FORMAT"}
    assert rows["AGG_PORT"] == {"variable": "AGG_PORT", "value": 8123, "set": True,
                                "help": "Aggregator port, as trainers see it.", "error": None}
    assert rows["SECRET_ACCESS_KEY"]["value"] == "<set>"
    assert rows["SEDNA_LOG_FORMAT"]["value"] == "xml"
    assert report["errors"] == [{"variable": "SEDNA_LOG_FORMAT",
                                 "message": "SEDNA_LOG_FORMAT must be one of text, json, got 'xml'"}]


def test_a_valid_environment_exits_zero(monkeypatch, capsys):
    monkeypatch.setenv("BACKEND_TYPE", "pytorch")

    assert main(["config", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == []
    assert sum(len(g["variables"]) for g in report["groups"]) == len(list(describe()))
