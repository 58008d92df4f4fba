"""ClassFactory over the shared registry: Sedna's names, last registration wins, typed errors."""

from __future__ import annotations

import types

import pytest

from sedna_lib.compat.class_factory import ClassFactory, ClassNotFoundError, ClassType
from sedna_lib.exceptions import NotRegisteredError, SednaWarning
from sedna_lib.registry import Kind, default_registry


@pytest.fixture(autouse=True)
def scoped_registry():
    with default_registry.scope():
        yield


def test_class_type_values_are_sednas_exact_strings():
    assert {k: v for k, v in vars(ClassType).items() if k.isupper()} == {
        "GENERAL": "general", "HEM": "hard_example_mining", "FL_AGG": "aggregation",
        "MTL": "multi_task_learening", "UTD": "unseen_task_detect", "OF": "optical_flow",
        "ALGORITHM": "algorithm", "DATASET": "data_process", "CALLBACK": "post_process_callback",
        "UTP": "unseen_task_processing", "KM": "knowledge_management", "STP": "seen_task_processing",
    }


def test_register_decorator_returns_class_and_uses_alias():
    @ClassFactory.register(ClassType.CALLBACK, alias="tests.Double")
    class Double:
        pass

    assert ClassFactory.get_cls(ClassType.CALLBACK, "tests.Double") is Double
    assert ClassFactory.is_exists(ClassType.CALLBACK, "tests.Double")


def test_registrations_are_shared_with_the_registry():
    class Miner:
        pass

    ClassFactory.register_cls(Miner, ClassType.HEM, alias="tests.Miner")

    assert default_registry.get(Kind.HARD_EXAMPLE_MINING, "tests.Miner") is Miner


def test_last_registration_wins_with_a_warning():
    class First:
        pass

    class Second:
        pass

    ClassFactory.register_cls(First, ClassType.GENERAL, alias="tests.Dup")
    with pytest.warns(SednaWarning, match="'tests.Dup' was already registered"):
        ClassFactory.register_cls(Second, ClassType.GENERAL, alias="tests.Dup")

    assert ClassFactory.get_cls(ClassType.GENERAL, "tests.Dup") is Second


def test_script_can_override_a_builtin_name():
    class MyIBT:
        pass

    with pytest.warns(SednaWarning):
        ClassFactory.register(ClassType.HEM, alias="IBT")(MyIBT)

    assert ClassFactory.get_cls(ClassType.HEM, "IBT") is MyIBT


def test_get_cls_unknown_name_is_value_error_listing_known_names():
    with pytest.raises(ClassNotFoundError, match="can't find class type hard_example_mining class name Nope"
                                                 ".*known names: .*IBT") as info:
        ClassFactory.get_cls(ClassType.HEM, "Nope")

    assert isinstance(info.value, ValueError) and isinstance(info.value, NotRegisteredError)


def test_get_cls_without_name_raises():
    with pytest.raises(ValueError, match="no class name given"):
        ClassFactory.get_cls(ClassType.HEM)


def test_builtins_are_visible_through_entry_points():
    assert ClassFactory.is_exists(ClassType.HEM)
    assert ClassFactory.is_exists(ClassType.HEM, "IBT")
    assert not ClassFactory.is_exists("tests_empty_kind")


def test_register_from_package_registers_public_classes_and_functions():
    module = types.ModuleType("tests_pkg")

    class Public:
        pass

    def helper():
        return 1

    module.Public, module.helper, module._Private, module.CONSTANT = Public, helper, Public, 3

    ClassFactory.register_from_package(module, ClassType.ALGORITHM)

    assert ClassFactory.get_cls(ClassType.ALGORITHM, "Public") is Public
    assert ClassFactory.get_cls(ClassType.ALGORITHM, "helper") is helper
    assert not ClassFactory.is_exists(ClassType.ALGORITHM, "CONSTANT")
    assert not ClassFactory.is_exists(ClassType.ALGORITHM, "_Private")
