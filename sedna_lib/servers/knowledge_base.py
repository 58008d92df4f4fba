"""The lifelong-learning knowledge-base server (Sedna's ``KBServer``): files, the task index and task status.

REST under ``/knowledgebase`` (Sedna's paths and replies): ``POST /file/upload`` (multipart
``file``), ``GET /file/download?files=&name=``, ``POST /update`` (multipart ``task``: the JSON
index), ``POST /update/status`` (``{"status", "tasks"}``), ``POST /query`` and ``GET /health``.
Replies are JSON strings holding a relative download path, as Sedna's. Unlike Sedna's server it
never unpickles an upload, confines every file to its folder, limits sizes, can require a
bearer token, and keeps its tables in SQLite through the standard library.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import sqlite3
import threading
import time
import urllib.parse
import weakref
from typing import Any

from .._json import loads as json_loads
from ..base import check_count
from ..config import Config
from ..context import resolve_config
from ..exceptions import ConfigError, DataError, ParameterError, TransportError
from ..observability.health import Health
from ..observability.logs import log_started, log_stopped
from ..observability.status import StatusSite
from ..storage.local import atomic_path
from ._app import (
    ERROR_RESPONSES,
    HTTPError,
    LargeRequestGate,
    RequestStats,
    ServerLimits,
    check_token,
    error_response,
    error_responses,
    fastapi,
    read_body,
)
from ._lifecycle import serve_in_foreground
from ._status import STATUS_PATHS, mount_status
from ._threaded import ThreadedServer

__all__ = ["KBServer", "create_app", "KnowledgeBaseStore", "safe_name", "main", "parse_bind", "sqlite_path"]

logger = logging.getLogger(__name__)

INDEX_NAME = "index.pkl"  # the control plane expects this name; the content is JSON
_SOURCE_NAME = ".index.source.json"
_LEGACY_SOURCE_NAME = "index.source.json"  # where older versions kept the last accepted index
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def safe_name(name: str | None) -> str:
    """Check a client-given file name: one path component of safe characters.

    Parameters
    ----------
    name : str
        The name.

    Returns
    -------
    str
        The name unchanged.

    Raises
    ------
    HTTPError
        400 if the name is empty, has a path separator or ``..``, or unusual characters.
    """
    if not name or not _NAME_RE.fullmatch(name) or ".." in name:  # fullmatch: '$' also matches before a \n
        raise HTTPError(400, f"file name {name!r} refused: use letters, digits, '.', '_' and '-' only "
                             "(no folders, no '..')")
    return name


# Sedna's tables: task groups (deploy = 0 once dropped) and the tasks of each group.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS ll_task_grp (name TEXT PRIMARY KEY, deploy INTEGER NOT NULL DEFAULT 1,
    task_num INTEGER, sample_num INTEGER, model_url TEXT, position INTEGER, kind TEXT, update_time REAL);
CREATE TABLE IF NOT EXISTS ll_tasks (name TEXT, task_grp TEXT, meta_attr TEXT, PRIMARY KEY (name, task_grp));
"""
_UPSERT_GROUP = (
    "INSERT INTO ll_task_grp (name, deploy, task_num, sample_num, model_url, position, kind, update_time)"
    " VALUES (?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET task_num=excluded.task_num,"
    " model_url=excluded.model_url, position=excluded.position, kind=excluded.kind,"
    " update_time=excluded.update_time")
_UPSERT_TASK = "INSERT OR REPLACE INTO ll_tasks (name, task_grp, meta_attr) VALUES (?, ?, ?)"


def sqlite_path(url: str) -> str:
    """Return the SQLite file of a ``KB_URL``: ``sqlite:///rel.db``, ``sqlite:////abs.db``, ``sqlite://``.

    Parameters
    ----------
    url : str
        The database URL.

    Returns
    -------
    str
        A path, or ``":memory:"``.

    Raises
    ------
    ConfigError
        If the URL is not a SQLite URL.
    """
    if url in ("sqlite://", "sqlite:///:memory:", ":memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"KB_URL must be a SQLite URL such as sqlite:///kb.sqlite3, got {url!r}",
                          variable="KB_URL")
    return url[len("sqlite:///"):]


