"""One HTTP request through a requests session, its failures translated into the transport errors."""

from __future__ import annotations

from typing import Any

from .._json import loads as json_loads
from ..base import check_count, check_number
from ..config import redact_text, redact_uri
from ..exceptions import ParameterError, RemoteError, TransportError, TransportTimeout


def check_timeout(value: Any, name: str = "timeout") -> tuple[float, float]:
    """Return ``(connect, read)`` seconds from a timeout or a pair, each a finite number > 0.

    Unchecked, a NaN timeout failed deep in the socket layer with a bare ``ValueError`` on every
    request, and a negative one with requests' own message.

    Parameters
    ----------
    value : float or (float, float)
        One number for both, or the connect and read timeouts.
    name : str, default='timeout'
        The parameter's name, for the message.

    Returns
    -------
    tuple of (float, float)
        The connect and read timeouts.

    Raises
    ------
    ParameterError
        If it is not one number or a pair of them, each finite and > 0.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ParameterError(f"{name} must be a number of seconds or a (connect, read) pair, "
                                 f"got {value!r}")
        return (check_number(f"{name}'s connect time", value[0], 0, low_open=True),
                check_number(f"{name}'s read time", value[1], 0, low_open=True))
    seconds = check_number(name, value, 0, low_open=True)
    return seconds, seconds


def check_retries(max_retries: Any, backoff: Any) -> tuple[int, float]:
    """Return ``max_retries`` (a whole number >= 0) and ``backoff`` (finite seconds >= 0), checked.

    Raises
    ------
    ParameterError
        If either is not (2.5 retries made 3 attempts more, a NaN backoff failed in ``time.sleep``).
    """
    return check_count("max_retries", max_retries, 0), check_number("backoff", backoff, 0)


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

    Notes
    -----
    The request goes to ``url`` as given; the errors' messages and ``url`` show it with the
    password and query values as ``***``. requests' own exception, whose text may repeat the
    URL's query, is told in the message, redacted the same way, and not chained.
    """
    import requests

    shown = redact_uri(url)
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise TransportTimeout(f"{method} {shown} timed out after {timeout[1]} s", url=shown) from None
    except requests.RequestException as exc:
        raise TransportError(f"{method} {shown} failed: {redact_text(str(exc), url)}", url=shown) from None
    if response.status_code >= 400:
        try:
            detail = json_loads(response.content).get("detail", response.text)
        except (ValueError, AttributeError):
            detail = response.text
        raise RemoteError(f"{method} {shown} answered {response.status_code}: "
                          f"{redact_text(str(detail), url)}", url=shown, status_code=response.status_code)
    return response
