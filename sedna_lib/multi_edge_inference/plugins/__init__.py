"""Plugins of the multi-edge services: network services (servers and their clients) and models."""

from __future__ import annotations

import abc
import enum
import logging
import os
from typing import Any, Callable

from ...config import Config
from ...context import resolve_config
from ...exceptions import ParameterError, StorageNotFoundError
from ...registry import resolve_callback

__all__ = ["PLUGIN", "PluggableNetworkService", "PluggableModel", "MODEL_NOT_FOUND"]

logger = logging.getLogger(__name__)

MODEL_NOT_FOUND = "Cannot find model"
"""Start of the error message raised when a model file is missing."""


class PLUGIN(enum.Enum):
    """Kinds of network services a component can host (server) or use (``_I``, interface)."""

    REID_MANAGER = "ReIDManager"
    REID_MANAGER_I = "ReIDManager_I"
    REID = "ReID_Server"
    REID_I = "ReID_I"
    FEATURE_EXTRACTION = "Feature_Extraction"
    FEATURE_EXTRACTION_I = "Feature_Extraction_I"
    VIDEO_ANALYTICS = "VideoAnalytics"
    VIDEO_ANALYTICS_I = "VideoAnalytics_I"


def _plugin_of(cls: type) -> PLUGIN:
    for klass in cls.__mro__:
        if klass.__name__ in PLUGIN._value2member_map_:
            return PLUGIN(klass.__name__)
    names = ", ".join(p.value for p in PLUGIN)
    raise ParameterError(f"{cls.__name__} is not a registered plugin: name the class (or a base) "
                         f"one of {names}")


class PluggableNetworkService(abc.ABC):
    """A REST service a component hosts (``plugin_api`` is a server) or calls (a client).

    Servers start with :meth:`start` (the owning component calls it) and stop with :meth:`stop`;
    nothing runs at construction.

    Parameters
    ----------
    ip : str
        Address the server binds, or the peer host the client calls.
    port : int
        Port.
    plugin_api : object, default=None
        The server (has ``start``/``stop``) or client (has ``transmit``).

    Attributes
    ----------
    kind : str
        The :class:`PLUGIN` member name (``"FEATURE_EXTRACTION_I"``), what ``get_plugin`` matches.

    Raises
    ------
    ParameterError
        If the class is not named after a :class:`PLUGIN` value.
    """

    def __init__(self, ip: str, port: int, plugin_api: Any = None) -> None:
        self.ip = ip
        self.port = port
        self.plugin_api = plugin_api
        self.kind = _plugin_of(type(self)).name

    @property
    def is_server(self) -> bool:
        """Whether ``plugin_api`` is a server (it can be started)."""
        return callable(getattr(self.plugin_api, "start", None))

    def start(self) -> PluggableNetworkService:
        """Start the server, if this plugin hosts one (non-blocking; idempotent).

        Returns
        -------
        PluggableNetworkService
            ``self``; for a server started on port 0, :attr:`port` is the bound port.
        """
        if self.is_server:
            self.plugin_api.start()
            self.port = getattr(self.plugin_api, "port", self.port)
            logger.info("%s serving on %s:%s", self.kind, self.ip, self.port)
        return self

    def stop(self) -> None:
        """Stop the server, or close the client's session."""
        for name in ("stop", "close"):
            method = getattr(self.plugin_api, name, None)
            if callable(method):
                method()
                return

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"{type(self).__name__}(ip={self.ip!r}, port={self.port!r})"


class PluggableModel(abc.ABC):
    """The AI model behind a multi-edge component; subclass it and implement the abstract methods.

    The constructor reads the configuration, checks that the model file exists when one is
    configured, then calls :meth:`load`, as Sedna's does (it no longer calls ``evaluate()``
    without data). :meth:`inference` calls the subclass's ``predict``.

    Parameters
    ----------
    config : Config, default=None
        The configuration; read from the environment when omitted.

    Raises
    ------
    StorageNotFoundError
        If ``MODEL_URL``/``MODEL_PATH`` names a file that does not exist and
        ``MODEL_LOAD_MODE`` is ``file``.
    """

    def __init__(self, *, config: Config | None = None) -> None:
        self.config = resolve_config(config)
        path = self.model_path
        if path and self.config.model_load_mode == "file" and not os.path.exists(path):
            raise StorageNotFoundError(f"{MODEL_NOT_FOUND}: {path} (check MODEL_URL / MODEL_PATH)", uri=path)
        logger.info("loading model %s", self.model_name)
        self.load()

    @property
    def model_path(self) -> str | None:
        """The model file: ``MODEL_PATH``, else ``MODEL_URL`` (joined with ``MODEL_NAME`` for a folder)."""
        cfg = self.config
        if cfg.model_path:
            return cfg.model_path
        if not cfg.model_url:
            return None
        if os.path.isdir(cfg.model_url) and cfg.model_name:
            return os.path.join(cfg.model_url, cfg.model_name)
        return cfg.model_url

    @property
    def model_name(self) -> str:
        """File name of :attr:`model_path`, or ``"unknown"``."""
        path = self.model_path
        return os.path.basename(path) if path else "unknown"

    @abc.abstractmethod
    def load(self, **kwargs: Any) -> None:
        """Load (or build) the model.

        Parameters
        ----------
        **kwargs : object
            Subclass-specific options.
        """

    @abc.abstractmethod
    def update_plugin(self, update_object: Any, **kwargs: Any) -> Any:
        """React to an operational-mode update.

        Parameters
        ----------
        update_object : object
            The update.
        **kwargs : object
            Subclass-specific options.

        Returns
        -------
        object
            Whatever the owning component needs next (ReID: the target images to featurise).
        """

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Run the model; subclasses override this (or :meth:`inference`).

        Parameters
        ----------
        data : object
            A batch.
        **kwargs : object
            Options.

        Returns
        -------
        object
            The model's output.

        Raises
        ------
        NotImplementedError
            Always, unless a subclass overrides it.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement predict() or inference()")

    def evaluate(self, data: Any, post_process: str | Callable[[Any], Any] | None = None,
                 **kwargs: Any) -> Any:
        """Evaluate the model on ``data`` (subclasses override; the default runs :meth:`inference`).

        Parameters
        ----------
        data : object
            Evaluation data.
        post_process : callable or str, default=None
            Applied to the result; a string names a registered ``post_process_callback``.
        **kwargs : object
            Options.

        Returns
        -------
        object
            The (post-processed) result.
        """
        return self.inference(data, post_process=post_process, **kwargs)

    def train(self, **kwargs: Any) -> Any:
        """Not supported by multi-edge models.

        Parameters
        ----------
        **kwargs : object
            Ignored.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError("multi-edge models are not trained by the service")

    def inference(self, data: Any = None, post_process: str | Callable[[Any], Any] | None = None,
                  **kwargs: Any) -> Any:
        """Run :meth:`predict` and apply ``post_process``.

        Parameters
        ----------
        data : object, default=None
            A batch.
        post_process : callable or str, default=None
            Applied to the result; a string names a registered ``post_process_callback``.
        **kwargs : object
            Passed to :meth:`predict`.

        Returns
        -------
        object
            The (post-processed) result.
        """
        result = self.predict(data, **kwargs)
        if post_process is None:
            return result
        return resolve_callback(post_process)(result)
