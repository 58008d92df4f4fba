"""Servers: the big-model inference service, the aggregation server, the knowledge base."""

from __future__ import annotations

import importlib
from typing import Any

# Server classes, imported on first use so that importing this package loads no web framework:
# name -> "module:attribute".
_LAZY: dict[str, str] = {
    "ThreadedServer": "sedna_lib.servers._threaded:ThreadedServer",
    "InferenceServer": "sedna_lib.servers.inference:InferenceServer",
    "AggregationServer": "sedna_lib.servers.aggregation:AggregationServer",
    "AggregationServerV2": "sedna_lib.servers.aggregation:AggregationServerV2",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
