"""Objects the multi-edge components exchange; their attribute names are Sedna's wire format."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from ..transport.objects import register_type

__all__ = ["OP_MODE", "DetTrackResult", "TargetImages", "Target"]

_TIME_FORMAT = "%a, %d %B %Y %H:%M:%S.%f"


class OP_MODE(enum.Enum):  # noqa: N801 (Sedna's name)
    """Operational mode of a multi-edge service."""

    DETECTION = "detection"
    TRACKING = "tracking"
    COVID19 = "covid19"
    NOOP = "noop"


class DetTrackResult:
    """Detections (and optionally tracks and ReID features) of one video frame.

    Parameters
    ----------
    frame_index : int, default=0
        Frame number in its stream.
    bbox : list, default=None
        Image crops, one per detected object.
    scene : numpy.ndarray, default=None
        The frame itself.
    confidence : list, default=None
        Detection scores, one per box.
    detection_time : str or list, default=None
        When the frame was processed, formatted ``"%a, %d %B %Y %H:%M:%S.%f"``.
    camera : int, default=0
        Camera identifier.
    bbox_coord : list, default=None
        Box coordinates, one per box.
    tracking_ids : list, default=None
        Track identifiers, one per box (stored as ``tracklets``).
    features : list, default=None
        ReID feature vectors, one per box.
    is_target : bool or int, default=False
        Index of the matched target, or False.
    ID : list, default=None
        Gallery identities matched to the features (stored as ``targetID``).

    Attributes
    ----------
    userID : str
        Owner of the result (``"DEFAULT"``).
    image_key : str
        ``"<timestamp>_<camera>"`` when ``detection_time`` parses, else ``"0"``.
    """

    def __init__(self, frame_index: int = 0, bbox: list | None = None, scene: Any = None,
                 confidence: list | None = None, detection_time: Any = None, camera: int = 0,
                 bbox_coord: list | None = None, tracking_ids: list | None = None,
                 features: list | None = None, is_target: Any = False,
                 ID: list | None = None) -> None:  # noqa: N803
        self.userID = "DEFAULT"
        self.frame_index = frame_index
        self.bbox = bbox
        self.tracklets = [] if tracking_ids is None else tracking_ids
        self.bbox_coord = [] if bbox_coord is None else bbox_coord
        self.scene = scene
        self.confidence = confidence
        self.detection_time = detection_time
        self.camera = camera
        self.features = [] if features is None else features
        self.is_target = is_target
        self.targetID = [] if ID is None else ID
        try:
            stamp = datetime.strptime(str(detection_time), _TIME_FORMAT).timestamp()
            self.image_key = f"{stamp}_{camera}"
        except ValueError:
            self.image_key = "0"

    def __repr__(self) -> str:
        """Return a short readable description."""
        return (f"DetTrackResult(frame_index={self.frame_index!r}, camera={self.camera!r}, "
                f"boxes={len(self.bbox or [])}, targetID={self.targetID!r})")


class TargetImages:
    """Images of the targets one user looks for.

    Parameters
    ----------
    userid : str
        Who asked.
    targets : list, default=None
        The target images (arrays).
    """

    def __init__(self, userid: str, targets: list | None = None) -> None:
        self.userid = userid
        self.targets = [] if targets is None else targets

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"TargetImages(userid={self.userid!r}, targets={len(self.targets)})"


class Target:
    """A target's ReID features and where it was last seen.

    Parameters
    ----------
    _userid : str
        Who looks for it.
    _features : list or numpy.ndarray
        Its feature vectors.
    _targetid : str, default='0000'
        Gallery identity.
    _tracking_id : str, default=None
        Track it was matched to.
    _location : str, default=None
        Where it was seen.
    _frame_index : int, default=0
        Frame it was seen in.
    """

    def __init__(self, _userid: str, _features: Any, _targetid: str = "0000", _tracking_id: str | None = None,
                 _location: str | None = None, _frame_index: int = 0) -> None:
        self.userid = _userid
        self.features = _features
        self.targetid = _targetid
        self.tracking_id = _tracking_id
        self.location = _location
        self.frame_index = _frame_index

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"Target(userid={self.userid!r}, targetid={self.targetid!r}, frame_index={self.frame_index!r})"


# original Sedna defines these classes in this module: legacy pickles name it, so original peers load them
SEDNA_MODULE = "sedna.core.multi_edge_inference.data_classes"

for _cls in (OP_MODE, DetTrackResult, TargetImages, Target):
    register_type(_cls, legacy_module=SEDNA_MODULE)
