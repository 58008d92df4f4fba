"""Sedna's ``sedna.service.server``: the inference and aggregation servers under their Sedna names.

Everything :mod:`sedna_lib.servers` serves, plus the Sedna-only
:class:`~sedna_lib.compat.server.aggregation.AggregationServerV2`; each is imported on first use,
so importing this package loads no web framework.
"""

from __future__ import annotations

from ..._lazy import lazy_attributes
from ...servers import _LAZY as _SERVERS

# name -> "module:attribute", imported on first access
_LAZY: dict[str, str] = {
    **_SERVERS,
    "AggregationServerV2": "sedna_lib.compat.server.aggregation:AggregationServerV2",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
