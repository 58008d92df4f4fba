"""One numpy -> JSON conversion: sedna_lib._json serves the reports, replies and records alike."""

import ast
import enum
import json
import pathlib

import numpy as np
import pytest

from sedna_lib._json import NonFiniteNumberError, json_default, json_safe, loads
from sedna_lib.incremental_learning import hard_examples
from sedna_lib.transport import http, lc

ROOT = pathlib.Path(__file__).resolve().parents[1] / "sedna_lib"
# typed wire codecs (they tag dtypes and shapes), not plain-JSON converters
TYPED_CODECS = {("transport/kb_index.py", "encode_value"), ("transport/objects.py", "_encode")}


class _Colour(enum.Enum):
    RED = "red"


def _converters():
    """Functions outside the typed codecs that turn numpy scalars into Python ones."""
    found = set()
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            src = ast.unparse(node)
            if "np.generic" in src and ".item()" in src and ".tolist()" in src:
                found.add((rel, node.name))
    return found - TYPED_CODECS


def test_one_numpy_to_json_converter_in_the_library():
    assert _converters() == {("_json.py", "json_safe")}


def test_json_hooks_of_the_library_go_through_json_default():
    hooks = {}
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defs = {n.name: ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in ("dump", "dumps") and ast.unparse(n.func.value) == "json"]
        for call in calls:
            for kw in call.keywords:
                if kw.arg == "default" and isinstance(kw.value, ast.Name) \
                        and kw.value.id not in ("str", "repr"):
                    name = kw.value.id
                    hooks[(path.relative_to(ROOT).as_posix(), name)] = name == "json_default" or \
                        "json_default(" in defs.get(name, "")
    assert hooks and all(hooks.values()), hooks


def test_strict_and_lenient_conversion_agree_on_numpy_and_differ_on_the_rest():
    value = {1: np.arange(2), "t": (np.float32(0.5), np.int64(3)),
             "o": np.array([np.int8(1), "x"], dtype=object)}
    plain = {"1": [0, 1], "t": [0.5, 3], "o": [1, "x"]}

    assert json_safe(value) == plain
    assert json_safe(value, strict=True) == plain
    assert http.to_jsonable(value) == plain
    assert type(json_safe(np.float64(0.25))) is float
    marker = object()
    assert json_safe([marker])[0] is marker
    with pytest.raises(TypeError, match="object cannot be sent as JSON"):
        http.to_jsonable([marker])


def test_json_default_encodes_arrays_scalars_enums_and_paths():
    body = {"a": np.arange(3, dtype=np.int16), "s": np.float32(1.5), "e": _Colour.RED,
            "p": pathlib.PurePosixPath("/m")}

    assert json.loads(json.dumps(body, default=json_default)) == \
        {"a": [0, 1, 2], "s": 1.5, "e": "red", "p": "/m"}
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        json.dumps(object(), default=json_default)


def test_reports_and_hard_example_records_encode_numpy_alike():
    record = {"conf": np.float32(0.25), "box": np.array([[1, 2]]), "raw": b"abc", "tags": {"x"}}

    assert json.loads(hard_examples._dumps(record, "record")) == {"conf": 0.25, "box": [[1, 2]],
                                                                  "raw": {"bytes": 3}, "tags": ["x"]}
    assert lc.json_default is json_default


@pytest.mark.parametrize("text, word", [('{"rate": NaN}', "NaN"), ("[1, Infinity]", "Infinity"),
                                        (b"[-Infinity]", "-Infinity")])
def test_loads_without_nan_refuses_what_json_has_no_number_for(text, word):
    assert isinstance(loads(text), (dict, list))  # Python's parser reads them by default

    refused = f"^{word} is not a number; write a finite number$"
    with pytest.raises(NonFiniteNumberError, match=refused) as info:
        loads(text, allow_nan=False)
    assert isinstance(info.value, ValueError) and not isinstance(info.value, json.JSONDecodeError)


def test_loads_without_nan_reads_finite_numbers_and_still_reports_malformed_text():
    assert loads('{"a": [1e308, -0.5, 3]}', allow_nan=False) == {"a": [1e308, -0.5, 3]}
    with pytest.raises(json.JSONDecodeError):
        loads("[" * 100_000, allow_nan=False)
    with pytest.raises(TypeError, match="parse_constant"):
        loads("[NaN]", allow_nan=False, parse_constant=float)


def test_the_library_refuses_nan_in_json_through_loads_alone():
    # a module that needs strict numbers passes allow_nan=False, never a parse_constant hook of its own
    users = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "parse_constant":
                users.add(path.relative_to(ROOT).as_posix())
    assert users == set()
