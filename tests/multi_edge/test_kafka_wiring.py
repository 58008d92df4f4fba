"""Kafka wiring that needs no broker (none can run here): addresses, record codec, decoding failures."""

import pickle

import numpy as np
import pytest

from sedna_lib.datasources.kafka import KafkaConsumerThread, bootstrap_servers, deserializer, serializer
from sedna_lib.exceptions import ParameterError, ProtocolError
from sedna_lib.multi_edge_inference import DetTrackResult


def test_bootstrap_servers_pairs_hosts_and_ports():
    assert bootstrap_servers(("a", "b"), ("1", "2")) == ["a:1", "b:2"]
    assert bootstrap_servers("a|b", 9092) == ["a:9092", "b:9092"]
    with pytest.raises(ParameterError, match="KAFKA_BIND_IPS"):
        bootstrap_servers((), ())
    with pytest.raises(ParameterError, match="one port"):
        bootstrap_servers("a|b|c", "1|2")


def test_records_use_the_safe_codec_by_default():
    raw = serializer()(DetTrackResult(frame_index=4, features=[np.ones(3)]))

    assert deserializer()(raw).frame_index == 4
    with pytest.raises(ProtocolError, match="refused"):
        deserializer()(pickle.dumps({"x": 1}))
    assert deserializer(legacy_pickle=True)(serializer(legacy_pickle=True)({"x": 1})) == {"x": 1}


def test_consumer_drops_and_counts_bad_records_without_connecting():
    consumer = KafkaConsumerThread("127.0.0.1", 9092, topic=["a", "b"], callback=None)

    values = consumer.decode_records([serializer()([1, 2]), b"junk", pickle.dumps(1)])

    assert values == [[1, 2]] and consumer.rejected_ == 2
    assert consumer.topic == ["a", "b"] and consumer.consumer is None  # nothing started in the constructor
