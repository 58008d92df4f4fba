"""A bounded on-disk FIFO of hard examples waiting for the cloud; crash-safe, never pickled.

Each entry is one file ``<time_ns>-<random>.sdna`` holding a binary-codec message (the sample as
an array, or as JSON in the header, plus its metadata). It is written under a temporary name,
flushed and renamed into place, so a crash of the process leaves either the whole entry or
nothing; a write that fails (a full disk) removes its partial file, and partial files a crash
left are removed when the folder is first read. Entries are read back in the order they were put,
across restarts of the process.
Forcing them to the disk (``fsync``, milliseconds each) is done in groups by :meth:`OffloadQueue.sync`,
off the inference path, unless ``fsync=True`` asks for it on every put.

An entry may wait for its own time (``not_before`` in its metadata: a sample the cloud failed
on is retried on its own backoff) without holding up the entries behind it (:meth:`OffloadQueue.due`).
Samples that will never be sent go to the ``dead-letter`` sub-folder with the reason
(:meth:`OffloadQueue.bury`), where they can be read back (:meth:`OffloadQueue.dead_letters`).

Several owners (threads, queue objects, processes) may share one folder: each may put entries,
and :meth:`OffloadQueue.draining` lets one of them at a time send them (an ``flock`` on the
folder's ``.drain.lock`` file, released by the system if its holder dies), so an entry is never
sent by two owners at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from typing import Any, Iterator, NamedTuple

from ..exceptions import DataError, ProtocolError, StorageError
from ..observability.logs import RateLimitedLog
from . import codec
from .http import is_binary_array, to_jsonable

__all__ = ["OffloadQueue", "QueuedSample"]

logger = logging.getLogger(__name__)
_DROP_INTERVAL = 60.0  # seconds between two lines about a full queue
_SUFFIX = ".sdna"
_PARTIAL = ".tmp"  # an entry being written: ``.<entry>.tmp``, renamed into place once whole
_PARTIAL_AGE = 60.0  # seconds after which a partial entry is taken as left by an interrupted write
DEAD_LETTER = "dead-letter"
DRAIN_LOCK = ".drain.lock"  # the file whose flock one owner of the folder holds while it sends entries
# what reading a damaged entry can raise (the codec checks what it can; the rest is caught here)
_UNREADABLE = (OSError, ProtocolError, KeyError, IndexError, AttributeError, TypeError, ValueError)


def queued_at(entry: str) -> float:
    """When an entry was put (seconds since the epoch), read from its id."""
    try:
        return int(entry.split("-", 1)[0]) / 1e9
    except ValueError:
        return 0.0


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
        Bound; when full, the oldest entry is dropped to make room. The first drop is said at
        once (a WARNING naming the folder); later ones are counted and said at most once a minute
        with their number, and :meth:`say_drops` says what is still counted.
    fsync : bool, default=False
        Force each entry to the disk before :meth:`put` returns (survives a power loss at once,
        but costs a disk flush per hard example). Otherwise entries survive a crash of the
        process as soon as ``put`` returns, and a power loss once :meth:`sync` has run.

    Attributes
    ----------
    dropped : int
        Entries dropped because the queue (or the dead-letter folder) was full.
    corrupt : int
        Unreadable entries moved aside to ``<folder>/corrupt``.
    partial_removed : int
        Partial entries (``.<entry>.tmp`` files that an interrupted write left, older than a
        minute) removed when the folder was first read, in it and in its dead-letter folder.
    """

    def __init__(self, folder: str, *, max_items: int = 10000, fsync: bool = False) -> None:
        self.folder = folder
        self.max_items = max_items
        self.fsync = fsync
        self.dropped = 0
        self.corrupt = 0
        self.partial_removed = 0
        self._swept = False  # partial entries are removed when the folder is first read
        # one line per minute at most, however many drops: a long outage used to print one per sample
        self._drops = RateLimitedLog(logger, interval=_DROP_INTERVAL)
        self._ids: list[str] | None = None
        self._unsynced: list[str] = []
        self._not_before: dict[str, float] = {}  # entries known to wait for their own time
        self._lock = threading.RLock()

    @property
    def dead_letter_folder(self) -> str:
        """Where samples that will never be sent are kept (``<folder>/dead-letter``)."""
        return os.path.join(self.folder, DEAD_LETTER)

    def _scan(self) -> list[str]:
        if self._ids is None:
            try:
                names = os.listdir(self.folder)
            except FileNotFoundError:
                names = []
            except OSError as exc:
                raise StorageError(f"cannot read the offload queue {self.folder}: {exc}",
                                   uri=self.folder) from exc
            if not self._swept:
                self._swept = True
                self._sweep(names)
            self._ids = sorted(n[:-len(_SUFFIX)] for n in names
                               if n.endswith(_SUFFIX) and not n.startswith("."))
        return self._ids

    def _sweep(self, names: list[str]) -> None:
        """Remove the partial entries that interrupted writes left in the folder and its dead-letter folder.

        Only those older than a minute go: a younger one may be another owner's write in progress.
        """
        cutoff = time.time() - _PARTIAL_AGE
        removed = 0
        for folder, listed in ((self.folder, names), (self.dead_letter_folder, None)):
            if listed is None:
                try:
                    listed = os.listdir(folder)
                except OSError:
                    continue  # no dead letters yet (or unreadable: said when they are read)
            for name in listed:
                if not (name.startswith(".") and name.endswith(_PARTIAL)):
                    continue
                path = os.path.join(folder, name)
                try:
                    if os.stat(path).st_mtime < cutoff:
                        os.remove(path)
                        removed += 1
                except OSError:
                    continue  # renamed into place or removed meanwhile, or not ours to remove
        if removed:
            self.partial_removed += removed
            logger.warning("removed %d partial entries (.*%s files) from %s: writes that were interrupted "
                           "(a full disk, a crash) left them", removed, _PARTIAL, self.folder)

    def __len__(self) -> int:
        """Return how many entries wait in the queue (as last read from the folder; see :meth:`refresh`)."""
        with self._lock:
            return len(self._scan())

    def refresh(self) -> None:
        """Forget the entries known so far: the next call reads the folder again.

        Another owner of the folder (a second queue object or process) may have put or removed
        entries since it was last read.
        """
        with self._lock:
            self._ids = None

    @contextlib.contextmanager
    def draining(self, wait: bool = True) -> Iterator[bool]:
        """Hold the folder's drain lock while sending entries, so no other owner sends them too.

        The lock is an exclusive ``flock`` on ``<folder>/.drain.lock``: it excludes other queue
        objects on the same folder, in this process or another, and the system releases it if the
        holder dies. Once it is held, the folder is read again, so entries another owner delivered
        meanwhile are not sent a second time.

        Parameters
        ----------
        wait : bool, default=True
            Wait for another owner's drain to end; if False, yield False at once when it is held.

        Yields
        ------
        bool
            True when this owner holds the lock (it may send entries), False when another one did
            and ``wait`` is False.

        Raises
        ------
        StorageError
            If the lock file cannot be created or locked.
        """
        try:
            os.makedirs(self.folder, exist_ok=True)
            fd = os.open(os.path.join(self.folder, DRAIN_LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the drain lock of the offload queue {self.folder}: {exc}",
                               uri=self.folder) from exc
        try:
            if not _lock_file(fd, wait):
                yield False
                return
            self.refresh()
            yield True
        finally:
            os.close(fd)  # releases the lock

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
        now = time.time()
        payload = _encode(data, {**(meta or {}), "queued_at": now})
        entry = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            ids = self._scan()
            while len(ids) >= self.max_items > 0:
                oldest = ids[0]
                self._remove(oldest)
                self.dropped += 1
                self._drops.add("queue", f"offload queue {self.folder} is full ({self.max_items} samples): "
                                         f"dropped the oldest {{count}} in the last {{window}} (the latest "
                                         f"{oldest}); {self.dropped} dropped in all")
            self._write(self.folder, entry, payload)
            ids.append(entry)
            not_before = (meta or {}).get("not_before")
            if not_before:
                self._not_before[entry] = float(not_before)
            if not self.fsync:
                self._unsynced.append(entry)
        return entry

    def _write(self, folder: str, entry: str, payload: bytes) -> None:
        """Write ``entry`` whole (temporary name, then an atomic rename)."""
        tmp = os.path.join(folder, f".{entry}{_PARTIAL}")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(payload)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            os.replace(tmp, os.path.join(folder, entry + _SUFFIX))
        except OSError as exc:
            # a full disk leaves part of the entry written: removed, or it would hold the space for ever
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise StorageError(f"cannot write to the offload queue {folder}: {exc}", uri=folder) from exc

    def say_drops(self) -> None:
        """Say the drops counted since the last line about them (call it when the queue's user stops)."""
        self._drops.flush()

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
                item = self._read(entry)
                if item is not None:
                    out.append(item)
        return out

    def _read(self, entry: str) -> QueuedSample | None:
        """Read one entry; None if it is gone (delivered) or unreadable (then moved to ``corrupt/``)."""
        path = os.path.join(self.folder, entry + _SUFFIX)
        try:
            with open(path, "rb") as fh:
                meta, arrays = codec.decode(fh.read(), copy=True)
            data = arrays[0] if meta.get("kind") == "array" else meta.pop("data")
        except FileNotFoundError:
            ids = self._scan()
            if entry in ids:
                ids.remove(entry)
            return None
        except _UNREADABLE as exc:
            logger.error("offload queue entry %s is unreadable (%s); moved to corrupt/", path, exc)
            self._quarantine(entry)
            return None
        not_before = meta.get("not_before")
        if not_before:
            self._not_before[entry] = float(not_before)
        return QueuedSample(entry, data, meta)

    def due(self, now: float | None = None, limit: int | None = None) -> list[QueuedSample]:
        """Return the oldest entries whose time has come, skipping (not stopping at) those that wait.

        Parameters
        ----------
        now : float, default=None
            The time (seconds since the epoch); the current time if omitted.
        limit : int, default=None
            Most entries returned; all due ones if None.

        Returns
        -------
        list of QueuedSample
            Oldest first.

        Raises
        ------
        StorageError
            If an unreadable entry cannot be moved aside.
        """
        now = time.time() if now is None else now
        out: list[QueuedSample] = []
        with self._lock:
            for entry in list(self._scan()):
                if limit is not None and len(out) >= limit:
                    break
                if self._not_before.get(entry, 0.0) > now:
                    continue  # waits for its own retry time: the entries behind it go first
                item = self._read(entry)
                if item is not None and float(item.meta.get("not_before") or 0.0) <= now:
                    out.append(item)
        return out

    def older_than(self, cutoff: float) -> list[QueuedSample]:
        """Return the entries put before ``cutoff`` (epoch seconds), oldest first.

        Parameters
        ----------
        cutoff : float
            The time.

        Returns
        -------
        list of QueuedSample
            The older entries (readable ones; unreadable ones are moved aside).
        """
        out: list[QueuedSample] = []
        with self._lock:
            for entry in list(self._scan()):
                if queued_at(entry) >= cutoff:
                    break  # ids sort by the time they were put
                item = self._read(entry)
                if item is not None:
                    out.append(item)
        return out

    def next_due(self) -> float | None:
        """When the earliest waiting entry's time comes (epoch seconds), or None if none waits."""
        with self._lock:
            ids = set(self._scan())
            times = [t for entry, t in self._not_before.items() if entry in ids]
        return min(times) if times else None

    def reschedule(self, item: QueuedSample, **meta: Any) -> None:
        """Rewrite an entry's metadata in place (atomically), e.g. ``attempts`` and ``not_before``.

        Parameters
        ----------
        item : QueuedSample
            The entry, as :meth:`due` or :meth:`peek` returned it.
        **meta : object
            JSON-able fields to set.

        Raises
        ------
        StorageError
            If the entry cannot be rewritten.
        """
        updated = {**item.meta, **meta}
        with self._lock:
            if item.id not in self._scan():
                return  # delivered or buried meanwhile
            self._write(self.folder, item.id, _encode(item.data, _strip(updated)))
            if updated.get("not_before"):
                self._not_before[item.id] = float(updated["not_before"])
            if not self.fsync:
                self._unsynced.append(item.id)

    def bury(self, item: QueuedSample | None, data: Any = None, **meta: Any) -> str:
        """Move a sample to the dead-letter folder with the reason; it is never sent again.

        Parameters
        ----------
        item : QueuedSample or None
            A queued entry (removed from the queue), or None for a sample that was never queued.
        data : object, default=None
            The sample, when ``item`` is None.
        **meta : object
            JSON-able fields kept with it (``reason``, ``status_code``...).

        Returns
        -------
        str
            The dead letter's id.

        Raises
        ------
        DataError
            If a never-queued sample cannot be stored (neither an array nor JSON-able).
        StorageError
            If it cannot be written.
        """
        if item is not None:
            entry, data, kept = item.id, item.data, _strip(dict(item.meta))
        else:
            entry, kept = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}", {"queued_at": time.time()}
        payload = _encode(data, {**kept, **meta, "dead_at": time.time()})
        folder = self.dead_letter_folder
        with self._lock:
            names = self._dead_names()
            while self.max_items > 0 and len(names) >= self.max_items:
                oldest = names.pop(0)
                try:
                    os.remove(os.path.join(folder, oldest))
                except FileNotFoundError:
                    pass  # removed by hand meanwhile
                self.dropped += 1
                self._drops.add("dead-letter",
                                f"dead-letter folder {folder} is full ({self.max_items} samples): dropped "
                                f"the oldest {{count}} in the last {{window}} (the latest {oldest}); "
                                f"{self.dropped} dropped in all")
            self._write(folder, entry, payload)
            if item is not None:
                self._remove(entry)
        return entry

    def _dead_names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dead_letter_folder)
                          if n.endswith(_SUFFIX) and not n.startswith("."))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read the dead-letter folder {self.dead_letter_folder}: {exc}",
                               uri=self.dead_letter_folder) from exc

    def dead_letters(self, limit: int | None = None) -> list[QueuedSample]:
        """Return the dead letters, oldest first, with the reason in their metadata.

        Parameters
        ----------
        limit : int, default=None
            Most returned; all if None.

        Returns
        -------
        list of QueuedSample
            ``meta`` has ``reason`` (and ``status_code`` when the cloud answered).

        Raises
        ------
        StorageError
            If the folder cannot be read.
        """
        out = []
        for name in self._dead_names()[:limit]:
            try:
                with open(os.path.join(self.dead_letter_folder, name), "rb") as fh:
                    meta, arrays = codec.decode(fh.read(), copy=True)
                data = arrays[0] if meta.get("kind") == "array" else meta.pop("data")
            except FileNotFoundError:
                continue  # removed by hand meanwhile
            except _UNREADABLE as exc:
                logger.error("dead letter %s is unreadable: %s", name, exc)
                continue
            out.append(QueuedSample(name[:-len(_SUFFIX)], data, meta))
        return out

    def ids(self) -> list[str]:
        """Return the ids of the queued entries, oldest first (a copy)."""
        with self._lock:
            return list(self._scan())

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
        self._not_before.pop(entry, None)

    def _quarantine(self, entry: str) -> None:
        corrupt_dir = os.path.join(self.folder, "corrupt")
        try:
            os.makedirs(corrupt_dir, exist_ok=True)
            os.replace(os.path.join(self.folder, entry + _SUFFIX), os.path.join(corrupt_dir, entry + _SUFFIX))
        except OSError as exc:
            raise StorageError(f"cannot move the unreadable offload queue entry {entry} to {corrupt_dir}: "
                               f"{exc}", uri=self.folder) from exc
        self._scan().remove(entry)
        self._not_before.pop(entry, None)
        self.corrupt += 1


def _lock_file(fd: int, wait: bool) -> bool:
    """Take an exclusive lock on an open file; False if another holder has it and ``wait`` is False."""
    try:
        import fcntl
    except ImportError:  # not POSIX: only this process's own threads are kept apart (by the caller)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise StorageError(f"cannot lock the offload queue's drain lock: {exc}") from exc
    return True


def _strip(meta: dict) -> dict:
    """Metadata without the codec's own fields (they are set again on encoding)."""
    return {k: v for k, v in meta.items() if k not in ("kind", "data")}


def _encode(data: Any, header: dict) -> bytes:
    """One entry: the sample as an array (binary) or as JSON in the header, with its metadata."""
    if is_binary_array(data):
        return codec.encode([data], {**header, "kind": "array"})
    try:
        return codec.encode([], {**header, "kind": "json", "data": to_jsonable(data)})
    except (TypeError, ProtocolError) as exc:
        raise DataError(f"this sample cannot be kept on disk: {exc}") from None
