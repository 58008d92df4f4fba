"""S3-compatible object storage (``s3://bucket/key``) through the minio client."""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import threading
from typing import TYPE_CHECKING, Any, Iterator

from .._version import install_hint
from ..base import check_count, check_number
from ..config import parse_s3_endpoint, redact_uri
from ..exceptions import (
    ConfigError,
    ParameterError,
    StorageError,
    StorageNotFoundError,
    StoragePermissionError,
)
from .base import Storage, local_target, split_scheme
from .local import atomic_path, strip_file_scheme

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

__all__ = ["S3Storage", "parse_endpoint"]

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "ResourceNotFound", "NoSuchObject", "NoSuchVersion"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
           "ExpiredToken", "InvalidToken", "AccountProblem", "InvalidSecurity"}


parse_endpoint = parse_s3_endpoint  # the storage layer's name for it


class S3Storage(Storage):
    """Files and folders in S3-compatible object storage, addressed as ``s3://bucket/key``.

    A folder is a key prefix: ``s3://bkt/models`` holds every object under ``models/``.
    Uploading a folder keeps the destination prefix (``upload("out", "s3://bkt/run1")`` writes
    ``run1/<path relative to out>``). Files larger than ``part_size`` go up as multipart uploads.
    The minio client is built on first use.

    Parameters
    ----------
    endpoint_url : str, default=''
        ``http(s)://host[:port]`` (``S3_ENDPOINT_URL``); a bare host means https. Required on
        first use: there is no default endpoint.
    access_key : str, default=''
        ``ACCESS_KEY_ID``.
    secret_key : str, default=''
        ``SECRET_ACCESS_KEY``.
    region : str, default=None
        Bucket region; looked up from the server when omitted.
    part_size : int, default=16 MiB
        Multipart part size in bytes, between 5 MiB and 5 GiB.
    connect_timeout : float, default=3.0
        Seconds to open a connection.
    read_timeout : float, default=60.0
        Seconds to wait for each read from the server.
    max_retries : int, default=2
        Retries (with exponential backoff) of requests whose connection could not be opened;
        other failures are not retried, a refusal of the credentials (``AccessDenied``,
        ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``, ...) included.
    ca_certs : str, default=None
        CA bundle to verify an https endpoint; certifi's bundle when omitted.

    Raises
    ------
    ConfigError
        From the first request: only one of ``access_key`` and ``secret_key`` is set.
    ParameterError
        From the first request: ``part_size`` is not a whole number of bytes from 5 MiB to 5 GiB, a
        timeout is not a finite number > 0, or ``max_retries`` is not a whole number >= 0.

    Examples
    --------
    >>> S3Storage(endpoint_url="http://127.0.0.1:9000").split("s3://bkt/models/m.pb")
    ('bkt', 'models/m.pb')
    """

    schemes = ("s3",)

    def __init__(self, *, endpoint_url: str = "", access_key: str = "", secret_key: str = "",
                 region: str | None = None, part_size: int = 16 * 1024 * 1024,
                 connect_timeout: float = 3.0, read_timeout: float = 60.0, max_retries: int = 2,
                 ca_certs: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.part_size = part_size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.ca_certs = ca_certs
        self._client_lock = threading.Lock()
        self._client_obj: Any = None

    def __repr__(self) -> str:  # noqa: D105
        return f"S3Storage(endpoint_url={redact_uri(self.endpoint_url)!r})"

    @classmethod
    def from_config(cls, config: Config) -> S3Storage:
        """Build from ``S3_ENDPOINT_URL``, ``ACCESS_KEY_ID``, ``SECRET_ACCESS_KEY`` and the timeouts.

        Parameters
        ----------
        config : Config
            Parsed settings.

        Returns
        -------
        S3Storage
            The storage (no connection is made yet).
        """
        return cls(endpoint_url=config.s3_endpoint_url, access_key=config.access_key_id,
                   secret_key=config.secret_access_key, connect_timeout=config.connect_timeout_s,
                   read_timeout=max(config.request_timeout, 60.0), max_retries=config.max_retries,
                   ca_certs=config.tls_ca)

    # -- client and errors ---------------------------------------------------------------------

    def _client(self) -> Any:
        with self._client_lock:
            if self._client_obj is None:
                self._client_obj = self._build_client()
            return self._client_obj

    def _build_client(self) -> Any:
        netloc, secure = parse_endpoint(self.endpoint_url)
        self._part_bytes()
        # a NaN timeout failed in the socket layer on every request, 2.5 retries made 3
        connect_timeout = check_number("connect_timeout", self.connect_timeout, 0, low_open=True)
        read_timeout = check_number("read_timeout", self.read_timeout, 0, low_open=True)
        max_retries = check_count("max_retries", self.max_retries, 0)
        for name, value, other, other_value in (("ACCESS_KEY_ID", self.access_key, "SECRET_ACCESS_KEY",
                                                 self.secret_key),
                                                ("SECRET_ACCESS_KEY", self.secret_key, "ACCESS_KEY_ID",
                                                 self.access_key)):
            if not value and other_value:  # minio raised a bare ValueError for half a key pair
                raise ConfigError(f"{other} is set but {name} is unset; S3 requests need both (or neither, "
                                  f"for anonymous access)", variable=name)
        try:
            import urllib3
            from minio import Minio
        except ImportError as exc:  # pragma: no cover - minio is a core dependency
            raise StorageError(f"s3:// needs the minio package ({exc}); {install_hint('minio')}") from exc
        retries = urllib3.util.Retry(total=max_retries, connect=max_retries, read=0, redirect=0,
                                     status=0, other=0, backoff_factor=0.2, raise_on_status=False)
        pool_args: dict[str, Any] = {}
        if secure:
            import certifi

            pool_args = {"cert_reqs": "CERT_REQUIRED", "ca_certs": self.ca_certs or certifi.where()}
        http = urllib3.PoolManager(
            timeout=urllib3.util.Timeout(connect=connect_timeout, read=read_timeout),
            retries=retries, maxsize=10, **pool_args)
        return Minio(netloc, access_key=self.access_key or None, secret_key=self.secret_key or None,
                     secure=secure, region=self.region, http_client=http)

    def _part_bytes(self) -> int:
        """Return ``part_size`` checked: a whole number of bytes from 5 MiB to 5 GiB.

        ``int()`` let a fractional size through (minio then failed on it) and read ``"8388608"`` as a
        size minio did not take.
        """
        size = check_count("part_size", self.part_size)
        if not MIN_PART_SIZE <= size <= MAX_PART_SIZE:
            raise ParameterError(f"part_size must be between 5 MiB and 5 GiB, got {self.part_size}")
        return size

    def _denied_advice(self) -> str:
        """Say, for a refused request, whether the credentials are unset or the server refused them."""
        if not self.access_key and not self.secret_key:
            return ("ACCESS_KEY_ID and SECRET_ACCESS_KEY are unset, so the request was sent without "
                    "credentials; set both, or allow anonymous access in the bucket policy")
        return ("the server refused ACCESS_KEY_ID and SECRET_ACCESS_KEY (both are set); check that they "
                "are the S3 account's keys and that the bucket policy allows this request")

    @contextlib.contextmanager
    def _errors(self, action: str, uri: str) -> Iterator[None]:
        """Translate minio, urllib3 and local I/O errors into storage errors naming ``uri``."""
        import urllib3
        from minio.error import InvalidResponseError, S3Error, ServerError

        try:
            yield
        except (StorageError, ConfigError, ParameterError):
            raise
        except S3Error as exc:
            detail = f"{action} {uri} failed: {exc.code}: {exc.message}"
            if exc.code in _NOT_FOUND:
                raise StorageNotFoundError(detail, uri=uri) from exc
            if exc.code in _DENIED:  # retrying cannot heal a refusal: it is raised at once
                raise StoragePermissionError(f"{detail}; {self._denied_advice()}", uri=uri) from exc
            raise StorageError(detail, uri=uri) from exc
        except ServerError as exc:
            raise StorageError(f"{action} {uri} failed: the S3 server answered HTTP {exc.status_code}",
                               uri=uri) from exc
        except InvalidResponseError as exc:
            raise StorageError(f"{action} {uri} failed: {exc}", uri=uri) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageError(f"{action} {uri} failed: cannot reach the S3 endpoint {self.endpoint_url} "
                               f"({exc})", uri=uri) from exc
        except PermissionError as exc:
            raise StoragePermissionError(f"{action} {uri} failed: {exc}", uri=uri) from exc
        except (OSError, ValueError) as exc:
            raise StorageError(f"{action} {uri} failed: {exc}", uri=uri) from exc

    # -- paths ---------------------------------------------------------------------------------

    def check(self, uri: str) -> None:
        """Raise unless ``S3_ENDPOINT_URL`` is usable and ``uri`` names a bucket (no network access).

        Parameters
        ----------
        uri : str
            An ``s3://bucket/key`` URL.

        Raises
        ------
        ConfigError
            If ``S3_ENDPOINT_URL`` is empty or malformed; the error names it.
        StorageError
            If ``uri`` has no bucket.
        """
        parse_endpoint(self.endpoint_url)
        self.split(uri)

    def split(self, uri: str) -> tuple[str, str]:
        """Split ``s3://bucket/key`` into ``(bucket, key)``; the key may be empty.

        Parameters
        ----------
        uri : str
            An ``s3://`` URL.

        Returns
        -------
        bucket : str
            The bucket name.
        key : str
            The object key or prefix, without a leading ``/``.

        Raises
        ------
        StorageError
            If ``uri`` is not an ``s3://`` URL or has no bucket.
        """
        scheme, rest = split_scheme(uri)
        if scheme != "s3":
            raise StorageError(f"{uri!r} is not an s3:// URL", uri=uri)
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise StorageError(f"{uri!r} names no bucket; write s3://bucket/key", uri=uri)
        return bucket, key.lstrip("/")

    @staticmethod
    def _prefix(key: str) -> str:
        key = key.strip("/")
        return f"{key}/" if key else ""

    def _has_prefix(self, client: Any, bucket: str, prefix: str) -> bool:
        return next(iter(client.list_objects(bucket, prefix=prefix, recursive=True)), None) is not None

    # -- Storage -------------------------------------------------------------------------------

    def download(self, src: str, dst: str) -> str:
        """Download the object or folder ``src`` to the local path ``dst``.

        Parameters
        ----------
        src : str
            ``s3://bucket/key`` of an object, or of a prefix (folder).
        dst : str
            Local file, or folder (existing folders receive ``<name>`` for an object).

        Returns
        -------
        str
            The local path written.

        Raises
        ------
        StorageNotFoundError
            If neither an object nor a folder is at ``src``.
        StoragePermissionError
            If the server refuses the credentials.
        StorageError
            For any other failure.
        """
        from minio.error import S3Error

        bucket, key = self.split(src)
        dst = strip_file_scheme(dst)
        client = self._client()
        with self._errors("download", src):
            if key and not key.endswith("/"):
                try:
                    response = client.get_object(bucket, key)
                except S3Error as exc:
                    if exc.code not in ("NoSuchKey", "ResourceNotFound"):
                        raise
                else:
                    target = local_target(dst, posixpath.basename(key), uri=src)
                    self._save(response, target)
                    return target
            return self._download_folder(client, bucket, key, src, dst)

    def _save(self, response: Any, target: str) -> None:
        try:
            with atomic_path(target) as tmp, open(tmp, "wb") as fh:
                for chunk in response.stream(1024 * 1024):
                    fh.write(chunk)
        finally:
            response.close()
            response.release_conn()

    def _download_folder(self, client: Any, bucket: str, key: str, src: str, dst: str) -> str:
        prefix = self._prefix(key)
        root = os.path.realpath(dst)
        found = False
        for obj in client.list_objects(bucket, prefix=prefix, recursive=True):
            found = True
            rel = obj.object_name[len(prefix):]
            target = os.path.realpath(os.path.join(root, *filter(None, rel.split("/"))))
            if os.path.commonpath([root, target]) != root:  # a key with '..' (some S3 servers allow them)
                raise StorageError(f"download {src} failed: object key {obj.object_name!r} would land "
                                   f"outside {dst}", uri=src)
            if not rel or rel.endswith("/"):  # folder marker
                os.makedirs(target, exist_ok=True)
                continue
            self._save(client.get_object(bucket, obj.object_name), target)
        if not found:
            raise StorageNotFoundError(f"download {src} failed: no object or folder of that name exists",
                                       uri=src)
        os.makedirs(root, exist_ok=True)
        return dst

    def upload(self, src: str, dst: str) -> str:
        """Upload a local file or folder to ``dst``.

        A file goes to the key ``dst`` (or ``dst/<name>`` when ``dst`` ends with ``/`` or names
        only a bucket); a folder's files go to ``<dst key>/<path relative to src>``.

        Parameters
        ----------
        src : str
            Local file or folder.
        dst : str
            ``s3://bucket/key``.

        Returns
        -------
        str
            The ``s3://`` URL written.

        Raises
        ------
        StorageNotFoundError
            If ``src`` or the bucket does not exist.
        StoragePermissionError
            If the server refuses the credentials.
        StorageError
            For any other failure.
        """
        path = strip_file_scheme(src)
        if not os.path.exists(path):
            raise StorageNotFoundError(f"upload {src} failed: it does not exist", uri=src)
        bucket, key = self.split(dst)
        client = self._client()
        if os.path.isdir(path):
            prefix = key.strip("/")
            with self._errors("upload", dst):
                for folder, dirs, files in os.walk(path):
                    dirs.sort()
                    for name in sorted(files):
                        full = os.path.join(folder, name)
                        rel = os.path.relpath(full, path).replace(os.sep, "/")
                        self._put_file(client, bucket, f"{prefix}/{rel}" if prefix else rel, full, src)
            return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        if not key or key.endswith("/"):
            key = key + os.path.basename(path)
        with self._errors("upload", dst):
            self._put_file(client, bucket, key, path, src)
        return f"s3://{bucket}/{key}"

    def _put_file(self, client: Any, bucket: str, key: str, path: str, src: str) -> None:
        """Upload one file; refuse (and remove) an object of a file that changed while it was read.

        minio reads the size first and then that many bytes: a file still being written would be stored
        cut short, without an error.
        """
        before = os.stat(path)
        client.fput_object(bucket, key, path, part_size=self._part_bytes())
        after = os.stat(path)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            with contextlib.suppress(Exception):  # a cut-short object is wrong either way; the error says why
                client.remove_object(bucket, key)
            raise StorageError(f"upload {src} failed: {path} changed while it was uploaded "
                               f"({before.st_size} -> {after.st_size} bytes); upload it again once it is "
                               f"complete", uri=src)

    def exists(self, uri: str) -> bool:
        """Return whether an object or a non-empty folder (or, for ``s3://bucket``, the bucket) exists.

        Parameters
        ----------
        uri : str
            ``s3://bucket[/key]``.

        Returns
        -------
        bool
            ``True`` if it exists; ``False`` also when the bucket is missing.

        Raises
        ------
        StoragePermissionError
            If the server refuses the credentials.
        """
        from minio.error import S3Error

        bucket, key = self.split(uri)
        client = self._client()
        with self._errors("stat", uri):
            if not key:
                return bool(client.bucket_exists(bucket))
            try:
                if not key.endswith("/"):
                    client.stat_object(bucket, key)
                    return True
                return self._has_prefix(client, bucket, self._prefix(key))
            except S3Error as exc:
                code = exc.code
                if code == "NoSuchBucket":
                    return False
                if code in ("NoSuchKey", "ResourceNotFound"):
                    return self._has_prefix(client, bucket, self._prefix(key))
                raise

    def is_dir(self, uri: str) -> bool:
        """Return whether ``uri`` is a prefix with objects under it (or an existing bucket).

        Parameters
        ----------
        uri : str
            ``s3://bucket[/key]``.

        Returns
        -------
        bool
            ``True`` for a folder.
        """
        from minio.error import S3Error

        bucket, key = self.split(uri)
        client = self._client()
        with self._errors("list", uri):
            try:
                if not key.strip("/"):
                    return bool(client.bucket_exists(bucket))
                return self._has_prefix(client, bucket, self._prefix(key))
            except S3Error as exc:
                if exc.code == "NoSuchBucket":
                    return False
                raise

    def delete(self, uri: str) -> None:
        """Delete an object and everything under the prefix ``key/``; missing is not an error.

        Parameters
        ----------
        uri : str
            ``s3://bucket/key``; a whole bucket is never deleted.

        Raises
        ------
        StoragePermissionError
            If the server refuses the credentials.
        StorageError
            If ``uri`` names only a bucket, or a deletion fails.
        """
        from minio.deleteobjects import DeleteObject
        from minio.error import S3Error

        bucket, key = self.split(uri)
        if not key.strip("/"):
            raise StorageError(f"refusing to delete {uri}: it names a whole bucket; delete a key or prefix",
                               uri=uri)
        client = self._client()
        with self._errors("delete", uri):
            try:
                if not key.endswith("/"):
                    client.remove_object(bucket, key)
                names = [DeleteObject(obj.object_name)
                         for obj in client.list_objects(bucket, prefix=self._prefix(key), recursive=True)]
            except S3Error as exc:
                if exc.code in ("NoSuchBucket", "NoSuchKey"):
                    return
                raise
            for failure in client.remove_objects(bucket, names):
                raise StorageError(f"delete {uri} failed at {failure.name}: {failure.code}: "
                                   f"{failure.message}", uri=uri)

    def listdir(self, uri: str) -> list[str]:
        """List the names directly under a prefix (objects and sub-folders), sorted.

        Parameters
        ----------
        uri : str
            ``s3://bucket[/prefix]``.

        Returns
        -------
        list of str
            Names relative to the prefix, without trailing ``/``.

        Raises
        ------
        StorageNotFoundError
            If the bucket is missing or nothing is under the prefix.
        """
        bucket, key = self.split(uri)
        prefix = self._prefix(key)
        client = self._client()
        with self._errors("list", uri):
            names = {obj.object_name[len(prefix):].rstrip("/")
                     for obj in client.list_objects(bucket, prefix=prefix, recursive=False)}
        names.discard("")
        if not names and prefix:
            raise StorageNotFoundError(f"list {uri} failed: no folder of that name exists", uri=uri)
        return sorted(names)

    def read_bytes(self, uri: str) -> bytes:
        """Return an object's content.

        Parameters
        ----------
        uri : str
            ``s3://bucket/key``.

        Returns
        -------
        bytes
            The content.

        Raises
        ------
        StorageNotFoundError
            If the object or bucket is missing.
        """
        bucket, key = self.split(uri)
        client = self._client()
        with self._errors("read", uri):
            response = client.get_object(bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write ``data`` as the object ``uri``.

        Parameters
        ----------
        uri : str
            ``s3://bucket/key``.
        data : bytes
            The content.

        Raises
        ------
        StorageNotFoundError
            If the bucket is missing.
        StorageError
            If ``uri`` has no key, or the write fails.
        """
        bucket, key = self.split(uri)
        if not key or key.endswith("/"):
            raise StorageError(f"write {uri} failed: it names no object key", uri=uri)
        client = self._client()
        with self._errors("write", uri):
            client.put_object(bucket, key, io.BytesIO(bytes(data)), len(data), part_size=self._part_bytes())
