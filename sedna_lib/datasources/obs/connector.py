"""Sedna 0.6's OBS connector: files in a bucket reached through a CSB file server (``OBSClientWrapper``).

The file server authorises a bucket with an app token (``/rest/boto3/s3/bucket-auth``), lists
the S3 front ends it offers (``.../csb-file-server/all/ip-and-port``) and lists object keys
(``.../list/bucket/objectkeys``); objects are read and written with plain S3 path-style
``GET``/``PUT`` at ``<server>/rest/boto3/s3/<vendor>/<region>/<app token>/<bucket>/<key>``,
where the key is the URL-safe base64 of the object's path, as the file server stores it.

Unlike Sedna's, a failure after the retries raises :class:`~sedna_lib.exceptions.StorageError`
(Sedna logged it and returned None), and nothing needs boto3: requests does the HTTP.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import time
from typing import Any, Callable

from ..._json import loads as json_loads
from ...base import check_count, check_number
from ...exceptions import ParameterError, StorageError

__all__ = ["OBSClientWrapper", "object_key"]

logger = logging.getLogger(__name__)

_TIMEOUT = 10.0
_CHUNK = 1 << 16


def object_key(path: str) -> str:
    """Return the key the file server stores ``path`` under: its URL-safe base64.

    Parameters
    ----------
    path : str
        The object's path in the bucket.

    Returns
    -------
    str
        The key.

    Examples
    --------
    >>> object_key("models/a.pkl")
    'bW9kZWxzL2EucGts'
    """
    return base64.urlsafe_b64encode(path.encode("utf-8")).decode("ascii")


class OBSClientWrapper:
    """A bucket behind a CSB file server (Sedna's ``sedna.datasources.obs.connector.OBSClientWrapper``).

    The constructor authorises the bucket and fetches the S3 front ends, as Sedna's does.

    Parameters
    ----------
    file_server_url : str
        The file server, e.g. ``http://csb.example:8080``.
    vendor, region : str
        The cloud vendor and region the server fronts.
    bucket_name : str
        The bucket.
    app_token : str
        The app token the server authorises the bucket with.
    attempts : int, default=3
        Tries per request (Sedna's count).
    backoff : float, default=1.0
        Seconds slept after the n-th failed try are ``n * backoff``.

    Raises
    ------
    ParameterError
        If the bucket or token is empty, ``attempts`` is not a whole number >= 1 or ``backoff`` not
        a finite number >= 0.
    StorageError
        If the server refuses the bucket or cannot be reached after ``attempts`` tries.
    """

    def __init__(self, file_server_url: str = "", vendor: str = "", region: str = "", bucket_name: str = "",
                 app_token: str = "", *, attempts: int = 3, backoff: float = 1.0) -> None:
        if not bucket_name:
            raise ParameterError("OBSClientWrapper needs bucket_name (the bucket to read and write)")
        if not app_token:
            raise ParameterError("OBSClientWrapper needs app_token (the file server authorises the bucket "
                                 "with it)")
        import requests

        self.server = file_server_url.rstrip("/")
        self.vendor = vendor
        self.region = region
        self.bucket_name = bucket_name
        self.app_token = app_token
        # first used right here (the bucket is authorised below): 0 tries were 1, 2.5 were 2
        self.attempts = check_count("attempts", attempts)
        self.backoff = check_number("backoff", backoff, 0)
        self._session = requests.Session()
        logger.info("authorising bucket %s at %s", bucket_name, self.server)
        self._bucket_auth()
        self.s3_client_list = self._get_s3_client_list()

    # -- the file server's REST calls ----------------------------------------------------------
    def _retry(self, what: str, call: Callable[[], Any]) -> Any:
        import requests

        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except (requests.RequestException, ValueError, OSError) as exc:
                if attempt == self.attempts:
                    raise StorageError(f"{what} failed after {attempt} tries: {exc}",
                                       uri=self.server) from exc
                logger.warning("%s failed (try %d of %d): %s", what, attempt, self.attempts, exc)
                time.sleep(attempt * self.backoff)
        raise AssertionError("unreachable")  # pragma: no cover

    def _do_request(self, path: str, **params: str) -> dict[str, Any]:
        response = self._session.get(f"{self.server}{path}", params=params, timeout=_TIMEOUT)
        response.raise_for_status()
        body = json_loads(response.content)
        if not isinstance(body, dict):
            raise ValueError(f"the file server answered {type(body).__name__}, not a JSON object")
        return body

    def _bucket_auth(self) -> dict[str, Any]:
        return self._retry(f"authorising bucket {self.bucket_name!r}", lambda: self._do_request(
            "/rest/boto3/s3/bucket-auth", vendor=self.vendor, region=self.region,
            bucketid=self.bucket_name, apptoken=self.app_token))

    def _get_s3_client_list(self) -> list[str]:
        result = self._retry("listing the file server's S3 front ends", lambda: self._do_request(
            "/rest/boto3/s3/query/csb-file-server/all/ip-and-port", vendor=self.vendor, region=self.region))
        urls = result.get("fileServerUrlList") or []
        if not isinstance(urls, list):
            raise StorageError(f"the file server's fileServerUrlList is {type(urls).__name__}, not a list",
                               uri=self.server)
        self.back_server_url = next((str(u) for u in reversed(urls) if u not in (None, "", "null")), None)
        endpoint = f"{self.server}/rest/boto3/s3/{self.vendor}/{self.region}/{self.app_token}"
        return [endpoint for _ in urls]

    def _object_url(self, index: int, key: str) -> str:
        return f"{self.s3_client_list[index]}/{self.bucket_name}/{key}"

    def _pick(self) -> int:
        if not self.s3_client_list:
            raise StorageError("the file server offers no S3 front end (empty fileServerUrlList)",
                               uri=self.server)
        return random.randrange(len(self.s3_client_list))

    # -- Sedna's methods -----------------------------------------------------------------------
    def download_single_object(self, remote_path: str, local_path: str = ".", **_: Any) -> str:
        """Download one object into a local folder.

        Parameters
        ----------
        remote_path : str
            The object's path in the bucket.
        local_path : str, default='.'
            The folder (created if needed); the file keeps the object's base name.

        Returns
        -------
        str
            The file name written.

        Raises
        ------
        StorageError
            If the object cannot be read after the retries.
        """
        filename = os.path.basename(remote_path)
        os.makedirs(local_path, exist_ok=True)
        target = os.path.join(local_path, filename)

        def fetch() -> str:
            url = self._object_url(self._pick(), object_key(remote_path))
            with self._session.get(url, stream=True, timeout=_TIMEOUT) as response:
                response.raise_for_status()
                partial = target + ".part"
                try:
                    with open(partial, "wb") as fh:
                        for chunk in response.iter_content(_CHUNK):
                            fh.write(chunk)
                    os.replace(partial, target)
                finally:
                    if os.path.exists(partial):
                        os.remove(partial)
            return filename

        name = self._retry(f"downloading {remote_path!r}", fetch)
        logger.info("file %s stored in %s", filename, local_path)
        return name

    def list_objects(self, remote_path: str, next_marker: str = "") -> list[dict[str, Any]]:
        """List the objects under a folder of the bucket.

        Parameters
        ----------
        remote_path : str
            The folder's path.
        next_marker : str, default=''
            Where a previous listing stopped.

        Returns
        -------
        list of dict
            ``{"objectKey": ..., "size": ...}`` per object (Sedna only logged them).

        Raises
        ------
        StorageError
            If the server cannot list the folder.
        """
        result = self._retry(f"listing {remote_path!r}", lambda: self._do_request(
            "/rest/boto3/s3/list/bucket/objectkeys", vendor=self.vendor, region=self.region,
            bucketid=self.bucket_name, apptoken=self.app_token, objectkey=object_key(remote_path),
            nextmarker=next_marker))
        if str(result.get("success", "")).lower() not in ("true", "1", "yes", "y", "on", "t"):
            raise StorageError(f"the file server could not list {remote_path!r}: {result}", uri=self.server)
        objects = result.get("objectKeys") or []
        for item in objects:
            logger.info("found %s of size %s", item.get("objectKey"), item.get("size"))
        return list(objects)

    def upload_file(self, local_folder_absolute_path: str, filename: str, bucket_path: str, **_: Any) -> str:
        """Upload one local file to ``bucket_path + filename``.

        Parameters
        ----------
        local_folder_absolute_path : str
            The folder holding the file.
        filename : str
            The file's name (also the object's name).
        bucket_path : str
            The object's folder in the bucket, ending with ``/`` (prepended as is, as in Sedna).

        Returns
        -------
        str
            The object's path in the bucket.

        Raises
        ------
        StorageError
            If the file cannot be read or the upload fails after the retries.
        """
        source = os.path.join(local_folder_absolute_path, filename)
        remote = bucket_path + filename
        try:
            with open(source, "rb") as fh:
                body = fh.read()
        except OSError as exc:
            raise StorageError(f"cannot read {source!r}: {exc}", uri=source) from exc

        def put() -> None:
            response = self._session.put(self._object_url(self._pick(), object_key(remote)), data=body,
                                         timeout=_TIMEOUT)
            response.raise_for_status()

        self._retry(f"uploading {filename!r}", put)
        logger.info("file %s uploaded", filename)
        return remote
