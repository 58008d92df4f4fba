"""Read-only HTTP(S) storage: files downloaded with requests, finite timeouts and bounded retries."""

from __future__ import annotations

import contextlib
import posixpath
import threading
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import unquote, urlsplit

from ..base import check_count, check_number
from ..exceptions import StorageError, StorageNotFoundError, StoragePermissionError
from ._uri import redact_text, redact_uri
from .base import Storage, local_target
from .local import atomic_path, strip_file_scheme

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

__all__ = ["HTTPStorage"]

_CHUNK = 1024 * 1024


class HTTPStorage(Storage):
    """Download files from ``http://`` and ``https://`` URLs (read-only).

    Parameters
    ----------
    connect_timeout : float, default=3.0
        Seconds to open a connection.
    read_timeout : float, default=60.0
        Seconds to wait for each read from the server.
    max_retries : int, default=2
        Retries of failed connections and of 502/503/504 answers, with exponential backoff.
    verify : bool or str, default=True
        Verify TLS certificates (``True``), with this CA bundle (a path), or not (``False``).

    Notes
    -----
    HTTP has no listing, so only single files can be downloaded; ``upload``, ``write_bytes``,
    ``delete`` and ``listdir`` raise :class:`~sedna_lib.exceptions.StorageError`.

    A URL's userinfo and query are sent as given, but error messages and the errors' ``uri``
    show the password (or a user alone, which may be a token) and every query value as ``***``
    (``http://u:***@host/m.bin?X-Amz-Signature=***``), so presigned URLs and credentials stay
    out of logs; the HTTP library's own error is told in the message, redacted the same way, and
    not chained.

    Examples
    --------
    >>> HTTPStorage(read_timeout=5.0).read_timeout
    5.0
    """

    schemes = ("http", "https")

    def __init__(self, *, connect_timeout: float = 3.0, read_timeout: float = 60.0, max_retries: int = 2,
                 verify: bool | str = True) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.verify = verify
        self._session_lock = threading.Lock()
        self._session_obj: Any = None

    def __repr__(self) -> str:  # noqa: D105
        return f"HTTPStorage(read_timeout={self.read_timeout!r}, max_retries={self.max_retries!r})"

    @classmethod
    def from_config(cls, config: Config) -> HTTPStorage:
        """Build from the timeout, retry and CA settings (``SEDNA_CONNECT_TIMEOUT``, ...).

        Parameters
        ----------
        config : Config
            Parsed settings.

        Returns
        -------
        HTTPStorage
            The storage.
        """
        return cls(connect_timeout=config.connect_timeout_s, read_timeout=max(config.request_timeout, 60.0),
                   max_retries=config.max_retries, verify=config.tls_ca or True)

    def _session(self) -> Any:
        with self._session_lock:
            if self._session_obj is None:
                import requests
                from requests.adapters import HTTPAdapter
                from urllib3.util import Retry

                retries = check_count("max_retries", self.max_retries, 0)
                retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                              backoff_factor=0.2,
                              status_forcelist=(502, 503, 504), allowed_methods=("GET", "HEAD"),
                              raise_on_status=False)
                session = requests.Session()
                adapter = HTTPAdapter(max_retries=retry)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session_obj = session
            return self._session_obj

    def close(self) -> None:
        """Close the pooled connections (a new session is made on next use)."""
        with self._session_lock:
            if self._session_obj is not None:
                self._session_obj.close()
                self._session_obj = None

    @contextlib.contextmanager
    def _get(self, uri: str, action: str) -> Iterator[Any]:
        """GET ``uri`` (streamed), raising a storage error for failures and error statuses.

        The errors show ``uri`` redacted; the HTTP library's exception, whose text may repeat the
        URL's query, is told redacted and not chained (``from None``).
        """
        import requests

        shown = redact_uri(uri)
        try:
            timeout = (check_number("connect_timeout", self.connect_timeout, 0, low_open=True),
                       check_number("read_timeout", self.read_timeout, 0, low_open=True))
            response = self._session().get(uri, stream=True, verify=self.verify, timeout=timeout)
        except requests.Timeout:
            raise StorageError(f"{action} {shown} failed: timed out after {self.read_timeout} s",
                               uri=shown) from None
        except requests.RequestException as exc:
            raise StorageError(f"{action} {shown} failed: {redact_text(str(exc), uri)}", uri=shown) from None
        try:
            self._check(response, shown, action)
            yield response
        except requests.RequestException as exc:
            raise StorageError(f"{action} {shown} failed while reading: {redact_text(str(exc), uri)}",
                               uri=shown) from None
        finally:
            response.close()

    @staticmethod
    def _check(response: Any, shown: str, action: str) -> None:
        """Raise the storage error of an error status; ``shown`` is the URL as messages show it."""
        status = response.status_code
        if status < 400:
            return
        detail = f"{action} {shown} failed: HTTP {status} {response.reason or ''}".rstrip()
        if status in (404, 410):
            raise StorageNotFoundError(detail, uri=shown)
        if status in (401, 403):
            raise StoragePermissionError(detail, uri=shown)
        raise StorageError(detail, uri=shown)

    def download(self, src: str, dst: str) -> str:
        """Download the file at ``src`` to ``dst`` (``dst/<name>`` when ``dst`` is a folder).

        Parameters
        ----------
        src : str
            An ``http(s)://`` URL.
        dst : str
            Local file or existing folder.

        Returns
        -------
        str
            The local path written (only complete downloads appear there).

        Raises
        ------
        StorageNotFoundError
            On HTTP 404 or 410.
        StoragePermissionError
            On HTTP 401 or 403.
        StorageError
            On timeouts, connection failures and other error statuses.
        """
        import requests

        name = unquote(posixpath.basename(urlsplit(src).path))
        target = local_target(strip_file_scheme(dst), name, uri=redact_uri(src))
        with self._get(src, "download") as response:
            try:
                with atomic_path(target) as tmp, open(tmp, "wb") as fh:
                    for chunk in response.iter_content(_CHUNK):
                        fh.write(chunk)
            except requests.RequestException:
                raise  # translated by _get
            except OSError as exc:
                shown = redact_uri(src)
                raise StorageError(f"download {shown} failed: cannot write {target}: {exc}",
                                   uri=shown) from exc
        return target

    def upload(self, src: str, dst: str) -> str:
        """Refuse: HTTP storage is read-only.

        Parameters
        ----------
        src : str
            Ignored.
        dst : str
            The URL that was asked for.

        Returns
        -------
        str
            Never returns.

        Raises
        ------
        StorageError
            Always.
        """
        raise self._read_only("upload to", dst)

    @staticmethod
    def _read_only(action: str, uri: str) -> StorageError:
        shown = redact_uri(uri)
        return StorageError(f"cannot {action} {shown}: HTTP storage is read-only; write to a local path or "
                            f"an s3:// URL instead", uri=shown)

    def exists(self, uri: str) -> bool:
        """Return whether a GET of ``uri`` succeeds (404 and 410 mean missing).

        Parameters
        ----------
        uri : str
            An ``http(s)://`` URL.

        Returns
        -------
        bool
            ``True`` if the server serves it.

        Raises
        ------
        StoragePermissionError
            On HTTP 401 or 403.
        StorageError
            On connection failures and other error statuses.
        """
        try:
            with self._get(uri, "check"):
                return True
        except StorageNotFoundError:
            return False

    def is_dir(self, uri: str) -> bool:
        """Return ``False``: HTTP URLs are files.

        Parameters
        ----------
        uri : str
            An ``http(s)://`` URL.

        Returns
        -------
        bool
            Always ``False``.
        """
        return False

    def delete(self, uri: str) -> None:
        """Refuse: HTTP storage is read-only.

        Parameters
        ----------
        uri : str
            The URL that was asked for.

        Raises
        ------
        StorageError
            Always.
        """
        raise self._read_only("delete", uri)

    def listdir(self, uri: str) -> list[str]:
        """Refuse: HTTP has no folder listing.

        Parameters
        ----------
        uri : str
            The URL that was asked for.

        Returns
        -------
        list of str
            Never returns.

        Raises
        ------
        StorageError
            Always.
        """
        shown = redact_uri(uri)
        raise StorageError(f"cannot list {shown}: HTTP has no folder listing", uri=shown)

    def read_bytes(self, uri: str) -> bytes:
        """Download ``uri`` into memory.

        Parameters
        ----------
        uri : str
            An ``http(s)://`` URL.

        Returns
        -------
        bytes
            The body.

        Raises
        ------
        StorageNotFoundError
            On HTTP 404 or 410.
        StoragePermissionError
            On HTTP 401 or 403.
        StorageError
            On other failures.
        """
        with self._get(uri, "read") as response:
            return response.content

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Refuse: HTTP storage is read-only.

        Parameters
        ----------
        uri : str
            The URL that was asked for.
        data : bytes
            Ignored.

        Raises
        ------
        StorageError
            Always.
        """
        raise self._read_only("write", uri)