class KnowledgeBaseStore:
    """The server's state: a folder of files and a SQLite database of task groups and tasks.

    Parameters
    ----------
    save_dir : str
        Folder for uploaded files and the index (created if missing).
    db_path : str, default=':memory:'
        SQLite file.
    legacy_pickle : bool, default=False
        Accept an original Sedna ``KBClient``'s pickled index (read through an allow-list of the
        index's own classes, never unpickled freely) and publish ``index.pkl`` in Sedna's pickled
        format for original edges (``SEDNA_LEGACY_PICKLE``).
    """

    def __init__(self, save_dir: str, db_path: str = ":memory:", *, legacy_pickle: bool = False) -> None:
        self.save_dir = os.path.abspath(save_dir or ".")
        self.db_path = db_path
        self.legacy_pickle = legacy_pickle
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The database connection (tables created on first use)."""
        with self._lock:
            if self._db is None:
                os.makedirs(self.save_dir, exist_ok=True)
                if self.db_path != ":memory:":
                    parent = os.path.dirname(os.path.abspath(self.db_path))
                    os.makedirs(parent, exist_ok=True)
                self._adopt_legacy_source()
                self._db = sqlite3.connect(self.db_path, check_same_thread=False)
                self._db.executescript(_SCHEMA)
            return self._db

    @property
    def reserved(self) -> set[str]:
        """The server's own file names, never taken from or given to clients through ``/file/*``.

        ``index.pkl`` (published by ``/update`` only; downloadable), ``index.source.json`` (where
        older versions kept the last accepted index; never downloadable), the database file and its
        journals when they lie in the folder (never downloadable). The server's other files start
        with a dot, which no client name does.
        """
        names = {INDEX_NAME, _LEGACY_SOURCE_NAME}
        if self.db_path != ":memory:":
            db = os.path.realpath(self.db_path)
            if os.path.dirname(db) == os.path.realpath(self.save_dir):
                base = os.path.basename(db)
                names |= {base, f"{base}-journal", f"{base}-wal", f"{base}-shm"}
        return names

    def _adopt_legacy_source(self) -> None:
        """Move an older version's ``index.source.json`` to the private name, once, as the store opens.

        Only a valid index is taken over, and only while no private one exists; anything else stays
        where it is, unused (the name is reserved, so clients can neither replace nor fetch it).
        """
        from ..transport.kb_index import loads_index

        source = self._source_path()
        visible = os.path.join(self.save_dir, _LEGACY_SOURCE_NAME)
        if os.path.exists(source) or not os.path.isfile(visible):
            return
        try:
            with open(visible, "rb") as fh:
                loads_index(fh.read())
        except (OSError, DataError) as exc:
            logger.warning("%s is not a knowledge-base index the server can take over (%s); it is left "
                           "unused, and the next /update publishes a new index", visible, exc)
            return
        try:
            os.replace(visible, source)
        except OSError as exc:
            logger.warning("cannot move %s to %s (%s); it is left unused", visible, source, exc)

    def _source_path(self) -> str:
        """Return the last accepted index's path (a dot name, out of the clients' reach)."""
        return os.path.join(self.save_dir, _SOURCE_NAME)

    def _load_source(self) -> dict | None:
        """Read the last accepted index, or None before any.

        Raises
        ------
        HTTPError
            409 if the stored index cannot be read as an index (changed on disk): a new ``/update``
            replaces it.
        """
        from ..transport.kb_index import loads_index

        self.db  # noqa: B018 - an open store: an older version's index source is taken over first
        source = self._source_path()
        if not os.path.exists(source):
            return None
        try:
            with open(source, "rb") as fh:
                data = fh.read()
            loads_index(data)
            return json_loads(data)
        except (OSError, DataError, ValueError, RecursionError) as exc:
            logger.error("the knowledge base's stored index %s cannot be read: %s", source, exc)
            raise HTTPError(409, "the knowledge base's stored index cannot be read (it was changed on the "
                                 "server's disk); publish the index again through /update") from None

    def _published(self) -> set[str]:
        """File names the published index refers to (models and samples): never overwritten."""
        doc = self._load_source()
        if doc is None:
            return set()
        refs = []
        for kind in ("seen_task", "unseen_task"):
            for group in (doc.get(kind) or {}).get("task_groups", []) or []:
                refs += [(group.get("model") or {}).get("url"), group.get("samples")]
                refs += [t.get("samples") for t in group.get("tasks", []) or []]
        names = set()
        for ref in refs:
            if isinstance(ref, str) and "files=" in ref:
                names.update(urllib.parse.parse_qs(urllib.parse.urlsplit(ref).query).get("files", []))
        return names

    def store_upload(self, name: str, data: bytes) -> str:
        """Store a client's file: reserved names are refused, a published file is never replaced.

        Parameters
        ----------
        name : str
            File name (one safe component).
        data : bytes
            Content.

        Returns
        -------
        str
            The path.

        Raises
        ------
        HTTPError
            400 for a bad name, 403 for one of the server's own names, 409 for a different file
            under the name of a published model or samples file (the same bytes again are accepted;
            with ``legacy_pickle`` the file is replaced, as original trainers expect, and logged),
            for the name of a folder, and for a different file while the stored index cannot be read.
        """
        path = self.path_of(name)
        if name in self.reserved:
            raise HTTPError(403, f"{name!r} is the knowledge base's own file; it cannot be uploaded "
                                 "(the index is published through /update)")
        with self._lock:
            if os.path.exists(path) and not os.path.isfile(path):
                raise HTTPError(409, f"{name!r} names a folder of the knowledge base; upload the file under "
                                     "another name")
            if os.path.exists(path):
                with open(path, "rb") as fh:
                    same = fh.read() == data
                if same:
                    return path
                if name in self._published():
                    if not self.legacy_pickle:
                        raise HTTPError(409, f"{name!r} is published in the knowledge-base index and is "
                                             "never replaced; upload the new file under a new name "
                                             "(sedna_lib names models by their content)")
                    # an original trainer re-uploads its models under the same names; entries that carry
                    # a SHA-256 (sedna_lib's) are still checked by the edges that fetch them
                    logger.warning("replacing the published file %r (SEDNA_LEGACY_PICKLE=true)", name)
            return self.write(name, data)

    def readable(self, name: str) -> str:
        """Return the path of a file clients may download (the database is not one).

        Parameters
        ----------
        name : str
            File name.

        Returns
        -------
        str
            The path.

        Raises
        ------
        HTTPError
            400 for a bad name, 404 for the database or a missing file.
        """
        path = self.path_of(name)
        if (name in self.reserved and name != INDEX_NAME) or not os.path.isfile(path):
            raise HTTPError(404, f"no file named {name!r} in the knowledge base")
        return path

    def path_of(self, name: str) -> str:
        """Return the file path of a stored name, confined to the folder.

        Parameters
        ----------
        name : str
            A name accepted by :func:`safe_name`.

        Returns
        -------
        str
            Absolute path inside :attr:`save_dir`.

        Raises
        ------
        HTTPError
            400 if the name escapes the folder.
        """
        path = os.path.realpath(os.path.join(self.save_dir, safe_name(name)))
        if os.path.dirname(path) != os.path.realpath(self.save_dir):
            raise HTTPError(400, f"file name {name!r} refused")
        return path

    def write(self, name: str, data: bytes) -> str:
        """Store ``data`` under ``name`` atomically.

        Parameters
        ----------
        name : str
            File name.
        data : bytes
            Content.

        Returns
        -------
        str
            The path.
        """
        path = self.path_of(name)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
        return path

    def update_index(self, data: bytes) -> None:
        """Accept a JSON index: record its task groups and tasks, then publish ``index.pkl``.

        Parameters
        ----------
        data : bytes
            The JSON index.

        Raises
        ------
        HTTPError
            415 for a pickle, 400 for anything that is not a valid index.
        """
        from ..transport.kb_index import is_json_index, loads_index
        from ..transport.kb_legacy import is_pickle, legacy_to_json, loads_legacy_index

        published_as = "json"
        if is_json_index(data):
            try:
                loads_index(data)
                doc = json_loads(data)
            except DataError as exc:
                raise HTTPError(400, str(exc)) from None
        elif is_pickle(data) and self.legacy_pickle:
            try:  # an original KBClient's index: read through the allow-list of the index's classes
                doc = legacy_to_json(loads_legacy_index(data))
                data = json.dumps(doc).encode("utf-8")
                loads_index(data)
            except DataError as exc:
                raise HTTPError(400, str(exc)) from None
            published_as = "pickle"
        elif is_pickle(data):
            raise HTTPError(415, "the index is a pickle (an original Sedna KBClient?); this knowledge base "
                                 "takes JSON indexes. Start it with SEDNA_LEGACY_PICKLE=true to accept "
                                 "Sedna's index through an allow-list of its classes")
        else:
            raise HTTPError(415, "the index must be JSON (sedna_lib format), or Sedna's pickled index with "
                                 "SEDNA_LEGACY_PICKLE=true")
        doc["published_as"] = published_as
        now = time.time()
        with self._lock:
            db = self.db
            try:
                for kind in ("seen_task", "unseen_task"):
                    for pos, group in enumerate(doc.get(kind, {}).get("task_groups", [])):
                        model = group.get("model") or {}
                        db.execute(_UPSERT_GROUP, (str(group["entry"]), len(group.get("tasks", [])), None,
                                                   _text(model.get("url")), pos, kind, now))
                        for task in group.get("tasks", []):
                            db.execute(_UPSERT_TASK, (str(task["entry"]), str(group["entry"]),
                                                      json.dumps(task.get("meta_attr"))))
            except (KeyError, TypeError, AttributeError, ValueError, sqlite3.Error) as exc:
                db.rollback()  # nothing of a refused index stays in the open transaction
                raise HTTPError(400, f"malformed knowledge-base index: {type(exc).__name__}: {exc}") from None
            except BaseException:
                db.rollback()
                raise
            db.commit()
            _write_private(self._source_path(), json.dumps(doc).encode("utf-8"))
            self._publish()

    def set_status(self, tasks: str | list | None, status: int) -> None:
        """Mark task groups deployed (``status`` 1) or dropped (0), then republish the index.

        Parameters
        ----------
        tasks : str, list or None
            Comma-separated group names, a list, or None for every group.
        status : int
            1 deploys, 0 drops.

        Raises
        ------
        ParameterError
            If ``status`` is neither 1 nor 0 (``bool()`` read 2, 0.5 and ``"0"`` as a deploy).
        HTTPError
            409 if the stored index cannot be read (see :meth:`_load_source`); nothing is changed.
        """
        deploy = check_count("status", status, 0)
        if deploy > 1:
            raise ParameterError(f"status must be 1 (deploys) or 0 (drops), got {status!r}")
        names = [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else tasks
        with self._lock:
            # Sedna's server answers these as any other (its peers rely on it): the reply is the same, the
            # log says what did not happen
            source = self._load_source()  # before any change: an unreadable index changes nothing
            if source is None:
                logger.warning("status update before any index was uploaded: nothing to change")
            elif names is not None:
                known = {row[0] for row in self.db.execute("SELECT name FROM ll_task_grp")}
                unknown = sorted({str(n) for n in names if n} - known)
                if unknown:
                    logger.warning("status update names no task group %s of the knowledge base (it has %s); "
                                   "nothing changed for them", ", ".join(map(repr, unknown)), sorted(known))
            try:
                if names is None:
                    self.db.execute("UPDATE ll_task_grp SET deploy=?", (deploy,))
                else:
                    self.db.executemany("UPDATE ll_task_grp SET deploy=? WHERE name=?",
                                        [(deploy, str(n)) for n in names if n])
            except BaseException:
                self.db.rollback()
                raise
            self.db.commit()
            self._publish()

    def _publish(self) -> None:
        """Write ``index.pkl`` from the last uploaded index; a dropped group serves the first deployed one."""
        doc = self._load_source()
        if doc is None:
            return
        from ..transport.kb_index import apply_status
        from ..transport.kb_legacy import dumps_legacy_index

        deploy = {name: bool(d) for name, d in self.db.execute("SELECT name, deploy FROM ll_task_grp")}
        doc = apply_status(doc, deploy)
        if doc.get("published_as") == "pickle" or self.legacy_pickle:  # original edges load a pickle
            self.write(INDEX_NAME, dumps_legacy_index(doc))
        else:
            self.write(INDEX_NAME, json.dumps(doc).encode("utf-8"))

    def query(self) -> list[dict]:
        """List the task groups.

        Returns
        -------
        list of dict
            ``name``, ``deploy``, ``task_num``, ``model_url``, ``kind`` per group.
        """
        with self._lock:
            rows = self.db.execute("SELECT name, deploy, task_num, model_url, kind FROM ll_task_grp"
                                   " ORDER BY kind, position").fetchall()
        return [{"name": n, "deploy": bool(d), "task_num": t, "model_url": u, "kind": k} for n, d, t, u,
                k in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _write_private(path: str, data: bytes) -> None:
    """Write one of the server's own files (a name clients cannot reach: it starts with a dot)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


