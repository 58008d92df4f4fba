"""Sedna's ``sedna.common.file_ops``: the ``FileOps`` class methods over sedna_lib's storage.

Each call that touches storage builds its :class:`~sedna_lib.storage.StorageRouter` from
``Context.from_env()`` at call time, so ``S3_ENDPOINT_URL``, ``ACCESS_KEY_ID`` and
``SECRET_ACCESS_KEY`` are read when used, never at import.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pickle
import re
import shutil
import tempfile
from typing import Any, Iterator

from ..context import Context
from ..exceptions import StorageError, StorageNotFoundError, StoragePermissionError
from ..storage import LocalStorage, StorageRouter, is_archive, make_tar, safe_extract, strip_file_scheme

__all__ = ["FileOps"]

_TEMP_PREFIX = "sedna_lib-"


@contextlib.contextmanager
def _local_errors(action: str, path: str) -> Iterator[None]:
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise StorageNotFoundError(f"{action} {path} failed: {exc}", uri=path) from exc
    except PermissionError as exc:
        raise StoragePermissionError(f"{action} {path} failed: {exc}", uri=path) from exc
    except (OSError, shutil.Error) as exc:
        raise StorageError(f"{action} {path} failed: {exc}", uri=path) from exc


_remove = LocalStorage().delete  # a missing path is not an error


def _load_fetched(path: str, uri: str) -> Any:
    """Read a file that came over the network without running anything it names."""
    from ..backends.sklearn import load_skops
    from ..exceptions import BackendError, DataError
    from ..transport.kb_legacy import is_pickle, loads_legacy_index, loads_plain_pickle

    with _local_errors("load", uri), open(path, "rb") as fh:
        data = fh.read()
    if data[:4] == b"PK\x03\x04":  # a zip: skops (scikit-learn models), read through its type allow-list
        try:
            return load_skops(path)
        except BackendError as exc:
            raise StorageError(f"FileOps.load: {uri}: {exc}", uri=uri) from None
    if not is_pickle(data):
        raise StorageError(f"FileOps.load: {uri} is neither a joblib/pickle file nor a skops file "
                           f"(starts with {data[:8]!r})", uri=uri)
    try:
        return loads_plain_pickle(data)
    except DataError as plain_refused:
        try:  # Sedna's task index: its samples' pandas frames become placeholders
            return loads_legacy_index(data)
        except DataError:
            pass
        raise StorageError(
            f"FileOps.load: {uri} was fetched over the network and is not unpickled ({plain_refused}). "
            "Save models with skops (SklearnBackend.save) and data as plain containers and numpy arrays, "
            "or, if only you can write there, pass FileOps.load(..., trust_pickle=True)", uri=uri) from None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


class FileOps:
    """Sedna's file helpers (all class methods) for local paths, ``file://``, ``s3://`` and ``http(s)://``.

    The observable behaviour scripts rely on is kept (``join_path``, ``remove_path_prefix``,
    ``clean_folder``'s return value, ``download``/``upload`` returning ``dst``, ...). Where Sedna
    failed silently, this version raises a typed error instead:

    * ``file://`` URLs are understood everywhere (Sedna ignored them);
    * a missing source raises :class:`~sedna_lib.exceptions.StorageNotFoundError` instead of
      returning a path to nothing; an unsupported scheme (``gs://`` included) raises
      :class:`~sedna_lib.exceptions.StorageError`;
    * ``delete`` raises on real errors (a missing path is still fine);
    * ``clean_folder``/``make_dir`` never create local folders named after URLs (``s3:``);
    * uploading a folder to S3 keeps the destination prefix;
    * temporary files are removed;
    * ``upload`` keeps the local source unless ``clean=True`` is passed explicitly (see
      :meth:`upload`).

    Notes
    -----
    ``dump_pickle``/``load_pickle``, ``dump``/``load`` and ``pickle_string_to_obj`` use pickle:
    loading executes code chosen by whoever wrote the data. Use them only on data you wrote
    yourself. ``load_pickle`` reads local files only, and ``load`` never unpickles a file fetched
    over the network (``s3://``, ``http(s)://``) beyond an allow-list of plain data, unless told to
    (``trust_pickle=True``).

    Examples
    --------
    >>> FileOps.join_path("/a", "/b", "c"), FileOps.join_path("s3://bkt/x", "y")
    ('/a/b/c', 's3://bkt/x/y')
    >>> FileOps.remove_path_prefix("/home/data/out/m.pb", "/home/data")
    '/out/m.pb'
    """

    _GCS_PREFIX = "gs://"
    _S3_PREFIX = "s3://"
    _LOCAL_PREFIX = "file://"
    _URI_RE = "https?://(.+)/(.+)"
    _HTTP_PREFIX = "http(s)://"
    _HEADERS_SUFFIX = "-headers"

    @classmethod
    def _router(cls) -> StorageRouter:
        """Return the storage router of the current environment (built at call time)."""
        return Context.from_env().storage

    @staticmethod
    def _is_url(path: Any) -> bool:
        return StorageRouter.is_remote(str(path))

    # -- paths and folders ---------------------------------------------------------------------

    @classmethod
    def make_dir(cls, *args: str) -> None:
        """Create the local folder ``join_path(*args)`` (and its parents) if missing.

        Parameters
        ----------
        *args : str
            Path parts. A URL (``s3://...``) is left alone: object stores have no folders.

        Raises
        ------
        StorageError
            If the folder cannot be created.
        """
        path = cls.join_path(*args)
        if cls._is_url(path):
            return
        path = strip_file_scheme(path)
        with _local_errors("make folder", path):
            os.makedirs(path, exist_ok=True)

    @classmethod
    def get_file_hash(cls, filepath: str) -> str:
        """Return the md5 hex digest of a local file, or ``''`` if there is no such file.

        Parameters
        ----------
        filepath : str
            Path or ``file://`` URL.

        Returns
        -------
        str
            The digest, or ``''``.
        """
        if not filepath:
            return ""
        path = strip_file_scheme(filepath)
        if not os.path.isfile(path):
            return ""
        digest = hashlib.md5(usedforsecurity=False)
        with _local_errors("hash", path), open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(chunk)
        return digest.hexdigest()

    @classmethod
    def clean_folder(cls, target: str | list[str], clean: bool = True) -> list[str]:
        """Make sure each local folder exists, emptied first when ``clean``.

        For a path that is a file, the file is removed when ``clean`` and its folder is made.
        As in Sedna, a path without any separator (``"out"``) is left alone. URLs are skipped
        (Sedna created local folders named ``s3:``).

        Parameters
        ----------
        target : str or list of str
            Folder paths.
        clean : bool, default=True
            Remove what is there first.

        Returns
        -------
        list of str
            ``target`` as a list.

        Raises
        ------
        StorageError
            If a folder cannot be removed or created.
        """
        if isinstance(target, str):
            target = [target]
        for entry in set(target):
            if cls._is_url(entry):
                continue
            path = strip_file_scheme(str(entry))
            if len(path.split(os.sep)) < 2:
                continue
            with _local_errors("clean", path):
                if clean and os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                if os.path.isfile(path):
                    if clean:
                        os.remove(path)
                    path = os.path.dirname(path)
                if path:
                    os.makedirs(path, exist_ok=True)
        return target

    @classmethod
    def delete(cls, path: str) -> None:
        """Delete a file or folder (local, ``file://`` or ``s3://``); a missing one is not an error.

        Parameters
        ----------
        path : str
            What to delete; ``''`` or ``None`` does nothing.

        Raises
        ------
        StorageError
            If it exists but cannot be deleted (Sedna swallowed every error).
        """
        if not path:
            return
        cls._router().delete(str(path))

    @classmethod
    def make_base_dir(cls, *args: str) -> None:
        """Create the parent folder of the local file ``join_path(*args)``.

        Parameters
        ----------
        *args : str
            Path parts; URLs are left alone.

        Raises
        ------
        StorageError
            If the folder cannot be created.
        """
        path = cls.join_path(*args)
        if cls._is_url(path):
            return
        path = strip_file_scheme(path)
        if os.path.isfile(path):
            return
        parent = os.path.dirname(path)
        if parent:
            with _local_errors("make folder", parent):
                os.makedirs(parent, exist_ok=True)

    @classmethod
    def join_path(cls, *args: str) -> str:
        """Join path parts as Sedna does: later parts lose their leading ``/``; URLs join with ``/``.

        Parameters
        ----------
        *args : str
            At least one part.

        Returns
        -------
        str
            The joined path (a single part is returned unchanged).

        Raises
        ------
        TypeError
            If no part is given.

        Examples
        --------
        >>> FileOps.join_path("/a", "/b", "c")
        '/a/b/c'
        >>> FileOps.join_path("s3://bkt/x", "y")
        's3://bkt/x/y'
        """
        if not args:
            raise TypeError("join_path() needs at least one path part")
        if len(args) == 1:
            return args[0]
        first = str(args[0])
        root = os.sep if first.startswith(os.sep) else ""
        parts = [root + first.lstrip(os.sep)] + [str(p).lstrip(os.sep) for p in args[1:]]
        if ":" not in parts[0]:
            return os.path.join(*parts)
        return os.path.join(parts[0], os.path.join(*parts[1:]))

    @classmethod
    def remove_path_prefix(cls, org_str: str, prefix: str) -> str:
        """Strip ``prefix`` (a trailing ``/`` ignored) from the start of ``org_str``, once.

        Used to turn a container path into the host path in reports. Unlike Sedna, the prefix
        must end at a path boundary: ``/home/database/x`` keeps its ``/home/data``.

        Parameters
        ----------
        org_str : str
            The path.
        prefix : str
            The prefix; empty means no change.

        Returns
        -------
        str
            The path without the prefix, or unchanged.

        Examples
        --------
        >>> FileOps.remove_path_prefix("/home/data/out/m.pb", "/home/data/")
        '/out/m.pb'
        """
        if not prefix:
            return org_str
        p = prefix[:-1] if prefix.endswith(os.sep) else prefix
        if org_str.startswith(p):
            rest = org_str[len(p):]
            if not rest or rest.startswith(os.sep) or not p:
                return rest
        return org_str

    # -- pickles -------------------------------------------------------------------------------

    @classmethod
    def dump_pickle(cls, obj: Any, filename: str) -> None:
        """Pickle ``obj`` into the local file ``filename`` (its folder is created).

        Parameters
        ----------
        obj : object
            What to save.
        filename : str
            Local path or ``file://`` URL.

        Raises
        ------
        StorageError
            If ``filename`` is a remote URL (write locally, then :meth:`upload`) or cannot be written.
        """
        if cls._is_url(filename):
            raise StorageError(f"dump_pickle writes local files only, got {filename}; dump locally and "
                               f"FileOps.upload() the file", uri=filename)
        from ..storage.local import atomic_path

        path = strip_file_scheme(filename)
        cls.make_base_dir(path)
        # written beside the file and swapped in: a failed write leaves the previous file whole
        with _local_errors("write", path), atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(obj, fh)

    @classmethod
    def load_pickle(cls, filename: str) -> Any:
        """Unpickle the local file ``filename``; ``None`` when it does not exist (as in Sedna).

        Unpickling runs code chosen by whoever wrote the file: load only your own files.

        Parameters
        ----------
        filename : str
            Local path or ``file://`` URL.

        Returns
        -------
        object or None
            The object, or ``None`` for a missing file.

        Raises
        ------
        StorageError
            If ``filename`` is a remote URL (nothing from the network is unpickled) or unreadable.
        """
        if cls._is_url(filename):
            raise StorageError(f"load_pickle reads local files only, got {filename}: remote data is never "
                               f"unpickled; download it explicitly if you trust its source", uri=filename)
        path = strip_file_scheme(filename)
        if not os.path.isfile(path):
            return None
        with _local_errors("read", path), open(path, "rb") as fh:
            return pickle.load(fh)

    @classmethod
    def obj_to_pickle_string(cls, x: Any) -> str:
        """Return ``x`` pickled and base64-encoded (with line breaks, as Sedna wrote it).

        Parameters
        ----------
        x : object
            What to encode.

        Returns
        -------
        str
            The text.
        """
        return base64.encodebytes(pickle.dumps(x)).decode()

    @classmethod
    def pickle_string_to_obj(cls, s: str) -> Any:
        """Decode :meth:`obj_to_pickle_string`'s text. Unsafe on untrusted input (it is pickle).

        Parameters
        ----------
        s : str
            The text; never pass text that came from the network or another party.

        Returns
        -------
        object
            The object.
        """
        return pickle.loads(base64.decodebytes(s.encode()))

    # -- copies --------------------------------------------------------------------------------

    @classmethod
    def copy_folder(cls, src: str, dst: str) -> None:
        """Copy the local folder ``src`` into ``dst``, merging with what is there.

        Parameters
        ----------
        src : str
            Existing folder.
        dst : str
            Destination folder; ``''`` or ``None`` does nothing (as in Sedna).

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If ``src`` is not a folder or the copy fails.
        """
        if not dst:
            return
        src_path, dst_path = strip_file_scheme(src), strip_file_scheme(dst)
        if not os.path.exists(src_path):
            raise StorageNotFoundError(f"copy_folder: {src} does not exist", uri=src)
        if not os.path.isdir(src_path):
            raise StorageError(f"copy_folder: {src} is not a folder; use copy_file", uri=src)
        if _same_file(src_path, dst_path):
            return
        with _local_errors("copy", src):
            shutil.copytree(src_path, dst_path, dirs_exist_ok=True)

    @classmethod
    def copy_file(cls, src: str, dst: str) -> None:
        """Copy a file (or folder) to ``dst``; into ``dst/<name>`` when ``dst`` is a folder.

        Remote ends are handled by the storage layer (an ``s3://`` destination is an upload).

        Parameters
        ----------
        src : str
            File or folder.
        dst : str
            Destination; ``''`` or ``None`` does nothing (as in Sedna).

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist (Sedna did nothing).
        StorageError
            If the copy fails.
        """
        if not dst:
            return
        if cls._is_url(src) or cls._is_url(dst):
            router = cls._router()
            if cls._is_url(dst):
                router.upload(src, dst)
            else:
                router.download(src, strip_file_scheme(dst))
            return
        src_path, dst_path = strip_file_scheme(src), strip_file_scheme(dst)
        if os.path.isdir(src_path):
            cls.copy_folder(src_path, dst_path)
            return
        if not os.path.isfile(src_path):
            raise StorageNotFoundError(f"copy_file: {src} does not exist", uri=src)
        if os.path.isdir(dst_path):
            dst_path = os.path.join(dst_path, os.path.basename(src_path))
        if _same_file(src_path, dst_path):
            return
        with _local_errors("copy", src):
            parent = os.path.dirname(dst_path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            shutil.copy(src_path, dst_path)

    # -- joblib dumps --------------------------------------------------------------------------

    @classmethod
    def dump(cls, obj: Any, dst: str | None = None) -> str:
        """Save ``obj`` with joblib to ``dst`` (a path or ``s3://`` URL).

        Parameters
        ----------
        obj : object
            What to save.
        dst : str, default=None
            Destination; when omitted the object stays in a new temporary file, which the
            caller owns.

        Returns
        -------
        str
            ``dst``, or the temporary file's path.

        Raises
        ------
        StorageError
            If writing or uploading fails.
        """
        import joblib

        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".pkl")
        os.close(fd)
        try:
            with _local_errors("write", tmp):
                joblib.dump(obj, tmp)
            if dst is None:
                return tmp
            cls._router().upload(tmp, dst)
            return dst
        finally:
            if dst is not None:
                _remove(tmp)

    @classmethod
    def load(cls, src: str, *, trust_pickle: bool = False) -> Any:
        """Load an object saved by :meth:`dump` (or Sedna's ``FileOps.dump``).

        A local file (a path or ``file://``) is the caller's own: it is read with joblib. A file
        fetched over the network (``s3://``, ``http(s)://``) is never unpickled: a skops file
        gives its scikit-learn model (only scikit-learn, numpy and scipy types), a pickle gives its
        data only if it holds nothing but plain data (builtin containers, numpy arrays) or Sedna's
        task index (``Task``, ``TaskGroup``, ``Model``; samples' frames become placeholders), and
        anything else is refused. ``trust_pickle=True`` unpickles it fully, running whatever code
        it names: only for a bucket nobody else can write.

        Parameters
        ----------
        src : str
            Local path, ``file://``, ``s3://`` or ``http(s)://`` URL.
        trust_pickle : bool, default=False
            Unpickle a network file without the allow-list (it can run code).

        Returns
        -------
        object
            The object.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If a network file is a pickle naming anything outside the allow-list, a skops file
            naming other types, or reading fails.
        """
        import joblib

        text = str(src)
        if not cls._is_url(text):
            path = strip_file_scheme(text)
            if not os.path.isfile(path):
                raise StorageNotFoundError(f"FileOps.load: {src} does not exist", uri=text)
            with _local_errors("load", path):
                return joblib.load(path)
        staged = cls._router().download(text)
        try:
            if trust_pickle:
                with _local_errors("load", text):
                    return joblib.load(staged)
            return _load_fetched(staged, text)
        finally:
            _remove(staged)

    # -- transfers -----------------------------------------------------------------------------

    @classmethod
    def is_remote(cls, src: str) -> bool:
        """Return whether ``src`` is ``gs://``, ``s3://`` or contains ``http(s)://host/path`` (Sedna's test).

        Parameters
        ----------
        src : str
            A path or URL.

        Returns
        -------
        bool
            ``True`` for remote URLs; ``http://host`` alone is not (as in Sedna).
        """
        text = str(src)
        return (text.startswith(cls._GCS_PREFIX) or text.startswith(cls._S3_PREFIX)
                or re.search(cls._URI_RE, text) is not None)

    @classmethod
    def is_local(cls, src: str) -> bool:
        """Return whether ``src`` is a ``file://`` URL or an existing local path.

        Parameters
        ----------
        src : str
            A path or URL.

        Returns
        -------
        bool
            ``True`` for local data.
        """
        return str(src).startswith(cls._LOCAL_PREFIX) or cls.exists(src)

    @classmethod
    def exists(cls, folder: str) -> bool:
        """Return whether the local path (or ``file://`` URL) is an existing file or folder.

        Remote URLs give ``False``, as in Sedna; use ``Context.from_env().storage.exists(url)``
        to check remote objects.

        Parameters
        ----------
        folder : str
            A path.

        Returns
        -------
        bool
            ``True`` if it exists locally.
        """
        if not folder:
            return False
        path = strip_file_scheme(str(folder))
        return os.path.isdir(path) or os.path.isfile(path)

    @classmethod
    def download(cls, src: str, dst: str | None = None, unzip: bool = False) -> str:
        """Fetch a file or folder (path, ``file://``, ``s3://`` or ``http(s)://``) to a local path.

        Parameters
        ----------
        src : str
            What to fetch.
        dst : str, default=None
            Local destination (a file lands in ``dst/<name>`` when ``dst`` is a folder). When
            omitted, a new temporary file or folder is made; the caller owns it (with
            ``unzip=True``, a temporary folder holding the archive and what it extracts to).
        unzip : bool, default=False
            Extract a downloaded tar archive (``.tar.gz``, ``.tgz``, ``.tar``, ...) into the folder
            that holds it; members that would escape that folder are refused.

        Returns
        -------
        str
            ``dst`` as given, or the temporary path.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist (Sedna returned a path to nothing).
        StorageError
            If the scheme is unsupported, an archive member is unsafe, or the copy fails.
        """
        router = cls._router()
        if dst is not None:
            written = router.download(src, strip_file_scheme(dst))
            result = dst
        elif unzip:
            folder = tempfile.mkdtemp(prefix=_TEMP_PREFIX)
            name = os.path.basename(str(src).rstrip("/")) or "download"
            try:
                written = result = router.download(src, os.path.join(folder, name))
            except BaseException:
                _remove(folder)
                raise
        else:
            written = result = router.download(src)
        if unzip and os.path.isfile(written) and is_archive(written):
            safe_extract(written, os.path.dirname(os.path.abspath(written)))
        return result

    @classmethod
    def upload(cls, src: str, dst: str, tar: bool = False, clean: bool | None = None) -> str:
        """Copy a file or folder to ``dst`` (a path, ``file://`` or ``s3://`` URL).

        Parameters
        ----------
        src : str
            Local file or folder (a remote one is downloaded to a temporary place first).
        dst : str
            Destination. Files of a folder keep their relative paths under it.
        tar : bool, default=False
            Upload ``<name>.tar.gz`` (built in a temporary folder) instead of ``src``.
        clean : bool, default=None
            Whether to delete the local ``src`` after a successful upload. Sedna deleted it by
            default (``clean=True``), which loses data when the caller still needs the file;
            here the source is kept unless ``clean=True`` is passed explicitly. It is never
            deleted when the upload fails, when ``src`` and ``dst`` are the same file, or with
            ``tar=True`` (Sedna then deleted only the archive). Temporary files are always removed.

        Returns
        -------
        str
            ``dst``.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If the upload fails or ``dst`` is read-only (``http(s)://``).
        """
        router = cls._router()
        temps: list[str] = []
        try:
            if cls._is_url(src):
                staged = router.download(src)
                temps.append(staged)
                local_src = None
            else:
                staged = local_src = strip_file_scheme(str(src))
                if not os.path.exists(staged):
                    raise StorageNotFoundError(f"upload: {src} does not exist", uri=str(src))
            if tar:
                folder = tempfile.mkdtemp(prefix=_TEMP_PREFIX)
                temps.append(folder)
                name = os.path.basename(os.path.normpath(local_src or str(src).rstrip("/"))) or "upload"
                staged = make_tar(staged, os.path.join(folder, f"{name}.tar.gz"), arcname=name)
            written = router.upload(staged, dst)
            if clean is True and local_src is not None and not tar:
                if cls._is_url(dst) or not _same_file(local_src, written):
                    cls.delete(local_src)
            return dst
        finally:
            for path in temps:
                _remove(path)
