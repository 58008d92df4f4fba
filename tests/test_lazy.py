"""One lazy-attribute mechanism: module attributes imported on first use go through sedna_lib._lazy."""

import ast
import importlib
import pathlib
import sys

import pytest

from sedna_lib._lazy import lazy_attributes

ROOT = pathlib.Path(__file__).resolve().parents[1] / "sedna_lib"


def test_no_module_writes_its_own_getattr():
    own = sorted(path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*.py")
                 if any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
                        for node in ast.parse(path.read_text(encoding="utf-8")).body))

    # joint_inference answers solar_corona's miner names from the registry, not from an import table
    assert set(own) <= {"joint_inference/__init__.py"}, f"{own}: use sedna_lib._lazy.lazy_attributes"


@pytest.mark.parametrize("module, name, target", [
    ("sedna_lib.llm", "OpenAIClient", "sedna_lib.transport.openai"),
    ("sedna_lib.backends", "SklearnBackend", "sedna_lib.backends.sklearn"),
    ("sedna_lib.compat.core.base", "ModelLoadingThread", "sedna_lib.incremental_learning.hot_update"),
])
def test_lazy_names_resolve_are_listed_and_kept(module, name, target):
    mod = importlib.import_module(module)

    value = getattr(mod, name)

    assert value is getattr(importlib.import_module(target), name)
    assert name in dir(mod) and vars(mod)[name] is value
    with pytest.raises(AttributeError, match=f"module {module!r} has no attribute 'Nope'"):
        getattr(mod, "Nope")


def test_lazy_attributes_serves_modules_and_attributes():
    module = type(sys)("sedna_lib_lazy_probe")
    module.__getattr__, module.__dir__ = lazy_attributes("sedna_lib_lazy_probe",
                                                         {"js": "json", "dumps": "json:dumps"})
    sys.modules["sedna_lib_lazy_probe"] = module
    try:
        assert module.__getattr__("js") is importlib.import_module("json")
        assert module.__getattr__("dumps").__name__ == "dumps"
        assert module.__dir__() == sorted(set(vars(module)) | {"js", "dumps"})
    finally:
        del sys.modules["sedna_lib_lazy_probe"]
