"""Collection rules for the whole tree (doctests of the packages included).

A doctest whose examples import a package that is not installed (an optional framework: torch,
TensorFlow) is skipped with the reason, not failed: the suite runs in environments with fewer
extras than ``.[all,dev]`` too.
"""

from __future__ import annotations

import ast
import importlib.util

import pytest


def _imported(source: str) -> set[str]:
    """Top-level package names an example's source imports."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def pytest_collection_modifyitems(items):
    """Skip the doctests whose examples import a package that is not installed."""
    for item in items:
        test = getattr(item, "dtest", None)
        if test is None:
            continue
        wanted = set().union(*(_imported(example.source) for example in test.examples))
        absent = sorted(name for name in wanted if importlib.util.find_spec(name) is None)
        if absent:
            item.add_marker(pytest.mark.skip(reason=f"the example imports {', '.join(absent)}, not installed"))
