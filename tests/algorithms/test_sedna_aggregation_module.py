"""Sedna's ``sedna.algorithms.aggregation.aggregation``: an upstream-style aggregation runs unchanged."""

from __future__ import annotations

import abc
import json
import threading
from copy import deepcopy

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import AggregationError


def _upstream_fedavg_class():
    """A FedAvg written the way Sedna's own module writes its aggregations (contract 5.2)."""
    from sedna.algorithms.aggregation.aggregation import BaseAggregation

    class UpstreamFedAvg(BaseAggregation, abc.ABC):
        def aggregate(self, clients):
            if not len(clients):
                return self.weights
            self.total_size = sum([c.num_samples for c in clients])
            old_weight = [np.zeros(np.array(c).shape) for c in next(iter(clients)).weights]
            updates = []
            for inx, row in enumerate(old_weight):
                for c in clients:
                    row += np.array(c.weights[inx]) * c.num_samples / self.total_size
                updates.append(row.tolist())
            self.weights = deepcopy(updates)
            return updates

    return UpstreamFedAvg


def test_module_has_the_names_of_sedna_0_6():
    import sedna.algorithms.aggregation as package
    from sedna.algorithms.aggregation import aggregation

    for name in ("AggClient", "BaseAggregation", "FedAvg", "MistNet", "FedAvgV2"):
        assert hasattr(aggregation, name), name
    assert package.aggregation is aggregation and package.FedAvg is aggregation.FedAvg


def test_upstream_style_subclass_instantiates_with_sedna_defaults():
    agg = _upstream_fedavg_class()()

    assert agg.total_size == 0 and agg.weights is None


def test_base_requires_aggregate_and_only_aggregate():
    from sedna.algorithms.aggregation.aggregation import BaseAggregation

    class Nothing(BaseAggregation):
        pass

    with pytest.raises(TypeError, match="aggregate"):
        Nothing()


def test_upstream_style_aggregate_over_aggclients_gives_fedavg():
    from sedna.algorithms.aggregation.aggregation import AggClient

    agg = _upstream_fedavg_class()()
    a, b = AggClient(), AggClient()
    a.num_samples, a.weights = 1, [[1, 2], [3]]
    b.num_samples, b.weights = 3, [[3, 4], [5]]

    assert agg.aggregate([a, b]) == [[2.5, 3.5], [4.5]]
    assert agg.total_size == 4 and agg.weights == [[2.5, 3.5], [4.5]]


def test_a_round_that_returns_nothing_is_an_aggregation_error():
    from sedna.algorithms.aggregation.aggregation import BaseAggregation
    from sedna_lib.base import ClientUpdate

    class Silent(BaseAggregation):
        def aggregate(self, clients):
            return None

    agg = Silent()
    agg.begin_round(None)
    agg.add(ClientUpdate([np.ones(2)], 1, "a"))
    with pytest.raises(AggregationError, match="Silent.aggregate returned None"):
        agg.finish()


def test_upstream_style_aggregation_serves_a_round_on_the_aggregation_server():
    ws_sync = pytest.importorskip("websockets.sync.client")
    from sedna_lib.servers.aggregation import AggregationServer
    from sedna_lib.transport.ws import AggregationClient, _connect_kwargs

    server = AggregationServer(_upstream_fedavg_class()(), host="127.0.0.1", http_port=0, exit_round=1,
                               participants_count=2, done_grace=2, context=Context(Config()))
    server.start(block=False)
    got = {}
    try:
        raw = ws_sync.connect(server.url, proxy=None, **_connect_kwargs())
        raw.send(json.dumps({"type": "subscribe", "client_id": "orig"}))
        raw.recv(timeout=5)
        raw.send(json.dumps({"type": "update_weight", "client": "orig",
                             "data": {"num_samples": 1, "weights": [[1.0, 2.0], [3.0]]}, "job_name": ""}))

        def binary():
            with AggregationClient(server.url, "lib", connect_timeout=5, recv_timeout=5) as client:
                client.send_update([np.array([3.0, 4.0]), np.array([5.0])], 3, round_number=1)
                got["lib"] = [w.tolist() for w in client.recv_weights().weights]

        t = threading.Thread(target=binary)
        t.start()
        t.join(10)
        while True:
            msg = json.loads(raw.recv(timeout=5))
            if msg["type"] == "recv_weight":
                break
        raw.close()
    finally:
        server.stop()
    assert msg["data"]["weights"] == got["lib"] == [[2.5, 3.5], [4.5]]
    assert msg["data"]["total_sample"] == 4
