"""Sedna's ``sedna.service.client``: ``http_request``, ``LCClient``, ``LCReporter`` and the feature clients.

Differences from Sedna: every request has a finite timeout, failures raise typed
:class:`~sedna_lib.exceptions.TransportError` subclasses instead of returning ``None`` (and,
after retries, ``tenacity.RetryError``), and the LocalController reporter never dies.
"""

from __future__ import annotations

from typing import Any, Mapping

from .._json import loads as json_loads
from .. import config as _cfg
from ..config import redact_text, redact_uri
from .._lazy import lazy_attributes
from ..base import check_count
from ..exceptions import ProtocolError, RemoteError, TransportError, TransportTimeout
from ..transport.lc import LCClient as _LCClient
from ..transport.lc import PeriodicReporter, Report

__all__ = ["http_request", "LCClient", "LCReporter", "ModelClient"]

# Feature clients under their Sedna names, imported on first access: name -> "module:attribute".
_LAZY: dict[str, str] = {
    "AggregationClient": "sedna_lib.transport.ws:AggregationClient",
    "KBClient": "sedna_lib.transport.kb:KBClient",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


def _default_timeout() -> tuple[float, float]:
    names = ("SEDNA_CONNECT_TIMEOUT", "SEDNA_REQUEST_TIMEOUT")
    cfg = _cfg.Config.from_env({n: _cfg.get_parameter(n, "") for n in names})
    return cfg.connect_timeout_s, cfg.request_timeout


def http_request(url: str, method: str | None = None, timeout: float | tuple[float, float] | None = None,
                 binary: bool = True, no_decode: bool = False, *, max_retries: int = 2,
                 **kwargs: Any) -> Any:
    """Send one HTTP request with a finite timeout and decode the answer, as Sedna's helper did.

    Parameters
    ----------
    url : str
        The URL.
    method : str, default=None
        The HTTP method; ``GET`` if omitted.
    timeout : float or (float, float), default=None
        Seconds (or connect and read seconds); ``SEDNA_CONNECT_TIMEOUT``/``SEDNA_REQUEST_TIMEOUT``
        (3 s and 10 s) if omitted. Sedna computed a timeout but never used it.
    binary : bool, default=True
        Decode the body as JSON (else return it as text).
    no_decode : bool, default=False
        Return the ``requests.Response`` itself.
    max_retries : int, default=2
        Extra attempts after a connection error or a timeout (never after an HTTP answer).
    **kwargs : object
        Passed to ``requests.request`` (``json=``, ``data=``, ``headers=``, ...).

    Returns
    -------
    object
        The decoded JSON, the text, or the response.

    Raises
    ------
    ParameterError
        If ``timeout`` is not a finite number > 0 (or a pair of them), or ``max_retries`` not a
        whole number >= 0 (-1 was taken as 0, 2.5 failed in ``range``).
    TransportTimeout
        If no answer came within the timeout on every attempt.
    TransportError
        If the peer cannot be reached.
    RemoteError
        If the peer answered with a status other than 200 (``status_code`` set).
    ProtocolError
        If the body is not the JSON asked for.
    """
    import requests

    from ..transport._requests import check_timeout

    if timeout is None:
        timeout = _default_timeout()
    else:  # one number stays one (the messages name it so)
        timeout = check_timeout(timeout) if isinstance(timeout, (tuple, list)) else check_timeout(timeout)[0]
    retries = check_count("max_retries", max_retries, 0)
    method = method or "GET"
    shown = redact_uri(url)  # messages and errors show no password or query values
    last: TransportError | None = None
    for _ in range(retries + 1):
        try:
            response = requests.request(method, url, timeout=timeout, **kwargs)
        except requests.Timeout:
            last = TransportTimeout(f"{method} {shown}: no answer within {timeout} s", url=shown)
            continue
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise TransportError(f"{method} {shown}: invalid URL ({redact_text(str(exc), url)})",
                                 url=shown) from None
        except requests.RequestException as exc:  # not chained: requests' text repeats the URL
            last = TransportError(f"{method} {shown} failed: {redact_text(str(exc), url)}", url=shown)
            continue
        if response.status_code != 200:
            raise RemoteError(f"{method} {shown} answered HTTP {response.status_code}: "
                              f"{redact_text(response.text[:200], url)}", url=shown,
                              status_code=response.status_code)
        if no_decode:
            return response
        if not binary:
            return response.content.decode("utf-8", errors="replace")
        try:
            return json_loads(response.content)
        except ValueError as exc:
            raise ProtocolError(f"{method} {shown}: the answer is not JSON ({exc}): "
                                f"{redact_text(response.text[:200], url)!r}", url=shown) from exc
    assert last is not None
    raise last


class LCClient:
    """Sedna's LocalController client: ``LCClient.send(lc_server, worker_name, message)``.

    See Also
    --------
    sedna_lib.transport.lc.LCClient : the client this delegates to.
    """

    @staticmethod
    def send(lc_server: str, worker_name: str, message: Mapping[str, Any]) -> bool:
        """POST one report to ``{lc_server}/sedna/workers/{worker_name}/info``; never raises.

        Parameters
        ----------
        lc_server : str
            The LocalController base URL.
        worker_name : str
            The worker.
        message : dict
            The body.

        Returns
        -------
        bool
            Whether the LocalController accepted the report (Sedna returned its decoded answer).
        """
        return _LCClient(lc_server).send(worker_name, message)


class LCReporter(PeriodicReporter):
    """Sedna's joint-inference reporter: ``LCReporter(lc_server, message, period_interval=30)``.

    Call ``start()``, then ``update_for_edge_inference()`` for an easy sample or
    ``update_for_collaboration_inference()`` for a hard one (one inference each). Unlike Sedna's,
    the thread is a daemon, survives LocalController outages and stops with ``stop()``.

    Parameters
    ----------
    lc_server : str
        The LocalController base URL.
    message : dict
        The fixed part of the body (``name``, ``namespace``, ``ownerName``, ``ownerKind``, ``kind``).
    period_interval : float, default=30
        Seconds between reports.
    """

    def __init__(self, lc_server: str, message: Mapping[str, Any] | Report,
                 period_interval: float = 30) -> None:
        super().__init__(_LCClient(lc_server), message, period=period_interval)  # checked by start()
        self.lc_server = lc_server
        self.period_interval = period_interval

    @property
    def inference_number(self) -> int:
        """Inferences counted so far (Sedna's attribute name)."""
        return self.inference_number_

    @property
    def hard_example_number(self) -> int:
        """Hard examples counted so far (Sedna's attribute name)."""
        return self.hard_example_number_


def ModelClient(service_name: str, version: str = "", host: str = "127.0.0.1", port: Any = "8080",
                protocol: str = "http") -> Any:
    """Sedna's ``ModelClient(service_name, version, host, port, protocol)``, over :class:`InferenceClient`.

    The client keeps Sedna's methods (``check_server_status()``, ``inference(x, **kwargs)``
    returning ``{"result": ...}``) and adds finite timeouts, bounded retries and a circuit breaker.

    Parameters
    ----------
    service_name : str
        The service's path segment.
    version : str, default=''
        Unused (kept for Sedna's signature).
    host : str, default='127.0.0.1'
        The cloud host.
    port : int or str, default='8080'
        The cloud port.
    protocol : str, default='http'
        ``http`` or ``https``.

    Returns
    -------
    InferenceClient
        The client.

    Examples
    --------
    >>> ModelClient("ji-svc", host="10.0.0.2", port=5000).endpoint
    'http://10.0.0.2:5000/ji-svc'
    """
    from ..transport.http import InferenceClient

    from ..base import check_port

    return InferenceClient(f"{protocol}://{host}:{check_port('port', port, 1)}", service_name=service_name)
