"""The storage interface every backend (local paths, S3, HTTP) implements."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod

from ..exceptions import StorageError

__all__ = ["Storage", "split_scheme"]

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def split_scheme(uri: str) -> tuple[str, str]:
    r"""Split ``uri`` into its lower-case scheme and the rest.

    Parameters
    ----------
    uri : str
        A local path or a URL such as ``s3://bucket/key``.

    Returns
    -------
    scheme : str
        ``''`` for a plain path (``C:\\x`` included), else the scheme before ``://``.
    rest : str
        What follows ``://`` (the whole string for a plain path).

    Examples
    --------
    >>> split_scheme("s3://bkt/a/b")
    ('s3', 'bkt/a/b')
    >>> split_scheme("/data/model.pb")
    ('', '/data/model.pb')
    """
    match = _SCHEME_RE.match(str(uri))
    if match is None:
        return "", str(uri)
    return match.group(1).lower(), str(uri)[match.end():]


class Storage(ABC):
    """Read and write files and folders somewhere (a disk, a bucket, a web server).

    ``download`` and ``upload`` move data between this storage and the local disk; both
    handle single files and whole folders. Paths inside the storage are URIs of its own
    scheme (plain paths or ``file://`` for :class:`~sedna_lib.storage.LocalStorage`).

    Notes
    -----
    Every method raises :class:`~sedna_lib.exceptions.StorageNotFoundError` when the source
    does not exist, :class:`~sedna_lib.exceptions.StoragePermissionError` when access is
    refused and :class:`~sedna_lib.exceptions.StorageError` for any other failure; each error
    names the URI at fault (``.uri``).
    """

    #: URL schemes served by this storage (``''`` means plain paths).
    schemes: tuple[str, ...] = ()

    @abstractmethod
    def download(self, src: str, dst: str) -> str:
        """Copy the file or folder ``src`` of this storage to the local path ``dst``.

        Parameters
        ----------
        src : str
            A file or folder URI of this storage.
        dst : str
            Local destination. A file lands at ``dst`` (or ``dst/<name>`` when ``dst`` is an
            existing folder); a folder's contents land under ``dst``.

        Returns
        -------
        str
            The local path written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If the copy fails.
        """

    @abstractmethod
    def upload(self, src: str, dst: str) -> str:
        """Copy the local file or folder ``src`` to ``dst`` in this storage.

        Parameters
        ----------
        src : str
            Local file or folder.
        dst : str
            Destination URI; a folder's files keep their paths relative to ``src`` under it.

        Returns
        -------
        str
            The URI written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StorageError
            If the copy fails or the storage is read-only.
        """

    @abstractmethod
    def exists(self, uri: str) -> bool:
        """Return whether ``uri`` names an existing file or folder.

        Parameters
        ----------
        uri : str
            The URI to check.

        Returns
        -------
        bool
            ``True`` if it exists.
        """

    @abstractmethod
    def is_dir(self, uri: str) -> bool:
        """Return whether ``uri`` names an existing folder (an S3 prefix with objects under it).

        Parameters
        ----------
        uri : str
            The URI to check.

        Returns
        -------
        bool
            ``True`` for an existing folder.
        """

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Delete a file or a whole folder; a missing ``uri`` is not an error.

        Parameters
        ----------
        uri : str
            What to delete.

        Raises
        ------
        StorageError
            If something exists but cannot be deleted.
        """

    @abstractmethod
    def listdir(self, uri: str) -> list[str]:
        """List the names directly inside the folder ``uri``, sorted.

        Parameters
        ----------
        uri : str
            The folder.

        Returns
        -------
        list of str
            Entry names (no path, no trailing ``/``).

        Raises
        ------
        StorageNotFoundError
            If the folder does not exist.
        """

    @abstractmethod
    def read_bytes(self, uri: str) -> bytes:
        """Return the whole content of the file ``uri``.

        Parameters
        ----------
        uri : str
            The file.

        Returns
        -------
        bytes
            Its content.

        Raises
        ------
        StorageNotFoundError
            If the file does not exist.
        """

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write ``data`` as the file ``uri``, replacing it if it exists.

        Parameters
        ----------
        uri : str
            The file.
        data : bytes
            The content.

        Raises
        ------
        StorageError
            If the write fails or the storage is read-only.
        """

    def check(self, uri: str) -> None:
        """Raise if this storage is not configured to serve ``uri`` (no network access).

        Writers that keep data for later (a spool, a queue) call it first, so a missing setting
        fails at start instead of in a background thread. The default accepts everything.

        Parameters
        ----------
        uri : str
            A path or URL this storage serves.

        Raises
        ------
        ConfigError
            If a setting the storage needs is missing or malformed; the error names it.
        """

    def join(self, base: str, *parts: str) -> str:
        """Join path parts onto ``base`` with ``/`` (leading ``/`` of later parts ignored).

        Parameters
        ----------
        base : str
            A URI or path.
        *parts : str
            Parts to append.

        Returns
        -------
        str
            The joined URI.
        """
        out = str(base)
        for part in parts:
            part = str(part).strip("/")
            if not part:
                continue
            out = f"{out}/{part}" if out and not out.endswith("/") else f"{out}{part}"
        return out


def local_target(dst: str, name: str, *, uri: str | None = None) -> str:
    """Return where a file called ``name`` lands when copied to ``dst`` (``cp`` semantics).

    ``name`` comes from the source (an URL's last segment, decoded, or a key's): into a folder it must
    be one plain file name, or the copy could land outside the folder (``..%2Fx``, ``%2Ftmp%2Fx``).

    Raises
    ------
    StorageError
        If ``dst`` is a folder and ``name`` is not a plain file name.
    """
    if os.path.isdir(dst):
        if not name:
            return os.path.join(dst, "download")
        if not is_plain_name(name):
            raise StorageError(f"cannot copy {uri or name!r} into the folder {dst!r}: its name {name!r} is "
                               f"not a plain file name; give the destination as a file path", uri=uri)
        return os.path.join(dst, name)
    return dst


def is_plain_name(name: str) -> bool:
    """Tell whether ``name`` is one file name: no separator, not ``.`` or ``..``, no NUL."""
    return (name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name
            and os.sep not in name and (os.altsep is None or os.altsep not in name))
