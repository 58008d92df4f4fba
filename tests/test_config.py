import dataclasses
import os

import pytest

from sedna_lib.config import Config, MiningMode, check, describe, get_parameter, parse_key_value_parameters
from sedna_lib.exceptions import ConfigError


def test_defaults_need_no_environment():
    cfg = Config.from_env({})
    assert cfg.agg_port == 7363
    assert cfg.job_name == ""  # D8: JOB_NAME no longer defaults to "sedna"
    assert cfg.backend_type == ""  # D23: no framework chosen behind the user's back
    assert cfg.mining_mode is MiningMode.INFERENCE_THEN_MINING


def test_typed_values_are_parsed_once():
    cfg = Config.from_env({"AGG_PORT": "8001", "LC_PERIOD": "2.5", "MODEL_HOT_UPDATE": "True",
                           "MODEL_URLS": "/a/new.pb;/a/old.pb", "MINING_MODE": "mining-then-inference"})
    assert (cfg.agg_port, cfg.lc_period, cfg.model_hot_update) == (8001, 2.5, True)
    assert cfg.model_urls == ("/a/new.pb", "/a/old.pb")
    assert cfg.mining_mode is MiningMode.MINING_THEN_INFERENCE


@pytest.mark.parametrize("variable, value, match", [
    ("AGG_PORT", "abc", "AGG_PORT must be an int, got 'abc'"),
    ("LC_PERIOD", "soon", "LC_PERIOD must be a number"),
    ("MODEL_HOT_UPDATE", "maybe", "MODEL_HOT_UPDATE must be a boolean"),
    ("MINING_MODE", "sideways", "MINING_MODE must be one of"),
    ("HEM_PARAMETERS", "{not json", "HEM_PARAMETERS must be JSON"),
    ("HEM_PARAMETERS", '[{"value": 1}]', r"HEM_PARAMETERS\[0\] must be an object with a 'key'"),
    ("PARAMETERS", "[1, 2]", "PARAMETERS must hold a mapping"),
    ("HEM_PARAMETERS", '{"threshold": NaN}', "HEM_PARAMETERS must be strict JSON: NaN is not a number"),
    ("AGGREGATION_PARAMETERS", '[{"key": "mu", "value": -Infinity}]',
     "AGGREGATION_PARAMETERS must be strict JSON: -Infinity is not a number"),
    ("PARAMETERS", '{"learning_rate": Infinity}', "PARAMETERS must be strict JSON: Infinity is not a number"),
])
def test_bad_value_raises_config_error_naming_the_variable(variable, value, match):
    with pytest.raises(ConfigError, match=match) as info:
        Config.from_env({variable: value})
    assert info.value.variable == variable
    assert isinstance(info.value, ValueError)


def test_empty_string_means_unset():
    cfg = Config.from_env({"AGG_PORT": "", "MODEL_URL": ""})
    assert cfg.agg_port == 7363 and cfg.model_url is None


def test_hem_parameters_in_control_plane_form():
    cfg = Config.from_env({"HEM_NAME": "IBT",
                           "HEM_PARAMETERS": '[{"key":"threshold_img","value":"0.9"},{"key":"x"}]'})
    assert cfg.hem == {"method": "IBT", "param": {"threshold_img": "0.9", "x": ""}}
    assert Config.from_env({"HEM_NAME": "IBT", "HEM_PARAMETERS": "null"}).hem == {"method": "IBT", "param": {}}
    assert Config.from_env({}).hem == {}


def test_parse_key_value_accepts_plain_object():
    assert parse_key_value_parameters('{"a": 1}') == {"a": 1}


def test_lower_case_alias_is_tried_first():
    cfg = Config.from_env({"model_path": "/m/a.pkl", "MODEL_PATH": "/m/b.pkl", "participants_count": "3"})
    assert cfg.model_path == "/m/a.pkl" and cfg.participants_count == 3


def test_parameters_from_json_and_yaml_file(tmp_path):
    assert Config.from_env({"PARAMETERS": '{"lr": 0.1}'}).parameters == {"lr": 0.1}
    path = tmp_path / "p.yaml"
    path.write_text("lr: 0.2\nlayers: [1, 2]\n")
    assert Config.from_env({"PARAMETERS": str(path)}).parameters == {"lr": 0.2, "layers": [1, 2]}
    with pytest.raises(ConfigError, match="cannot be read"):
        Config.from_env({"PARAMETERS": str(tmp_path / "missing.json")})


