"""Values an operator writes in a pod spec: refused when the environment is read and by `sedna-lib config`."""

from __future__ import annotations

import json
import os

import pytest

from sedna_lib.cli import main
from sedna_lib.config import Config, check
from sedna_lib.exceptions import ConfigError

# What the control plane writes: the GM config's defaults and the values of its install files.
CONTROL_PLANE_VALUES = ["http://localhost:9100", "http://localhost:9020", "http://kb.sedna:9020",
                        "http://127.0.0.1:9100", "https://lc.example.org:443/", "HTTP://localhost:9100"]


def _report(monkeypatch, capsys, env):
    prefixes = ("SEDNA_", "HEM_", "LC_", "KB_", "S3_", "AGGREGATION_")
    for name in [n for n in os.environ if n.startswith(prefixes)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = main(["config"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- 1. URL variables need their scheme -------------------------------------------------------------

@pytest.mark.parametrize("variable, raw", [("LC_SERVER", "localhost:9100"), ("KB_SERVER", "127.0.0.1:19023")])
def test_a_url_without_its_scheme_is_refused_with_the_fix(variable, raw):
    with pytest.raises(ConfigError) as info:
        Config.from_env({variable: raw})

    assert info.value.variable == variable
    assert str(info.value) == f"{variable} must be http(s)://host:port, got {raw!r} (write http://{raw})"


@pytest.mark.parametrize("raw", ["ftp://localhost:9100", "http://", "http://host:99999"])
def test_a_url_of_another_scheme_or_no_host_is_refused(raw):
    with pytest.raises(ConfigError, match="LC_SERVER must be http"):
        Config.from_env({"LC_SERVER": raw})


@pytest.mark.parametrize("raw", CONTROL_PLANE_VALUES)
def test_every_url_the_control_plane_writes_is_accepted(raw):
    cfg = Config.from_env({"LC_SERVER": raw, "KB_SERVER": raw})

    assert cfg.lc_server == raw and cfg.kb_server == raw


# -- 2. TLS files must exist --------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["SEDNA_TLS_CERT", "SEDNA_TLS_KEY", "SEDNA_TLS_CA"])
def test_a_missing_tls_file_is_named_with_its_variable(variable, tmp_path):
    missing = str(tmp_path / "nowhere.pem")

    with pytest.raises(ConfigError) as info:
        Config.from_env({variable: missing})

    assert info.value.variable == variable
    assert variable in str(info.value) and missing in str(info.value)
    assert "does not exist" in str(info.value)


def test_a_folder_is_not_a_tls_file(tmp_path):
    with pytest.raises(ConfigError, match="SEDNA_TLS_CA names .* a folder"):
        Config.from_env({"SEDNA_TLS_CA": str(tmp_path)})


def test_existing_tls_files_are_accepted(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("cert")
    key.write_text("key")

    cfg = Config.from_env({"SEDNA_TLS_CERT": str(cert), "SEDNA_TLS_KEY": str(key), "SEDNA_TLS_CA": str(cert)})

    assert (cfg.tls_cert, cfg.tls_key, cfg.tls_ca) == (str(cert), str(key), str(cert))


# -- 3. `sedna-lib config` refuses what a worker refuses ----------------------------------------------

def test_log_level_is_checked_like_sedna_log_level():
    values, errors = check({"LOG_LEVEL": "verbose"})

    assert [str(e) for e in errors] == [
        "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'verbose'"]
    assert check({"LOG_LEVEL": "warn"})[0] == {"LOG_LEVEL": "WARNING"}


def test_a_kb_bind_address_that_is_no_address_is_refused():
    values, errors = check({"KnowledgeBaseServer": "abc.invalid"})

    assert [e.variable for e in errors] == ["KnowledgeBaseServer"]
    assert "abc.invalid" in str(errors[0])
    assert check({"KnowledgeBaseServer": "127.0.0.1:9020"})[1] == []
    assert check({"KnowledgeBaseServer": "http://0.0.0.0:0"})[1] == []


@pytest.mark.parametrize("env, variable, words", [
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL", "LOG_LEVEL must be"),
    ({"KnowledgeBaseServer": "abc.invalid"}, "KnowledgeBaseServer", "abc.invalid"),
    ({"LC_SERVER": "localhost:9100"}, "LC_SERVER", "(write http://localhost:9100)"),
    ({"SEDNA_TLS_CA": "/nonexistent/ca.pem"}, "SEDNA_TLS_CA", "does not exist"),
    ({"HEM_NAME": "IBT", "HEM_PARAMETERS": '[{"key": "thresh", "value": "0.9"}]'}, "HEM_PARAMETERS",
     "has no parameter 'thresh'"),
    ({"HEM_NAME": "IBT", "HEM_PARAMETERS": '[{"key": "threshold_img", "value": "abc"}]'}, "HEM_PARAMETERS",
     "must be a finite float"),
    ({"AGGREGATION_ALGORITHM": "FedAdam", "AGGREGATION_PARAMETERS": '{"taux": 0.1}'},
     "AGGREGATION_PARAMETERS", "has no parameter 'taux'"),
    ({"AGGREGATION_ALGORITHM": "FedAdam", "AGGREGATION_PARAMETERS": '[{"key": "tau", "value": "0"}]'},
     "AGGREGATION_PARAMETERS", "tau must be a finite number > 0"),
    ({"AGGREGATION_ALGORITHM": "TrimmedMean", "AGGREGATION_PARAMETERS": '{"beta": 0.7}'},
     "AGGREGATION_PARAMETERS", "beta must be a finite number in [0, 0.5)"),
    ({"AGGREGATION_ALGORITHM": "FedBuff", "AGGREGATION_PARAMETERS": '{"buffer_size": 0}'},
     "AGGREGATION_PARAMETERS", "buffer_size"),
])
def test_the_config_command_fails_on_what_a_worker_refuses(monkeypatch, capsys, env, variable, words):
    status, out, err = _report(monkeypatch, capsys, env)

    assert status == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {variable}") and words in errors[0]
    assert f" ! {variable}" in out


def test_valid_miner_parameters_pass(monkeypatch, capsys):
    status, out, err = _report(monkeypatch, capsys, {
        "HEM_NAME": "IBT", "HEM_PARAMETERS": '[{"key": "threshold_img", "value": "0.8"}]'})

    assert status == 0, err


@pytest.mark.parametrize("env", [
    {"AGGREGATION_ALGORITHM": "FedAdam", "AGGREGATION_PARAMETERS": '{"tau": 0.01, "eta": 0.1}'},
    {"AGGREGATION_ALGORITHM": "TrimmedMean", "AGGREGATION_PARAMETERS": '[{"key": "beta", "value": "0.2"}]'},
    {"AGGREGATION_ALGORITHM": "DPFedAvg"},
])
def test_valid_aggregator_parameters_pass(monkeypatch, capsys, env):
    status, out, err = _report(monkeypatch, capsys, env)

    assert status == 0, err


def test_s3_endpoint_without_credentials_is_a_warning(monkeypatch, capsys):
    monkeypatch.delenv("ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("SECRET_ACCESS_KEY", raising=False)
    status, out, err = _report(monkeypatch, capsys, {"S3_ENDPOINT_URL": "http://127.0.0.1:9000"})

    assert status == 0
    assert "warning: S3_ENDPOINT_URL is set but ACCESS_KEY_ID and SECRET_ACCESS_KEY are not" in err

    status, out, err = _report(monkeypatch, capsys, {"S3_ENDPOINT_URL": "http://127.0.0.1:9000",
                                                     "ACCESS_KEY_ID": "a", "SECRET_ACCESS_KEY": "s"})
    assert status == 0 and "warning" not in err


@pytest.mark.parametrize("typo, known", [
    ("BIG_MODEL_PROT", "BIG_MODEL_PORT"), ("AGG_BIND_PRT", "AGG_BIND_PORT"),
    ("SEDNA_LOGLEVEL", "SEDNA_LOG_LEVEL"), ("HEM_PARAMETER", "HEM_PARAMETERS")])
def test_a_misspelt_variable_is_named_with_the_known_one(monkeypatch, capsys, typo, known):
    monkeypatch.delenv(typo, raising=False)
    status, out, err = _report(monkeypatch, capsys, {typo: "1"})

    assert status == 0
    assert f"warning: unknown variable {typo}; did you mean {known}?" in err


def test_variables_of_other_programs_are_not_reported(monkeypatch, capsys):
    status, out, err = _report(monkeypatch, capsys, {"EPOCHS": "3", "LEARNING_RATE": "0.1",
                                                     "HOSTNAME": "pod-1", "KUBERNETES_SERVICE_PORT": "443"})

    assert status == 0 and "unknown variable" not in err


def test_the_legend_is_printed_only_when_a_row_is_marked(monkeypatch, capsys):
    for name in [n for n in os.environ if n in {s for s in _known_names()}]:
        monkeypatch.delenv(name)
    assert main(["config"]) == 0
    assert "* set in the environment" not in capsys.readouterr().out

    monkeypatch.setenv("AGG_PORT", "8123")
    assert main(["config"]) == 0
    assert "* set in the environment, ! invalid (see below)" in capsys.readouterr().out


def test_json_lists_the_warnings(monkeypatch, capsys):
    monkeypatch.setenv("BIG_MODEL_PROT", "5000")

    assert main(["config", "--json", "--changed"]) == 0
    report = json.loads(capsys.readouterr().out)

    assert "unknown variable BIG_MODEL_PROT; did you mean BIG_MODEL_PORT?" in report["warnings"]


def _known_names():
    import dataclasses

    for f in dataclasses.fields(Config):
        if "env" in f.metadata:
            yield f.metadata["env"]
            yield from f.metadata["aliases"]


def test_hem_parameters_without_hem_name_are_said_to_be_unused():
    from sedna_lib.config import check_advice

    advice = check_advice({"HEM_PARAMETERS": '{"threshold_img": 0.9}'})
    assert any("HEM_PARAMETERS is set but HEM_NAME is not" in line for line in advice)
    assert not [a for a in check_advice({"HEM_NAME": "IBT", "HEM_PARAMETERS": "{}"}) if "HEM_NAME" in a]
