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


# -- S3: a real S3 endpoint (moto's server) on 127.0.0.1 --------------------------------------

S3_ACCESS_KEY = "sedna-test-access"
S3_SECRET_KEY = "sedna-test-secret"


@pytest.fixture(scope="session")
def s3_endpoint():
    """Start moto's S3 server on 127.0.0.1 (free port) and yield its ``http://`` endpoint URL.

    Use the credentials ``S3_ACCESS_KEY``/``S3_SECRET_KEY`` from this module (moto accepts them
    while authentication is off, its default), and create buckets through minio.
    """
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_config(s3_endpoint):
    """A Config pointing at the test S3 endpoint with the test credentials."""
    from sedna_lib.config import Config

    return Config(s3_endpoint_url=s3_endpoint, access_key_id=S3_ACCESS_KEY, secret_access_key=S3_SECRET_KEY)
