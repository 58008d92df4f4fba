"""One place reads what a callable accepts: sedna_lib.registry's signature helpers."""

import ast
import pathlib

import pytest

from sedna_lib import registry
from sedna_lib.backends import estimator as backend_estimator
from sedna_lib.registry import Kind, Registry, accepts, parse_kwargs, signature_shape

ROOT = pathlib.Path(__file__).resolve().parents[1] / "sedna_lib"
# readers with another question: BaseAlgorithm.get_params lists constructor parameters, the CLI
# asks whether a factory needs arguments
OTHER_QUESTIONS = {("base.py", "_param_names"), ("cli/__init__.py", "_no_required_args")}


def test_keyword_acceptance_is_read_only_in_the_registry():
    readers = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                src = ast.unparse(node)
                if "signature(" in src and "VAR_KEYWORD" in src:
                    readers.add((path.relative_to(ROOT).as_posix(), node.name))

    assert {r for r in readers if r[0] != "registry.py"} == OTHER_QUESTIONS


def test_backends_use_the_registry_helpers():
    assert backend_estimator.parse_kwargs is parse_kwargs
    assert backend_estimator.signature_shape is signature_shape


class _Plain:
    def __init__(self, depth=1):
        self.depth = depth


class _Open:
    def __init__(self, depth=1, **options):
        self.depth, self.options = depth, options


@pytest.mark.parametrize("func, name, expected", [
    (_Plain, "depth", True), (_Plain, "models", False), (_Plain, "self", False),
    (_Open, "models", True), (lambda x, *, lr=0.1: x, "lr", True), (lambda x, /: x, "x", False),
])
def test_accepts_reads_constructors_functions_and_var_keywords(func, name, expected):
    assert accepts(func, name) is expected


def test_accepts_answers_the_default_for_a_callable_without_signature():
    assert signature_shape(max) is None
    assert accepts(max, "key") is False and accepts(max, "key", default=True) is True
    assert parse_kwargs(max, key=len) == {"key": len}


def test_lifelong_build_hands_context_only_to_constructors_that_take_it():
    reg = Registry()
    reg.register(Kind.HARD_EXAMPLE_MINING, "Plain")(_Plain)
    reg.register(Kind.HARD_EXAMPLE_MINING, "Open")(_Open)

    plain = registry.build(reg, Kind.HARD_EXAMPLE_MINING, registry.AlgorithmSpec(("Plain", {"depth": 2})),
                           models=["m"])
    opened = registry.build(reg, Kind.HARD_EXAMPLE_MINING, registry.AlgorithmSpec(("Open", {})), models=["m"])

    assert plain.depth == 2 and not hasattr(plain, "options")
    assert opened.options == {"models": ["m"]}
    assert registry.accepts is accepts
