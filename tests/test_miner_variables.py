"""A value the deployment gives (HEM_NAME, HEM_PARAMETERS, TRAIN_DATASET_URL) that is unusable: the error
names its variable."""

import os
import pathlib
import subprocess
import sys

import pytest

from sedna_lib.compat.core.base import JobBase as SednaJobBase
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, NotRegisteredError
from sedna_lib.joint_inference import JointInference

ROOT = pathlib.Path(__file__).resolve().parents[1]


class _Edge:
    def __init__(self, **kwargs):
        pass

    def load(self, model_url=""):
        pass

    def predict(self, data, **kwargs):
        return [[0.5, 0.5]]


def _job(env, **kwargs):
    ctx = Context.from_env({"BIG_MODEL_IP": "127.0.0.1", "BIG_MODEL_PORT": "1", "SERVICE_NAME": "hem", **env})
    return JointInference(estimator=_Edge, context=ctx, **kwargs)


@pytest.mark.parametrize("env, variable, words", [
    ({"HEM_NAME": "Marginn"}, "HEM_NAME", "no hard_example_mining named 'Marginn'"),
    ({"HEM_NAME": "Margin", "HEM_PARAMETERS": '[{"key": "upload_ratio", "value": "nan"}]'}, "HEM_PARAMETERS",
     "'upload_ratio' got 'nan'"),
])
def test_a_deployment_miner_that_cannot_be_built_names_its_variable(env, variable, words):
    job = _job(env)

    with pytest.raises(ConfigError) as caught:
        job.inference([[1.0]])

    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ") and words in str(caught.value)


def test_the_sedna_style_copy_of_the_deployment_miner_names_its_variable_too(monkeypatch):
    monkeypatch.setenv("HEM_NAME", "Marginn")
    job = _job({"HEM_NAME": "Marginn"}, hard_example_mining=SednaJobBase.get_hem_algorithm_from_config())

    with pytest.raises(ConfigError, match="^HEM_NAME: ") as caught:
        job.inference([[1.0]])

    assert caught.value.variable == "HEM_NAME"


def test_a_miner_the_code_names_keeps_its_own_error():
    job = _job({}, hard_example_mining={"method": "Marginn"})

    with pytest.raises(NotRegisteredError, match="no hard_example_mining named 'Marginn'"):
        job.inference([[1.0]])


def test_the_federated_training_example_names_an_unset_train_dataset_url(tmp_path):
    script = ROOT / "examples" / "federated_learning" / "train.py"
    env = {k: v for k, v in os.environ.items() if k not in ("TRAIN_DATASET_URL", "TEST_DATASET_URL")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

    proc = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env, capture_output=True,
                          text=True, timeout=60)

    assert proc.returncode != 0
    assert "TRAIN_DATASET_URL" in proc.stderr, proc.stderr
    assert "NoneType" not in proc.stderr, proc.stderr