def test_secrets_are_not_in_repr():
    cfg = Config.from_env({"SECRET_ACCESS_KEY": "s3cr3t", "ACCESS_KEY_ID": "AKIA", "SEDNA_AUTH_TOKEN": "t0k3n",
                           "OPENAI_API_KEY": "sk-0p3n"})
    assert cfg.secret_access_key == "s3cr3t" and cfg.llm_api_key == "sk-0p3n"
    assert "s3cr3t" not in repr(cfg) and "AKIA" not in repr(cfg) and "t0k3n" not in repr(cfg)
    assert "sk-0p3n" not in repr(cfg)


def test_language_model_settings_are_typed_and_the_sedna_key_wins():
    cfg = Config.from_env({"OPENAI_API_KEY": "sk-a", "SEDNA_LLM_API_KEY": "sk-b", "SEDNA_LLM_STREAM": "yes",
                           "SEDNA_LLM_CACHE_SIZE": "64", "SEDNA_LLM_PRICE_CLOUD_COMPLETION": "0.6",
                           "SEDNA_LLM_BASE_URL": "http://llm:8000/v1"})
    assert (cfg.llm_api_key, cfg.llm_stream, cfg.llm_cache_size) == ("sk-b", True, 64)
    assert cfg.llm_price_cloud_completion == 0.6 and cfg.llm_base_url == "http://llm:8000/v1"
    with pytest.raises(ConfigError, match="SEDNA_LLM_CACHE_SIZE"):
        Config.from_env({"SEDNA_LLM_CACHE_SIZE": "many"})


@pytest.mark.parametrize("value", ["-1", "2.5", "many"])
def test_the_llm_cache_size_is_an_int_of_0_or_more_as_its_help_says(value):
    [spec] = [spec for spec in describe() if spec.variable == "SEDNA_LLM_CACHE_SIZE"]
    assert "int >= 0" in spec.help and "ConfigError" in spec.help

    with pytest.raises(ConfigError, match="SEDNA_LLM_CACHE_SIZE") as info:
        Config.from_env({"SEDNA_LLM_CACHE_SIZE": value})
    assert info.value.variable == "SEDNA_LLM_CACHE_SIZE"


def test_a_parameters_json_file_holds_strict_json(tmp_path):
    path = tmp_path / "parameters.json"
    path.write_text('{"learning_rate": NaN}', encoding="utf-8")

    with pytest.raises(ConfigError, match="NaN is not a number") as info:
        Config.from_env({"PARAMETERS": str(path)})
    assert info.value.variable == "PARAMETERS"


@pytest.mark.parametrize("text, where", [("learning_rate: .nan\n", "learning_rate is nan"),
                                         ("model:\n  thresholds: [0.5, -.inf]\n", r"model.thresholds\[1\] is -inf")])
def test_a_parameters_yaml_file_holds_finite_numbers(tmp_path, text, where):
    path = tmp_path / "parameters.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError, match=where) as info:
        Config.from_env({"PARAMETERS": str(path)})
    assert info.value.variable == "PARAMETERS"


def test_config_is_frozen_and_replace_derives_variants():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.agg_port = 1
    assert dataclasses.replace(cfg, agg_port=0).agg_port == 0


def test_get_parameter_uses_sedna_lookup_rule():
    env = {"epochs": "", "EPOCHS": "7", "video_url": "rtsp://x"}
    assert get_parameter("epochs", 1, environ=env) == "7"
    assert get_parameter("video_url", environ=env) == "rtsp://x"
    assert get_parameter("missing", "d", environ=env) == "d"
    assert Config.from_env(env).get_parameter("epochs") == "7"


def test_get_parameter_reads_at_call_time(monkeypatch):
    assert get_parameter("SEDNA_LIB_CALL_TIME") is None
    monkeypatch.setenv("SEDNA_LIB_CALL_TIME", "now")
    assert get_parameter("sedna_lib_call_time") == "now"


