"""Shared fixtures: environment isolation, seeded data, and helpers for real servers."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.config import describe

# Every variable sedna_lib reads, plus the script-level ones Sedna examples read.
_SEDNA_VARIABLES = {alias for spec in describe() for alias in (spec.variable, *spec.aliases)} | {
    "epochs", "EPOCHS", "video_url", "VIDEO_URL", "HE_SAVED_URL", "RESULT_SAVED_URL", "UTD_NAME",
    "UTD_PARAMETERS", "cut_layer", "epsilon", "CUT_LAYER", "EPSILON", "STATUS_IP", "IMAGE_TOPIC_URL",
    "API_KEY", "input_shape", "class_names", "learning_rate", "LEARNING_RATE",
}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    """Drop every Sedna variable so that no test depends on the machine's environment."""
    for name in _SEDNA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def rng():
    """A seeded random generator."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits, scaled to [0, 1], split 1400/397."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:1400], y[:1400], x[1400:], y[1400:]
