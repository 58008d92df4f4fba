"""One HTTP request through a requests session, its failures translated into the transport errors."""

from __future__ import annotations

from typing import Any

from .._json import loads as json_loads
from ..exceptions import RemoteError, TransportError, TransportTimeout


def send(session: Any, method: str, url: str, *, timeout: tuple[float, float], **kwargs: Any) -> Any:
    """Send one request and return the response; an error status raises :class:`RemoteError`.

    Parameters
    ----------
    session : requests.Session
        The session to send with.
    method : str
        HTTP method.
    url : str
        Absolute URL.
    timeout : tuple of (float, float)
        Connect and read timeouts in seconds.
    **kwargs : object
        Passed to ``session.request`` (``data``, ``files``, ``headers``, ``verify``, ``stream``...).

    Returns
    -------
    requests.Response
        A response with a status below 400.

    Raises
    ------
    TransportTimeout
        If connecting or reading timed out.
    TransportError
        If the request could not be made.
    RemoteError
        If the server answered 4xx or 5xx; the message carries its ``detail``.
    """
    import requests

    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        raise TransportTimeout(f"{method} {url} timed out after {timeout[1]} s", url=url) from exc
    except requests.RequestException as exc:
        raise TransportError(f"{method} {url} failed: {exc}", url=url) from exc
    if response.status_code >= 400:
        try:
            detail = json_loads(response.content).get("detail", response.text)
        except (ValueError, AttributeError):
            detail = response.text
        raise RemoteError(f"{method} {url} answered {response.status_code}: {detail}", url=url,
                          status_code=response.status_code)
    return response
