"""docs/migrating-from-sedna.md says what the ``sedna`` alias package really does."""

from __future__ import annotations

import importlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "migrating-from-sedna.md"


def test_the_alias_count_is_that_of_the_table():
    import sedna

    text = PAGE.read_text(encoding="utf-8")
    counts = re.findall(r"\((\d+) paths, one\s+table, `sedna\.ALIASES`\)", text)

    assert counts == [str(len(sedna.ALIASES))]


def test_every_module_the_page_says_a_sedna_path_is_is_that_module():
    text = PAGE.read_text(encoding="utf-8")
    pairs = re.findall(r"`(sedna(?:\.\w+)+)`\s+\*is\*\s+`(sedna_lib(?:\.\w+)+)`", text)

    assert len(pairs) >= 2
    assert [(a, b) for a, b in pairs if importlib.import_module(a) is not importlib.import_module(b)] == []


def test_the_check_command_prints_what_its_comment_says():
    text = PAGE.read_text(encoding="utf-8")
    command = r'python -c "import sedna, (sedna(?:\.\w+)+) as m; print\(m\.__name__\)"'
    found = re.search(command + r"\s+#\s*(\S+)", text)

    assert found
    assert importlib.import_module(found.group(1)).__name__ == found.group(2)
