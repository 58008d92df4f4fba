"""Shared logic of the docs generators: a generated block lives between two markers in a page.

Each generator script (``docs/_gen_*.py``) renders its block and calls :func:`main`, which
rewrites the page, or with ``--check`` only reports whether the committed page is current.
``tests/test_docs_site.py`` checks every generated page the same way.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Callable


def splice(text: str, begin: str, end: str, block: str) -> str:
    """Return ``text`` with everything from ``begin`` to ``end`` (markers included) replaced by ``block``.

    Raises
    ------
    ValueError
        When a marker is missing from ``text``.
    """
    if begin not in text or end not in text:
        raise ValueError(f"the page lacks its generated-block markers {begin!r} ... {end!r}")
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + block + text[stop:]


def main(argv: list[str], *, doc: pathlib.Path, updated: Callable[[str], str], script: str) -> int:
    """Rewrite ``doc`` with ``updated(text)``; with ``--check``, only compare. Return the exit status."""
    text = doc.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in argv:
        if new != text:
            print(f"{doc} is out of date: run python {script}", file=sys.stderr)
            return 1
        return 0
    doc.write_text(new, encoding="utf-8")
    return 0
