"""Stub detectors for the helmet joint-inference workers: fixed ``[x1, y1, x2, y2, score, cls]`` boxes."""

import os

import numpy as np

os.environ["BACKEND_TYPE"] = "TENSORFLOW"

ROLE = os.environ.get("STUB_ROLE", "edge")


class Estimator:
    """The edge detector is sure of even frames and unsure of odd ones; the cloud is always sure."""

    def __init__(self, **kwargs):
        self.loaded_from = None

    def load(self, model_url=""):
        self.loaded_from = model_url

    def predict(self, data, **kwargs):
        frame = np.asarray(data)
        height, width = frame.shape[:2]
        if ROLE == "cloud":  # the frame's mean proves the cloud saw the whole frame
            return [[0.0, 0.0, float(width), float(height), 0.99, float(frame.mean())]]
        score = 0.95 if int(frame[0, 0, 0]) % 2 == 0 else 0.3
        return [[1.0, 1.0, 8.0, 8.0, score, 0.0]]
