"""docs/configuration.md carries the variable table that sedna_lib.config.describe() generates."""

from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("_gen_config_table", ROOT / "docs" / "_gen_config_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_table_matches_the_generator():
    gen = _generator()
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")

    assert gen.updated(text) == text, "docs/configuration.md is stale: run python docs/_gen_config_table.py"


def test_table_lists_every_variable():
    from sedna_lib.config import describe

    table = _generator().render()

    assert all(f"| `{spec.variable}` |" in table for spec in describe())
