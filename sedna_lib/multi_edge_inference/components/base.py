"""The base of the multi-edge components: batching, plugins, optional Kafka, and safe file exchange."""

from __future__ import annotations

import abc
import collections
import logging
import os
import threading
import time
import uuid
from typing import Any, Iterable, Sequence

from ...base import check_count, check_number, check_variable
from ...config import Config
from ...context import resolve_config
from ...exceptions import ClosedError, DataError
from ...storage.local import atomic_path
from ..codec import Codec
from ..plugins import PLUGIN, PluggableModel, PluggableNetworkService

__all__ = ["BaseService", "FileOperations"]

logger = logging.getLogger(__package__)  # the components log under their package name

_MAX_LEAVES = 10_000_000
"""The most items :meth:`BaseService.flatten` returns."""


def _is_empty(data: Any) -> bool:
    return data is None or (isinstance(data, (list, tuple)) and len(data) == 0)


class BaseService(abc.ABC):
    """A multi-edge component: receives data, batches it and hands each batch to its models.

    Data arrives through :meth:`put` (from the script, the component's REST server or Kafka).
    In synchronous mode a full batch is processed at once by the caller of :meth:`put`; in
    asynchronous mode a worker thread processes it. Either way, items left waiting for
    ``timeout`` seconds after the last :meth:`put` are flushed as a smaller batch, and
    :meth:`close` flushes what is left, so nothing is dropped.

    Sedna's scripts expect a running service once the component is constructed, so the
    constructor calls :meth:`start` unless ``autostart=False``. :meth:`close` (or ``with``) stops
    the servers, Kafka clients and the worker thread; :meth:`put` then raises
    :class:`~sedna_lib.exceptions.ClosedError` until :meth:`start` is called again.

    Parameters
    ----------
    consumer_topics : sequence of str, default=()
        Kafka topics to read (only with ``KAFKA_ENABLED``).
    producer_topics : sequence of str, default=()
        Kafka topics to write (only with ``KAFKA_ENABLED``).
    plugins : sequence of PluggableNetworkService, default=()
        Network services to host or call.
    models : sequence of PluggableModel, default=()
        Models every batch goes to, all of one type.
    timeout : float, default=10
        Seconds after the last :meth:`put` before a partial batch is flushed (a finite number
        >= 0; :meth:`start` raises ParameterError otherwise).
    asynchronous : bool, default=False
        Process batches in the worker thread instead of in :meth:`put`.
    config : Config, default=None
        Configuration (``BATCH_SIZE``, ``KAFKA_*``, service addresses); read from the
        environment when omitted.
    autostart : bool, default=True
        Call :meth:`start` at the end of construction.

    Attributes
    ----------
    batch_size : int
        Items per batch (``BATCH_SIZE``; :meth:`start` raises ConfigError if it is below 1).
    processed_ : int
        Items handed to the models so far.
    errors_ : int
        Batches whose processing raised in the worker thread.
    last_error_ : BaseException or None
        The latest of those errors.
    """

    def __init__(self, consumer_topics: Sequence[str] = (), producer_topics: Sequence[str] = (),
                 plugins: Sequence[PluggableNetworkService] = (), models: Sequence[PluggableModel] = (),
                 timeout: float = 10, asynchronous: bool = False, *, config: Config | None = None,
                 autostart: bool = True) -> None:
        self.config = resolve_config(config)
        self.consumer_topics = list(consumer_topics)
        self.producer_topics = list(producer_topics)
        self.plugins = list(plugins)
        self.plugins_kind = [p.kind for p in self.plugins]
        self.models = list(models)
        if len({type(m) for m in self.models}) > 1:
            from ...exceptions import ParameterError

            raise ParameterError(f"all models of a service must be of one type, got "
                                 f"{sorted({type(m).__name__ for m in self.models})}")
        self.timeout = timeout
        self.asynchronous = asynchronous
        self.batch_size = self.config.batch_size
        self._checked = False  # start() (or the first put()) checked timeout and batch_size
        self.kafka_enabled = self.config.kafka_enabled
        self.codec = Codec.from_config(self.config)
        self.producer: Any = None
        self.consumer: Any = None
        self.processed_ = 0
        self.errors_ = 0
        self.last_error_: BaseException | None = None
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._process_lock = threading.RLock()
        self._stop = threading.Event()
        self._closed = False  # set by close(), cleared by start(): put() refuses items nothing would process
        self._thread: threading.Thread | None = None
        self._last_put = time.monotonic()
        if autostart:
            self.start()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        """Whether the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> BaseService:
        """Start the hosted servers, the Kafka clients (if enabled) and the worker thread.

        Returns
        -------
        BaseService
            ``self``.

        Raises
        ------
        ParameterError
            If ``timeout`` is not a finite number >= 0.
        ConfigError
            If ``BATCH_SIZE`` is not a whole number >= 1.
        TransportError
            If a server cannot bind its port.
        BackendUnavailableError
            If ``KAFKA_ENABLED`` is set and kafka-python is not installed.
        """
        if self.is_running:
            return self
        self._check_options()
        self._stop.clear()
        with self._cond:
            self._closed = False
        try:
            for plugin in self.plugins:
                plugin.start()
            if self.kafka_enabled:
                self._start_kafka()
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._run, name=f"sedna-{type(self).__name__}", daemon=True)
        self._thread.start()
        self._post_start()
        return self

    def _check_options(self) -> None:
        """Check ``timeout`` and ``BATCH_SIZE`` before anything starts or is processed."""
        # a NaN or infinite timeout would kill the worker thread at its first wait
        self.timeout = check_number("timeout", self.timeout, 0)
        check_variable("BATCH_SIZE", self.batch_size, check_count)
        self._checked = True

    def _start_kafka(self) -> None:
        from ...datasources.kafka import KafkaConsumerThread, KafkaProducer

        hosts, ports = list(self.config.kafka_bind_ips), list(self.config.kafka_bind_ports)
        if self.producer_topics:
            self.producer = KafkaProducer(hosts, ports, topic=self.producer_topics,
                                          asynchronous=self.asynchronous,
                                          legacy_pickle=self.codec.legacy_pickle)
        if self.consumer_topics:
            self.consumer = KafkaConsumerThread(hosts, ports, topic=self.consumer_topics, callback=self.put,
                                                legacy_pickle=self.codec.legacy_pickle).start()
        logger.info("Kafka on %s:%s, consuming %s, producing %s", hosts, ports, self.consumer_topics,
                    self.producer_topics)

    def _post_start(self) -> None:
        """Run once the service is up (subclasses override)."""

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking data, flush waiting items, then stop the worker, the Kafka clients and the servers.

        What feeds the service (the Kafka consumer, the hosted servers) stops first, so every item
        already taken is processed and sent on; :meth:`put` then raises
        :class:`~sedna_lib.exceptions.ClosedError` until :meth:`start` is called again.
        Idempotent.

        Parameters
        ----------
        timeout : float, default=10.0
            Seconds to wait for the worker thread.
        """
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        for plugin in self.plugins:
            if plugin.is_server:
                plugin.stop()
        with self._cond:
            self._closed = True
            self._stop.set()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.producer is not None:
            self.producer.close()
            self.producer = None
        for plugin in self.plugins:
            if not plugin.is_server:
                plugin.stop()

    stop = close

    def __enter__(self) -> BaseService:
        """Start, and return the started object, for a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        """Close at the end of the ``with`` block."""
        self.close()

    # -- data path ---------------------------------------------------------------------------
    def put(self, data: Any) -> None:
        """Hand one item (or a list of items) to the service.

        Parameters
        ----------
        data : object
            The item; :meth:`preprocess` may transform or drop it.

        Raises
        ------
        ClosedError
            If the service was closed: nothing would process the item. Call :meth:`start` first.
        """
        if self._closed:
            raise self._closed_error()
        if not self._checked:  # a service built with autostart=False and fed without start()
            self._check_options()
        data = self.preprocess(data)
        if _is_empty(data):
            return
        batch = None
        with self._cond:
            if self._closed:  # closed meanwhile: the worker has taken its last batch
                raise self._closed_error()
            self._items.append(data)
            self._last_put = time.monotonic()
            if not self.asynchronous and len(self._items) >= self.batch_size:
                batch = [self._items.popleft() for _ in range(self.batch_size)]
            else:
                self._cond.notify_all()
        if batch is not None:
            self._process(batch)

    def _closed_error(self) -> ClosedError:
        return ClosedError(f"{type(self).__name__} is closed: put() would leave the item unprocessed; "
                           f"call start() to use the service again")

    def fetch_data(self) -> None:
        """Run the batching loop in the calling thread until :meth:`close` (the worker thread's body)."""
        self._run()

    def _next_batch(self) -> list | None:
        with self._cond:
            while True:
                n = len(self._items)
                if self.asynchronous and n >= self.batch_size:
                    return [self._items.popleft() for _ in range(self.batch_size)]
                if self._stop.is_set():
                    return [self._items.popleft() for _ in range(n)] if n else None
                idle = time.monotonic() - self._last_put
                if n and idle >= self.timeout:
                    return [self._items.popleft() for _ in range(n)]
                self._cond.wait(self.timeout - idle if n else None)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._process(batch)
            except Exception as exc:  # the worker keeps serving; the failure is counted and kept
                self.errors_ += 1
                self.last_error_ = exc
                logger.exception("%s failed to process a batch of %d", type(self).__name__, len(batch))

    def _process(self, batch: list) -> None:
        flat = self.flatten(batch)
        with self._process_lock:
            self.distribute_data(flat)
            self.processed_ += len(flat)

    def get_plugin(self, plugin_key: PLUGIN) -> PluggableNetworkService | None:
        """Return the plugin of kind ``plugin_key``, or None when the service has none.

        Parameters
        ----------
        plugin_key : PLUGIN
            The kind.

        Returns
        -------
        PluggableNetworkService or None
            The first matching plugin.
        """
        for plugin in self.plugins:
            if plugin.kind == plugin_key.name:
                return plugin
        return None

    @staticmethod
    def flatten(S: Iterable[Any]) -> list:  # noqa: N803 (Sedna's name)
        """Flatten nested lists into one list, in order (iterative, linear time).

        Parameters
        ----------
        S : list
            Possibly nested lists.

        Returns
        -------
        list
            The leaves.

        Raises
        ------
        DataError
            If a list contains itself (directly or deeper down), or the leaves pass ``_MAX_LEAVES``
            (lists shared many times over: a small unpickled body could otherwise fill the memory).
        """
        out: list = []
        stack = [iter(S)]
        path = [id(S)]  # the lists being walked: one met again inside itself is a cycle
        while stack:
            for item in stack[-1]:
                if isinstance(item, list):
                    if id(item) in path:
                        raise DataError("the nested lists contain themselves; they cannot be flattened")
                    stack.append(iter(item))
                    path.append(id(item))
                    break
                out.append(item)
                if len(out) > _MAX_LEAVES:
                    raise DataError(f"the nested lists hold more than {_MAX_LEAVES} items once flattened")
            else:
                stack.pop()
                path.pop()
        return out

    def distribute_data(self, data: list | None = None, **kwargs: Any) -> None:
        """Hand ``data`` to every model through :meth:`process_data`.

        Parameters
        ----------
        data : list, default=None
            The flattened batch.
        **kwargs : object
            Passed to :meth:`process_data`.
        """
        for ai in self.models:
            self.process_data(ai, [] if data is None else data, **kwargs)

    @abc.abstractmethod
    def process_data(self, ai: PluggableModel, data: list, **kwargs: Any) -> None:
        """Run ``ai`` on a batch and send the result on.

        Parameters
        ----------
        ai : PluggableModel
            One of the models.
        data : list
            The batch.
        **kwargs : object
            Options.
        """

    @abc.abstractmethod
    def update_operational_mode(self, status: Any) -> Any:
        """Apply an operational-mode update (``POST /{svc}/update_service``).

        Parameters
        ----------
        status : object
            The update.
        """

    def preprocess(self, data: Any, **kwargs: Any) -> Any:
        """Transform an item before it is queued (identity); return None to drop it.

        Parameters
        ----------
        data : object
            The item.
        **kwargs : object
            Options.

        Returns
        -------
        object
            The item to queue.
        """
        return data

    def _forward(self, result: list, client_kind: PLUGIN, **kwargs: Any) -> None:
        """Send results to Kafka (one record each) or to the client plugin ``client_kind``."""
        if _is_empty(result):
            return
        if self.kafka_enabled and self.producer is not None:
            for item in result:
                self.producer.write_result(item)
            return
        plugin = self.get_plugin(client_kind)
        if plugin is not None:
            plugin.plugin_api.transmit(result, **kwargs)

    def __repr__(self) -> str:
        """Return a short readable description."""
        return (f"{type(self).__name__}(plugins={self.plugins_kind}, models={len(self.models)}, "
                f"batch_size={self.batch_size}, asynchronous={self.asynchronous})")


class FileOperations:
    """Exchange results through a shared folder, with the safe codec (pickle only if opted in).

    Files are written by the component's :attr:`codec` when it has one (so ``SEDNA_LEGACY_PICKLE``
    applies), else by the safe codec.
    """

    def _file_codec(self) -> Codec:
        codec = getattr(self, "codec", None)
        return codec if isinstance(codec, Codec) else Codec()

    def read_from_disk(self, path: str) -> Any:
        """Read one file written by :meth:`write_to_disk`.

        Parameters
        ----------
        path : str
            The file.

        Returns
        -------
        object
            The decoded content.

        Raises
        ------
        StorageNotFoundError
            If the file does not exist.
        ProtocolError
            If it is malformed, or is a pickle while pickle is not enabled.
        """
        from ...exceptions import StorageNotFoundError

        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise StorageNotFoundError(f"no such file {path}", uri=path) from None
        return self._file_codec().loads(raw)

    def delete_from_disk(self, filename: str) -> None:
        """Delete a file.

        Parameters
        ----------
        filename : str
            The file.

        Raises
        ------
        StorageNotFoundError
            If it does not exist.
        """
        from ...exceptions import StorageNotFoundError

        try:
            os.remove(filename)
        except FileNotFoundError:
            raise StorageNotFoundError(f"cannot delete {filename}: it does not exist", uri=filename) from None

    def write_to_disk(self, data: Any, folder: str, exts: str = ".dat") -> str:
        """Write ``data`` to a new uniquely named file in ``folder`` (created if needed).

        Parameters
        ----------
        data : object
            What to write.
        folder : str
            Destination folder.
        exts : str, default='.dat'
            File extension.

        Returns
        -------
        str
            The file written.
        """
        path = os.path.join(folder, f"{uuid.uuid4().hex}{exts}")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(self._file_codec().dumps(data))
        return path

    def get_files_list(self, folder: str) -> list[str]:
        """List the files (not folders) of ``folder``, sorted.

        Parameters
        ----------
        folder : str
            The folder.

        Returns
        -------
        list of str
            Their paths.
        """
        return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                      if os.path.isfile(os.path.join(folder, f)) and not f.endswith(".part"))
