"""A bounded on-disk FIFO of hard examples waiting for the cloud; crash-safe, never pickled.

Each entry is one file ``<time_ns>-<random>.sdna`` holding a binary-codec message (the sample as
an array, or as JSON in the header, plus its metadata). It is written under a temporary name,
flushed and renamed into place, so a crash of the process leaves either the whole entry or
nothing. Entries are read back in the order they were put, across restarts of the process.
Forcing them to the disk (``fsync``, milliseconds each) is done in groups by :meth:`OffloadQueue.sync`,
off the inference path, unless ``fsync=True`` asks for it on every put.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import warnings
from typing import Any, NamedTuple

from .exceptions import DataError, ProtocolError, SednaWarning, StorageError
from .transport import codec
from .transport.http import is_binary_array, to_jsonable

__all__ = ["OffloadQueue", "QueuedSample"]

logger = logging.getLogger(__name__)
_SUFFIX = ".sdna"


class QueuedSample(NamedTuple):
    """One entry of the queue.

    Attributes
    ----------
    id : str
        The entry's file stem (sorts in insertion order).
    data : object
        The sample (a numpy array, or the JSON value it was).
    meta : dict
        Metadata stored with it (``callback``, ``queued_at``, ...).
    """

    id: str
    data: Any
    meta: dict


class OffloadQueue:
    """A bounded, persistent FIFO of samples.

    Parameters
    ----------
    folder : str
        Where the entries live (created on first write).
    max_items : int, default=10000
        Bound; when full, the oldest entry is dropped (with a warning) to make room.
    fsync : bool, default=False
        Force each entry to the disk before :meth:`put` returns (survives a power loss at once,
        but costs a disk flush per hard example). Otherwise entries survive a crash of the
        process as soon as ``put`` returns, and a power loss once :meth:`sync` has run.

    Attributes
    ----------
    dropped : int
        Entries dropped because the queue was full.
    corrupt : int
        Unreadable entries moved aside to ``<folder>/corrupt``.
    """

    def __init__(self, folder: str, *, max_items: int = 10000, fsync: bool = False) -> None:
        self.folder = folder
        self.max_items = max_items
        self.fsync = fsync
        self.dropped = 0
        self.corrupt = 0
        self._ids: list[str] | None = None
        self._unsynced: list[str] = []
        self._lock = threading.RLock()

    def _scan(self) -> list[str]:
        if self._ids is None:
            try:
                names = os.listdir(self.folder)
            except FileNotFoundError:
                names = []
            except OSError as exc:
                raise StorageError(f"cannot read the offload queue {self.folder}: {exc}",
                                   uri=self.folder) from exc
            self._ids = sorted(n[:-len(_SUFFIX)] for n in names
                               if n.endswith(_SUFFIX) and not n.startswith("."))
        return self._ids

    def __len__(self) -> int:
        """Return how many entries wait in the queue."""
        with self._lock:
            return len(self._scan())

    def put(self, data: Any, meta: dict | None = None) -> str:
        """Append a sample, durably.

        Parameters
        ----------
        data : numpy.ndarray or JSON-able
            The sample.
        meta : dict, default=None
            JSON-able metadata kept with it.

        Returns
        -------
        str
            The entry id.

        Raises
        ------
        DataError
            If the sample is neither a numeric array nor JSON-able.
        StorageError
            If the entry cannot be written.
        """
        header = {**(meta or {}), "queued_at": time.time()}
        if is_binary_array(data):
            payload = codec.encode([data], {**header, "kind": "array"})
        else:
            try:
                payload = codec.encode([], {**header, "kind": "json", "data": to_jsonable(data)})
            except (TypeError, ProtocolError) as exc:
                raise DataError(f"this sample cannot be queued for the cloud: {exc}") from None
        entry = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            ids = self._scan()
            while len(ids) >= self.max_items > 0:
                oldest = ids[0]
                self._remove(oldest)
                self.dropped += 1
                warnings.warn(f"offload queue {self.folder} is full ({self.max_items} samples); dropped the "
                              f"oldest, {oldest}", SednaWarning, stacklevel=3)
            try:
                os.makedirs(self.folder, exist_ok=True)
                tmp = os.path.join(self.folder, f".{entry}.tmp")
                with open(tmp, "wb") as fh:
                    fh.write(payload)
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
                os.replace(tmp, os.path.join(self.folder, entry + _SUFFIX))
            except OSError as exc:
                raise StorageError(f"cannot write to the offload queue {self.folder}: {exc}",
                                   uri=self.folder) from exc
            ids.append(entry)
            if not self.fsync:
                self._unsynced.append(entry)
        return entry

    def sync(self) -> int:
        """Force the entries written since the last call, and the folder, to the disk.

        Returns
        -------
        int
            How many entries were flushed (those already delivered and removed are skipped).

        Raises
        ------
        StorageError
            If the disk refuses the flush.
        """
        with self._lock:  # only the hand-over: puts go on while the disk flushes
            pending, self._unsynced = self._unsynced, []
        if not pending:
            return 0
        done = 0
        try:
            for entry in pending:
                try:
                    fd = os.open(os.path.join(self.folder, entry + _SUFFIX), os.O_RDONLY)
                except FileNotFoundError:
                    continue  # delivered already
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                done += 1
            if done and hasattr(os, "O_DIRECTORY"):  # the renames too (POSIX)
                fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise StorageError(f"cannot flush the offload queue {self.folder} to disk: {exc}",
                               uri=self.folder) from exc
        return done

    def peek(self, limit: int = 16) -> list[QueuedSample]:
        """Return up to ``limit`` oldest entries without removing them (corrupt ones are moved aside).

        Parameters
        ----------
        limit : int, default=16
            Most entries returned.

        Returns
        -------
        list of QueuedSample
            Oldest first.

        Raises
        ------
        StorageError
            If an unreadable entry cannot be moved aside.
        """
        out: list[QueuedSample] = []
        with self._lock:
            for entry in list(self._scan()[:limit]):
                path = os.path.join(self.folder, entry + _SUFFIX)
                try:
                    with open(path, "rb") as fh:
                        meta, arrays = codec.decode(fh.read(), copy=True)
                    data = arrays[0] if meta.get("kind") == "array" else meta.pop("data")
                except FileNotFoundError:
                    self._scan().remove(entry)
                    continue
                except (OSError, ProtocolError, KeyError, IndexError, AttributeError) as exc:
                    logger.error("offload queue entry %s is unreadable (%s); moved to corrupt/", path, exc)
                    self._quarantine(entry)
                    continue
                out.append(QueuedSample(entry, data, meta))
        return out

    def remove(self, entry: str) -> None:
        """Delete an entry (after it was delivered).

        Parameters
        ----------
        entry : str
            The id from :meth:`put` or :meth:`peek`.
        """
        with self._lock:
            self._remove(entry)

    def _remove(self, entry: str) -> None:
        try:
            os.remove(os.path.join(self.folder, entry + _SUFFIX))
        except FileNotFoundError:
            pass  # already gone: removal is idempotent
        ids = self._scan()
        if entry in ids:
            ids.remove(entry)

    def _quarantine(self, entry: str) -> None:
        corrupt_dir = os.path.join(self.folder, "corrupt")
        try:
            os.makedirs(corrupt_dir, exist_ok=True)
            os.replace(os.path.join(self.folder, entry + _SUFFIX), os.path.join(corrupt_dir, entry + _SUFFIX))
        except OSError as exc:
            raise StorageError(f"cannot move the unreadable offload queue entry {entry} to {corrupt_dir}: "
                               f"{exc}", uri=self.folder) from exc
        self._scan().remove(entry)
        self.corrupt += 1
