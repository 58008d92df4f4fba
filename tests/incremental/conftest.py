"""Fixtures for incremental learning: a LocalController stub on 127.0.0.1 and small saved models."""


import json
import threading

import pytest


class LCStub:
    """A LocalController report endpoint that records bodies and answers like the Go server."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.raw: list[bytes] = []
        self._changed = threading.Condition()
        self.url = ""

    def app(self):
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse

        app = FastAPI()

        @app.post("/sedna/workers/{worker}/info")
        async def info(worker: str, request: Request):
            raw = await request.body()
            body = json.loads(raw)
            if body.get("name") != worker:
                message = (f"worker name(name={worker}) in the api is different "
                           f"from that(name={body.get('name')}) in the message body")
                return JSONResponse({"Status": 400, "Message": message}, status_code=400)
            if "results" in body and not isinstance(body["results"], list):
                return JSONResponse({"Status": 400, "Message": "results must be a list"}, status_code=400)
            with self._changed:
                self.raw.append(raw)
                self.bodies.append(body)
                self._changed.notify_all()
            return {"Status": 200, "Message": "OK"}

        return app

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.bodies) >= count, timeout), self.bodies
            return list(self.bodies)

    def of_kind(self, kind: str) -> list[dict]:
        with self._changed:
            return [b for b in self.bodies if b["kind"] == kind]


@pytest.fixture
def lc_stub():
    """A fresh LocalController stub server; ``.url`` is its base URL, ``.bodies`` what it received."""
    pytest.importorskip("fastapi")
    from sedna_lib.servers._threaded import ThreadedServer

    stub = LCStub()
    with ThreadedServer(stub.app()) as server:
        stub.url = server.url
        yield stub


@pytest.fixture(scope="session")
def iris_split():
    """Shuffled iris: (x_train, y_train, x_test, y_test)."""
    import numpy as np
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return x[:100], y[:100], x[100:], y[100:]
