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


def test_a_context_keeps_the_environment_it_was_built_with_as_the_page_says(monkeypatch):
    import sedna_lib
    from sedna_lib import Context
    from sedna_lib.compat.config import Context as SednaContext

    monkeypatch.setenv("EPOCHS", "3")
    monkeypatch.setenv("AGG_PORT", "7000")
    built = Context.from_env()
    monkeypatch.setenv("EPOCHS", "5")
    monkeypatch.setenv("AGG_PORT", "7001")

    assert (built.get_parameters("epochs"), built.config.agg_port) == ("3", 7000)  # its copy
    assert Context.from_env().get_parameters("epochs") == "5"  # a new one sees the change
    assert sedna_lib.context.get_parameters("epochs") == SednaContext.get_parameters("epochs") == "5"
    assert (Context().get_parameters("epochs"), Context().config.agg_port) == (None, 7363)  # no environment
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "are read at call time" not in page and "`Context()` and `Config()` read no environment" in page


def test_parameters_is_read_where_the_page_says_and_not_by_get_parameters(monkeypatch):
    import sedna_lib
    from sedna_lib import Context
    from sedna_lib.compat.config import BaseConfig

    monkeypatch.setenv("PARAMETERS", '{"epochs": 7}')
    monkeypatch.delenv("EPOCHS", raising=False)
    monkeypatch.delenv("epochs", raising=False)
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")

    assert 'Context.from_env().config.parameters["epochs"]   # 7' in page
    assert Context.from_env().config.parameters["epochs"] == 7
    assert 'BaseConfig.parameter["epochs"]                   # 7' in page
    assert BaseConfig.parameter["epochs"] == 7 and BaseConfig.parameters == '{"epochs": 7}'
    assert 'sedna_lib.context.get_parameters("epochs", 1)    # 1: PARAMETERS is not looked up' in page
    assert sedna_lib.context.get_parameters("epochs", 1) == 1
