"""One entry point over every storage: dispatches each call on the URI's scheme."""

from __future__ import annotations

import os
import posixpath
import tempfile
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..exceptions import StorageError
from ._uri import redact_uri
from .base import Storage, is_plain_name, split_scheme
from .http import HTTPStorage
from .local import LocalStorage, _check_bytes, strip_file_scheme
from .s3 import S3Storage

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

__all__ = ["StorageRouter"]

_TEMP_PREFIX = "sedna_lib-"


class StorageRouter:
    """Send each storage call to the backend serving the URI's scheme.

    ============================  ===========================================
    URI                           storage
    ============================  ===========================================
    ``/path``, ``rel/path``       :class:`~sedna_lib.storage.LocalStorage`
    ``file:///path``              :class:`~sedna_lib.storage.LocalStorage`
    ``s3://bucket/key``           :class:`~sedna_lib.storage.S3Storage`
    ``http://``, ``https://``     :class:`~sedna_lib.storage.HTTPStorage` (read-only)
    ============================  ===========================================

    Parameters
    ----------
    local : LocalStorage, default=None
        Storage for paths; a new :class:`LocalStorage` if omitted.
    s3 : S3Storage, default=None
        Storage for ``s3://``; one with no endpoint (which raises ``ConfigError`` on use) if omitted.
    http : HTTPStorage, default=None
        Storage for ``http(s)://``; one with default timeouts if omitted.

    Examples
    --------
    >>> router = StorageRouter()
    >>> router.is_remote("s3://bkt/model.pb"), router.is_remote("file:///data/model.pb")
    (True, False)
    """

    def __init__(self, *, local: LocalStorage | None = None, s3: S3Storage | None = None,
                 http: HTTPStorage | None = None) -> None:
        self.local = local if local is not None else LocalStorage()
        self.s3 = s3 if s3 is not None else S3Storage()
        self.http = http if http is not None else HTTPStorage()

    def __repr__(self) -> str:  # noqa: D105
        return f"StorageRouter(local={self.local!r}, s3={self.s3!r}, http={self.http!r})"

    @classmethod
    def from_config(cls, config: Config) -> StorageRouter:
        """Build every storage from the configuration (S3 variables, timeouts, retries, CA bundle).

        Parameters
        ----------
        config : Config
            Parsed settings.

        Returns
        -------
        StorageRouter
            The router; nothing connects until a remote URI is used.
        """
        return cls(local=LocalStorage(), s3=S3Storage.from_config(config),
                   http=HTTPStorage.from_config(config))

    # -- dispatch ------------------------------------------------------------------------------

    def storage_for(self, uri: str) -> Storage:
        """Return the storage serving ``uri``'s scheme.

        Parameters
        ----------
        uri : str
            A path or URL.

        Returns
        -------
        Storage
            The backend.

        Raises
        ------
        StorageError
            If the scheme is not supported (``gs://`` included).
        """
        scheme, _ = split_scheme(uri)
        for store in (self.local, self.s3, self.http):
            if scheme in store.schemes:
                return store
        shown = redact_uri(uri)
        if scheme == "gs":
            raise StorageError(f"{shown}: gs:// (Google Cloud Storage) is not supported; use an s3:// URL "
                               f"(any S3-compatible store), http(s):// or a local path", uri=shown)
        raise StorageError(f"{shown}: unsupported URL scheme {scheme}://; use a local path, file://, s3://, "
                           f"http:// or https://", uri=shown)

    @staticmethod
    def is_remote(uri: str) -> bool:
        """Return whether ``uri`` is a URL other than ``file://`` (``s3://``, ``http(s)://``, ...).

        Parameters
        ----------
        uri : str
            A path or URL.

        Returns
        -------
        bool
            ``True`` for remote URLs.
        """
        return split_scheme(uri)[0] not in LocalStorage.schemes

    # -- moving data ---------------------------------------------------------------------------

    def download(self, src: str, dst: str | None = None) -> str:
        """Fetch the file or folder ``src`` (any supported URI) to a local path.

        Parameters
        ----------
        src : str
            Path or URL of a file or folder.
        dst : str, default=None
            Local destination. When omitted, a new temporary file (whose name ends with the
            source's name, so extensions survive) or folder is created; the caller owns it and
            deletes it when done.

        Returns
        -------
        str
            The local path written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StoragePermissionError
            If access is refused.
        StorageError
            If ``dst`` is remote, or the copy fails.
        """
        store = self.storage_for(src)
        if dst is not None:
            if self.is_remote(dst):
                shown = redact_uri(dst)
                raise StorageError(f"download {redact_uri(src)} to {shown}: the destination must be a local "
                                   f"path; use upload() to copy to remote storage", uri=shown)
            return store.download(src, dst)
        if store.is_dir(src):
            target = tempfile.mkdtemp(prefix=_TEMP_PREFIX)
        else:
            fd, target = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix="-" + _name_of(src))
            os.close(fd)
        try:
            return store.download(src, target)
        except BaseException:
            self.local.delete(target)
            raise

    def upload(self, src: str, dst: str) -> str:
        """Copy the file or folder ``src`` to ``dst`` (a path, ``file://`` or ``s3://`` URL).

        A remote ``src`` is downloaded to a temporary place first, which is removed afterwards.

        Parameters
        ----------
        src : str
            Local (or remote) file or folder.
        dst : str
            Destination; a folder's files keep their relative paths under it.

        Returns
        -------
        str
            Where the data was written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` does not exist.
        StoragePermissionError
            If access is refused.
        StorageError
            If ``dst`` is read-only (HTTP) or the copy fails.
        """
        store = self.storage_for(dst)
        if self.is_remote(src):
            staged = self.download(src)
            try:
                return store.upload(staged, dst)
            finally:
                self.local.delete(staged)
        return store.upload(src, dst)

    # -- other operations ----------------------------------------------------------------------

    def exists(self, uri: str) -> bool:
        """Return whether the file or folder ``uri`` exists (see :meth:`Storage.exists`).

        Parameters
        ----------
        uri : str
            Path or URL.

        Returns
        -------
        bool
            ``True`` if it exists.
        """
        return self.storage_for(uri).exists(uri)

    def is_dir(self, uri: str) -> bool:
        """Return whether ``uri`` is an existing folder (see :meth:`Storage.is_dir`).

        Parameters
        ----------
        uri : str
            Path or URL.

        Returns
        -------
        bool
            ``True`` for a folder.
        """
        return self.storage_for(uri).is_dir(uri)

    def delete(self, uri: str) -> None:
        """Delete a file or folder; a missing one is not an error (see :meth:`Storage.delete`).

        Parameters
        ----------
        uri : str
            Path or URL.
        """
        self.storage_for(uri).delete(uri)

    def listdir(self, uri: str) -> list[str]:
        """List a folder's entry names, sorted (see :meth:`Storage.listdir`).

        Parameters
        ----------
        uri : str
            Path or URL of a folder.

        Returns
        -------
        list of str
            Entry names.
        """
        return self.storage_for(uri).listdir(uri)

    def read_bytes(self, uri: str) -> bytes:
        """Return a file's content (see :meth:`Storage.read_bytes`).

        Parameters
        ----------
        uri : str
            Path or URL.

        Returns
        -------
        bytes
            The content.
        """
        return self.storage_for(uri).read_bytes(uri)

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a file (see :meth:`Storage.write_bytes`).

        Parameters
        ----------
        uri : str
            Path or URL.
        data : bytes
            The content (bytes-like).

        Raises
        ------
        DataError
            If ``data`` is not bytes-like (a str must be encoded first).
        """
        _check_bytes(data, uri)
        self.storage_for(uri).write_bytes(uri, data)

    def check(self, uri: str) -> None:
        """Raise if ``uri`` cannot be served as configured (no network access).

        Parameters
        ----------
        uri : str
            Path or URL.

        Raises
        ------
        ConfigError
            If a setting the URI's storage needs is missing (``S3_ENDPOINT_URL`` for ``s3://``).
        StorageError
            If the scheme is not supported.
        """
        self.storage_for(uri).check(uri)

    def join(self, base: str, *parts: str) -> str:
        """Join parts onto a path or URL, in the style of its storage.

        Parameters
        ----------
        base : str
            Path or URL.
        *parts : str
            Parts to append.

        Returns
        -------
        str
            The joined path or URL.
        """
        return self.storage_for(base).join(base, *parts)

    def close(self) -> None:
        """Release pooled HTTP connections."""
        self.http.close()


def _name_of(uri: str) -> str:
    scheme, _ = split_scheme(uri)
    if scheme in LocalStorage.schemes:
        name = os.path.basename(os.path.normpath(strip_file_scheme(uri)))
    elif scheme == "s3":
        name = posixpath.basename(uri.rstrip("/"))
    else:
        name = unquote(posixpath.basename(urlsplit(uri).path))
    # a suffix of a temporary file's name: one short plain name (a decoded %2F, or a name near the
    # file system's 255-byte limit, would make the temporary file impossible to create)
    if not name or not is_plain_name(name) or len(name.encode("utf-8", "surrogateescape")) > 100:
        return "download"
    return name
