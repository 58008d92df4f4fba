"""The edge job's numeric options are checked by start(), before the model is loaded."""
import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, ParameterError
from sedna_lib.joint_inference import JointInference

BAD = [float("nan"), float("inf"), -1, True]
CASES = ([(o, v) for o in ("max_queued", "max_age", "max_attempts", "retry_backoff") for v in BAD]
         + [("max_queued", 2.5), ("max_attempts", 2.5), ("max_attempts", 0)])


class Edge:
    loaded = 0

    def __init__(self):
        Edge.loaded += 1

    def predict(self, x):
        return np.array([0.9, 0.1])


def job(tmp_path, config=None, **options):
    options.setdefault("report", False)
    return JointInference(Edge, {"method": "EdgeOnly"}, context=Context(config or Config()),
                          cloud="http://127.0.0.1:9/svc", offload_dir=str(tmp_path), **options)


@pytest.mark.parametrize("option, value", CASES, ids=repr)
def test_a_bad_numeric_option_fails_start_before_the_model_is_loaded(tmp_path, option, value):
    ji = job(tmp_path, **{option: value})
    loaded = Edge.loaded
    with pytest.raises(ParameterError, match=option):
        ji.start()
    assert Edge.loaded == loaded
    ji.close()


@pytest.mark.parametrize("variable, field, value", [
    ("SEDNA_OFFLOAD_MAX_AGE", "offload_max_age", -1.0),
    ("SEDNA_OFFLOAD_MAX_ATTEMPTS", "offload_max_attempts", 0),
    ("SEDNA_OFFLOAD_MAX_ATTEMPTS", "offload_max_attempts", -3),
    ("LC_PERIOD", "lc_period", 0.0),
    ("LC_PERIOD", "lc_period", -5.0),
])
def test_a_bad_value_from_the_environment_names_its_variable(tmp_path, variable, field, value):
    ji = job(tmp_path, Config(**{field: value}), report=True)
    with pytest.raises(ConfigError, match=variable) as info:
        ji.start()
    assert info.value.variable == variable
    ji.close()


@pytest.mark.parametrize("options", [
    {"max_queued": 0, "max_age": 0, "max_attempts": 1, "retry_backoff": 0},
    {"max_queued": "50", "max_age": "2.5", "max_attempts": "3", "retry_backoff": "0.5"},
])
def test_valid_options_still_start(tmp_path, options):
    with job(tmp_path, **options) as ji:
        assert not ji.inference(np.zeros(4)).is_hard


@pytest.mark.parametrize("limit", [float("nan"), float("inf"), -1, 2.5, True], ids=repr)
def test_a_drain_limit_that_is_not_a_count_is_refused(tmp_path, limit):
    with job(tmp_path) as ji:
        with pytest.raises(ParameterError, match="limit must be a whole number >= 0"):
            ji.drain_offload_queue(limit)
        assert ji.drain_offload_queue("0") == 0
