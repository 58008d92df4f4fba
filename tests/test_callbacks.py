"""One callback resolver (registry.resolve_callback) and the rule of each call site."""

import ast
import pathlib

import pytest

from sedna_lib import job
from sedna_lib.compat.class_factory import ClassNotFoundError
from sedna_lib.datasources import parse
from sedna_lib.exceptions import NotRegisteredError, ParameterError
from sedna_lib.registry import Kind, Registry, default_registry, resolve_callback

ROOT = pathlib.Path(__file__).resolve().parents[1] / "sedna_lib"


class _Wrap:
    """Built with the result under Sedna's inference rule; built empty, then called, under the parsers' rule."""

    def __init__(self, value=None):
        self.value = value

    def __call__(self, value):
        return ("called", value)


@pytest.fixture
def wrap_registered():
    with default_registry.scope():
        default_registry.register(Kind.CALLBACK, "tests.callbacks.Wrap")(_Wrap)
        yield "tests.callbacks.Wrap"


def test_callback_names_are_looked_up_only_through_the_registry_resolver():
    lookups = []
    for path in ROOT.rglob("*.py"):
        if path.name == "registry.py" or "compat" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("get", "get_cls") and node.args \
                    and ast.unparse(node.args[0]).endswith(".CALLBACK"):
                lookups.append(path.relative_to(ROOT).as_posix())

    assert lookups == [], f"{lookups}: use sedna_lib.registry.resolve_callback"


def test_sednas_inference_rule_returns_the_registered_object_as_is(wrap_registered):
    callback = job.resolve_callback(wrap_registered)

    assert callback is _Wrap
    assert callback(3).value == 3


def test_the_parsers_rule_builds_a_registered_class_with_no_arguments(wrap_registered):
    parser = parse._resolve_func(wrap_registered)

    assert isinstance(parser, _Wrap) and parser("line") == ("called", "line")


def test_callables_pass_and_bad_arguments_raise_typed_errors(wrap_registered):
    assert resolve_callback(None) is None and resolve_callback(len) is len
    with pytest.raises(ClassNotFoundError, match="post_process_callback class name nope"):
        job.resolve_callback("nope")
    with pytest.raises(NotRegisteredError, match="tests.callbacks.Wrap"):
        resolve_callback("nope")
    with pytest.raises(ParameterError, match="post_process must be a callable or a registered post_process_callback"):
        job.resolve_callback(3)
    with pytest.raises(ParameterError, match="func must be a callable"):
        parse._resolve_func(3)


def test_a_registered_function_is_kept_under_both_rules():
    reg = Registry()
    reg.register(Kind.CALLBACK, "inc")(lambda v: v + 1)

    assert resolve_callback("inc", registry=reg)(1) == 2
    assert resolve_callback("inc", registry=reg, instantiate=True)(1) == 2


def test_an_unknown_parser_func_is_sednas_value_error_without_the_face(wrap_registered):
    from sedna_lib.exceptions import ClassNotFoundError as CoreClassNotFoundError

    with pytest.raises(CoreClassNotFoundError, match="post_process_callback class name nope") as info:
        parse._resolve_func("nope")

    assert isinstance(info.value, ValueError) and ClassNotFoundError is CoreClassNotFoundError
