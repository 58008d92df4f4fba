"""The aggregation server's websocket limits: handshake and read timeouts, a connection cap, ids bound to the token."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ProtocolError, RemoteError, TransportTimeout
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.transport import codec
from sedna_lib.transport import messages as m
from sedna_lib.transport.ws import AggregationClient, _connect_kwargs

pytestmark = pytest.mark.integration
ws_sync = pytest.importorskip("websockets.sync.client")
ws_exc = pytest.importorskip("websockets.exceptions")


@pytest.fixture
def serve():
    servers = []

    def start(config=None, **kwargs):
        kwargs.setdefault("done_grace", 1)
        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(config or Config()),
                                   **kwargs)
        servers.append(server.start(block=False))
        return server

    yield start
    for s in servers:
        s.stop()


def _raw(url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return ws_sync.connect(url, max_size=None, proxy=None, additional_headers=headers, **_connect_kwargs())


def _refusal(ws):
    reply = m.from_json(ws.recv(timeout=5))
    with pytest.raises(ws_exc.ConnectionClosed):
        ws.recv(timeout=5)
    return reply, ws.close_code


def test_a_connection_that_never_subscribes_is_closed_after_the_handshake_timeout(serve):
    server = serve(Config(agg_handshake_timeout=0.3))

    reply, code = _refusal(_raw(server.url))

    assert code == 4408 and "AGG_HANDSHAKE_TIMEOUT" in reply.message


def test_a_message_stalled_between_its_chunks_is_closed_after_the_read_timeout(serve, eventually):
    server = serve(Config(agg_read_timeout=0.3))
    ws = _raw(server.url)
    ws.send(json.dumps({"type": "subscribe", "client_id": "slow"}))
    ws.recv(timeout=5)
    first = codec.encode([np.zeros(100, np.uint8)], {"type": "chunk", "id": "s", "index": 0, "count": 3,
                                                     "size": 250})
    ws.send(first)  # ... and never the other two

    reply, code = _refusal(ws)

    assert code == 4408 and "AGG_READ_TIMEOUT" in reply.message
    assert eventually(lambda: "slow" not in server.peers_)  # forgotten once its close handshake ends


def test_an_idle_trainer_between_messages_is_not_timed_out(serve):
    server = serve(Config(agg_read_timeout=0.2), exit_round=1, participants_count=2)
    with AggregationClient(server.url, "idle", connect_timeout=5, recv_timeout=5) as idle, \
            AggregationClient(server.url, "late", connect_timeout=5, recv_timeout=5) as late:
        idle.send_update([np.ones(2)], 1, round_number=1)
        with pytest.raises(TransportTimeout):
            late.recv_weights(timeout=0.6)  # both idle for three read timeouts: nobody is cut off
        late.send_update([np.ones(2)], 1, round_number=1)
        assert idle.recv_weights().exit_flag == "ok"


def test_one_connection_over_the_cap_is_refused_with_1013_and_serving_goes_on(serve):
    server = serve(max_connections=2)
    a, b = _raw(server.url), _raw(server.url)
    for ws, cid in ((a, "a"), (b, "b")):
        ws.send(json.dumps({"type": "subscribe", "client_id": cid}))
        ws.recv(timeout=5)

    reply, code = _refusal(_raw(server.url))

    assert code == 1013 and "AGG_MAX_CONNECTIONS" in reply.message
    a.close()
    with AggregationClient(server.url, "c", connect_timeout=5, recv_timeout=5) as c:
        assert c.is_connected


def test_a_trainer_refused_by_a_full_server_retries_until_a_place_frees(serve):
    import threading

    server = serve(max_connections=1)
    holder = _raw(server.url)
    holder.send(json.dumps({"type": "subscribe", "client_id": "holder"}))
    holder.recv(timeout=5)
    timer = threading.Timer(0.5, holder.close)
    timer.start()

    with AggregationClient(server.url, "waiting", connect_timeout=10) as client:
        assert client.is_connected and "waiting" in server.peers_
    timer.join()


def test_with_a_token_an_unauthenticated_client_cannot_take_a_workers_id(serve):
    server = serve(auth_token="s3cret")
    squatter = _raw(server.url)  # refused before it can send its subscribe for "worker-0"
    reply, code = _refusal(squatter)
    assert code == 4401 and "worker-0" not in server.peers_

    with AggregationClient(server.url, "worker-0", token="s3cret", connect_timeout=5) as worker:
        assert worker.client_id == "worker-0" and "worker-0" in server.peers_


def test_with_a_token_a_restarted_worker_takes_its_id_back_from_its_stale_connection(serve):
    server = serve(auth_token="s3cret")
    stale = AggregationClient(server.url, "worker-0", token="s3cret", connect_timeout=5).connect()
    restarted = AggregationClient(server.url, "worker-0", token="s3cret", connect_timeout=5)  # no session kept

    restarted.connect()

    assert server.peers_["worker-0"].session == m.bound_session("s3cret", "worker-0")
    with pytest.raises(RemoteError, match="4000"):
        stale.recv_weights(timeout=5)
    restarted.close()


def test_without_a_token_a_second_connection_for_a_connected_id_is_still_refused(serve):
    server = serve()
    with AggregationClient(server.url, "worker-0", connect_timeout=5):
        with pytest.raises(ProtocolError, match="already connected"):
            AggregationClient(server.url, "worker-0", connect_timeout=5).connect()


def test_agg_max_message_bytes_from_the_environment_limits_updates(serve):
    server = serve(Config.from_env({"AGG_MAX_MESSAGE_BYTES": "1000"}))
    with AggregationClient(server.url, "big", connect_timeout=5, recv_timeout=5) as client:
        client.send_update([np.zeros(500)], 1, round_number=1)
        with pytest.raises(ProtocolError, match="exceeds the limit of 1000 bytes"):
            client.recv_weights()
