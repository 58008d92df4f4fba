"""docs/configuration.md carries the variable table that sedna_lib.config.describe() generates.

That the committed table is current is checked with every generated page in tests/test_docs_site.py.
"""

from __future__ import annotations

import importlib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_table_lists_every_variable(monkeypatch):
    from sedna_lib.config import describe

    monkeypatch.syspath_prepend(str(ROOT / "docs"))
    sys.modules.pop("_gen_config_table", None)
    table = importlib.import_module("_gen_config_table").render()

    assert all(f"| `{spec.variable}` |" in table for spec in describe())
