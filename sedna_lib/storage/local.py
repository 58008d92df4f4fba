"""Local files and folders, addressed by plain paths or ``file://`` URLs."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from typing import Any, Iterator

from ..exceptions import DataError, StorageError, StorageNotFoundError, StoragePermissionError
from .base import Storage, local_target, split_scheme

__all__ = ["LocalStorage", "atomic_path", "strip_file_scheme"]


def strip_file_scheme(uri: str) -> str:
    """Turn a ``file://`` URL into a plain path; return other strings unchanged.

    Parameters
    ----------
    uri : str
        ``file:///abs/path``, ``file://localhost/abs/path``, ``file://relative/path`` or a path.

    Returns
    -------
    str
        The path.

    Examples
    --------
    >>> strip_file_scheme("file:///data/m.pb"), strip_file_scheme("/data/m.pb")
    ('/data/m.pb', '/data/m.pb')
    """
    scheme, rest = split_scheme(uri)
    if scheme != "file":
        return str(uri)
    if rest.startswith("localhost/"):
        return rest[len("localhost"):]
    return rest


@contextlib.contextmanager
def _translate(action: str, uri: str) -> Iterator[None]:
    """Re-raise ``OSError`` as the matching storage error naming ``uri``."""
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise StorageNotFoundError(f"{action} {uri} failed: {exc.strerror or exc}", uri=uri) from exc
    except PermissionError as exc:
        raise StoragePermissionError(f"{action} {uri} failed: permission denied ({exc})", uri=uri) from exc
    except (OSError, shutil.Error) as exc:
        raise StorageError(f"{action} {uri} failed: {exc}", uri=uri) from exc


def _check_bytes(data: Any, uri: str) -> None:
    """Refuse content for ``write_bytes`` that is not bytes-like, before anything is written.

    Raises
    ------
    DataError
        If ``data`` is a str or another object without the buffer protocol.
    """
    try:
        memoryview(data)
    except TypeError:
        hint = "; encode text first (text.encode())" if isinstance(data, str) else ""
        raise DataError(f"write_bytes needs bytes (bytes, bytearray, memoryview) for {uri}, got "
                        f"{type(data).__name__}{hint}") from None


def _partial_name(path: str) -> str:
    """Return a unique hidden name beside ``path`` to write to before renaming onto it.

    The name keeps at most 200 bytes of ``path``'s own, so that it fits the 255-byte limit of a file
    name wherever ``path`` itself does.
    """
    folder, name = os.path.split(os.path.abspath(path))
    short = os.fsdecode(os.fsencode(name)[:200])  # bytes as the file system takes them
    return os.path.join(folder, f".{short}.{uuid.uuid4().hex[:12]}.part")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Give a temporary name to write ``path`` through, so a reader never sees half a file.

    The folder of ``path`` is created. On a clean exit the temporary file is renamed onto
    ``path``; on an error it is removed and the error propagates.

    Parameters
    ----------
    path : str
        The file to write.

    Yields
    ------
    str
        A unique hidden name beside ``path`` (it ends with ``.part``).

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "sub", "a.txt")
    >>> with atomic_path(target) as tmp, open(tmp, "wb") as fh:
    ...     _ = fh.write(b"hi")
    >>> open(target, "rb").read()
    b'hi'
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = _partial_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _same(src: str, dst: str) -> bool:
    try:
        return os.path.exists(dst) and os.path.samefile(src, dst)
    except OSError:
        return False


class LocalStorage(Storage):
    """Files and folders on the local disk (plain paths and ``file://`` URLs).

    Notes
    -----
    ``download`` and ``upload`` are both copies here. Files are written atomically (to a
    temporary name in the same folder, then renamed), so a reader never sees half a file.

    Examples
    --------
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> store = LocalStorage()
    >>> store.write_bytes(os.path.join(root, "a.txt"), b"hi")
    >>> store.read_bytes("file://" + os.path.join(root, "a.txt"))
    b'hi'
    """

    schemes = ("", "file")

    def _path(self, uri: str) -> str:
        path = strip_file_scheme(uri)
        if "\0" in path:  # open() and os.* raise a bare ValueError for it
            raise StorageError(f"{uri!r} is not a usable path: it holds a NUL character", uri=uri)
        return path

    def download(self, src: str, dst: str) -> str:
        """Copy the local file or folder ``src`` to ``dst`` (see :meth:`Storage.download`).

        Parameters
        ----------
        src : str
            File or folder (path or ``file://`` URL).
        dst : str
            Destination path.

        Returns
        -------
        str
            The path written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If the copy fails.
        """
        return self._copy(self._path(src), self._path(dst), uri=src)

    def upload(self, src: str, dst: str) -> str:
        """Copy the local file or folder ``src`` to ``dst`` (see :meth:`Storage.upload`).

        Parameters
        ----------
        src : str
            File or folder.
        dst : str
            Destination path or ``file://`` URL.

        Returns
        -------
        str
            The path written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If the copy fails.
        """
        return self._copy(self._path(src), self._path(dst), uri=src)

    def _copy(self, src: str, dst: str, *, uri: str) -> str:
        if not os.path.exists(src):
            raise StorageNotFoundError(f"cannot copy {uri}: it does not exist", uri=uri)
        if os.path.isdir(src):
            if _same(src, dst):
                return dst
            inside = os.path.realpath(dst)
            if os.path.commonpath([os.path.realpath(src), inside]) == os.path.realpath(src):
                raise StorageError(f"cannot copy the folder {uri} into {dst}, which lies inside it (the "
                                   f"copy would copy itself for ever); choose a destination outside {src}",
                                   uri=uri)
            with _translate("copy", uri):
                shutil.copytree(src, dst, dirs_exist_ok=True)
            return dst
        target = local_target(dst, os.path.basename(src), uri=src)
        if _same(src, target):
            return target
        with _translate("copy", uri), atomic_path(target) as tmp:
            shutil.copyfile(src, tmp)
            shutil.copymode(src, tmp)
        return target

    def exists(self, uri: str) -> bool:
        """Return whether the path exists (file or folder).

        Parameters
        ----------
        uri : str
            Path or ``file://`` URL.

        Returns
        -------
        bool
            ``True`` if it exists.
        """
        return os.path.exists(strip_file_scheme(uri))  # a path with a NUL does not exist

    def is_dir(self, uri: str) -> bool:
        """Return whether the path is an existing folder.

        Parameters
        ----------
        uri : str
            Path or ``file://`` URL.

        Returns
        -------
        bool
            ``True`` for a folder.
        """
        return os.path.isdir(strip_file_scheme(uri))

    def delete(self, uri: str) -> None:
        """Delete a file, link or folder tree; a missing path is not an error.

        Parameters
        ----------
        uri : str
            Path or ``file://`` URL.

        Raises
        ------
        StoragePermissionError
            If the path may not be removed.
        StorageError
            For any other failure.
        """
        path = self._path(uri)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return
            with _translate("delete", uri):
                raise

    def listdir(self, uri: str) -> list[str]:
        """List a folder's entries, sorted.

        Parameters
        ----------
        uri : str
            Folder path or ``file://`` URL.

        Returns
        -------
        list of str
            Entry names.

        Raises
        ------
        StorageNotFoundError
            If the folder does not exist.
        StorageError
            If ``uri`` is not a folder.
        """
        with _translate("list", uri):
            return sorted(os.listdir(self._path(uri)))

    def read_bytes(self, uri: str) -> bytes:
        """Read a whole file.

        Parameters
        ----------
        uri : str
            Path or ``file://`` URL.

        Returns
        -------
        bytes
            The content.

        Raises
        ------
        StorageNotFoundError
            If the file does not exist.
        StorageError
            If it is a folder or cannot be read.
        """
        with _translate("read", uri), open(self._path(uri), "rb") as fh:
            return fh.read()

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a file atomically, creating its folder.

        Parameters
        ----------
        uri : str
            Path or ``file://`` URL.
        data : bytes
            The content.

        Raises
        ------
        DataError
            If ``data`` is not bytes-like (text must be encoded first).
        StorageError
            If the file cannot be written.
        """
        _check_bytes(data, uri)
        with _translate("write", uri), atomic_path(self._path(uri)) as tmp, open(tmp, "xb") as fh:
            fh.write(data)

    def join(self, base: str, *parts: str) -> str:
        """Join path parts (leading separators of later parts are ignored, as Sedna does).

        Parameters
        ----------
        base : str
            A path.
        *parts : str
            Parts to append.

        Returns
        -------
        str
            The joined path.
        """
        return os.path.join(str(base), *(str(p).lstrip("/" + os.sep) for p in parts))
