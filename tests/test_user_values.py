"""Values users and peers give are checked where first used: never truncated, clamped or misread.

A bare ``int()``/``float()``/``bool()`` took 2.5 as 2, ``True`` as 1, ``"0"`` as true and 0 tries
as 1; a NaN passed every comparison. A user's bad value is a :class:`ParameterError`; a peer's bad
field is a :class:`ProtocolError` (or is ignored, where a malformed optional report always was).
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from sedna_lib.exceptions import DataError, ParameterError, ProtocolError

NAN = float("nan")
DEAD = "http://127.0.0.1:9"  # nothing listens: a value checked first never gets that far


# -- a peer's message fields ----------------------------------------------------------------------

@pytest.mark.parametrize("frame", [
    {"type": "evaluation", "round_number": 2.5, "data": {"num_samples": 3, "metrics": {}}},
    {"type": "evaluation", "round_number": True, "data": {"num_samples": 3, "metrics": {}}},
    {"type": "evaluation", "round_number": 2, "data": {"num_samples": 0.5, "metrics": {}}},
    {"type": "update_weight", "client": "a", "data": {"num_samples": 1.5, "weights": [[1.0]]}},
    {"type": "recv_weight", "data": {"weights": [[1.0]], "total_sample": 3, "round_number": 1.5}},
])
def test_a_peers_fractional_or_boolean_count_is_a_protocol_error(frame):
    from sedna_lib.transport import messages as m

    with pytest.raises(ProtocolError, match="must be an integer"):
        m.from_json(json.dumps(frame))


def test_a_peers_whole_numbers_still_read_as_ints():
    from sedna_lib.transport import messages as m

    msg = m.from_json(json.dumps({"type": "evaluation", "round_number": 2.0,
                                  "data": {"num_samples": "7", "metrics": {}}}))
    assert (msg.round_number, msg.num_samples) == (2, 7) and type(msg.round_number) is int


@pytest.mark.parametrize("field", ["index", "count", "size"])
@pytest.mark.parametrize("bad", [0.5, True, NAN])
def test_a_chunk_header_with_a_number_that_is_not_whole_is_refused(field, bad):
    from sedna_lib.transport import messages as m

    meta = {"id": "x", "index": 0, "count": 1, "size": 8, field: bad}
    with pytest.raises(ProtocolError, match="malformed chunk header"):
        m.Reassembler(1024).reserve(meta, [8])


def test_an_array_dimension_that_is_not_whole_is_refused_not_truncated():
    from sedna_lib.transport import codec

    data = codec.encode([np.arange(100, dtype=np.float64)], meta={})
    assert data.count(b"[100]") == 1
    tampered = data.replace(b"[100]", b"[9.5]")  # same length: the layout stays valid
    with pytest.raises(ProtocolError, match="whole numbers"):
        codec.decode(tampered)


def test_only_whole_numbers_read_as_a_peers_whole_number():
    from sedna_lib.transport._numbers import whole

    assert [whole(v) for v in (3, 3.0, np.int64(3))] == [3, 3, 3]
    assert [whole(v) for v in (2.5, True, NAN, math.inf, "3", None)] == [None] * 6


def test_an_evaluation_report_of_a_fractional_round_is_not_filed_under_another_round():
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers import AggregationServer
    from sedna_lib.transport.ws import AggregationClient

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, context=Context(Config()),
                               exit_round=3, participants_count=1, done_grace=2).start(block=False)
    try:
        with AggregationClient(server.url, "a", connect_timeout=5, recv_timeout=8) as a:
            a.send_update([np.ones(2)], 1, round_number=1)
            a.recv_weights()
            bad = {"federated_eval": {"round": 1.5, "num_samples": 4, "metrics": {"accuracy": 0.5}}}
            a.send_update([np.ones(2)], 1, round_number=2, metrics=bad)  # int() filed it under round 1
            a.recv_weights()
            good = {"federated_eval": {"round": 2, "num_samples": True, "metrics": {"accuracy": 0.5}}}
            a.send_update([np.ones(2)], 1, round_number=3, metrics=good)  # True is no sample count
            a.recv_weights()
        assert [r.federated for r in server.history_] == [{}, {}, {}]
    finally:
        server.stop()


# -- secure aggregation's counts ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"participants": 2.5}, {"threshold": True}, {"threshold": 1.5},
                                    {"min_clients": NAN}, {"participants": "3.5"}])
def test_secure_rounds_refuse_counts_that_are_not_whole(kwargs):
    from algorithms.aggregation import FedAvg
    from sedna_lib.servers.secure_rounds import SecureRounds

    with pytest.raises(ParameterError, match="whole number"):
        SecureRounds(FedAvg(), **{"participants": 3, **kwargs})


def test_secure_rounds_take_whole_counts_given_as_text_or_floats():
    from algorithms.aggregation import FedAvg
    from sedna_lib.servers.secure_rounds import SecureRounds

    rounds = SecureRounds(FedAvg(), participants="3", threshold=2.0)
    assert rounds.threshold == 2 and type(rounds.threshold) is int


def test_fixed_point_encoding_and_secure_sum_refuse_fractional_counts():
    pytest.importorskip("Cryptodome")
    from sedna_lib.transport.secagg import encode_fixed_point, secure_sum

    with pytest.raises(ParameterError, match="summands"):
        encode_fixed_point(np.ones(2), 8, summands=2.5)
    vectors = {"a": np.ones(2), "b": np.ones(2), "c": np.ones(2)}
    with pytest.raises(ParameterError, match="threshold"):
        secure_sum(vectors, threshold=1.5)


# -- clients and their settings -------------------------------------------------------------------

@pytest.mark.parametrize("setting", [{"ping_interval": "five"}, {"ping_timeout": NAN},
                                     {"connect_timeout": "soon"}])
def test_the_aggregation_client_refuses_timeouts_it_took_as_defaults(setting):
    from sedna_lib.transport.ws import AggregationClient

    client = AggregationClient("ws://127.0.0.1:9/FedAvg", "a", **{"connect_timeout": 0.01, **setting})
    with pytest.raises(ParameterError, match=next(iter(setting))):
        client.connect()


def test_the_aggregation_client_checks_an_uploads_sample_count_and_a_receive_timeout():
    from sedna_lib.transport.ws import AggregationClient

    client = AggregationClient("ws://127.0.0.1:9/FedAvg", "a", connect_timeout=0.01)
    for bad in (2.5, True, NAN, -1):
        with pytest.raises(ParameterError, match="num_samples"):
            client.send_update([np.ones(2)], bad)
    for bad in (NAN, 0, "later"):
        with pytest.raises(ParameterError, match="timeout"):
            client.recv_weights(timeout=bad)


@pytest.mark.parametrize("status", [0.5, 2, True, "0.5"])
def test_a_kb_status_must_be_one_or_zero(tmp_path, status):
    from sedna_lib.servers.knowledge_base import KnowledgeBaseStore
    from sedna_lib.transport.kb import KBClient

    with pytest.raises(ParameterError, match="status"):
        KnowledgeBaseStore(str(tmp_path)).set_status(None, status)  # bool() read each as a deploy
    with pytest.raises(ParameterError, match="new_status"):
        KBClient(DEAD).update_task_status(None, status)  # int() sent 0.5 as 0, a drop


def test_a_kb_status_of_text_zero_drops(tmp_path):
    from sedna_lib.servers.knowledge_base import KnowledgeBaseStore

    store = KnowledgeBaseStore(str(tmp_path))
    store.update_index(json.dumps({"seen_task": {"task_groups": [{"entry": "g", "tasks": []}]}}).encode())
    store.set_status("g", "0")  # bool("0") is True: it deployed
    assert [g["deploy"] for g in store.query()] == [False]
    store.set_status("g", 1.0)
    assert [g["deploy"] for g in store.query()] == [True]


@pytest.mark.parametrize("seed", [2.5, True, NAN, "x"])
def test_a_federated_seed_must_be_a_whole_number(seed):
    from sedna_lib.federated_learning.client import _round_kwargs

    with pytest.raises(ParameterError, match="seed"):
        _round_kwargs({"seed": seed}, 1)
    assert _round_kwargs({"seed": "-4"}, 3)["seed"] == -1


def test_fit_checks_its_seed_before_connecting():
    from sklearn.linear_model import SGDClassifier

    from sedna_lib.federated_learning.fit import fit

    x, y = np.random.default_rng(0).normal(size=(8, 2)), np.arange(8) % 2
    with pytest.raises(ParameterError, match="seed"):
        fit((x, y), model=SGDClassifier().fit(x, y), seed=2.5, progress=False)


def test_the_compat_http_request_checks_its_retries_and_timeout():
    from sedna_lib.compat.client import http_request

    with pytest.raises(ParameterError, match="max_retries"):
        http_request(DEAD, max_retries=-1)  # taken as 0 before
    with pytest.raises(ParameterError, match="max_retries"):
        http_request(DEAD, max_retries=1.5)
    with pytest.raises(ParameterError, match="timeout"):
        http_request(DEAD, timeout=NAN)


@pytest.mark.parametrize("period", [0, -1, NAN, "often"])
def test_a_periodic_reporter_refuses_a_period_that_would_spin_or_kill_its_thread(period):
    from sedna_lib.compat.client import LCReporter

    reporter = LCReporter(DEAD, {"name": "w"}, period_interval=period)
    try:
        with pytest.raises(ParameterError, match="period"):
            reporter.start()
        assert not reporter.is_alive
    finally:
        reporter.stop(0.1)


@pytest.mark.parametrize("kwargs", [{"attempts": 0}, {"attempts": 2.5}, {"backoff": NAN}])
def test_the_obs_connector_checks_its_tries_before_the_first_request(kwargs):
    from sedna_lib.datasources.obs.connector import OBSClientWrapper

    with pytest.raises(ParameterError, match=next(iter(kwargs))):
        OBSClientWrapper(DEAD, bucket_name="b", app_token="t", **kwargs)


def test_a_pickle_size_limit_is_a_parameter_not_blamed_on_the_body():
    from sedna_lib.transport.objects import loads

    body = pickle.dumps([1, 2])
    for bad in (NAN, 2.5, True):
        with pytest.raises(ParameterError, match="max_bytes"):
            loads(body, allow_pickle=True, max_bytes=bad)
    assert loads(body, allow_pickle=True, max_bytes="4096") == [1, 2]


# -- servers' own settings -----------------------------------------------------------------------

@pytest.mark.parametrize("size", [2.5, NAN, True, -5])
def test_a_servers_body_limit_is_a_whole_number(size):
    from sedna_lib.servers._app import ServerLimits

    with pytest.raises(ParameterError, match="max_request_bytes"):
        ServerLimits.resolve(None, size)
    assert ServerLimits.resolve(None, "2048").max_request_bytes == 2048


def test_a_multi_edge_server_checks_its_port_rather_than_truncating_it():
    from sedna_lib.servers.multi_edge import ReIDServer

    server = ReIDServer(None, "reid", port=3.7)
    with pytest.raises(ParameterError, match="port"):
        server.start()
    assert not server.is_running


# -- data columns --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [2.5, True, NAN])
def test_an_array_column_index_must_be_whole(name):
    from algorithms.lifelong._data import column, drop_columns

    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(DataError):
        column(x, name)
    with pytest.raises(DataError):
        drop_columns(x, [name])
    assert column(x, "2").tolist() == [2.0, 6.0, 10.0] and drop_columns(x, [3.0]).shape == (3, 3)


# -- S3 storage, against the real test S3 server ----------------------------------------------------

@pytest.mark.s3
@pytest.mark.parametrize("setting", [{"part_size": 5 * 1024 * 1024 + 0.5}, {"part_size": "6291456.5"},
                                     {"part_size": True}, {"connect_timeout": NAN},
                                     {"read_timeout": "long"}, {"max_retries": 2.5}])
def test_s3_settings_are_checked_at_the_first_request(s3_endpoint, setting):
    from sedna_lib.storage import S3Storage

    storage = S3Storage(endpoint_url=s3_endpoint, access_key="k", secret_key="s", **setting)
    with pytest.raises(ParameterError, match=next(iter(setting))):
        storage.write_bytes("s3://user-values/a.bin", b"abc")


@pytest.mark.s3
def test_s3_takes_a_whole_part_size_given_as_text(s3_endpoint, tmp_path):
    from sedna_lib.storage import S3Storage

    storage = S3Storage(endpoint_url=s3_endpoint, access_key="k", secret_key="s", part_size="5242880",
                        max_retries=1.0)
    client = storage._client()
    if not client.bucket_exists("user-values"):
        client.make_bucket("user-values")
    storage.write_bytes("s3://user-values/a.bin", b"abc")
    assert storage.read_bytes("s3://user-values/a.bin") == b"abc"
