"""Built-in backends and miners are found through the registry's entry points, not private name tables."""

import pytest

import sedna_lib.joint_inference as joint_inference
from sedna_lib.backends import EstimatorBackend, backend_class
from sedna_lib.context import Context
from sedna_lib.exceptions import NotRegisteredError
from sedna_lib.registry import Kind, Registry, default_registry


def test_backend_class_answers_only_what_the_registry_knows():
    empty = Context(registry=Registry(use_entry_points=False))

    with pytest.raises(NotRegisteredError, match=r"no backend named 'sklearn'; known names: none") as info:
        backend_class("sklearn", context=empty)
    # the hint must work outside a clone too: no editable install of the current folder
    assert "pip install ./sedna_lib" in str(info.value) and "pip install -e ." not in str(info.value)
    assert backend_class("SKLEARN").__name__ == "SklearnBackend"  # the entry point


def test_a_registered_backend_overrides_the_built_in_name():
    class MySklearn(EstimatorBackend):
        framework = "sklearn"

    registry = Registry(use_entry_points=False)
    registry.register(Kind.BACKEND, "sklearn", MySklearn)

    assert backend_class("SKLEARN", context=Context(registry=registry)) is MySklearn


def test_joint_inference_serves_every_registered_miner_name():
    class TestsMiner:
        def __call__(self, infer_result=None):
            return True

    with default_registry.scope():
        default_registry.register(Kind.HARD_EXAMPLE_MINING, "TestsMiner")(TestsMiner)
        assert joint_inference.TestsMiner is TestsMiner

    assert joint_inference.IBT is default_registry.get(Kind.HARD_EXAMPLE_MINING, "IBT")
    with pytest.raises(AttributeError, match="has no attribute 'TestsMiner'"):
        joint_inference.TestsMiner
