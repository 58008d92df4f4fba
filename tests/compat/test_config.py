"""Sedna's config face: BaseConfig (both spellings), Context lookups, algorithm parameters, Config."""

from __future__ import annotations

import json

import pytest

from sedna_lib.compat.config import BaseConfig, Config, ConfigSerializable, Context, EnvConfig
from sedna_lib.config import Config as TypedConfig
from sedna_lib.exceptions import ConfigError, SednaWarning


@pytest.fixture(autouse=True)
def fresh_base_config():
    BaseConfig().__dict__["_overrides"].clear()
    yield
    BaseConfig().__dict__["_overrides"].clear()


def test_base_config_class_attribute_reads_environment_at_access_time(monkeypatch):
    monkeypatch.setenv("TRAIN_DATASET_URL", "/data/a.txt")
    first = BaseConfig.train_dataset_url
    monkeypatch.setenv("TRAIN_DATASET_URL", "/data/b.txt")

    assert first == "/data/a.txt"
    assert BaseConfig.train_dataset_url == "/data/b.txt"
    assert BaseConfig().train_dataset_url == "/data/b.txt"


def test_base_config_call_returns_one_instance():
    assert BaseConfig() is BaseConfig()


def test_base_config_defaults_follow_sedna_except_job_name_and_backend_type():
    cfg = BaseConfig()

    assert cfg.model_url is None and cfg.test_dataset_url is None and cfg.original_dataset_url is None
    assert cfg.lc_server == "http://127.0.0.1:9100"
    assert cfg.data_path_prefix == "/home/data"
    assert cfg.pretrained_model_url == "./" and cfg.agg_data_path == "./"
    assert cfg.transmitter == "ws" and cfg.device_category == "CPU" and cfg.log_level == "INFO"
    assert cfg.job_name == ""  # Sedna: "sedna", which masked SERVICE_NAME
    assert cfg.backend_type == ""  # empty: chosen from the estimator's type


def test_job_name_empty_default_leaves_service_name_visible(monkeypatch):
    monkeypatch.setenv("SERVICE_NAME", "ji-svc")

    assert (BaseConfig.job_name or BaseConfig.service_name) == "ji-svc"


def test_empty_variable_means_unset(monkeypatch):
    monkeypatch.setenv("MODEL_URL", "")

    assert BaseConfig.model_url is None
    assert BaseConfig.get("model_url", "fallback") == "fallback"


def test_get_getitem_and_unknown_attribute():
    cfg = BaseConfig()

    assert cfg.get("no_such_key") == ""
    assert cfg["no_such_key"] is None
    with pytest.raises(AttributeError, match="no attribute 'no_such_key'"):
        BaseConfig.no_such_key


def test_from_json_adds_keys_visible_through_class_and_instance():
    BaseConfig.from_json({"agg_uri": "ws://agg:7363"})

    assert BaseConfig.agg_uri == "ws://agg:7363"
    assert BaseConfig().agg_uri == "ws://agg:7363"
    assert BaseConfig().to_json()["agg_uri"] == "ws://agg:7363"


def test_update_sets_known_keys_and_warns_on_unknown(monkeypatch):
    cfg = BaseConfig()

    with pytest.warns(SednaWarning, match="unknown key 'bogus'"):
        cfg.update(model_url="/m", bogus=1)

    assert BaseConfig.model_url == "/m"
    assert "bogus" not in cfg.dict()


def test_parameters_variable_is_parsed_as_json(monkeypatch):
    monkeypatch.setenv("PARAMETERS", '{"lr": 0.1}')

    assert BaseConfig().parameter == {"lr": 0.1}
    assert BaseConfig.parameters == '{"lr": 0.1}'


def test_parameters_bad_json_raises_config_error(monkeypatch):
    monkeypatch.setenv("PARAMETERS", "{not json")

    with pytest.raises(ConfigError, match="PARAMETERS must be JSON"):
        BaseConfig().parameter


def test_repr_masks_secrets(monkeypatch):
    monkeypatch.setenv("SECRET_ACCESS_KEY", "hunter2")

    assert "hunter2" not in repr(BaseConfig())
    assert BaseConfig.secret_access_key == "hunter2"


def test_env_config_overrides_are_local_to_the_object():
    job_a = EnvConfig({"output_url": "/a"}, environ={})
    job_b = EnvConfig(environ={})

    assert job_a.output_url == "/a"
    assert job_b.get("output_url") == ""
    with pytest.raises(AttributeError):
        BaseConfig.output_url


def test_env_config_reads_a_typed_config():
    cfg = EnvConfig(config=TypedConfig(model_url="/models", service_name="svc"))

    assert cfg.model_url == "/models" and cfg.service_name == "svc"


def test_context_get_parameters_tries_name_then_upper_and_returns_strings(monkeypatch):
    monkeypatch.setenv("EPOCHS", "5")
    monkeypatch.setenv("video_url", "")

    assert Context.get_parameters("epochs") == "5"
    assert Context.get_parameters("epochs", 1) == "5"
    assert Context.get_parameters("video_url", "rtsp://x") == "rtsp://x"
    assert Context.get_parameters("batch_size", 32) == 32


def test_context_get_parameters_is_read_at_call_time(monkeypatch):
    before = Context.get_parameters("epochs")
    monkeypatch.setenv("epochs", "3")

    assert before is None
    assert Context.get_parameters("epochs") == "3"


def test_get_algorithm_from_api_matches_sedna_verified_case(monkeypatch):
    monkeypatch.setenv("HEM_NAME", "IBT")
    monkeypatch.setenv("HEM_PARAMETERS", '[{"key":"threshold_img","value":"0.9"},{"key":"x"}]')

    result = Context.get_algorithm_from_api("HEM", threshold_img=0.5)

    assert result == {"method": "IBT", "param": {"threshold_img": 0.5, "x": ""}}


def test_get_algorithm_from_api_null_parameters_and_unset_name(monkeypatch):
    assert Context.get_algorithm_from_api("HEM") == {}
    monkeypatch.setenv("HEM_NAME", "Random")
    monkeypatch.setenv("HEM_PARAMETERS", "null")

    assert Context.get_algorithm_from_api("HEM") == {"method": "Random", "param": {}}


def test_get_algorithm_from_api_bad_json_raises_config_error(monkeypatch):
    monkeypatch.setenv("HEM_NAME", "IBT")
    monkeypatch.setenv("HEM_PARAMETERS", "[{oops")

    with pytest.raises(ConfigError, match="HEM_PARAMETERS must be JSON"):
        Context.get_algorithm_from_api("HEM")


def test_config_attribute_dict_from_dicts_and_json(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"b": {"c": 2}}))

    cfg = Config({"a": 1}, str(path), d=4)

    assert cfg.a == 1 and cfg.b.c == 2 and cfg["d"] == 4
    cfg.e = 5
    assert cfg["e"] == 5
    with pytest.raises(AttributeError, match="no key 'zz'"):
        cfg.zz


def test_config_refuses_python_files_and_bad_text():
    with pytest.raises(ConfigError, match="not Python"):
        Config("settings.py")
    with pytest.raises(ConfigError, match="must be JSON"):
        Config("{bad")


def test_config_serializable_from_json_sets_class_attributes():
    class Settings(ConfigSerializable):
        epochs = 1

    Settings.from_json({"epochs": 3, "lr": 0.1})

    assert Settings().epochs == 3 and Settings.lr == 0.1
    assert Settings().to_json() == {"epochs": 3, "lr": 0.1}
