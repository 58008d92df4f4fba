"""Estimators of the detection-shaped joint-inference example: digit "detectors" on 16x16 mosaics.

Each image is a 2x2 mosaic of scikit-learn's bundled digits (offline data), so a 16x16 array. A
detector classifies each 8x8 cell and answers one box ``[x1, y1, x2, y2, score, label]`` per cell,
whose score is the model's top class probability: the box lists of Sedna's helmet-detection
example, which the box-reading miners (IBT, Threshold) decide on.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# x1, y1, x2, y2 of the four 8x8 cells of a mosaic, in pixels
CELLS = np.array([[0, 0, 8, 8], [8, 0, 16, 8], [0, 8, 8, 16], [8, 8, 16, 16]], dtype=np.float32)


def split():
    """Digits scaled to [0, 1], split 50/50 (stratified, fixed seed): x_train, x_test, y_train, y_test."""
    x, y = load_digits(return_X_y=True)
    return train_test_split(x.astype(np.float32) / 16.0, y, test_size=0.5, stratify=y, random_state=0)


def mosaics(x, y, seed=0):
    """Tile the digits, four at a time in a random order, into 16x16 images; also return their labels."""
    order = np.random.default_rng(seed).permutation(len(y))
    order = order[: len(order) // 4 * 4].reshape(-1, 4)
    tiles = x[order].reshape(-1, 2, 2, 8, 8)  # mosaic, cell row, cell column, pixel row, pixel column
    return tiles.transpose(0, 1, 3, 2, 4).reshape(-1, 16, 16), y[order]


def cells(image):
    """The four 8x8 cells of a 16x16 mosaic, flattened, in the order of CELLS."""
    image = np.asarray(image, dtype=np.float32).reshape(2, 8, 2, 8)
    return image.transpose(0, 2, 1, 3).reshape(4, 64)


class _Detector:
    """Fit a classifier on the training digits at start-up; answer one box per cell of a mosaic."""

    def __init__(self, **kwargs):
        x_train, _, y_train, _ = split()
        self.model = self.build().fit(self.features(x_train), y_train)

    def build(self):
        raise NotImplementedError

    def features(self, x):
        return x

    def predict(self, data, **kwargs):
        proba = self.model.predict_proba(self.features(cells(data)))
        best = proba.argmax(axis=1)
        scores = proba[np.arange(len(best)), best]
        return np.column_stack([CELLS, scores, self.model.classes_[best]]).astype(np.float32)

    def load(self, model_url=""):
        """Accept the Model object's file (MODEL_URL); the model is fitted at start-up: it is a marker."""


class EdgeDetector(_Detector):
    """The little detector: standardised logistic regression on each cell pooled to 4x4 pixels."""

    def build(self):
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    def features(self, x):
        return x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)


class CloudDetector(_Detector):
    """The big detector: k-nearest neighbours on all 64 pixels of each cell."""

    def build(self):
        return KNeighborsClassifier(n_neighbors=4, weights="distance")
