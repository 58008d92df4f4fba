"""MkDocs hook: one title per API reference page.

Each page under ``api/`` starts with ``# sedna_lib.x`` and documents that module with ``::: sedna_lib.x``;
mkdocstrings would show the module's name a second time as a heading. For the block that documents
the page's own module, the module heading is left out (its docstring and members stay), unless the
block sets its own ``options``.
"""

from __future__ import annotations

import re

TITLE = re.compile(r"\A\s*#\s+(?P<name>[\w.]+)\s*$", re.M)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Add ``show_root_heading: false`` to the block that repeats the page's title."""
    if not page.file.src_uri.startswith("api/"):
        return markdown
    title = TITLE.match(markdown)
    if title is None:
        return markdown
    block = re.compile(rf"^::: {re.escape(title['name'])}[ \t]*$(?!\n[ \t]+\S)", re.M)
    return block.sub(lambda m: m.group(0) + "\n    options:\n      show_root_heading: false", markdown, count=1)
