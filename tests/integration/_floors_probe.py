"""Checks run inside a virtual environment holding every requirement at its lowest declared version.

``tests/test_install_wheel.py`` installs the wheel there and runs this file (not a test module: the
suite's own environment has the newest versions). Each check prints one line; the first failure
ends the run with a non-zero status and names what went wrong. Older starlette, uvicorn and
websockets take other code paths than the newest: a malformed form is a parse error starlette
does not turn into a 400, and the aggregation server serves through uvicorn's own websocket protocol.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading

import numpy as np
import requests


def _together(target, calls: list[tuple]) -> None:
    """Run ``target(*args)`` for each of ``calls`` in threads at once, and wait for them (a minute at most)."""
    threads = [threading.Thread(target=target, args=args) for args in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def knowledge_base_answers_malformed_forms_with_400() -> None:
    from sedna_lib.servers.knowledge_base import KBServer

    server = KBServer("127.0.0.1", 0, save_dir=tempfile.mkdtemp(), db_url="sqlite:///kb.sqlite3")
    threaded = server.run_in_thread()
    try:
        for path in ("/knowledgebase/file/upload", "/knowledgebase/update"):
            for body in (b"--xZ", b"--x--Q", b"\x00\x01", b"--x\r\nContent-Disposition: form-data\r\n\r\n"):
                reply = requests.post(threaded.url + path, data=body, timeout=10,
                                      headers={"Content-Type": "multipart/form-data; boundary=x"})
                assert reply.status_code == 400, (path, body, reply.status_code, reply.text[:300])
        assert requests.get(threaded.url + "/healthz", timeout=10).status_code == 200
    finally:
        threaded.stop()


def aggregation_round_of_chunked_updates_is_exact() -> None:
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config()), done_grace=1,
                               exit_round=1, participants_count=2).start(block=False)
    try:
        two_chunked_updates_average_exactly(server)
    finally:
        server.stop()


def two_chunked_updates_average_exactly(server) -> None:
    """Two trainers send 3 chunks each to ``server`` (a FedAvg round of 2); both get the exact mean.

    Weights 1 and 2: ``2 * b`` is exact, so the sum rounds once whichever update arrives first (the
    server's axpy fuses the multiply and the add). Also used by tests/servers/test_ws_frames.py.
    """
    from sedna_lib.transport.ws import AggregationClient

    rng = np.random.default_rng(0)
    updates = {"a": [rng.normal(size=(300, 100)), rng.normal(size=100)],
               "b": [rng.normal(size=(300, 100)), rng.normal(size=100)]}
    got, errors = {}, []

    def trainer(cid: str, n: int) -> None:
        try:
            with AggregationClient(server.url, cid, chunk_size=100_000) as client:  # 3 chunks each
                client.send_update(updates[cid], n, round_number=1)
                got[cid] = client.recv_weights(timeout=30)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{cid}: {type(exc).__name__}: {exc}")

    _together(trainer, [("a", 1), ("b", 2)])
    assert not errors, errors
    expected = [(a + 2 * b) / 3 for a, b in zip(updates["a"], updates["b"])]
    for cid in "ab":
        assert all(np.array_equal(w, e) for w, e in zip(got[cid].weights, expected)), cid


def secure_round_gives_exact_fedavg() -> None:
    from sedna_lib.base import ClientUpdate
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.federated_learning.client import secure_round
    from sedna_lib.registry import Kind
    from sedna_lib.servers.aggregation import AggregationServer
    from sedna_lib.transport.ws import AggregationClient

    rng = np.random.default_rng(0)
    updates = {f"c{i}": ([rng.integers(-64, 64, size=(3, 4)) / 8.0, rng.integers(-64, 64, size=4) / 8.0],
                         int(rng.integers(1, 50))) for i in range(3)}
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, done_grace=2, exit_round=1,
                               participants_count=3,
                               context=Context(Config(agg_secure_aggregation=True))).start(block=False)
    results, errors = {}, []
    try:
        clients = {cid: AggregationClient(server.url, cid, connect_timeout=10, recv_timeout=30).connect()
                   for cid in updates}

        def member(cid: str) -> None:
            try:
                with clients[cid] as client:
                    settings = client.initial_.config["secure_aggregation"]
                    results[cid] = secure_round(client, *updates[cid], 1, settings)[0]
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{cid}: {type(exc).__name__}: {exc}")

        _together(member, [(cid,) for cid in updates])
    finally:
        server.stop()
    assert not errors, errors
    expected = Context().registry.create(Kind.AGGREGATION, "FedAvg").aggregate(
        [ClientUpdate(layers, n) for layers, n in updates.values()])
    for cid in updates:
        assert all(np.array_equal(g, e) for g, e in zip(results[cid].weights, expected)), cid


def privacy_accountant_reports_a_finite_epsilon() -> None:
    from sedna_lib.algorithms.aggregation._accountant import GaussianAccountant

    accountant = GaussianAccountant(1e-5)
    for _ in range(3):
        accountant.step(2.0)
    assert 0 < accountant.epsilon() < 100, accountant.epsilon()


CHECKS = (knowledge_base_answers_malformed_forms_with_400, aggregation_round_of_chunked_updates_is_exact,
          secure_round_gives_exact_fedavg, privacy_accountant_reports_a_finite_epsilon)


def main() -> int:
    logging.basicConfig(level=logging.CRITICAL)
    for check in CHECKS:
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - the failure is the output
            print(f"FAILED {check.__name__}: {type(exc).__name__}: {exc}")
            return 1
        print(f"ok {check.__name__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
