"""Fixtures of the observability tests."""

from __future__ import annotations

import io
import logging

import pytest


@pytest.fixture
def log_lines(request):
    """A logger of its own (INFO, not propagating) and the stream its lines go to: ``(logger, stream)``."""
    stream = io.StringIO()
    logger = logging.getLogger(f"tests.observability.{request.node.name}")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
