"""Griffe extension for the API reference: numpydoc's reStructuredText bits, rewritten as Markdown.

The docstrings follow numpydoc, which borrows Sphinx roles and citations from reStructuredText;
mkdocstrings renders docstrings as Markdown. Before any docstring is rendered, this extension
rewrites, in every docstring of the package:

- a role (``:class:`X` ``, ``:meth:`~a.B.c` ``, ``:func:`.f` ``, ``:attr:``, ``:mod:``, ``:data:``,
  ``:exc:``, ``:obj:``) into a cross-reference to ``X`` resolved in the docstring's own scope, shown
  as code (``~`` keeps the last name only; methods and functions get ``()``, as Sphinx shows them).
  The link is optional: a target the reference does not document (numpy, torch) stays plain code;
- a citation ``[1]_`` into a link to its entry, and each entry ``.. [1] ...`` of a References
  section into a line of a list that carries the anchor.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?P<role>meth|class|func|attr|mod|obj|exc|data|const):`(?P<body>[^`]+)`")
CITATION = re.compile(r"\[(?P<label>\d+|#?[A-Za-z][\w-]*)\]_")
CITATION_ENTRY = re.compile(r"^(?P<indent>[ \t]*)\.\. \[(?P<label>[^\]]+)\][ \t]*(?P<text>.*)$")
CALLABLE_ROLES = {"meth", "func"}


class _Index:
    """Every object path of the package, and the paths each short name stands for."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.by_name: dict[str, set[str]] = {}

    def add(self, obj: griffe.Object) -> None:
        self.paths.add(obj.path)
        self.by_name.setdefault(obj.name, set()).add(obj.path)

    def target(self, obj: griffe.Object, name: str) -> str:
        """The full path of ``name`` as seen from ``obj`` (unchanged when it cannot be resolved).

        The name is resolved in the docstring's scope first; a name that does not lead to an object
        of the package then goes to the one object of the package with that short name, if only one has it.
        """
        name = name.lstrip(".")
        resolved = name
        if not name.startswith(("sedna_lib.", "sedna.")):
            head, _, rest = name.partition(".")
            scope = obj if obj.is_module or obj.is_class else obj.parent
            try:
                found = scope.resolve(head) if scope is not None else head
                resolved = f"{found}.{rest}" if rest else found
            except griffe.NameResolutionError:
                pass
        if resolved not in self.paths:
            candidates = self.by_name.get(name.rsplit(".", 1)[-1], set())
            if len(candidates) == 1:
                return next(iter(candidates))
        return resolved


def rewrite(text: str, obj: griffe.Object, index: _Index | None = None) -> str:
    """Return ``text`` (one docstring) with its roles and citations written as Markdown and HTML."""
    anchor = obj.path.replace(".", "-")
    index = index or _Index()

    def role(match: re.Match) -> str:
        body = match["body"].strip()
        explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<name>[^>]+)>", body)
        if explicit:
            title, name = explicit["title"], explicit["name"]
        else:
            name = body
            shown = name[1:] if name.startswith("~") else name
            title = shown.rsplit(".", 1)[-1] if name.startswith("~") else shown.lstrip(".")
            if match["role"] in CALLABLE_ROLES and not title.endswith(")"):
                title += "()"
        identifier = index.target(obj, name.lstrip("~"))
        return (f'<autoref identifier="{html.escape(identifier)}" optional>'
                f"<code>{html.escape(title)}</code></autoref>")

    def entry(match: re.Match) -> str:
        label = match["label"]
        return (f'{match["indent"]}- <a id="{anchor}-cite-{html.escape(label)}"></a>'
                f'[{html.escape(label)}] {match["text"]}')

    lines = [CITATION_ENTRY.sub(entry, line) for line in text.splitlines()]
    text = "\n".join(lines)
    text = CITATION.sub(lambda m: f'<sup><a href="#{anchor}-cite-{m["label"]}">[{m["label"]}]</a></sup>', text)
    return ROLE.sub(role, text)


def _objects(obj: griffe.Object, seen: set[int]):
    """``obj`` and every object defined under it (aliases are not followed)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member, seen)


class NumpydocMarkdown(griffe.Extension):
    """Rewrite numpydoc's roles and citations in every docstring once a package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the loaded package and rewrite each docstring in place."""
        objects = list(_objects(pkg, set()))
        index = _Index()
        for obj in objects:
            index.add(obj)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj.docstring.value, obj, index)
