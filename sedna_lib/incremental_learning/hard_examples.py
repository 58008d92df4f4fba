"""Hard examples found at inference: spooled on local disk, then uploaded to a folder or S3 for labelling.

Layout written under the output (a local folder or an ``s3://bucket/prefix``), one folder per
batch (a round of the incremental loop, or the UTC date by default)::

    <output>/<batch>/samples/<id>.npy        the input, np.save(allow_pickle=False); bytes keep their suffix
    <output>/<batch>/samples/<id>.table.json a pandas DataFrame input: JSON {"data", "columns", "dtypes"}
    <output>/<batch>/predictions/<id>.json   {"id", "sample", "prediction", "label", "time", "meta"}
    <output>/<batch>/hard_examples.txt       "samples/<id>.npy <label>" per line (TxtDataParse)
    <output>/<batch>/hard_examples.csv       header id,sample,label,time,prediction (CSVDataParse)

The label in the index files is the edge model's predicted label (a pre-label to correct), or is
left out of the text index when the prediction has none. Paths are relative to the batch folder,
as in the control plane's dataset index files. A labelling step writes ``labels.txt`` in the same
``path label`` form (:func:`write_labels`), which is the next training set.

Nothing is ever pickled. Each example is first written to an on-disk spool (a bounded queue that
survives restarts); a background thread uploads it and deletes it from the spool only after the
upload and the index update succeeded, retrying with a capped backoff while storage is down.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import os
import posixpath
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .._json import is_table, json_default, loads, table_from_json, table_to_json
from ..base import check_count, check_number
from ..exceptions import DataError, SednaError, StorageError, StorageNotFoundError
from ..storage.local import atomic_path

__all__ = [
    "HardExample",
    "HardExampleStore",
    "INDEX_CSV",
    "INDEX_TXT",
    "LABELS_TXT",
    "TABLE_SUFFIX",
    "default_label",
    "join_uri",
    "load_sample",
    "read_hard_examples",
    "spool_for",
    "write_labels",
]

logger = logging.getLogger(__name__)

INDEX_TXT = "hard_examples.txt"
INDEX_CSV = "hard_examples.csv"
LABELS_TXT = "labels.txt"
CSV_FIELDS = ("id", "sample", "label", "time", "prediction")
TABLE_SUFFIX = ".table.json"
"""The suffix of a sample kept as a table: a pandas DataFrame as JSON (rows, column names and types)."""
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def join_uri(base: str, *parts: str) -> str:
    """Join path parts onto a local folder or a URL (``s3://``, ``http://``).

    Parameters
    ----------
    base : str
        A folder or a URL.
    *parts : str
        Relative parts.

    Returns
    -------
    str
        The joined path (``/``-separated for URLs).

    Examples
    --------
    >>> join_uri("s3://bucket/out/", "r1", "hard_examples.txt")
    's3://bucket/out/r1/hard_examples.txt'
    """
    if "://" in base:
        return posixpath.join(base.rstrip("/"), *parts)
    return os.path.join(base, *parts)


def default_label(prediction: Any) -> str | None:
    """Return the label a prediction suggests, or None.

    A scalar (int, str, numpy scalar) is its own label; a 1-D vector of scores gives its argmax; a
    single-element sequence gives its element. Anything else (boxes, free text) has none.

    Parameters
    ----------
    prediction : object
        An edge model's output for one sample.

    Returns
    -------
    str or None
        The label as text, without whitespace.

    Examples
    --------
    >>> default_label(3), default_label([0.1, 0.7, 0.2]), default_label([[0, 0, 1, 1, 0.4, 2]])
    ('3', '1', None)
    """
    if isinstance(prediction, (str, int, np.integer)) and not isinstance(prediction, bool):
        text = str(prediction)
        return text if text and not any(c.isspace() for c in text) else None
    try:
        arr = np.asarray(prediction)
    except (ValueError, TypeError):
        return None
    if arr.dtype == object:
        return None
    if arr.ndim == 0:
        return default_label(arr.item()) if arr.dtype.kind in "iuU" else None
    if arr.ndim == 1 and arr.size == 1:
        return default_label(arr[0].item() if arr.dtype.kind in "iu" else arr[0])
    if arr.ndim == 1 and arr.dtype.kind == "f" and arr.size > 1:
        return str(int(np.argmax(arr)))
    return None


def _to_jsonable(obj: Any) -> Any:
    """``json.dumps`` hook of the records: bytes are summarised by their size, sets become lists."""
    if isinstance(obj, (bytes, bytearray)):
        return {"bytes": len(obj)}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return json_default(obj)


def _dumps(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, default=_to_jsonable, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} cannot be stored as JSON ({exc}); pass numbers, strings, lists, dicts or "
                        f"numpy arrays") from None


@dataclass(frozen=True)
class HardExample:
    """One stored hard example, as read back from an index.

    Attributes
    ----------
    id : str
        Its identifier (the file stem).
    sample : str
        Path of the sample file (absolute for a local output, a URL otherwise).
    label : str or None
        The label in the index (a pre-label) or in ``labels.txt`` (a human label).
    prediction : object
        The edge prediction, decoded from JSON.
    time : str
        When it was found (UTC, ISO 8601).
    """

    id: str
    sample: str
    label: str | None
    prediction: Any
    time: str


class HardExampleStore:
    """Save hard examples with their edge predictions, durably, to a folder or S3.

    :meth:`put` writes the example into a local spool and returns at once; a daemon thread
    (started by :meth:`start`, or by the first :meth:`put`) uploads spooled examples in order and
    updates the batch's index files. While the output is unreachable the examples stay in the
    spool and the thread retries with a capped exponential backoff; examples spooled by a process
    that stopped are uploaded by the next store opened on the same spool.

    Parameters
    ----------
    output : str
        A local folder, or a URL the storage layer writes (``s3://bucket/prefix``).
    storage : object, default=None
        A :class:`~sedna_lib.storage.StorageRouter` (``Context.storage``); required for URLs.
        A local output is written directly when it is None.
    spool_dir : str, default=None
        The on-disk queue; :func:`spool_for` of ``Config.hard_example_spool_dir``
        (``SEDNA_HARD_EXAMPLE_SPOOL``) is what the incremental-learning features use. A
        temporary folder when None (then nothing survives a restart).
    batch : str, default=None
        The batch folder name; the UTC date (``YYYYMMDD``) when None.
    max_pending : int, default=10000
        Bound of the spool. :meth:`put` waits for room up to ``put_timeout`` seconds.
    put_timeout : float, default=10.0
        Seconds :meth:`put` waits when the spool is full before raising.
    retry_initial, retry_max : float, default=0.5, 30.0
        Backoff between upload attempts while storage fails (doubling, capped).
    label_of : callable, default=None
        ``label_of(prediction) -> str | None``; :func:`default_label` when None.

    Attributes
    ----------
    uploaded_ : int
        Examples uploaded by this store.
    upload_failures_ : int
        Failed upload attempts (each is retried).
    last_error_ : str
        The last upload error ('' once an upload succeeds again).

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> with HardExampleStore(out, batch="round-1") as store:
    ...     _ = store.put(np.zeros((8, 8)), [0.2, 0.5, 0.3], sample_id="a1")
    ...     store.flush(timeout=5)
    True
    >>> [(e.id, e.label) for e in read_hard_examples(join_uri(out, "round-1"))]
    [('a1', '1')]
    """

    def __init__(self, output: str, *, storage: Any = None, spool_dir: str | None = None,
                 batch: str | None = None, max_pending: int = 10000, put_timeout: float = 10.0,
                 retry_initial: float = 0.5, retry_max: float = 30.0,
                 label_of: Callable[[Any], str | None] | None = None) -> None:
        self.output = output
        self.storage = storage
        self.spool_dir = spool_dir
        self.batch = batch
        self.max_pending = max_pending
        self.put_timeout = put_timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.label_of = label_of
        self.uploaded_ = 0
        self.upload_failures_ = 0
        self.last_error_ = ""
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._spool: str | None = None
        self._seq = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> HardExampleStore:
        """Open the spool and start the uploader thread (idempotent).

        Returns
        -------
        HardExampleStore
            ``self``.

        Raises
        ------
        StorageError
            If the output is a URL and no storage was given.
        ConfigError
            If the storage is not configured for the output (an ``s3://`` output with no
            ``S3_ENDPOINT_URL``): nothing is spooled that could never be uploaded.
        ParameterError
            If ``max_pending`` is not a whole number >= 1, ``put_timeout`` not a finite number
            >= 0, ``retry_initial`` not a finite number > 0, or ``retry_max`` below it.
        """
        with self._lock:
            if self._thread is not None:
                return self
            self._check_options()
            if "://" in self.output and self.storage is None:
                raise StorageError(f"hard-example output {self.output!r} is a URL; pass "
                                   f"storage=context.storage", uri=self.output)
            check = getattr(self.storage, "check", None)
            if "://" in self.output and callable(check):
                check(self.output)
            self._spool = self.spool_dir or tempfile.mkdtemp(prefix="sedna-hard-examples-")
            os.makedirs(self._spool, exist_ok=True)
            self._remove_orphans()
            self._seq = max((self._entry_seq(name) for name in self._committed()), default=0)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sedna-hard-example-uploader", daemon=True)
            self._thread.start()
            if self._committed():
                self._wake.set()
        return self

    def _check_options(self) -> None:
        """Check the numeric options before the spool is opened."""
        check_count("max_pending", self.max_pending)
        check_number("put_timeout", self.put_timeout, 0)
        initial = check_number("retry_initial", self.retry_initial, 0, low_open=True)
        check_number("retry_max", self.retry_max, initial)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Try to upload what is pending (up to ``timeout``), then stop the thread.

        Examples still pending stay in the spool for the next store on the same ``spool_dir``.

        Parameters
        ----------
        timeout : float, default=10.0
            Seconds to wait for pending uploads; 0 stops at once.

        Returns
        -------
        bool
            Whether the spool was empty when the thread stopped.
        """
        if self._thread is None:
            return True
        drained = self.flush(timeout) if timeout else self.pending == 0
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=max(timeout or 0, 1.0) + self.retry_max)
        self._thread = None
        if not drained:
            logger.warning("hard examples: %d not uploaded to %s yet (last error: %s); they wait in %s, and "
                           "the next store opened on that folder uploads them", self.pending, self.output,
                           self.last_error_ or "none", self._spool)
        return drained

    def __enter__(self) -> HardExampleStore:
        """Start the store."""
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        """Close the store (uploading what is pending, within the timeout)."""
        self.close()

    @property
    def pending(self) -> int:
        """Examples in the spool, not uploaded yet."""
        return len(self._committed()) if self._spool else 0

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every spooled example is uploaded.

        Parameters
        ----------
        timeout : float, default=None
            Seconds to wait at most; None waits as long as it takes.

        Returns
        -------
        bool
            Whether the spool is empty.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._lock:
            while self.pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(0.5 if left is None else min(left, 0.5))
        return True

    # -- producing --------------------------------------------------------------------------------

    def put(self, sample: Any, prediction: Any = None, *, label: str | None = None,
            sample_id: str | None = None, batch: str | None = None, ext: str | None = None,
            meta: Mapping[str, Any] | None = None) -> str:
        """Spool one hard example for upload.

        Parameters
        ----------
        sample : array-like, pandas.DataFrame or bytes
            The input. Arrays are saved with ``np.save`` (no pickle); a DataFrame as a JSON table
            (``<id>.table.json``: its rows, column names and column types, read back by
            :func:`load_sample`; the index is not kept); bytes as they are.
        prediction : object, default=None
            The edge prediction (JSON-serialisable, numpy allowed).
        label : str, default=None
            The label to write in the index; ``label_of(prediction)`` when None.
        sample_id : str, default=None
            Identifier (letters, digits, ``_.-``); a fresh one when None.
        batch : str, default=None
            Batch folder; the store's ``batch`` (or today's UTC date) when None.
        ext : str, default=None
            File extension for a bytes sample (``.jpg``); ``.bin`` when None.
        meta : mapping, default=None
            Extra JSON fields kept in the prediction file.

        Returns
        -------
        str
            The example's id.

        Raises
        ------
        DataError
            If the sample cannot be saved without pickle, the prediction is not JSON-able, or an
            id/batch/label is malformed.
        StorageError
            If the spool stays full for ``put_timeout`` seconds, or cannot be written.
        """
        self.start()
        sample_id = sample_id or uuid.uuid4().hex[:16]
        if not _ID_RE.match(sample_id):
            raise DataError(f"sample_id {sample_id!r} must be letters, digits, '_', '.', '-' (at most 128)")
        batch = batch or self.batch or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d")
        if not _ID_RE.match(batch):
            raise DataError(f"batch {batch!r} must be letters, digits, '_', '.', '-' (at most 128)")
        if label is None:
            label = (self.label_of or default_label)(prediction)
        if label is not None and (not str(label) or any(c.isspace() for c in str(label))):
            raise DataError(f"label {label!r} must be non-empty text without whitespace (it is a column "
                            f"of a space-separated index)")
        payload, suffix = self._encode_sample(sample, ext)
        record = {"id": sample_id, "batch": batch, "sample": f"samples/{sample_id}{suffix}",
                  "label": None if label is None else str(label), "prediction": prediction,
                  "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
                  "meta": dict(meta or {})}
        text = _dumps(record, "the prediction")
        self._wait_for_room()
        with self._lock:
            self._seq += 1
            stem = f"{self._seq:012d}-{sample_id}"
        assert self._spool is not None
        try:
            _atomic_write(os.path.join(self._spool, stem + ".sample"), payload)
            # the commit marker
            _atomic_write(os.path.join(self._spool, stem + ".json"), text.encode("utf-8"))
        except OSError as exc:
            raise StorageError(f"cannot write the hard-example spool {self._spool}: {exc}",
                               uri=self._spool) from exc
        self._wake.set()
        return sample_id

    @staticmethod
    def _encode_sample(sample: Any, ext: str | None) -> tuple[bytes, str]:
        if isinstance(sample, (bytes, bytearray, memoryview)):
            suffix = ext or ".bin"
            if not re.match(r"^\.[A-Za-z0-9]{1,10}$", suffix):
                raise DataError(f"ext {ext!r} must look like '.jpg'")
            return bytes(sample), suffix
        if is_table(sample):
            return _encode_table(sample), TABLE_SUFFIX
        try:
            arr = np.asarray(sample)
        except (ValueError, TypeError) as exc:
            raise DataError(f"sample of type {type(sample).__name__} is not an array: {exc}") from None
        if arr.dtype == object:
            raise DataError(f"sample of type {type(sample).__name__} would need pickle; pass a numeric "
                            f"array, a pandas DataFrame or encoded bytes (e.g. a JPEG)")
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        return buf.getvalue(), ".npy"

    def _wait_for_room(self) -> None:
        deadline = time.monotonic() + self.put_timeout
        with self._lock:
            while self.pending >= self.max_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StorageError(f"hard-example spool is full ({self.pending} pending, max_pending="
                                       f"{self.max_pending}) and the output {self.output} is not taking them "
                                       f"({self.last_error_ or 'no error yet'}); raise max_pending or fix "
                                       f"the storage", uri=self.output)
                self._wake.set()
                self._lock.wait(min(left, 0.5))

    # -- the spool --------------------------------------------------------------------------------

    def _committed(self) -> list[str]:
        assert self._spool is not None
        try:
            names = os.listdir(self._spool)
        except FileNotFoundError:
            return []
        return sorted(n[:-5] for n in names if n.endswith(".json") and not n.startswith("."))

    def _remove_orphans(self) -> None:
        """Delete half-written files and samples whose commit marker was never written (a crash in put)."""
        assert self._spool is not None
        committed = set(self._committed())
        for name in os.listdir(self._spool):
            if name.startswith(".") or (name.endswith(".sample") and name[:-7] not in committed):
                os.remove(os.path.join(self._spool, name))

    @staticmethod
    def _entry_seq(stem: str) -> int:
        head = stem.split("-", 1)[0]
        return int(head) if head.isdigit() else 0

    # -- uploading --------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.retry_initial
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._stop.is_set():
                stems = self._committed()[:64]
                if not stems:
                    break
                try:
                    self._upload(stems)
                except (OSError, SednaError) as exc:
                    self.upload_failures_ += 1
                    self.last_error_ = str(exc)
                    logger.warning("hard examples: upload to %s failed (%s); %d pending, retrying in %.1fs",
                                   self.output, exc, self.pending, delay)
                    if self._stop.wait(delay):
                        return
                    delay = min(delay * 2, self.retry_max)
                    continue
                delay = self.retry_initial
                self.last_error_ = ""
                with self._lock:
                    self._lock.notify_all()

    def _upload(self, stems: list[str]) -> None:
        assert self._spool is not None
        by_batch: dict[str, list[dict[str, Any]]] = {}
        for stem in stems:
            with open(os.path.join(self._spool, stem + ".json"), encoding="utf-8") as fh:
                record = json.load(fh)
            base = join_uri(self.output, record["batch"])
            self._write_file(os.path.join(self._spool, stem + ".sample"),
                             join_uri(base, *record["sample"].split("/")))
            self._write_bytes(join_uri(base, "predictions", record["id"] + ".json"),
                              _dumps(record, "the record").encode("utf-8"))
            by_batch.setdefault(record["batch"], []).append(record)
        for batch, records in by_batch.items():
            self._update_indexes(join_uri(self.output, batch), records)
        for stem in stems:
            # the marker first: a crash here leaves an orphan, not a duplicate
            for suffix in (".json", ".sample"):
                try:
                    os.remove(os.path.join(self._spool, stem + suffix))
                except FileNotFoundError:
                    pass
        self.uploaded_ += len(stems)

    def _update_indexes(self, base: str, records: list[dict[str, Any]]) -> None:
        txt_uri, csv_uri = join_uri(base, INDEX_TXT), join_uri(base, INDEX_CSV)
        txt = self._read_text(txt_uri)
        known = {line.split()[0] for line in txt.splitlines() if line.strip()}
        new = [r for r in records if r["sample"] not in known]
        if not new:
            return
        lines = [r["sample"] if r["label"] is None else f"{r['sample']} {r['label']}" for r in new]
        table = self._read_text(csv_uri)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if not table:
            writer.writerow(CSV_FIELDS)
        for r in new:
            writer.writerow([r["id"], r["sample"], "" if r["label"] is None else r["label"], r["time"],
                             _dumps(r["prediction"], "the prediction")])
        # CSV first: the text index is the one that decides what is already uploaded.
        self._write_bytes(csv_uri, (table + out.getvalue()).encode("utf-8"))
        prefix = txt if not txt or txt.endswith("\n") else txt + "\n"
        self._write_bytes(txt_uri, (prefix + "\n".join(lines) + "\n").encode("utf-8"))

    # -- storage access (the router for URLs, the file system for local folders) -----------------

    def _read_text(self, uri: str) -> str:
        return _read(uri, self.storage) or ""

    def _write_bytes(self, uri: str, data: bytes) -> None:
        _write(uri, data, self.storage)

    def _write_file(self, src: str, uri: str) -> None:
        if self.storage is not None:
            self.storage.upload(src, uri)
            return
        with open(src, "rb") as fh:
            self._write_bytes(uri, fh.read())


def spool_for(root: str, output: str) -> str:
    """Return the spool folder of one output under ``root``: one folder per output, so two outputs never mix.

    Parameters
    ----------
    root : str
        The spool root (``Config.hard_example_spool_dir``).
    output : str
        The hard-example output (a folder or URL).

    Returns
    -------
    str
        ``<root>/<readable tail of output>-<8 hex digits of its hash>``.

    Examples
    --------
    >>> spool_for("/var/spool", "s3://bkt/edge-1/hard")
    '/var/spool/hard-e2a60adf'
    """
    import hashlib

    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", output.rstrip("/").rsplit("/", 1)[-1])[:40] or "output"
    return os.path.join(root, f"{tail}-{hashlib.sha1(output.encode('utf-8')).hexdigest()[:8]}")


# -- tables -----------------------------------------------------------------------------------------

_TABLE_KEYS = {"data", "columns", "dtypes"}


def _encode_table(frame: Any) -> bytes:
    """Encode a DataFrame as its JSON table form (:func:`~sedna_lib._json.table_to_json`), no pickle."""
    try:
        document = table_to_json(frame)
    except TypeError as exc:
        raise DataError(f"sample of type DataFrame cannot be kept as a table ({exc}); keep to cells of "
                        f"numbers, strings, booleans and dates") from None
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _decode_table(data: bytes) -> Any:
    """Return the DataFrame a table file holds, or None when ``data`` is not one."""
    if data.lstrip()[:1] != b"{":
        return None
    try:
        document = loads(data)
    except ValueError:  # not JSON (UTF-8 errors and deep nesting included): bytes of the caller's own
        return None
    if not isinstance(document, dict):
        return None
    import pandas as pd

    if set(document) == _TABLE_KEYS and all(isinstance(document[k], list) for k in _TABLE_KEYS):
        return table_from_json(document["data"], document["columns"], document["dtypes"])
    if "schema" in document and "data" in document:  # the orient="table" form of earlier versions
        return pd.read_json(io.StringIO(data.decode("utf-8")), orient="table")
    return None


# -- file helpers -----------------------------------------------------------------------------------

def _atomic_write(path: str, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def _write(uri: str, data: bytes, storage: Any) -> None:
    """Write through the storage router, or atomically to a local file when there is none."""
    if storage is not None:
        storage.write_bytes(uri, data)
    else:
        _atomic_write(uri, data)


def _read(uri: str, storage: Any) -> str | None:
    """Return a text file's content, or None when it does not exist."""
    if storage is not None:
        try:
            return storage.read_bytes(uri).decode("utf-8")
        except StorageNotFoundError:
            return None
    try:
        with open(uri, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


# -- reading back, and the labelling step -----------------------------------------------------------

def read_hard_examples(batch_dir: str, *, storage: Any = None) -> list[HardExample]:
    """List the hard examples of one batch folder, with ``labels.txt`` labels when present.

    Parameters
    ----------
    batch_dir : str
        ``<output>/<batch>``, a folder or a URL.
    storage : object, default=None
        The storage router; required for URLs.

    Returns
    -------
    list of HardExample
        In upload order; the label is the human one from ``labels.txt`` if it has the sample,
        else the pre-label from the index.

    Raises
    ------
    StorageNotFoundError
        If the batch has no ``hard_examples.csv``.
    """
    table = _read(join_uri(batch_dir, INDEX_CSV), storage)
    if table is None:
        raise StorageNotFoundError(f"{join_uri(batch_dir, INDEX_CSV)} does not exist; is {batch_dir!r} a "
                                   f"batch folder of a hard-example output?", uri=batch_dir)
    labels = _parse_labels(_read(join_uri(batch_dir, LABELS_TXT), storage) or "")
    out = []
    for row in csv.DictReader(io.StringIO(table)):
        label = labels.get(row["sample"], row["label"] or None)
        out.append(HardExample(id=row["id"], sample=join_uri(batch_dir, *row["sample"].split("/")),
                               label=label, prediction=json.loads(row["prediction"]), time=row["time"]))
    return out


def _parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            labels[parts[0]] = parts[1]
    return labels


def load_sample(uri: str, *, storage: Any = None) -> Any:
    """Read one stored sample back: an array for ``.npy``, a DataFrame for a table, bytes otherwise.

    Nothing is ever unpickled. A table (``.table.json``) needs pandas to be read back.

    Parameters
    ----------
    uri : str
        The sample's path or URL (``HardExample.sample``).
    storage : object, default=None
        The storage router; required for URLs.

    Returns
    -------
    numpy.ndarray, pandas.DataFrame or bytes
        The sample.
    """
    if storage is not None:
        data = storage.read_bytes(uri)
    else:
        with open(uri, "rb") as fh:
            data = fh.read()
    if uri.endswith(".npy"):
        return np.load(io.BytesIO(data), allow_pickle=False)
    if uri.endswith(TABLE_SUFFIX):
        table = _decode_table(data)
        if table is not None:
            return table
    return data  # bytes a caller stored as "<id>.table" + ".json" stay bytes


def write_labels(batch_dir: str, labels: Mapping[str, Any] | Iterable[tuple[str, Any]], *,
                 storage: Any = None) -> str:
    """Write the labelling step's output, ``labels.txt`` (``samples/<file> <label>`` per line).

    Parameters
    ----------
    batch_dir : str
        The batch folder the labels belong to.
    labels : mapping or iterable of (id, label)
        Labels by example id; ids not in the batch raise.
    storage : object, default=None
        The storage router; required for URLs.

    Returns
    -------
    str
        Where ``labels.txt`` was written; ``TxtDataParse`` reads it as a training set.

    Raises
    ------
    DataError
        If an id is not in the batch or a label contains whitespace.
    """
    examples = {e.id: e for e in read_hard_examples(batch_dir, storage=storage)}
    items = labels.items() if isinstance(labels, Mapping) else labels
    lines = []
    for sample_id, label in items:
        if sample_id not in examples:
            raise DataError(f"{sample_id!r} is not a hard example of {batch_dir}")
        text = str(label.item() if isinstance(label, np.generic) else label)
        if not text or any(c.isspace() for c in text):
            raise DataError(f"label {label!r} of {sample_id!r} must be non-empty text without whitespace")
        rel = examples[sample_id].sample[len(batch_dir):].lstrip("/\\").replace(os.sep, "/")
        lines.append(f"{rel} {text}")
    uri = join_uri(batch_dir, LABELS_TXT)
    _write(uri, ("\n".join(lines) + "\n").encode("utf-8"), storage)
    return uri
