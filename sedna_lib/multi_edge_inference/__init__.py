"""Multi-edge inference: detection at each edge, feature extraction, and ReID matching across cameras.

Three components, each a :class:`~sedna_lib.multi_edge_inference.components.BaseService` that
hosts one REST service and calls the others (or exchanges Kafka records when ``KAFKA_ENABLED``)::

    camera -> ObjectDetector (edge) --detections--> FEService --features--> ReID (cloud)
                     ^                                  |  ^                  |
                     '-------- enriched results --------'  '- target images --'

Importing this package gives Sedna's names: ``BaseService``, ``FileOperations`` and the
components, plugins and data classes.
"""

from __future__ import annotations

from .components import BaseService, FileOperations
from .components.detector import ObjectDetector
from .components.feature_extraction import FEService
from .components.reid import ReID
from .data_classes import OP_MODE, DetTrackResult, Target, TargetImages
from .plugins import MODEL_NOT_FOUND, PLUGIN, PluggableModel, PluggableNetworkService

__all__ = ["BaseService", "FileOperations", "ObjectDetector", "FEService", "ReID", "OP_MODE",
           "DetTrackResult", "Target", "TargetImages", "PLUGIN", "PluggableModel",
           "PluggableNetworkService", "MODEL_NOT_FOUND"]
