"""Fixtures for lifelong learning: a tiny domain-incremental digits set and a config that keeps files in tmp."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.lifelong_learning import Samples

ORIGINS = {
    "identity": lambda a: a,
    "rotate": lambda a: np.rot90(a, 1, axes=(1, 2)),
    "flip": lambda a: a[:, :, ::-1],
    "invert": lambda a: 1.0 - a,
}


def make_origin_samples(x, y, names, idx):
    """Digits of the given origins, with each sample's origin in ``meta_attr``."""
    imgs = x.reshape(-1, 8, 8)
    xs = [ORIGINS[n](imgs[idx]).reshape(len(idx), -1) for n in names]
    return Samples(np.concatenate(xs), np.concatenate([y[idx]] * len(names)),
                   np.concatenate([[n] * len(idx) for n in names]))


@pytest.fixture(scope="session")
def origin_data(digits):
    """Train/test digits under the four origins (400 train / 200 test images per origin)."""
    xtr, ytr, xte, yte = digits
    return {"x_train": xtr[:400], "y_train": ytr[:400], "x_test": xte[:200], "y_test": yte[:200]}


@pytest.fixture
def ll_context(tmp_path):
    """A context whose knowledge base lives in tmp_path and whose LC reports fail fast."""
    cfg = Config(output_url=str(tmp_path / "cloud"), edge_output_url=str(tmp_path / "edge"),
                 lc_server="http://127.0.0.1:9", max_retries=0, connect_timeout_s=0.5,
                 work_dir=str(tmp_path / "work"))
    return Context(cfg)


def with_config(ctx, **changes):
    """The same context with some config fields changed."""
    return Context(dataclasses.replace(ctx.config, **changes), registry=ctx.registry)


@pytest.fixture
def status_server():
    """A status service that always says a fall happened (``{"if_fall": "True"}``)."""
    from fastapi import FastAPI

    from sedna_lib.servers._threaded import ThreadedServer

    app = FastAPI()

    @app.post("/")
    def status() -> dict:
        return {"if_fall": "True"}

    with ThreadedServer(app) as server:
        yield server
