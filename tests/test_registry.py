import re
from typing import Optional, Union

import pytest

from sedna_lib.base import BaseAlgorithm
from sedna_lib.exceptions import (
    DuplicateRegistrationError,
    NotRegisteredError,
    ParameterError,
    PluginLoadError,
)
from sedna_lib.registry import Kind, Plugin, Registry, coerce_params, default_registry


class Miner(BaseAlgorithm):
    def __init__(self, *, threshold: float = 0.5, top_k: int = 1, enabled: bool = True,
                 classes: list | None = None, label: str = "x"):
        self.threshold = threshold
        self.top_k = top_k
        self.enabled = enabled
        self.classes = classes
        self.label = label


@pytest.fixture
def reg():
    return Registry(use_entry_points=False)


def test_register_as_decorator_and_get(reg):
    @reg.register(Kind.HARD_EXAMPLE_MINING, "Mine")
    class Mine:
        pass

    assert reg.get("hard_example_mining", "Mine") is Mine
    assert reg.names(Kind.HARD_EXAMPLE_MINING) == ["Mine"]
    assert reg.is_registered(Kind.HARD_EXAMPLE_MINING, "Mine")


def test_duplicate_registration_raises_unless_override(reg):
    reg.register("k", "A", Miner)

    class Other:
        pass

    with pytest.raises(DuplicateRegistrationError, match="'A' is already registered") as info:
        reg.register("k", "A", Other)
    assert (info.value.kind, info.value.name) == ("k", "A")
    reg.register("k", "A", Other, override=True)
    assert reg.get("k", "A") is Other


def test_registering_the_same_object_twice_is_harmless(reg):
    reg.register("k", "A", Miner)
    reg.register("k", "A", Miner)
    assert reg.get("k", "A") is Miner


def test_unknown_name_lists_known_names(reg):
    reg.register("k", "Alpha", Miner)
    with pytest.raises(NotRegisteredError, match="no k named 'Beta'; known names: Alpha") as info:
        reg.get("k", "Beta")
    assert isinstance(info.value, LookupError)


def test_create_coerces_strings_from_the_environment(reg):
    reg.register("k", "M", Miner)
    m = reg.create("k", "M", threshold="0.9", top_k="3", enabled="false", classes='["a", "b"]', label="7")
    assert (m.threshold, m.top_k, m.enabled, m.classes, m.label) == (0.9, 3, False, ["a", "b"], "7")


def test_create_refuses_unknown_parameter(reg):
    reg.register("k", "M", Miner)
    with pytest.raises(ParameterError, match="has no parameter 'treshold'; valid parameters: threshold"):
        reg.create("k", "M", treshold="0.9")


@pytest.mark.parametrize("name, value, match", [
    ("threshold", "high", "'threshold' must be a finite float, got 'high'"),
    ("top_k", "2.5", "'top_k' must be int, got '2.5'"),
    ("enabled", "perhaps", "'enabled' must be bool, got 'perhaps'"),
])
def test_create_refuses_ill_typed_parameter(reg, name, value, match):
    reg.register("k", "M", Miner)
    with pytest.raises((ParameterError, ValueError), match=match):
        reg.create("k", "M", **{name: value})


@pytest.mark.parametrize("text, value", [
    ("12345678901234567890", 12345678901234567890),
    ("-9007199254740993", -9007199254740993),
    ("1e3", 1000),
    ("2.0", 2),
    (" 7 ", 7),
    ("1.5e1", 15),
    ("12345678901234567890000e-3", 12345678901234567890),
    ("1234567890123456789012345678901234567890.0", 1234567890123456789012345678901234567890),
])
def test_int_parameters_are_parsed_exactly(reg, text, value):
    reg.register("k", "M", Miner)

    assert reg.create("k", "M", top_k=text).top_k == value


@pytest.mark.parametrize("text", ["1.5", "1e-3", "nan", "inf", "-Infinity", "1e999999999", "", "0x10"])
def test_int_parameter_that_is_no_whole_number_is_refused(reg, text):
    reg.register("k", "M", Miner)

    with pytest.raises(ParameterError, match=f"'top_k' must be int, got {text!r}"):
        reg.create("k", "M", top_k=text)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_float_parameter_from_text_must_be_a_finite_number(reg, text):
    reg.register("k", "M", Miner)

    with pytest.raises(ParameterError, match=f"'threshold' must be a finite float, got {text!r}"):
        reg.create("k", "M", threshold=text)


