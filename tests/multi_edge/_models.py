"""Tiny real models for the multi-edge tests: a "detector" that crops, a random-projection featuriser."""

from __future__ import annotations

import threading

import numpy as np

from sedna_lib.algorithms.reid import ReIDMatcher
from sedna_lib.multi_edge_inference import DetTrackResult, PluggableModel, Target, TargetImages

DIM_IN, DIM_OUT = 64, 16


def identity_images(n_ids: int, seed: int = 0) -> np.ndarray:
    """One prototype 8x8 'appearance' per identity."""
    return np.random.default_rng(seed).normal(size=(n_ids, DIM_IN)).astype("float32")


class CropDetector(PluggableModel):
    """A frame is a stack of 8x8 crops; 'detection' returns them as boxes of one DetTrackResult."""

    def load(self, **kwargs):
        self.model = "crops"

    def update_plugin(self, update_object, **kwargs):
        self.mode_ = update_object

    def predict(self, data, **kwargs):
        results = []
        for item in data:
            frame, index, camera = item
            results.append(DetTrackResult(frame_index=index, bbox=[c for c in frame], camera=camera,
                                          confidence=[1.0] * len(frame)))
        return results


class ProjectionFE(PluggableModel):
    """Random-projection feature extractor (a fixed seed on every side)."""

    def load(self, **kwargs):
        self.w_ = np.random.default_rng(42).normal(size=(DIM_IN, DIM_OUT))

    def update_plugin(self, update_object, **kwargs):
        return None

    def features(self, crops):
        f = np.asarray(crops, dtype="float64").reshape(len(crops), -1) @ self.w_
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    def predict(self, data, **kwargs):
        for det in data:
            det.features = list(self.features(det.bbox))
        return data

    def get_target_features(self, ldata):
        return [Target(t.userid, self.features(t.targets), _targetid=t.userid) for t in ldata]


class GalleryReID(PluggableModel):
    """Matches features with ReIDMatcher against targets featurised by the FE service."""

    def __init__(self, *, targets, config=None):
        self.targets = targets
        self.done = threading.Event()
        self.expected = None
        self.seen_ = []
        super().__init__(config=config)

    def load(self, **kwargs):
        self.matcher_ = None

    def update_plugin(self, update_object, **kwargs):
        return [TargetImages(str(i), [img]) for i, img in enumerate(self.targets)]

    def update_target(self, targets):
        feats = np.concatenate([np.asarray(t.features) for t in targets])
        self.matcher_ = ReIDMatcher(threshold=0.5).fit(feats, [t.userid for t in targets])

    def predict(self, data, **kwargs):
        out = []
        for det in data:
            det.targetID = list(self.matcher_.predict(np.asarray(det.features)))
            out.append(det)
        self.seen_.extend(out)
        if self.expected is not None and sum(len(d.bbox) for d in self.seen_) >= self.expected:
            self.done.set()
        return out
