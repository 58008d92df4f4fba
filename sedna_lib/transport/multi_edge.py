"""Clients of the multi-edge REST services: ``Detection``, ``FE`` and ``ReID_Endpoint`` (Sedna's names)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .._json import loads as json_loads
from ..base import check_port
from ..exceptions import ProtocolError
from ._requests import check_timeout, send
from .objects import MEDIA_TYPE, PICKLE_MEDIA_TYPE, dumps, loads

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = ["MultiEdgeClient", "Detection", "FE", "ReID_Endpoint"]

logger = logging.getLogger(__name__)


def _reply_json(response: requests.Response) -> Any:
    try:
        return json_loads(response.content)
    except ValueError as exc:
        raise ProtocolError(f"{response.url} answered non-JSON ({exc}): {response.text[:200]!r}",
                            url=response.url) from None


def _status_reply(response: requests.Response) -> int:
    """Return the service's code for a route that answers ``200`` (a ProtocolError naming the URL if none)."""
    value = _reply_json(response)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{response.url} answered {str(value)[:200]!r}; expected a status code such as "
                            f"200", url=response.url)
    return value


class MultiEdgeClient:
    """A client of one multi-edge service (``{protocol}://{ip}:{port}/{service_name}``).

    Parameters
    ----------
    service_name : str
        The service's path segment (``video_analytics``, ``feature_extraction``, ``reid``).
    version : str, default=''
        Appended to the server name (Sedna compatibility; not part of the URL).
    ip : str, default='127.0.0.1'
        Server host.
    port : int or str, default=8080
        Server port.
    protocol : str, default='http'
        ``http`` or ``https``.
    token : str, default=None
        Bearer token sent with every request.
    timeout : float, default=10.0
        Read timeout in seconds (the connect timeout is ``min(timeout, 3)``).
    legacy_pickle : bool, default=False
        Send pickle bodies, for original Sedna servers.
    verify : bool or str, default=True
        TLS verification (a CA bundle path, or False).
    """

    #: route that :meth:`transmit` posts to
    TRANSMIT_ROUTE = ""

    def __init__(self, service_name: str, version: str = "", ip: str = "127.0.0.1", port: int | str = 8080,
                 protocol: str = "http", *, token: str | None = None, timeout: float = 10.0,
                 legacy_pickle: bool = False, verify: bool | str = True) -> None:
        self.service_name = service_name
        self.version = version
        self.ip = ip
        self.port = port
        self.protocol = protocol
        self.token = token
        self.timeout = timeout
        self.legacy_pickle = legacy_pickle
        self.verify = verify
        self._session: requests.Session | None = None

    @property
    def server_name(self) -> str:
        """``service_name`` followed by ``version``."""
        return f"{self.service_name}{self.version}"

    @property
    def endpoint(self) -> str:
        """Base URL of the service."""
        host = f"[{self.ip}]" if ":" in str(self.ip) else self.ip
        return f"{self.protocol}://{host}:{check_port('port', self.port, 1)}/{self.service_name}"

    def _request(self, method: str, route: str, data: Any = None, *,
                 has_body: bool = True) -> requests.Response:
        import requests  # here, not at module level: importing the feature stays light

        if self._session is None:
            self._session = requests.Session()
        url = f"{self.endpoint}/{route}" if route else self.endpoint
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        content = None
        if has_body:
            content = dumps(data, use_pickle=self.legacy_pickle)
            headers["Content-Type"] = PICKLE_MEDIA_TYPE if self.legacy_pickle else MEDIA_TYPE
        connect, read = check_timeout(self.timeout)
        return send(self._session, method, url, data=content, headers=headers, verify=self.verify,
                    timeout=(min(connect, 3.0), read))

    def check_server_status(self) -> str:
        """Ask the service whether it is up.

        Returns
        -------
        str
            ``"OK"``.

        Raises
        ------
        TransportError
            If the service cannot be reached or answers an error.
        """
        return _reply_json(self._request("GET", "status", has_body=False))

    def transmit(self, data: Any, **kwargs: Any) -> int:
        """Send data to the service's main route.

        Parameters
        ----------
        data : object
            Data classes, arrays, lists...
        **kwargs : object
            Ignored (Sedna passes processing options here).

        Returns
        -------
        int
            The service's reply, ``200``.

        Raises
        ------
        TransportError
            If the service cannot be reached or refuses the data (:class:`RemoteError`).
        """
        return _status_reply(self._request("POST", self.TRANSMIT_ROUTE, data))

    def update_service(self, data: Any, **kwargs: Any) -> int:
        """Send an operational-mode update to the service.

        Parameters
        ----------
        data : object
            The update (an ``OP_MODE``, a dict...).
        **kwargs : object
            Ignored.

        Returns
        -------
        int
            ``200``.

        Raises
        ------
        TransportError
            If the service cannot be reached or refuses the update.
        """
        return _status_reply(self._request("POST", "update_service", data))

    def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> MultiEdgeClient:
        """Return ``self`` for a ``with`` block."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close at the end of the ``with`` block."""
        self.close()

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"{type(self).__name__}({self.endpoint!r})"


class Detection(MultiEdgeClient):
    """Client of the video-analytics service (``/video_analytics``)."""

    TRANSMIT_ROUTE = "video_analytics"


class FE(MultiEdgeClient):
    """Client of the feature-extraction service (``/feature_extraction``)."""

    TRANSMIT_ROUTE = "feature_extraction"

    def get_target_features(self, data: Any, **kwargs: Any) -> Any:
        """Send target images and receive their ReID features.

        Parameters
        ----------
        data : object
            Usually a list of ``TargetImages``.
        **kwargs : object
            Ignored.

        Returns
        -------
        object
            What the service's model returns (usually a list of ``Target``).

        Raises
        ------
        TransportError
            If the service cannot be reached or fails.
        ProtocolError
            If the reply cannot be decoded.
        """
        resp = self._request("POST", "get_target_features", data)
        try:
            return loads(resp.content, allow_pickle=self.legacy_pickle)
        except ProtocolError as exc:
            raise ProtocolError(f"bad reply from {self.endpoint}/get_target_features: {exc}",
                                url=self.endpoint) from None


class ReID_Endpoint(MultiEdgeClient):  # noqa: N801 (Sedna's name)
    """Client of the ReID service (``/reid``)."""

    TRANSMIT_ROUTE = "reid"
