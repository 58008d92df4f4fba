"""Griffe extension for the API reference: read ``algorithms/`` as ``sedna_lib.algorithms``.

setup.cfg installs the ``algorithms/`` folder as the subpackage ``sedna_lib.algorithms``
(``package_dir``), which static analysis of ``sedna_lib/`` cannot see. When griffe has visited
``sedna_lib/__init__.py``, this extension visits ``algorithms/`` and attaches it there, so that
``::: sedna_lib.algorithms.aggregation`` works without importing anything.
"""

from __future__ import annotations

import pathlib
from typing import Any

import griffe

ALGORITHMS = pathlib.Path(__file__).resolve().parents[1] / "algorithms"


def _attach(parent: griffe.Module, name: str, path: pathlib.Path, agent: Any) -> None:
    source = path / "__init__.py" if path.is_dir() else path
    module = griffe.visit(
        name,
        filepath=source,
        code=source.read_text(encoding="utf-8"),
        extensions=agent.extensions,
        parent=parent,
        docstring_parser=agent.docstring_parser,
        docstring_options=agent.docstring_options,
        lines_collection=agent.lines_collection,
        modules_collection=agent.modules_collection,
    )
    parent.set_member(name, module)
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.suffix == ".py" and child.name != "__init__.py":
                _attach(module, child.stem, child, agent)
            elif child.is_dir() and (child / "__init__.py").is_file():
                _attach(module, child.name, child, agent)


class AlgorithmsPackage(griffe.Extension):
    """Attach the visited ``algorithms/`` tree to ``sedna_lib`` as ``sedna_lib.algorithms``."""

    def on_module_members(self, *, node: Any, mod: griffe.Module, agent: Any, **kwargs: Any) -> None:
        """Attach the tree once ``sedna_lib``'s own ``__init__`` has been visited."""
        if mod.path == "sedna_lib" and "algorithms" not in mod.members and isinstance(agent, griffe.Visitor):
            _attach(mod, "algorithms", ALGORITHMS, agent)
