"""One spec -> algorithm door: registry.build_algorithm serves joint, incremental and lifelong learning."""

import ast
import pathlib

import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import NotRegisteredError, ParameterError
from sedna_lib.incremental_learning import IncrementalLearning
from sedna_lib.joint_inference import JointInference
from sedna_lib.registry import AlgorithmSpec, Kind, build_algorithm, default_registry

ROOT = pathlib.Path(__file__).resolve().parents[1] / "sedna_lib"
HEM = Kind.HARD_EXAMPLE_MINING


class _Edge:
    def predict(self, data, **kwargs):
        return data


@pytest.mark.parametrize("spec", [
    "Threshold",
    {"method": "Threshold", "param": {"threshold": 0.3}},
    {"method": "Threshold", "param": '{"threshold": "0.3"}'},
    {"method": "Threshold", "param": [{"key": "threshold", "value": "0.3"}]},
    {"param": {"threshold": 0.3}, "method": ""},
    AlgorithmSpec(("Threshold", {"threshold": "0.3"})),
])
def test_every_spec_form_builds_the_registered_algorithm(spec):
    miner = build_algorithm(default_registry, HEM, spec, default="Threshold")

    assert type(miner).__name__ == "ThresholdFilter"
    assert miner.threshold == (0.5 if spec == "Threshold" else 0.3)


def test_instances_pass_through_and_no_spec_without_default_is_none():
    miner = object()

    assert build_algorithm(default_registry, HEM, miner) is miner
    assert build_algorithm(default_registry, HEM, None) is None
    assert type(build_algorithm(default_registry, HEM, None, default="Threshold")).__name__ == "ThresholdFilter"


def test_bad_specs_raise_typed_errors_naming_the_argument():
    with pytest.raises(ParameterError, match=r"miner: 'param' must be a dict or JSON object"):
        build_algorithm(default_registry, HEM, {"method": "Threshold", "param": "{nope"}, label="miner")
    with pytest.raises(ParameterError, match="has no parameter 'nope'"):
        build_algorithm(default_registry, HEM, {"method": "Threshold", "param": {"nope": 1}})
    with pytest.raises(NotRegisteredError, match="Threshold"):
        build_algorithm(default_registry, HEM, "NoSuchMiner")


def test_joint_inference_reads_sednas_json_param_string():
    job = JointInference(_Edge(), {"method": "Threshold", "param": '{"threshold": "0.25"}'},
                         context=Context(Config()), report=False)

    assert job.miner.threshold == 0.25


def test_incremental_learning_takes_a_miner_name_like_joint_inference():
    job = IncrementalLearning(estimator=LogisticRegression(), hard_example_mining="Threshold",
                              context=Context(Config()))

    assert type(job.hard_example_mining_algorithm).__name__ == "ThresholdFilter"


def test_no_feature_reads_method_and_param_itself():
    readers = []
    for path in ROOT.rglob("*.py"):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(".get") and node.args \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == "param":
                readers.append(path.relative_to(ROOT).as_posix())

    # MultiTaskLearning only pairs the task mining with the task definition; it builds nothing
    assert readers == ["lifelong_learning/multi_task_learning.py"], f"{readers}: use registry.build_algorithm"
