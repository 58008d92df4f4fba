"""Kafka transport of the multi-edge components: a producer and a consumer thread (Sedna's names).

kafka-python is imported only when one of these is built (the ``kafka`` extra).
Records are encoded with the safe codec of :mod:`sedna_lib.transport.objects`; pickle (Sedna's
format) only with ``legacy_pickle=True``. Unlike Sedna's, the consumer subscribes to all its
topics at once and its thread starts with :meth:`KafkaConsumerThread.start`, not in the
constructor, and stops with :meth:`KafkaConsumerThread.close`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Sequence

from ..base import check_port
from ..exceptions import BackendUnavailableError, ParameterError, ProtocolError, TransportError
from ..transport.objects import dumps, loads

__all__ = ["KafkaProducer", "KafkaConsumerThread", "bootstrap_servers", "serializer", "deserializer"]

logger = logging.getLogger(__name__)

MAX_REQUEST_SIZE = 10_000_000
"""Largest record a producer sends (bytes), as Sedna's."""


def _kafka() -> Any:
    try:
        import kafka
    except ImportError as exc:
        raise BackendUnavailableError.missing("kafka-python", "sedna_lib[kafka]", error=exc) from exc
    return kafka


def bootstrap_servers(address: Sequence[str] | str, port: Sequence[str | int] | str | int) -> list[str]:
    """Pair broker hosts with ports (``KAFKA_BIND_IPS`` / ``KAFKA_BIND_PORTS``, ``|``-separated).

    One port for several hosts is used for all of them.

    Parameters
    ----------
    address : str or sequence of str
        Broker hosts.
    port : str, int or sequence
        Broker ports.

    Returns
    -------
    list of str
        ``["host:port", ...]``.

    Raises
    ------
    ParameterError
        If there is no host, the host and port counts differ, or a port is not 1-65535.

    Examples
    --------
    >>> bootstrap_servers("kafka-0|kafka-1", "9092")
    ['kafka-0:9092', 'kafka-1:9092']
    """
    hosts = address.split("|") if isinstance(address, str) else [str(a) for a in address]
    ports = str(port).split("|") if isinstance(port, (str, int)) else [str(p) for p in port]
    hosts, ports = [h.strip() for h in hosts if h.strip()], [p.strip() for p in ports if p.strip()]
    if not hosts:
        raise ParameterError("no Kafka broker given; set KAFKA_BIND_IPS (and KAFKA_BIND_PORTS)")
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(ports) != len(hosts):
        raise ParameterError(f"{len(hosts)} Kafka hosts but {len(ports)} ports; give one port, "
                             f"or one per host")
    return [f"{h}:{check_port('Kafka port', p, 1)}" for h, p in zip(hosts, ports)]


def serializer(legacy_pickle: bool = False) -> Callable[[Any], bytes]:
    """Return the record value serializer.

    Parameters
    ----------
    legacy_pickle : bool, default=False
        Pickle (for original Sedna consumers) instead of the safe codec.

    Returns
    -------
    callable
        ``obj -> bytes``.
    """
    return lambda obj: dumps(obj, use_pickle=legacy_pickle)


def deserializer(legacy_pickle: bool = False) -> Callable[[bytes], Any]:
    """Return the record value deserializer.

    Parameters
    ----------
    legacy_pickle : bool, default=False
        Also accept pickled records (restricted to allow-listed classes).

    Returns
    -------
    callable
        ``bytes -> obj``; raises :class:`ProtocolError` on a bad or refused record.
    """
    return lambda raw: loads(raw, allow_pickle=legacy_pickle)


