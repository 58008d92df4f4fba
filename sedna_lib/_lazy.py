"""Module attributes imported on first access (PEP 562), from a ``name -> "module[:attribute]"`` table."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def lazy_attributes(module_name: str,
                    table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the module-level ``__getattr__`` and ``__dir__`` that serve ``table`` for ``module_name``.

    A target ``"pkg.mod"`` is the module itself, ``"pkg.mod:attr"`` one of its attributes. The
    value is imported on first access and then kept in the module, so later lookups are plain.
    """
    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        target_module, _, attr = target.partition(":")
        module = importlib.import_module(target_module)
        value = getattr(module, attr) if attr else module
        setattr(sys.modules[module_name], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module_name])) | set(table))

    return __getattr__, __dir__