def test_describe_lists_every_sedna_variable():
    names = {spec.variable for spec in describe()}
    for required in ["BACKEND_TYPE", "LC_SERVER", "NAMESPACE", "WORKER_NAME", "JOB_NAME", "SERVICE_NAME",
                     "MODEL_URL", "MODEL_URLS", "HEM_NAME", "BIG_MODEL_IP", "AGG_PORT", "KB_SERVER",
                     "S3_ENDPOINT_URL", "MODEL_HOT_UPDATE_CONFIG", "DATA_PATH_PREFIX", "KAFKA_ENABLED"]:
        assert required in names


def test_default_work_dir_is_the_same_whichever_folder_a_worker_starts_in(tmp_path, monkeypatch):
    env = {"HOME": str(tmp_path / "home")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    monkeypatch.chdir(tmp_path / "a")
    from_a = Config.from_env(env).work_dir
    monkeypatch.chdir(tmp_path / "b")
    from_b = Config.from_env(env).work_dir

    assert from_a == from_b == str(tmp_path / "home" / ".local" / "state" / "sedna_lib")


def test_default_work_dir_follows_xdg_state_home_when_absolute(tmp_path):
    absolute = Config.from_env({"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": "/home/me"}).work_dir
    relative = Config.from_env({"XDG_STATE_HOME": "state", "HOME": "/home/me"}).work_dir  # invalid: ignored

    assert absolute == str(tmp_path / "state" / "sedna_lib")
    assert relative == "/home/me/.local/state/sedna_lib"


def test_work_dir_set_in_the_environment_wins_and_direct_configs_get_an_absolute_default(tmp_path):
    assert Config.from_env({"SEDNA_WORK_DIR": str(tmp_path / "w"), "HOME": "/home/me"}).work_dir == str(
        tmp_path / "w")
    assert os.path.isabs(Config().work_dir) and Config().work_dir.endswith("sedna_lib")


def test_without_a_home_folder_the_work_dir_is_a_private_temporary_one():
    import tempfile

    from sedna_lib.config import default_work_dir

    assert default_work_dir({"HOME": "/"}).startswith(os.path.join(tempfile.gettempdir(), "sedna_lib-"))


@pytest.mark.parametrize("variable, value, match", [
    ("CONNECT_TIMEOUT", "nan", "finite"),  # a nan deadline compares false with everything: retried for ever
    ("LC_PERIOD", "inf", "finite"),
    ("SEDNA_REQUEST_TIMEOUT", "-1", "greater than 0"),  # reached requests as a bare ValueError
    ("SEDNA_CONNECT_TIMEOUT", "0", "greater than 0"),
    ("AGG_PORT", "70000", "port number"),  # reached the websocket client as a bare ValueError
    ("AGG_PROTOCOL", "http", "ws or wss"),
    ("SEDNA_HTTP_MAX_CONNECTIONS", "-5", "greater than 0"),  # not even sedna-lib config saw these
    ("SEDNA_LLM_TIMEOUT", "-1", "greater than 0"),
    ("SEDNA_LLM_MAX_TOKENS", "-1", "greater than 0"),
    ("AGG_EVALUATE_EVERY", "-2", "0 or more"),
    ("PARAMETERS", "9" * 5000, "Python cannot read"),  # past the int digit limit: a bare ValueError
    ("HEM_PARAMETERS", '{"a": ' + "1" * 5000 + "}", "Python cannot read"),
    ("S3_ENDPOINT_URL", "http://127.0.0.1:70000", "port in 1-65535"),
    ("S3_ENDPOINT_URL", "http://[::1", "S3_ENDPOINT_URL"),
    ("S3_ENDPOINT_URL", "http://user:secret@minio:9000", "ACCESS_KEY_ID"),
])
def test_a_value_out_of_range_is_refused_when_the_environment_is_read(variable, value, match):
    with pytest.raises(ConfigError, match=match) as info:
        Config.from_env({variable: value})
    assert info.value.variable == variable
    _, errors = check({variable: value})  # and sedna-lib config reports it the same way
    assert [e.variable for e in errors] == [variable]


def test_the_knowledge_base_bind_reads_every_port_and_refuses_a_broken_address():
    from sedna_lib.servers.knowledge_base import parse_bind

    assert parse_bind("kb:0") == ("kb", 0) and parse_bind("kb") == ("kb", 9020)  # 0 was read as unset
    with pytest.raises(ConfigError, match="KnowledgeBaseServer"):
        parse_bind("[::1")  # a bare ValueError before
