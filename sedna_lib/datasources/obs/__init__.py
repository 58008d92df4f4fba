"""Object storage behind a CSB file server (Sedna 0.6's ``sedna.datasources.obs``)."""

from __future__ import annotations

from .connector import OBSClientWrapper, object_key

__all__ = ["OBSClientWrapper", "object_key"]