def test_optional_float_parameter_from_text_must_be_a_finite_number():
    def factory(rate: float | None = None):
        return rate

    assert coerce_params(factory, {"rate": "0.25"}) == {"rate": 0.25}
    with pytest.raises(ParameterError, match="'rate' got 'nan'"):
        coerce_params(factory, {"rate": "nan"})


@pytest.mark.parametrize("hint, text, expected", [
    (Optional[float], "nan", "a finite float or None"),
    (float | None, "-inf", "a finite float or None"),
    (Optional[float], "fast", "a finite float or None"),
    (Optional[int], "2.5", "int or None"),
    (Union[int, float], "inf", "int or a finite float"),
])
def test_a_union_parameter_that_fits_no_member_says_what_it_must_be(hint, text, expected):
    def factory(rate: hint = None):
        return rate

    with pytest.raises(ParameterError) as info:
        coerce_params(factory, {"rate": text})
    assert str(info.value) == f"factory: parameter 'rate' got {text!r}; it must be {expected}"


@pytest.mark.parametrize("text", ["[NaN]", '["a", Infinity]', "[-Infinity]"])
def test_json_parameter_from_text_holds_no_nan_or_infinity(reg, text):
    reg.register("k", "M", Miner)

    with pytest.raises(ParameterError, match=re.escape(f"'classes' got {text!r}")):
        reg.create("k", "M", classes=text)


def test_a_float_parameter_from_the_environment_must_be_a_finite_number():
    from sedna_lib.config import Config
    from sedna_lib.registry import Kind, build_algorithm

    cfg = Config.from_env({"HEM_NAME": "Threshold",
                           "HEM_PARAMETERS": '[{"key": "threshold", "value": "-inf"}]'})
    with pytest.raises(ParameterError, match="'threshold' must be a finite float, got '-inf'"):
        build_algorithm(default_registry, Kind.HARD_EXAMPLE_MINING, cfg.hem)


def test_non_string_values_pass_through():
    assert coerce_params(Miner, {"threshold": 1}) == {"threshold": 1}


def test_kwargs_constructor_accepts_unknown_parameters():
    def factory(a: int = 1, **kwargs):
        return a, kwargs

    assert coerce_params(factory, {"a": "2", "b": "x"}) == {"a": 2, "b": "x"}


def test_scope_undoes_registrations(reg):
    with reg.scope():
        reg.register("k", "Temp", Miner)
        assert reg.is_registered("k", "Temp")
    assert not reg.is_registered("k", "Temp")


def test_unregister(reg):
    reg.register("k", "A", Miner)
    reg.unregister("k", "A")
    with pytest.raises(NotRegisteredError):
        reg.unregister("k", "A")


def test_plugin_load_error_keeps_the_cause():
    plugin = Plugin("k", "Broken", "sedna_lib_no_such_module:Thing")
    with pytest.raises(PluginLoadError, match="k plugin 'Broken'") as info:
        plugin.load()
    assert isinstance(info.value.__cause__, ImportError)


def test_entry_points_are_listed_without_importing():
    names = default_registry.names(Kind.BACKEND)
    assert {"sklearn", "torch", "tensorflow", "keras"} <= set(names)
    plugins = {p.name: p for p in default_registry.plugins(Kind.BACKEND)}
    assert plugins["torch"].value == "sedna_lib.backends.torch:TorchBackend"


def test_entry_point_name_cannot_be_taken_by_another_class():
    with pytest.raises(DuplicateRegistrationError):
        default_registry.register(Kind.BACKEND, "torch", Miner)


@pytest.mark.parametrize("spelling", ["multi_task_learning", "multi_task_learening"])
def test_sedna_misspelt_kind_is_accepted_but_errors_show_the_correct_name(spelling):
    with pytest.raises(NotRegisteredError, match="no multi_task_learning named 'Nope'") as info:
        default_registry.get(spelling, "Nope")
    assert "learening" not in str(info.value)
    assert "TaskDefinitionBySVC" in default_registry.names(spelling)
    assert Kind(spelling) is Kind.MULTI_TASK_LEARNING
    assert Kind.MULTI_TASK_LEARNING.label == "multi_task_learning"
    assert Kind.MULTI_TASK_LEARNING.value == "multi_task_learening"  # Sedna's key stays the entry-point group
