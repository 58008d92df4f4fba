"""Client of the knowledge-base server (Sedna's ``KBClient``): bounded timeouts, typed errors, no pickle."""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from typing import Any

from .._json import loads as json_loads
from ..base import check_count, check_number
from ..config import redact_uri
from ..exceptions import ParameterError, ProtocolError, TransportError
from ..storage.local import atomic_path
from ._requests import send

__all__ = ["KBClient"]

logger = logging.getLogger(__name__)


class KBClient:
    """Talk to a knowledge-base server at ``{kbserver}/knowledgebase``.

    Parameters
    ----------
    kbserver : str
        Base URL (``KB_SERVER``), e.g. ``http://kb:9020``.
    token : str, default=None
        Bearer token sent with every request (``SEDNA_AUTH_TOKEN``).
    connect_timeout : float, default=3.0
        Seconds to connect.
    timeout : float, default=30.0
        Seconds to wait for a reply.
    verify : bool or str, default=True
        TLS verification (or a CA bundle path).

    Notes
    -----
    Requests go to the URLs as given; errors and logs show them with the password of their
    userinfo and every query value as ``***`` (``http://u:***@kb:9020/...``).

    Examples
    --------
    >>> KBClient("http://kb:9020").kbserver
    'http://kb:9020/knowledgebase'
    """

    def __init__(self, kbserver: str, *, token: str | None = None, connect_timeout: float = 3.0,
                 timeout: float = 30.0, verify: bool | str = True) -> None:
        self.kbserver = f"{str(kbserver).rstrip('/')}/knowledgebase"
        self.token = token
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.verify = verify
        self.last_error_: Exception | None = None
        self._session: Any = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _get_session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
            if self.token:
                self._session.headers["Authorization"] = f"Bearer {self.token}"
        return self._session

    def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> KBClient:  # noqa: D105
        return self

    def __exit__(self, *exc_info: Any) -> None:  # noqa: D105
        self.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        timeout = (check_number("connect_timeout", self.connect_timeout, 0, low_open=True),
                   check_number("timeout", self.timeout, 0, low_open=True))
        return send(self._get_session(), method, url, timeout=timeout,
                    verify=self.verify, **kwargs)

    def absolute(self, reply: str) -> str:
        """Turn a server reply (a relative download path) into an absolute URL; remote URLs stay as they are.

        Parameters
        ----------
        reply : str
            What the server answered.

        Returns
        -------
        str
            ``{kbserver}/{reply}``.
        """
        if urllib.parse.urlsplit(reply).scheme in ("http", "https", "s3"):
            return reply
        return f"{self.kbserver}/{reply.lstrip('/')}"

    def _reply(self, response: Any, url: str) -> str:
        shown = redact_uri(url)
        try:
            value = json_loads(response.content)
        except ValueError:
            raise ProtocolError(f"{shown} answered non-JSON: {response.text[:200]!r}", url=shown) from None
        if not isinstance(value, str):
            raise ProtocolError(f"{shown} answered {value!r}; expected a download path", url=shown)
        return self.absolute(value)

    # -- Sedna's API --------------------------------------------------------------------------------
    def upload_file(self, files: str, name: str = "") -> str:
        """Upload a local file; return its download URL (a non-file is returned unchanged, as Sedna's).

        Parameters
        ----------
        files : str
            Local file path.
        name : str, default=''
            Name on the server; the file's base name by default.

        Returns
        -------
        str
            The absolute download URL.

        Raises
        ------
        TransportError
            If the server cannot be reached; ``RemoteError`` if it refuses the file.
        """
        if not isinstance(files, str) or not os.path.isfile(files):
            return files
        url = f"{self.kbserver}/file/upload"
        with open(files, "rb") as fh:
            response = self._request("POST", url, files={"file": (name or os.path.basename(files), fh)})
        return self._reply(response, url)

    def update_db(self, task_info_file: str) -> str | None:
        """Upload an index; return the URL of the published ``index.pkl``, or None if it failed (logged).

        As Sedna's client, a failure is not raised: it is logged at ERROR with the server's reason
        and ``None`` is returned, so a trainer keeps the index it wrote to its output folder
        (Sedna's cloud knowledge manager does the same). :attr:`last_error_` keeps the error.

        Parameters
        ----------
        task_info_file : str
            Local index file (sedna_lib's JSON, or Sedna's pickle for a server that takes it).

        Returns
        -------
        str or None
            Download URL of the server's index; None when the server could not be reached,
            refused the index or answered something else.
        """
        url = f"{self.kbserver}/update"
        try:
            with open(task_info_file, "rb") as fh:
                response = self._request("POST", url, files={"task": (os.path.basename(task_info_file), fh)})
            self.last_error_ = None
            return self._reply(response, url)
        except (TransportError, OSError) as exc:
            self.last_error_ = exc
            logger.error("knowledge-base update failed: %s", exc)
            return None

    def update_task_status(self, tasks: str | list | None, new_status: int = 1) -> str:
        """Deploy (1) or drop (0) task groups; return the index URL.

        Parameters
        ----------
        tasks : str, list or None
            Comma-separated group names, a list, or None for all.
        new_status : int, default=1
            1 deploys, 0 drops.

        Returns
        -------
        str
            Download URL of the republished index.

        Raises
        ------
        ParameterError
            If ``new_status`` is neither 1 nor 0 (``int()`` sent 0.5 as 0, a drop).
        """
        status = check_count("new_status", new_status, 0)
        if status > 1:
            raise ParameterError(f"new_status must be 1 (deploys) or 0 (drops), got {new_status!r}")
        url = f"{self.kbserver}/update/status"
        response = self._request("POST", url, data=json.dumps({"tasks": tasks, "status": status}),
                                 headers={"Content-Type": "application/json"})
        return self._reply(response, url)

    def query(self) -> list[dict]:
        """List the knowledge base's task groups.

        Returns
        -------
        list of dict
            One per group (``name``, ``deploy``, ``task_num``, ``model_url``, ``kind``).
        """
        url = f"{self.kbserver}/query"
        content = self._request("POST", url).content
        try:
            return list(json_loads(content)["task_groups"])
        except (ValueError, KeyError, TypeError) as exc:
            shown = redact_uri(url)
            raise ProtocolError(f"{shown} answered an unexpected body: {exc}", url=shown) from None

    def download(self, url: str, dst: str) -> str:
        """Download a knowledge-base file to ``dst`` (streamed, written atomically).

        Parameters
        ----------
        url : str
            Absolute download URL (or a relative reply).
        dst : str
            Local destination file.

        Returns
        -------
        str
            ``dst``.
        """
        url = self.absolute(url)
        response = self._request("GET", url, stream=True)
        with atomic_path(dst) as tmp, open(tmp, "wb") as fh:
            for chunk in response.iter_content(chunk_size=1 << 20):
                fh.write(chunk)
        return dst

    def read_bytes(self, url: str) -> bytes:
        """Fetch a knowledge-base file into memory.

        Parameters
        ----------
        url : str
            Download URL.

        Returns
        -------
        bytes
            The content.
        """
        return self._request("GET", self.absolute(url)).content
