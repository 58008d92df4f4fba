"""The network services of the multi-edge components, each a server or its client (``_I``).

A component hosts the server of its own service and holds clients of the services it calls::

    ObjectDetector  hosts VideoAnalytics      calls Feature_Extraction_I
    FEService       hosts Feature_Extraction  calls VideoAnalytics_I (and ReID_I if given)
    ReID            hosts ReID_Server         calls Feature_Extraction_I

Addresses come from the configuration when a service is constructed (never at import):
``{REID,FE,DET}_MODEL_BIND_URL`` is the address a server binds (default ``0.0.0.0``) and the host
its clients call (default: the control plane's service names ``reid-reid``,
``feature-extraction-fe``, ``video-analytics-videoanalytics``); ``*_MODEL_BIND_PORT`` the port.
``SEDNA_AUTH_TOKEN``, ``SEDNA_TLS_*``, ``SEDNA_MAX_REQUEST_BYTES``, the ``SEDNA_HTTP_*`` limits,
``SEDNA_REQUEST_TIMEOUT`` and ``SEDNA_LEGACY_PICKLE`` apply to all of them.
"""

from __future__ import annotations

from typing import Any

from ...base import check_port
from ...config import Config
from ...context import resolve_config
from ...servers import ServerLimits
from ...servers.multi_edge import DetectionServer, FEServer, ReIDServer
from ...transport.multi_edge import FE, Detection, ReID_Endpoint
from . import PluggableNetworkService

__all__ = ["ReID_Server", "ReID_I", "Feature_Extraction", "Feature_Extraction_I", "VideoAnalytics",
           "VideoAnalytics_I"]


def _server(cls: type, wrapper: Any, name: str, ip: str, port: int, cfg: Config) -> Any:
    return cls(wrapper, name, ip, port, cfg.max_request_bytes, token=cfg.auth_token,
               legacy_pickle=cfg.legacy_pickle, ssl_certfile=cfg.tls_cert, ssl_keyfile=cfg.tls_key,
               limits=ServerLimits.from_config(cfg))


def _client(cls: type, name: str, ip: str, port: int, cfg: Config) -> Any:
    secure = bool(cfg.tls_cert or cfg.tls_ca)
    return cls(name, ip=ip, port=port, protocol="https" if secure else "http", token=cfg.auth_token,
               timeout=cfg.request_timeout, legacy_pickle=cfg.legacy_pickle, verify=cfg.tls_ca or True)


class ReID_Server(PluggableNetworkService):  # noqa: N801 (Sedna's name)
    """Hosts the ReID REST service (``/reid``) for ``wrapper``.

    Parameters
    ----------
    ip : str, default=None
        Bind address; ``REID_MODEL_BIND_URL`` or ``0.0.0.0``.
    port : int, default=None
        Port; ``REID_MODEL_BIND_PORT`` (5000).
    wrapper : object, default=None
        The ``ReID`` component.
    config : Config, default=None
        Configuration; read from the environment when omitted.
    autostart : bool, default=True
        Start serving at construction, as Sedna's plugin does (the component that hosts it
        passes False and starts it itself).
    """

    def __init__(self, ip: str | None = None, port: int | None = None, wrapper: Any = None, *,
                 config: Config | None = None, autostart: bool = True) -> None:
        cfg = resolve_config(config)
        ip = ip or cfg.reid_model_bind_url or "0.0.0.0"
        port = check_port("port", cfg.reid_model_bind_port if port is None else port)
        super().__init__(ip, port, _server(ReIDServer, wrapper, "reid", ip, port, cfg))
        if autostart:
            self.start()


class ReID_I(PluggableNetworkService):  # noqa: N801
    """Client of the ReID service.

    Parameters
    ----------
    ip : str, default=None
        Peer host; ``REID_MODEL_BIND_URL`` or ``reid-reid``.
    port : int, default=None
        Peer port; ``REID_MODEL_BIND_PORT`` (5000).
    config : Config, default=None
        Configuration; read from the environment when omitted.
    """

    def __init__(self, ip: str | None = None, port: int | None = None, *,
                 config: Config | None = None) -> None:
        cfg = resolve_config(config)
        ip = ip or cfg.reid_model_bind_url or "reid-reid"
        port = check_port("port", cfg.reid_model_bind_port if port is None else port)
        super().__init__(ip, port, _client(ReID_Endpoint, "reid", ip, port, cfg))