_NAME_SCHEMA = {"type": "string", "pattern": _NAME_RE.pattern}
_REPLY = {"description": "The relative download path of the stored file (a JSON string, as Sedna's server "
                         "answers)", "content": {"application/json": {"schema": {"type": "string"}}}}
_BINARY = {"type": "string", "format": "binary"}
_STATUS_BODY = {"type": "object", "properties": {
    "status": {"type": "integer", "default": 1, "description": "1 deploys the task groups, 0 drops them"},
    "tasks": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
              "description": "comma-separated task-group names, a list of them, or null for every group"}}}
_OPENAPI: dict[str, dict[str, Any]] = {
    "upload": {
        "summary": "Store a file (a model, samples, an extractor)",
        "description": "The multipart part's file name is the stored name: one component of letters, digits, "
                       "'.', '_' and '-'. The server's own names are refused (403), and a file the published "
                       "index refers to is never replaced by different bytes (409).",
        "responses": {200: _REPLY, **error_responses(400, 401, 408, 413, 500),
                      403: {**ERROR_RESPONSES[400],
                            "description": "One of the server's own names (index.pkl, index.source.json, "
                                           "the database)"},
                      409: {**ERROR_RESPONSES[400],
                            "description": "A published file of that name exists with other content, the "
                                           "name is a folder's, or the stored index cannot be read"}},
        "openapi_extra": {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": {"file": _BINARY}}}}}}},
    "download": {
        "summary": "Fetch a stored file",
        "responses": {200: {"description": "The file's bytes", "content": {
            "application/octet-stream": {"schema": _BINARY}}}, **error_responses(400, 401, 404, 500)},
        "openapi_extra": {"parameters": [
            {"name": "files", "in": "query", "required": True, "schema": _NAME_SCHEMA,
             "description": "The stored name"},
            {"name": "name", "in": "query", "required": False, "schema": _NAME_SCHEMA,
             "description": "The name given to the download (Content-Disposition)"}]}},
    "update": {
        "summary": "Publish a task index",
        "description": "The multipart field `task` holds the index: sedna_lib's JSON, or Sedna's pickled "
                       "index when the server runs with SEDNA_LEGACY_PICKLE=true (read through an allow-list "
                       "of the index's classes). The index is published as index.pkl.",
        "responses": {200: _REPLY, **error_responses(400, 401, 408, 413, 415, 500)},
        "openapi_extra": {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["task"], "properties": {"task": _BINARY}}}}}}},
    "status": {
        "summary": "Deploy or drop task groups, then republish index.pkl",
        "responses": {200: _REPLY, **error_responses(400, 401, 408, 413, 500),
                      409: {**ERROR_RESPONSES[400],
                            "description": "The stored index cannot be read; publish it again through "
                                           "/update"}},
        "openapi_extra": {"requestBody": {"required": True, "content": {
            "application/json": {"schema": _STATUS_BODY}}}}},
    "query": {
        "summary": "List the task groups",
        "responses": {200: {"description": "The task groups", "content": {"application/json": {"schema": {
            "type": "object", "required": ["task_groups"], "properties": {"task_groups": {
                "type": "array", "items": {"type": "object"}}}}}}}, **error_responses(401, 500)}},
    "health": {
        "summary": "Liveness and request counters (no token needed)",
        "responses": {200: {"description": "Up", "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}}}}},
}


def _shown_db(db_path: str) -> str:
    """Return the database as the start line shows it: an absolute path, or ``:memory:``."""
    return db_path if db_path == ":memory:" else os.path.abspath(db_path)


def _download_path(name: str) -> str:
    q = urllib.parse.quote(name)
    return f"/file/download?files={q}&name={q}"


_CHUNK = 64 * 1024  # bytes read and sent at a time by a download
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the one byte range ``header`` asks of ``size`` bytes, as ``(start, end)`` (end excluded).

    None (send the whole file) when there is no ``Range`` header, or one this server does not
    serve in part (malformed, several ranges); ``start == size`` when it cannot be satisfied.
    """
    match = _RANGE_RE.match(header or "")
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last N bytes
        count = int(last)
        return (max(0, size - count), size) if count else (size, size)
    start = int(first)
    end = size if last == "" else int(last) + 1
    if end <= start:
        return None
    return (start, min(end, size)) if start < size else (size, size)


def _file_reply(path: str, filename: str, request: Any) -> Any:
    """Answer a download with the bytes of ``path`` as one open file holds them.

    The file is opened once and its length, ``ETag`` and ``Last-Modified`` are read from that
    open file, so a file replaced meanwhile (an upload renames a new one into place) is sent
    whole, in one version or the other. It is read and sent in chunks of :data:`_CHUNK` bytes.
    A single ``Range`` is answered with 206 (416 past the end); ``If-Range`` must name the
    current version.
    """
    import hashlib
    import stat
    from email.utils import formatdate

    from starlette.background import BackgroundTask
    from starlette.responses import Response, StreamingResponse

    try:
        fh = open(path, "rb")
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPError(404, f"no file named {os.path.basename(path)!r} in the knowledge base") from None
    try:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise HTTPError(404, f"no file named {os.path.basename(path)!r} in the knowledge base")
        size = info.st_size
        tag = hashlib.md5(f"{info.st_mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
        headers = {"accept-ranges": "bytes", "content-disposition": f'attachment; filename="{filename}"',
                   "etag": f'"{tag}"', "last-modified": formatdate(info.st_mtime, usegmt=True)}
        if_range = request.headers.get("if-range")
        wanted = None
        if if_range is None or if_range in (headers["etag"], headers["last-modified"]):
            wanted = _byte_range(request.headers.get("range"), size)
        start, end, status = 0, size, 200
        if wanted is not None:
            start, end = wanted
            if start >= size:
                fh.close()
                return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
            status = 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        headers["content-length"] = str(end - start)
    except BaseException:
        fh.close()
        raise

    def chunks() -> Any:
        try:
            fh.seek(start)
            left = end - start
            while left > 0:
                chunk = fh.read(min(_CHUNK, left))
                if not chunk:  # cut short in place (never by the store, which renames a new file in)
                    raise OSError(f"{path} ended {left} bytes before its size when opened")
                left -= len(chunk)
                yield chunk
        finally:
            fh.close()

    return StreamingResponse(chunks(), status_code=status, headers=headers,
                             media_type="application/octet-stream", background=BackgroundTask(fh.close))


def create_app(store: KnowledgeBaseStore, *, token: str | None = None,
               max_bytes: int = 64 * 1024 * 1024, limits: ServerLimits | None = None) -> Any:
    """Build the FastAPI application of the knowledge base.

    Parameters
    ----------
    store : KnowledgeBaseStore
        Files and tables.
    token : str, default=None
        Shared bearer token; None leaves the server open (as Sedna's).
    max_bytes : int, default=64 MiB
        Largest accepted request body (413 beyond); it wins over ``limits.max_request_bytes``.
    limits : ServerLimits, default=None
        Body deadline (408 beyond ``body_timeout``) and large-request cap (``max_large_requests``
        large bodies at once, others 503 after waiting ``body_timeout``); ``ServerLimits()`` when None.

    Returns
    -------
    fastapi.FastAPI
        The application.
    """
    fa = fastapi()
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    app = fa.FastAPI(title="sedna_lib knowledge base")
    limits = ServerLimits.resolve(limits, max_bytes)
    max_bytes = limits.max_request_bytes
    gate = LargeRequestGate(limits)
    stats = RequestStats()
    app.state.stats = stats
    app.state.store = store  # the app keeps its store; the routes reach it through a weak proxy
    site = StatusSite("kb", title="sedna_lib knowledge base",
                      health=Health("kb", checks={"database": lambda: store.query() is not None},
                                    extra=stats.as_dict),
                      details={"files in": store.save_dir, "database": store.db_path,
                               "auth": "bearer token" if token else "off",
                               "max request": f"{max_bytes // (1024 * 1024)} MiB"})
    site.metrics.gauge("sedna_kb_tasks").set_function(
        lambda: sum(group["task_num"] or 0 for group in store.query()))
    uploads = site.metrics.counter("sedna_kb_uploads_total")
    app.state.status = site

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        try:
            path = request.url.path
            if path not in _OPEN_PATHS and not path.startswith("/status/assets/"):
                check_token(request, token)
            response = await call_next(request)
        except HTTPError as exc:
            stats.count_status(exc.status)
            return error_response(exc.status, exc.message)
        except Exception as exc:  # a store failure: answer 500, count it, keep serving
            logger.exception("knowledge base failed on %s %s", request.method, request.url.path)
            stats.count("failed")
            return error_response(500, f"the knowledge base failed: {type(exc).__name__}")
        stats.count_status(response.status_code)
        return response

    # FastAPI keeps each route's function for the life of the process: the routes hold only a weak
    # proxy, so a stopped, dropped server's store (and its files' index) is freed
    store = weakref.proxy(store)

    async def _body(request: Request) -> bytes:
        body = await read_body(request, max_bytes, timeout=limits.body_timeout, gate=gate)
        request.state.holds_gate = gate.is_large(len(body))  # released once the handler is done
        return body

    # newer starlette limits each form part; an older one takes no such limit (the body's own cap holds)
    part_limit = ({"max_part_size": max_bytes}
                  if "max_part_size" in inspect.signature(Request.form).parameters else {})

    async def _form(request: Request) -> Any:
        request._body = await _body(request)  # starlette's form() reuses a read body
        try:
            return await request.form(**part_limit)
        except ValueError as exc:  # python-multipart's parse errors, which older starlette lets through
            raise HTTPError(400, f"malformed multipart body: {exc}") from None

    def _handle(fn: Any) -> Any:
        async def wrapper(request: Request) -> Any:
            try:
                return await fn(request)
            except HTTPError as exc:
                return error_response(exc.status, exc.message)
            finally:
                await request.close()  # a parsed form's files (on disk past 1 MB) closed now, not at GC
                if getattr(request.state, "holds_gate", False):
                    gate.release()
        wrapper.__name__ = fn.__name__
        wrapper.__annotations__ = {"request": Request}  # resolved class: FastAPI then injects the request
        return wrapper

    @app.post("/knowledgebase/file/upload", **_OPENAPI["upload"])
    @_handle
    async def file_upload(request: Request) -> Any:
        form = await _form(request)
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise HTTPError(400, "multipart field 'file' is missing")
        name = safe_name(upload.filename)
        data = await upload.read()
        store.store_upload(name, data)
        uploads.inc()
        return JSONResponse(_download_path(name))

    @app.get("/knowledgebase/file/download", response_class=Response, **_OPENAPI["download"])
    @_handle
    async def file_download(request: Request) -> Any:
        files = request.query_params.get("files")
        path = store.readable(files or "")
        name = safe_name(request.query_params.get("name") or files)
        return _file_reply(path, name, request)  # one open file, sent whole: a re-upload never cuts it

    @app.post("/knowledgebase/update", **_OPENAPI["update"])
    @_handle
    async def update(request: Request) -> Any:
        form = await _form(request)
        upload = form.get("task")
        if upload is None or not hasattr(upload, "read"):
            raise HTTPError(400, "multipart field 'task' (the JSON index) is missing")
        store.update_index(await upload.read())
        return JSONResponse(_download_path(INDEX_NAME))

    @app.post("/knowledgebase/update/status", **_OPENAPI["status"])
    @_handle
    async def update_status(request: Request) -> Any:
        body = await _body(request)
        try:
            doc = json_loads(body)
            if not isinstance(doc, dict):
                raise ValueError("the body must be a JSON object")
            raw = doc.get("status", 1)
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            if not isinstance(raw, int) or isinstance(raw, bool) or raw not in (0, 1):
                raise ValueError(f"status must be 1 (deploys) or 0 (drops), got {raw!r}")
            status = raw
            tasks = doc.get("tasks")
            if tasks is not None and not isinstance(tasks, (str, list)):
                raise ValueError("tasks must be a comma-separated string, a list or null")
            if isinstance(tasks, list) and not all(isinstance(t, str) for t in tasks):
                raise ValueError("tasks must list task-group names (strings)")
        except (ValueError, AttributeError, TypeError, RecursionError, OverflowError) as exc:
            raise HTTPError(400,
                            f'body must be JSON {{"status": int, "tasks": "a,b" | null}}: {exc}') from None
        store.set_status(tasks, status)
        return JSONResponse(_download_path(INDEX_NAME))

    @app.post("/knowledgebase/query", **_OPENAPI["query"])
    @_handle
    async def query(request: Request) -> Any:
        return JSONResponse({"task_groups": store.query()})

    @app.get("/knowledgebase/health", **_OPENAPI["health"])
    async def health() -> Any:
        return JSONResponse({"status": "ok", **stats.as_dict()})

    mount_status(app, site)
    return app


# paths answered without the token: health probes, Prometheus and the status page
_OPEN_PATHS = frozenset({"/knowledgebase/health", *STATUS_PATHS})


def parse_bind(value: str) -> tuple[str, int]:
    """Parse ``KnowledgeBaseServer``: ``host:port`` or ``http(s)://host:port`` (IPv4, [IPv6], names).

    Parameters
    ----------
    value : str
        The setting.

    Returns
    -------
    tuple of (str, int)
        Host and port.

    Raises
    ------
    ConfigError
        If no port can be read.
    """
    text = value if "://" in value else f"http://{value}"
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:  # a port past 65535 or not a number, a broken [IPv6
        raise ConfigError(f"KnowledgeBaseServer must be host:port (a port in 0-65535), got {value!r}",
                          variable="KnowledgeBaseServer") from None
    return parts.hostname or "0.0.0.0", 9020 if port is None else port  # 0: a free port, as for any bind


class _StoreServer(ThreadedServer):
    """A :class:`ThreadedServer` that closes the knowledge base's database when it stops."""

    def __init__(self, app: Any, store: KnowledgeBaseStore, **options: Any) -> None:
        super().__init__(app, **options)
        self.store = store

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop serving, then close the database (a later start opens it again).

        A server that did not stop within ``timeout`` keeps its database open for the requests
        it still serves; a later ``stop()`` closes it. Returns as :meth:`ThreadedServer.stop`.
        """
        try:
            return super().stop(timeout)
        finally:
            if not self.is_running:
                self.store.close()


class KBServer:
    """The knowledge-base server (Sedna's ``KBServer``).

    ``start()`` serves until the process is stopped, as Sedna's does; ``start(block=False)`` or a
    ``with`` block serves in the background, and :meth:`stop` (or :meth:`close`, or the end of the
    block) stops serving and closes the SQLite database.

    Parameters
    ----------
    host : str, default='127.0.0.1'
        Address to bind (the deployed default, through :func:`main`, is ``0.0.0.0``).
    http_port : int, default=9020
        Port; 0 picks a free one.
    workers : int, default=1
        Kept for Sedna's signature (one process serves).
    save_dir : str, default=''
        Folder of files and the index (the working directory when empty, as Sedna's).
    db_url : str, default='sqlite:///lifelong_kb.sqlite3'
        SQLite URL (``KB_URL``); a relative path is taken inside ``save_dir``.
    token : str, default=None
        Shared bearer token (``SEDNA_AUTH_TOKEN``).
    max_bytes : int, default=64 MiB
        Request size limit (``SEDNA_MAX_REQUEST_BYTES``).
    ssl_certfile, ssl_keyfile : str, default=None
        Serve HTTPS.
    legacy_pickle : bool, default=False
        Accept original Sedna trainers' pickled indexes and publish theirs pickled
        (``SEDNA_LEGACY_PICKLE``; see :class:`KnowledgeBaseStore`).
    limits : ServerLimits, default=None
        Request-head and body deadlines, keep-alive, connection cap and large-request cap
        (``SEDNA_HTTP_*``; the defaults of ``ServerLimits`` when None); ``max_bytes`` wins over
        its ``max_request_bytes``.
    """

    def __init__(self, host: str = "127.0.0.1", http_port: int = 9020, workers: int = 1, save_dir: str = "",
                 *,
                 db_url: str = "sqlite:///lifelong_kb.sqlite3", token: str | None = None,
                 max_bytes: int = 64 * 1024 * 1024, ssl_certfile: str | None = None,
                 ssl_keyfile: str | None = None, legacy_pickle: bool = False,
                 limits: ServerLimits | None = None) -> None:
        self.legacy_pickle = legacy_pickle
        self.limits = limits
        self.host = host
        self.http_port = http_port
        self.workers = workers
        self.save_dir = save_dir
        self.db_url = db_url
        self.token = token
        self.max_bytes = max_bytes
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self._server: ThreadedServer | None = None
        self._started = 0.0
        # one start or stop at a time: one server at most, and the "stopped" line said once
        self._lifecycle_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, *, host: str | None = None, port: int | None = None,
                    save_dir: str | None = None) -> KBServer:
        """Build the server a deployment describes: address, folder, database, token, TLS and limits.

        ``KnowledgeBaseServer`` gives the bind address (default ``0.0.0.0:9020``),
        ``KnowledgeBasePath`` the folder, ``KB_URL`` the SQLite database, ``SEDNA_AUTH_TOKEN`` an
        optional token and ``SEDNA_TLS_CERT``/``SEDNA_TLS_KEY`` HTTPS.

        Parameters
        ----------
        config : Config
            The configuration to serve with.
        host, port, save_dir : optional
            Override the configuration.

        Returns
        -------
        KBServer
            The server, not started.
        """
        cfg_host, cfg_port = parse_bind(config.knowledge_base_server)
        return cls(host or cfg_host, cfg_port if port is None else port,
                   save_dir=save_dir or config.knowledge_base_path,
                   db_url=config.kb_url, token=config.auth_token, max_bytes=config.max_request_bytes,
                   ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key,
                   legacy_pickle=config.legacy_pickle, limits=ServerLimits.from_config(config))

    def create_app(self) -> Any:
        """Build the application.

        Returns
        -------
        fastapi.FastAPI
            The application (its ``state.store`` is the :class:`KnowledgeBaseStore`).
        """
        save_dir = self.save_dir or "."
        db_path = self._db_path()
        if db_path != ":memory:" and not os.path.isabs(sqlite_path(self.db_url)):
            os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
        store = KnowledgeBaseStore(save_dir, db_path, legacy_pickle=self.legacy_pickle)
        return create_app(store, token=self.token, max_bytes=self.max_bytes, limits=self.limits)

    def _db_path(self) -> str:
        """Return the SQLite file ``KB_URL`` names; a relative one lives with the files it describes."""
        db_path = sqlite_path(self.db_url)
        if db_path != ":memory:" and not os.path.isabs(db_path):
            db_path = os.path.join(self.save_dir or ".", db_path)
        return db_path

    def _open_app(self) -> Any:
        """Build the application and open (create) its database, so a bad ``KB_URL`` fails at start.

        Raises
        ------
        ConfigError
            If the database (or its folder) cannot be created or opened.
        """
        db_path = self._db_path()
        app = None
        try:
            app = self.create_app()
            app.state.store.db  # noqa: B018 - opens the database and creates its tables
        except (OSError, sqlite3.Error) as exc:
            if app is not None:
                app.state.store.close()
            raise ConfigError(f"KB_URL {self.db_url!r} names the database {os.path.abspath(db_path)!r}, "
                              f"which cannot be created or opened ({exc}); point KB_URL at a writable "
                              f"location, such as sqlite:///kb.sqlite3 inside KnowledgeBasePath",
                              variable="KB_URL") from exc
        return app

    def run_in_thread(self) -> ThreadedServer:
        """Start serving in a background thread.

        Returns
        -------
        ThreadedServer
            Started; ``.url`` and ``.port`` tell where, ``.stop()`` ends it and closes the database.

        Raises
        ------
        ConfigError
            If the database ``KB_URL`` names cannot be created or opened.
        TransportError
            If the port cannot be bound (the database is closed again).
        """
        app = self._open_app()
        server = _StoreServer(app, app.state.store, host=self.host, port=self.http_port,
                              ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile,
                              limits=ServerLimits.resolve(self.limits, self.max_bytes))
        try:
            server.start()
        except BaseException:
            server.store.close()
            raise
        log_started(logger, "knowledge base", server.url, auth=bool(self.token), tls=bool(self.ssl_certfile),
                    bound=server.bound,
                    limits={"max request bytes": self.max_bytes, "files in": self.save_dir or ".",
                            "database": _shown_db(app.state.store.db_path)})
        return server

    @property
    def url(self) -> str:
        """Base URL of the running server.

        Raises
        ------
        TransportError
            If it is not started.
        """
        if self._server is None:
            raise TransportError("the knowledge base is not started; call start(block=False) first")
        return self._server.url

    @property
    def is_running(self) -> bool:
        """Whether it serves."""
        return self._server is not None and self._server.is_running

    def start(self, *, block: bool = True) -> KBServer:
        """Serve; until the process is stopped (Sedna's behaviour), or in the background with ``block=False``.

        Parameters
        ----------
        block : bool, default=True
            Serve until stopped (then close the database) instead of returning at once; SIGTERM
            (in the main thread) stops it through :meth:`stop`, and ``start`` returns.

        Returns
        -------
        KBServer
            ``self`` (once stopped, when blocking).

        Raises
        ------
        TransportError
            If the port cannot be bound.
        """
        with self._lifecycle_lock:  # the check and the start at once: a second start changes nothing
            if not self.is_running:
                self._started = time.monotonic()
                self._server = self.run_in_thread()
            server = self._server
        if block:  # until stopped: by stop(), SIGTERM or Ctrl-C, each through stop()
            serve_in_foreground(server.wait if server is not None else lambda: None, self.stop)
        return self

    def wait(self) -> None:
        """Block until the server stops serving (at once when it does not serve)."""
        server = self._server
        if server is not None:
            server.wait()

    def stop(self) -> None:
        """Stop serving and close the database; a no-op when it does not serve. Idempotent.

        The "stopped" line is logged once the server has stopped (its port is free); a server
        still held by a request after the stop's timeout stays running, and ``stop()`` may be
        called again.
        """
        with self._lifecycle_lock:  # a start under way in another thread finishes first
            server = self._server
            if server is None:
                return
            if not server.stop():
                if server.is_running:
                    return  # the server said why; this object still holds it, so stop() can try again
            self._server = None
        log_stopped(logger, "knowledge base", server.url, seconds=time.monotonic() - self._started)

    close = stop

    def __enter__(self) -> KBServer:
        """Serve in the background, and return the server, for a ``with`` block."""
        return self.start(block=False)

    def __exit__(self, *exc_info: Any) -> None:
        """Stop serving and close the database at the end of the ``with`` block."""
        self.stop()


def main(host: str | None = None, port: int | None = None, save_dir: str | None = None, *,
         config: Config | None = None) -> int:
    """Run the knowledge-base server the configuration describes (Sedna's ``run_kb.main``).

    See :meth:`KBServer.from_config` for the variables it reads. It logs as the ``sedna-lib kb``
    command does (INFO, or ``SEDNA_LOG_LEVEL``/``SEDNA_LOG_FORMAT``), and stops cleanly on SIGTERM or
    Ctrl-C (see :func:`sedna_lib.cli.serve_until_stopped`).

    Parameters
    ----------
    host, port, save_dir : optional
        Override the configuration.
    config : Config, default=None
        The configuration; read from the environment when omitted.

    Returns
    -------
    int
        The exit status: 0 when the server stops (SIGTERM included), 130 after Ctrl-C.
    """
    from ..cli import serve_until_stopped
    from ..observability.logs import configure_from_config
    # this module under its own name, also when run as ``python -m``: its lines go to the library's logger
    from . import knowledge_base

    config = resolve_config(config)
    configure_from_config(config, default=True)
    kb = knowledge_base.KBServer.from_config(config, host=host, port=port, save_dir=save_dir)
    return serve_until_stopped(kb, configure_logs=False)


if __name__ == "__main__":  # pragma: no cover - the KB image runs this module
    raise SystemExit(main())