class KafkaProducer:
    """Writes results to Kafka topics.

    Parameters
    ----------
    address : str or sequence of str
        Broker hosts.
    port : str, int or sequence
        Broker ports.
    topic : sequence of str, default=()
        Topics every result is written to.
    asynchronous : bool, default=False
        Do not wait for the broker's acknowledgement.
    legacy_pickle : bool, default=False
        Pickle records (Sedna's format).
    send_timeout : float, default=3.0
        Seconds a synchronous send waits.

    Raises
    ------
    BackendUnavailableError
        If kafka-python is not installed.
    TransportError
        If no broker can be reached.
    """

    def __init__(self, address: Sequence[str] | str, port: Sequence[str | int] | str | int,
                 topic: Sequence[str] = (), asynchronous: bool = False, *, legacy_pickle: bool = False,
                 send_timeout: float = 3.0) -> None:
        self.address = address
        self.port = port
        self.topic = list(topic)
        self.asynchronous = asynchronous
        self.legacy_pickle = legacy_pickle
        self.send_timeout = send_timeout
        kafka = _kafka()
        servers = bootstrap_servers(address, port)
        try:
            self.producer = kafka.KafkaProducer(bootstrap_servers=servers,
                                                value_serializer=serializer(legacy_pickle),
                                                max_request_size=MAX_REQUEST_SIZE, linger_ms=1000)
        except kafka.errors.KafkaError as exc:
            raise TransportError(f"cannot reach Kafka brokers {servers}: {exc}",
                                 url=",".join(servers)) from exc

    def write_result(self, data: Any) -> None:
        """Send ``data`` to every topic.

        Parameters
        ----------
        data : object
            The record value.

        Raises
        ------
        ProtocolError
            If ``data`` cannot be encoded.
        TransportError
            If a synchronous send fails or times out.
        """
        kafka = _kafka()
        for topic in self.topic:
            future = self.producer.send(topic, value=data)
            if not self.asynchronous:
                try:
                    future.get(timeout=self.send_timeout)
                except kafka.errors.KafkaError as exc:
                    raise TransportError(f"sending to Kafka topic {topic!r} failed: {exc}") from exc

    def close(self) -> None:
        """Flush and close the producer."""
        self.producer.close()


class KafkaConsumerThread:
    """Reads records from Kafka topics in a thread and hands each poll's values to ``callback``.

    Parameters
    ----------
    address : str or sequence of str
        Broker hosts.
    port : str, int or sequence
        Broker ports.
    topic : sequence of str, default=()
        Topics to read, all subscribed at once.
    callback : callable, default=None
        Called with the list of record values of each poll.
    legacy_pickle : bool, default=False
        Accept pickled records (Sedna's format), restricted to allow-listed classes.
    poll_ms : int, default=1000
        Poll timeout in milliseconds (also how quickly :meth:`close` takes effect).
    group_id : str, default='default'
        Consumer group.

    Attributes
    ----------
    rejected_ : int
        Records dropped because they could not be decoded.
    callback_failures_ : int
        Polls whose ``callback`` raised (logged; the thread keeps polling).
    """

    def __init__(self, address: Sequence[str] | str, port: Sequence[str | int] | str | int,
                 topic: Sequence[str] = (), callback: Callable[[list], Any] | None = None, *,
                 legacy_pickle: bool = False, poll_ms: int = 1000, group_id: str = "default") -> None:
        self.address = address
        self.port = port
        self.topic = list(topic)
        self.callback = callback
        self.legacy_pickle = legacy_pickle
        self.poll_ms = poll_ms
        self.group_id = group_id
        self.rejected_ = 0
        self.callback_failures_ = 0
        self.consumer: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> KafkaConsumerThread:
        """Connect, subscribe to every topic and start the polling thread.

        Returns
        -------
        KafkaConsumerThread
            ``self``.

        Raises
        ------
        BackendUnavailableError
            If kafka-python is not installed.
        TransportError
            If no broker can be reached.
        """
        if self._thread is not None and self._thread.is_alive():
            return self
        kafka = _kafka()
        servers = bootstrap_servers(self.address, self.port)
        try:
            self.consumer = kafka.KafkaConsumer(bootstrap_servers=servers, group_id=self.group_id,
                                                auto_offset_reset="earliest")
        except kafka.errors.KafkaError as exc:
            raise TransportError(f"cannot reach Kafka brokers {servers}: {exc}",
                                 url=",".join(servers)) from exc
        self.consumer.subscribe(topics=self.topic)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sedna-kafka-consumer", daemon=True)
        self._thread.start()
        return self

    def decode_records(self, raw_values: Sequence[bytes]) -> list:
        """Decode record values, dropping (and counting) the ones that are malformed or refused.

        Parameters
        ----------
        raw_values : sequence of bytes
            Raw record values.

        Returns
        -------
        list
            The decoded values.
        """
        decode = deserializer(self.legacy_pickle)
        values = []
        for raw in raw_values:
            try:
                values.append(decode(raw))
            except ProtocolError as exc:
                self.rejected_ += 1
                logger.warning("dropped a Kafka record: %s", exc)
        return values

    def _run(self) -> None:
        while not self._stop.is_set():
            batches = self.consumer.poll(timeout_ms=self.poll_ms)
            raw = [record.value for records in batches.values() for record in records]
            values = self.decode_records(raw)
            if values and self.callback is not None:
                try:
                    self.callback(values)
                except Exception:  # the consumer keeps running; the failure is counted and logged
                    self.callback_failures_ += 1
                    logger.exception("Kafka callback failed on %d records", len(values))

    def close(self, timeout: float = 5.0) -> None:
        """Stop polling and close the consumer.

        Parameters
        ----------
        timeout : float, default=5.0
            Seconds to wait for the thread.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
