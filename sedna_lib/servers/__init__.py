"""Servers: the big-model inference service, the aggregation server, the knowledge base."""

from __future__ import annotations

from .._lazy import lazy_attributes

# Server classes, imported on first use so that importing this package loads no web framework:
# name -> "module:attribute".
_LAZY: dict[str, str] = {
    "ThreadedServer": "sedna_lib.servers._threaded:ThreadedServer",
    "ServerLimits": "sedna_lib.servers._app:ServerLimits",
    "InferenceServer": "sedna_lib.servers.inference:InferenceServer",
    "AggregationServer": "sedna_lib.servers.aggregation:AggregationServer",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
