"""The run-time context a feature works in, and the solar_corona ``context`` functions.

A :class:`Context` bundles the parsed :class:`~sedna_lib.config.Config`, the registry and the
storage layer. The outermost entry point builds it once and passes it down: a command, a Sedna face
(``sedna_lib.compat``), or a public function or constructor a user calls with no ``context=``, through
:func:`resolve`. Code below that boundary takes the context it is given and never reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from . import config as _config
from .config import Config
from .registry import Registry, default_registry

if TYPE_CHECKING:  # pragma: no cover
    from .storage import StorageRouter

__all__ = ["Context", "get_parameters", "get_model_path", "current", "resolve", "resolve_config"]


@dataclass
class Context:
    """Configuration, registry and storage for one worker.

    Parameters
    ----------
    config : Config, default=Config()
        Parsed settings.
    registry : Registry, default=default_registry
        Where algorithms and backends are looked up.

    Examples
    --------
    >>> ctx = Context.from_env({"BIG_MODEL_PORT": "6000", "epochs": "3"})
    >>> ctx.config.big_model_port, ctx.get_parameters("EPOCHS")
    (6000, None)
    >>> ctx.get_parameters("epochs")
    '3'
    """

    config: Config = field(default_factory=Config)
    registry: Registry = field(default=default_registry, repr=False)
    _storage: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 registry: Registry | None = None) -> Context:
        """Build a context from the environment (the process's, by default).

        Parameters
        ----------
        environ : mapping, default=None
            Variables to read instead of the process environment.
        registry : Registry, default=None
            Registry to use; the default registry if omitted.

        Returns
        -------
        Context
            The new context.

        Raises
        ------
        ConfigError
            If a variable is malformed.

        Notes
        -----
        When ``SEDNA_LOG_LEVEL`` or ``SEDNA_LOG_FORMAT`` is set, the console log handler is
        configured from them (:func:`sedna_lib.observability.configure_logging`).
        """
        config = Config.from_env(environ)
        if config.sedna_log_level is not None or config.log_format is not None:
            from .observability.logs import configure_from_config

            configure_from_config(config)
        return cls(config=config, registry=registry or default_registry)

    def get_parameters(self, name: str, default: Any = None) -> Any:
        """Look up a script-level parameter (``name`` then ``name.upper()``, empty is unset).

        Parameters
        ----------
        name : str
            The variable name.
        default : object, default=None
            Returned when unset.

        Returns
        -------
        str or object
            The raw string value, or ``default``.
        """
        return self.config.get_parameter(name, default)

    @property
    def storage(self) -> StorageRouter:
        """The storage layer for local paths, ``s3://`` and ``http(s)://`` URLs, built on first use."""
        if self._storage is None:
            from .storage import StorageRouter

            self._storage = StorageRouter.from_config(self.config)
        return self._storage

    @property
    def model_path(self) -> str | None:
        """The model file to load: ``MODEL_PATH``, else ``MODEL_URL`` (plus ``MODEL_NAME`` for a folder)."""
        cfg = self.config
        if cfg.model_path:
            return cfg.model_path
        if cfg.model_url and cfg.model_name and not os.path.isfile(cfg.model_url):
            return os.path.join(cfg.model_url, cfg.model_name)
        return cfg.model_url


def current() -> Context:
    """Build a context from the process environment as it is now.

    Returns
    -------
    Context
        A fresh context.
    """
    return Context.from_env()


def resolve(context: Context | None) -> Context:
    """Return the context a public entry point runs with: the caller's, else the environment's.

    Call it once, where a user's call enters the library (a public function or constructor with a
    ``context=None`` parameter), and pass the result down; nothing below calls it again.

    Parameters
    ----------
    context : Context or None
        What the caller passed.

    Returns
    -------
    Context
        ``context`` itself, or a context read from the process environment now.

    Examples
    --------
    >>> ctx = Context(Config(job_name="j"))
    >>> resolve(ctx) is ctx
    True
    """
    return context if context is not None else Context.from_env()


def resolve_config(config: Config | None) -> Config:
    """Return the configuration a public entry point runs with: the caller's, else the environment's.

    The :class:`~sedna_lib.config.Config` counterpart of :func:`resolve`, for constructors that
    take a ``config=`` rather than a context.

    Parameters
    ----------
    config : Config or None
        What the caller passed.

    Returns
    -------
    Config
        ``config`` itself, or one parsed from the process environment now.
    """
    return config if config is not None else Config.from_env()


def get_parameters(name: str, default: Any = None) -> Any:
    """Read a deployment parameter at call time (solar_corona's ``context.get_parameters``).

    Parameters
    ----------
    name : str
        The variable, as the script spells it; ``name`` then ``name.upper()`` is tried.
    default : object, default=None
        Returned when unset or empty.

    Returns
    -------
    str or object
        The value as a string, or ``default``.

    Examples
    --------
    >>> get_parameters("sedna_lib_doctest_unset", "fallback")
    'fallback'
    """
    return _config.get_parameter(name, default)


def get_model_path(default: str | None = None) -> str | None:
    """Return the model path the deployment gives (solar_corona's ``context.get_model_path``).

    Parameters
    ----------
    default : str, default=None
        Returned when neither ``MODEL_PATH`` nor ``MODEL_URL`` is set.

    Returns
    -------
    str or None
        ``MODEL_PATH``, else ``MODEL_URL`` (joined with ``MODEL_NAME`` when it is a folder).
    """
    return current().model_path or default