class Feature_Extraction(PluggableNetworkService):  # noqa: N801
    """Hosts the feature-extraction REST service (``/feature_extraction``) for ``wrapper``.

    Parameters
    ----------
    ip : str, default=None
        Bind address; ``FE_MODEL_BIND_URL`` or ``0.0.0.0``.
    port : int, default=None
        Port; ``FE_MODEL_BIND_PORT`` (6000).
    wrapper : object, default=None
        The ``FEService`` component.
    config : Config, default=None
        Configuration; read from the environment when omitted.
    autostart : bool, default=True
        Start serving at construction, as Sedna's plugin does (the component that hosts it
        passes False and starts it itself).
    """

    def __init__(self, ip: str | None = None, port: int | None = None, wrapper: Any = None, *,
                 config: Config | None = None, autostart: bool = True) -> None:
        cfg = resolve_config(config)
        ip = ip or cfg.fe_model_bind_url or "0.0.0.0"
        port = check_port("port", cfg.fe_model_bind_port if port is None else port)
        super().__init__(ip, port, _server(FEServer, wrapper, "feature_extraction", ip, port, cfg))
        if autostart:
            self.start()


class Feature_Extraction_I(PluggableNetworkService):  # noqa: N801
    """Client of the feature-extraction service.

    Parameters
    ----------
    ip : str, default=None
        Peer host; ``FE_MODEL_BIND_URL`` or ``feature-extraction-fe``.
    port : int, default=None
        Peer port; ``FE_MODEL_BIND_PORT`` (6000).
    config : Config, default=None
        Configuration; read from the environment when omitted.
    """

    def __init__(self, ip: str | None = None, port: int | None = None, *,
                 config: Config | None = None) -> None:
        cfg = resolve_config(config)
        ip = ip or cfg.fe_model_bind_url or "feature-extraction-fe"
        port = check_port("port", cfg.fe_model_bind_port if port is None else port)
        super().__init__(ip, port, _client(FE, "feature_extraction", ip, port, cfg))


class VideoAnalytics(PluggableNetworkService):
    """Hosts the video-analytics REST service (``/video_analytics``) for ``wrapper``.

    Parameters
    ----------
    ip : str, default=None
        Bind address; ``DET_MODEL_BIND_URL`` or ``0.0.0.0``.
    port : int, default=None
        Port; ``DET_MODEL_BIND_PORT`` (4000).
    wrapper : object, default=None
        The ``ObjectDetector`` component.
    config : Config, default=None
        Configuration; read from the environment when omitted.
    autostart : bool, default=True
        Start serving at construction, as Sedna's plugin does (the component that hosts it
        passes False and starts it itself).
    """

    def __init__(self, ip: str | None = None, port: int | None = None, wrapper: Any = None, *,
                 config: Config | None = None, autostart: bool = True) -> None:
        cfg = resolve_config(config)
        ip = ip or cfg.det_model_bind_url or "0.0.0.0"
        port = check_port("port", cfg.det_model_bind_port if port is None else port)
        super().__init__(ip, port, _server(DetectionServer, wrapper, "video_analytics", ip, port, cfg))
        if autostart:
            self.start()


class VideoAnalytics_I(PluggableNetworkService):  # noqa: N801
    """Client of the video-analytics service.

    Parameters
    ----------
    ip : str, default=None
        Peer host; ``DET_MODEL_BIND_URL`` or ``video-analytics-videoanalytics``.
    port : int, default=None
        Peer port; ``DET_MODEL_BIND_PORT`` (4000).
    config : Config, default=None
        Configuration; read from the environment when omitted.
    """

    def __init__(self, ip: str | None = None, port: int | None = None, *,
                 config: Config | None = None) -> None:
        cfg = resolve_config(config)
        ip = ip or cfg.det_model_bind_url or "video-analytics-videoanalytics"
        port = check_port("port", cfg.det_model_bind_port if port is None else port)
        super().__init__(ip, port, _client(Detection, "video_analytics", ip, port, cfg))
