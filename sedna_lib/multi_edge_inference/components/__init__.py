"""Multi-edge inference components: the service base the detector, feature extraction and ReID build on.

The code is in :mod:`sedna_lib.multi_edge_inference.components.base`; Sedna scripts import these names from
``sedna.core.multi_edge_inference.components``.
"""

from .base import BaseService, FileOperations

__all__ = ["BaseService", "FileOperations"]
