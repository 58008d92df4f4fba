"""Multi-edge ReID on synthetic cameras: detector -> feature extraction -> ReID, on 127.0.0.1.

Each "camera" films people drawn from a fixed set of identities; a person's crop is their
appearance prototype seen under the camera's own lighting offset plus noise. A random-projection
feature extractor embeds the crops, and the ReID service matches them against the targets'
gallery. The script prints the matching accuracy. Run: python synthetic_cameras.py
"""

import dataclasses
import threading

import numpy as np

from sedna_lib.algorithms.reid import ReIDMatcher
from sedna_lib.config import Config
from sedna_lib.multi_edge_inference import (PLUGIN, DetTrackResult, FEService, ObjectDetector, PluggableModel, ReID,
                                            Target, TargetImages)
from sedna_lib.multi_edge_inference.plugins.registered import ReID_I

N_IDS, N_CAMERAS, FRAMES, PEOPLE_PER_FRAME, CROP, DIM = 8, 3, 20, 3, 256, 32
rng = np.random.default_rng(0)
PROTOTYPES = rng.normal(size=(N_IDS, CROP)).astype("float32")
CAMERA_SHIFT = rng.normal(scale=0.3, size=(N_CAMERAS, CROP)).astype("float32")


class Detector(PluggableModel):
    """Frames are stacks of person crops: each crop becomes one box."""

    def load(self, **kwargs):
        self.min_confidence = 0.0

    def update_plugin(self, update_object, **kwargs):
        return None

    def predict(self, data, **kwargs):
        return [DetTrackResult(frame_index=i, bbox=list(frame), camera=cam, confidence=[1.0] * len(frame))
                for frame, i, cam in data]


class RandomProjectionFE(PluggableModel):
    """A fixed random projection to DIM dimensions, L2-normalised (the same seed on every node)."""

    def load(self, **kwargs):
        self.w = np.random.default_rng(42).normal(size=(CROP, DIM)) / np.sqrt(DIM)

    def update_plugin(self, update_object, **kwargs):
        return None

    def embed(self, crops):
        f = (np.asarray(crops, dtype="float64") - 0.0) @ self.w
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    def predict(self, data, **kwargs):
        for det in data:
            det.features = list(self.embed(det.bbox))
        return data

    def get_target_features(self, ldata):
        return [Target(t.userid, self.embed(t.targets), _targetid=t.userid) for t in ldata]


class GalleryMatcher(PluggableModel):
    """Identifies every box with ReIDMatcher against the targets' features."""

    def __init__(self, *, expected, config=None):
        self.expected, self.matched, self.done = expected, [], threading.Event()
        super().__init__(config=config)

    def load(self, **kwargs):
        self.matcher = None

    def update_plugin(self, update_object, **kwargs):
        return [TargetImages(str(i), [p]) for i, p in enumerate(PROTOTYPES)]

    def update_target(self, targets):
        feats = np.concatenate([np.asarray(t.features) for t in targets])
        self.matcher = ReIDMatcher(threshold=0.3).fit(feats, [t.userid for t in targets])

    def predict(self, data, **kwargs):
        for det in data:
            det.targetID = [str(t) for t in self.matcher.predict(np.asarray(det.features))]
        self.matched.extend(data)
        if sum(len(d.bbox) for d in self.matched) >= self.expected:
            self.done.set()
        return data


def main():
    cfg = Config(fe_model_bind_url="127.0.0.1", fe_model_bind_port=0, det_model_bind_url="127.0.0.1",
                 det_model_bind_port=0, reid_model_bind_url="127.0.0.1", reid_model_bind_port=0)
    fe = FEService(models=[RandomProjectionFE(config=cfg)], plugins=[ReID_I(config=cfg)], config=cfg)
    cfg = dataclasses.replace(cfg, fe_model_bind_port=fe.get_plugin(PLUGIN.FEATURE_EXTRACTION).port)
    matcher = GalleryMatcher(expected=FRAMES * PEOPLE_PER_FRAME, config=cfg)
    reid = ReID(models=[matcher], config=cfg, timeout=0.1)
    cameras = [ObjectDetector(models=[Detector(config=cfg)], config=cfg, motion_filter=False)]
    # one detector serves all cameras here; the feature extractor answers to it and sends to ReID
    fe.get_plugin(PLUGIN.VIDEO_ANALYTICS_I).plugin_api.port = cameras[0].get_plugin(PLUGIN.VIDEO_ANALYTICS).port
    fe.get_plugin(PLUGIN.REID_I).plugin_api.port = reid.get_plugin(PLUGIN.REID).port
    truth = {}
    try:
        for i in range(FRAMES):
            cam = i % N_CAMERAS
            who = rng.choice(N_IDS, size=PEOPLE_PER_FRAME, replace=False)
            crops = PROTOTYPES[who] + CAMERA_SHIFT[cam] + rng.normal(scale=0.5, size=(len(who), CROP))
            truth[i] = [str(w) for w in who]
            cameras[0].put((crops.astype("float32"), i, cam))
        if not matcher.done.wait(30):
            raise SystemExit(f"timed out: {len(matcher.matched)} frames matched, last error {reid.last_error_}")
    finally:
        for service in (*cameras, reid, fe):
            service.close()
    pairs = [(t, p) for det in matcher.matched for t, p in zip(truth[det.frame_index], det.targetID)]
    accuracy = np.mean([t == p for t, p in pairs])
    print(f"{N_CAMERAS} cameras, {FRAMES} frames, {len(pairs)} people, {N_IDS} identities")
    print(f"ReID matching accuracy: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
