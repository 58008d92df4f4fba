"""Sedna's ``sedna.common.config``: ``BaseConfig``, ``Context``, ``Config`` and ``ConfigSerializable``.

Every value is read from the environment *when it is accessed*, through :mod:`sedna_lib.config`
(the one module that reads the environment); nothing is snapshotted at import time.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import warnings
from typing import Any, Mapping

from .. import config as _cfg
from ..exceptions import ConfigError, SednaWarning

__all__ = ["BaseConfig", "Context", "Config", "ConfigSerializable", "EnvConfig"]

_CONFIG_FIELDS = {f.name: f for f in dataclasses.fields(_cfg.Config)}

# Sedna's BaseConfig attributes: attribute -> sedna_lib.config.Config field (variable and default).
# Defaults come from that field; two differ from Sedna on purpose: JOB_NAME is "" (so that
# SERVICE_NAME is not masked) and BACKEND_TYPE is "" (the backend is chosen from the estimator).
_ATTRIBUTES: dict[str, str] = {
    "device_category": "device_category",
    "backend_type": "backend_type",
    "lc_server": "lc_server",
    "original_dataset_url": "original_dataset_url",
    "train_dataset_url": "train_dataset_url",
    "test_dataset_url": "test_dataset_url",
    "data_path_prefix": "data_path_prefix",
    "namespace": "namespace",
    "worker_name": "worker_name",
    "service_name": "service_name",
    "job_name": "job_name",
    "pretrained_model_url": "pretrained_model_url",
    "model_url": "model_url",
    "model_name": "model_name",
    "log_level": "log_level",
    "transmitter": "transmitter",
    "agg_data_path": "agg_data_path",
    "s3_endpoint_url": "s3_endpoint_url",
    "access_key_id": "access_key_id",
    "secret_access_key": "secret_access_key",
}
_SECRETS = frozenset({"access_key_id", "secret_access_key"})


def _read_attribute(name: str, environ: Mapping[str, str] | None, config: _cfg.Config | None = None) -> Any:
    """Read one BaseConfig attribute now: from ``config`` if given, else the environment (raw string)."""
    if name in ("parameters", "parameter"):
        f = _CONFIG_FIELDS["parameters"]
        if config is not None:
            return config.parameters or None
        raw = _cfg.get_parameter(f.metadata["env"], None, environ)
        if raw is None:
            return None
        return raw if name == "parameters" else f.metadata["parse"](raw, f.metadata["env"])
    field_name = _ATTRIBUTES[name]
    if config is not None:
        return getattr(config, field_name)
    f = _CONFIG_FIELDS[field_name]
    return _cfg.get_parameter(f.metadata["env"], f.default, environ)


def _load_mapping(source: Any) -> dict[str, Any]:
    """Turn a dict, a ``.json``/``.yaml`` path or inline JSON text into a dict."""
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str):
        text = source.strip()
        if text.lower().endswith(".py"):
            raise ConfigError(f"configuration files must be .json or .yaml, not Python ({text!r}); "
                              f"Python files are not executed", variable="config")
        return _cfg._url_or_file_dict(text, "config")
    raise ConfigError(f"a configuration must be a dict, a .json/.yaml path or JSON text, "
                      f"got {type(source).__name__}", variable="config")


class Config(dict):
    """A dict whose keys are also attributes; nested dicts become :class:`Config` too.

    Parameters
    ----------
    *args : dict or str
        Mappings, ``.json``/``.yaml`` file paths or inline JSON objects, merged in order.
    **kwargs : object
        Extra keys, merged last.

    Raises
    ------
    ConfigError
        If a string argument is not readable JSON/YAML or names a ``.py`` file.

    Examples
    --------
    >>> cfg = Config({"model": {"name": "m"}}, '{"epochs": 2}')
    >>> cfg.model.name, cfg.epochs
    ('m', 2)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        for arg in args:
            for key, value in _load_mapping(arg).items():
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        """Store ``value``, turning a nested mapping into a Config."""
        if isinstance(value, Mapping) and not isinstance(value, Config):
            value = Config(value)
        super().__setitem__(key, value)

    def __getattr__(self, name: str) -> Any:
        """Look the attribute up."""
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"Config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        """Set the attribute."""
        self[name] = value

    def __delattr__(self, name: str) -> None:
        """Delete the attribute."""
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"Config has no key {name!r}") from None

    def __deepcopy__(self, memo: dict) -> Config:
        """Deep-copy, keeping the Config type."""
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})


class ConfigSerializable:
    """Mixin giving Sedna's config helpers: ``get``, ``[]``, ``to_json``, ``dict``, ``update``, ``from_json``.

    Public, non-callable attributes (class or instance) are the configuration.
    """

    def _keys(self) -> list[str]:
        names = {n for n in dir(self) if not n.startswith("_")}
        return sorted(n for n in names if not callable(getattr(self, n, None)))

    def get(self, item: str, default: Any = "") -> Any:
        """Return an attribute, or ``default`` when it is missing or falsy (Sedna's rule).

        Parameters
        ----------
        item : str
            The attribute name.
        default : object, default=''
            Returned when the attribute is missing, ``None`` or empty.

        Returns
        -------
        object
            The value or ``default``.
        """
        return getattr(self, item, None) or default

    def __getitem__(self, item: str) -> Any:
        """Return the attribute, or None when missing."""
        return getattr(self, item, None)

    def to_json(self) -> Config:
        """Return every attribute as a :class:`Config` (a deep copy).

        Returns
        -------
        Config
            Attribute name to value; nested serialisable objects are converted too.
        """
        out = {}
        for name in self._keys():
            value = getattr(self, name)
            if isinstance(value, ConfigSerializable):
                value = value.to_json()
            elif isinstance(value, type) and issubclass(value, ConfigSerializable):
                value = value().to_json()
            out[name] = value
        return Config(copy.deepcopy(out))

    def dict(self) -> dict[str, Any]:
        """Return every attribute as a plain dict.

        Returns
        -------
        dict
            Attribute name to value.
        """
        return {name: getattr(self, name) for name in self._keys()}

    def update(self, **kwargs: Any) -> ConfigSerializable:
        """Set attributes that already exist; unknown names are skipped with a :class:`SednaWarning`.

        Parameters
        ----------
        **kwargs : object
            Attribute values.

        Returns
        -------
        ConfigSerializable
            ``self``.
        """
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                warnings.warn(f"{type(self).__name__}.update ignores unknown key {key!r}; "
                              f"use from_json to add keys", SednaWarning, stacklevel=2)
        return self

    @classmethod
    def from_json(cls, data: Any) -> type:
        """Set class attributes from a dict (or a ``.json``/``.yaml`` path), adding new keys.

        Parameters
        ----------
        data : dict or str
            The values.

        Returns
        -------
        type
            The class.

        Raises
        ------
        ConfigError
            If ``data`` is not a mapping nor a readable JSON/YAML source.
        """
        for key, value in _load_mapping(data).items():
            setattr(cls, key, value)
        return cls


class _OnInstance:
    """Bind a method to the instance, or to ``cls()`` when called on the class (``BaseConfig.get(...)``)."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def __get__(self, obj: Any, cls: type) -> Any:
        """Bind the function."""
        return self.func.__get__(cls() if obj is None else obj, cls)


class EnvConfig(ConfigSerializable):
    """Sedna's ``BaseConfig`` attributes read from the environment on access, under local overrides.

    One object per job: values given in ``overrides`` (a job's ``config=`` dict, or set later)
    shadow the environment; everything else is looked up each time it is read, so a script that
    sets a variable after import sees the new value.

    Parameters
    ----------
    overrides : dict, default=None
        Values that shadow the environment (feature keys such as ``agg_uri`` may be added).
    environ : mapping, default=None
        Where variables are read; the process environment (at access time) by default.
    config : sedna_lib.config.Config, default=None
        Read the values from this parsed configuration instead of the environment.

    Examples
    --------
    >>> cfg = EnvConfig({"agg_uri": "ws://a"}, environ={"MODEL_URL": "/m"})
    >>> cfg.model_url, cfg.agg_uri, cfg.job_name, cfg.get("train_dataset_url", "none")
    ('/m', 'ws://a', '', 'none')
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None, *,
                 environ: Mapping[str, str] | None = None, config: _cfg.Config | None = None) -> None:
        object.__setattr__(self, "_overrides", dict(overrides or {}))
        object.__setattr__(self, "_environ", environ)
        object.__setattr__(self, "_config", config)

    def __getattr__(self, name: str) -> Any:
        """Look the attribute up."""
        if name.startswith("__") or name in ("_overrides", "_environ", "_config"):
            raise AttributeError(name)
        overrides = self.__dict__["_overrides"]
        if name in overrides:
            return overrides[name]
        if name in _ATTRIBUTES or name in ("parameters", "parameter"):
            return _read_attribute(name, self.__dict__["_environ"], self.__dict__["_config"])
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        """Set the attribute."""
        self.__dict__["_overrides"][name] = value

    def __delattr__(self, name: str) -> None:
        """Delete the attribute."""
        try:
            del self.__dict__["_overrides"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        """List the attributes."""
        names = set(_ATTRIBUTES) | {"parameters"} | set(self.__dict__["_overrides"])
        if _read_attribute("parameters", self.__dict__["_environ"], self.__dict__["_config"]) is not None:
            names.add("parameter")
        return sorted(names | set(dir(type(self))))

    def __repr__(self) -> str:
        """Show the values, secrets masked."""
        shown = {k: ("***" if k in _SECRETS and v else v) for k, v in self.dict().items()}
        return f"{type(self).__name__}({shown})"

    get = _OnInstance(ConfigSerializable.get)
    to_json = _OnInstance(ConfigSerializable.to_json)
    dict = _OnInstance(ConfigSerializable.dict)
    update = _OnInstance(ConfigSerializable.update)

    def _from_json(self, data: Any) -> EnvConfig:
        """Add or replace values on this object only (never on the class, never process-wide).

        Parameters
        ----------
        data : dict or str
            The values, or a ``.json``/``.yaml`` source.

        Returns
        -------
        EnvConfig
            ``self``.

        Raises
        ------
        ConfigError
            If ``data`` is not a mapping nor a readable JSON/YAML source.
        """
        self.__dict__["_overrides"].update(_load_mapping(data))
        return self

    from_json = _OnInstance(_from_json)  # type: ignore[assignment]


class _BaseConfigMeta(type):
    """Class-level attribute access: ``BaseConfig.train_dataset_url`` reads the environment now."""

    def __getattr__(cls, name: str) -> Any:
        """Look the attribute up."""
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls(), name)


class BaseConfig(EnvConfig, metaclass=_BaseConfigMeta):
    """The process's Sedna configuration: ``BaseConfig.model_url`` and ``BaseConfig()`` both work.

    ``BaseConfig()`` returns the one process-wide instance; attributes read through the class
    (``BaseConfig.train_dataset_url``) or the instance are looked up in the environment at access
    time. Values added with ``from_json``/``update`` apply to that instance (jobs do not use it:
    each :class:`~sedna_lib.job.JobBase` has its own :class:`EnvConfig`).

    Attributes
    ----------
    model_url, model_name, train_dataset_url, test_dataset_url, original_dataset_url : str or None
        ``MODEL_URL``, ``MODEL_NAME``, ``TRAIN_DATASET_URL``, ``TEST_DATASET_URL``, ``ORIGINAL_DATASET_URL``.
    job_name, service_name, worker_name, namespace : str
        Identity variables; ``job_name`` defaults to ``""`` (Sedna: ``"sedna"``).
    backend_type : str
        ``BACKEND_TYPE``; ``""`` when unset means the backend is chosen from the estimator's type.

    Examples
    --------
    >>> BaseConfig() is BaseConfig()
    True
    """

    _instance: BaseConfig | None = None
    _lock = threading.Lock()

    def __new__(cls) -> BaseConfig:
        """Return the one process-wide instance."""
        with cls._lock:
            if cls._instance is None:
                instance = super().__new__(cls)
                EnvConfig.__init__(instance)
                cls._instance = instance
            return cls._instance

    def __init__(self) -> None:
        """Nothing to do: the one instance is initialised once in ``__new__``."""


class Context:
    """Sedna's ``Context``: call-time access to deployment parameters.

    Examples
    --------
    >>> Context.get_parameters("sedna_lib_doctest_unset", "1")
    '1'
    """

    @classmethod
    def get_parameters(cls, param: str, default: Any = None) -> Any:
        """Return ``param`` from the environment: ``param``, then ``param.upper()``; empty means unset.

        Parameters
        ----------
        param : str
            The variable, as the script spells it (``"epochs"`` finds ``EPOCHS``).
        default : object, default=None
            Returned, unconverted, when unset.

        Returns
        -------
        str or object
            The value as a string, or ``default``.
        """
        return _cfg.get_parameter(param, default)

    @classmethod
    def get_algorithm_from_api(cls, algorithm: str, **param: Any) -> dict[str, Any]:
        """Read ``{algorithm}_NAME`` and ``{algorithm}_PARAMETERS``; keyword arguments override the latter.

        Parameters
        ----------
        algorithm : str
            The prefix, for example ``"HEM"``.
        **param : object
            Values that replace or add to those from the environment.

        Returns
        -------
        dict
            ``{"method": name, "param": {...}}``, or ``{}`` when ``{algorithm}_NAME`` is unset.

        Raises
        ------
        ConfigError
            If ``{algorithm}_PARAMETERS`` is not JSON or not a list of ``{"key", "value"}`` objects
            (Sedna silently used ``{}``).

        Examples
        --------
        >>> Context.get_algorithm_from_api("SEDNA_LIB_DOCTEST_UNSET")
        {}
        """
        name = _cfg.get_parameter(f"{algorithm}_NAME")
        if not name:
            return {}
        variable = f"{algorithm}_PARAMETERS"
        params = _cfg.parse_key_value_parameters(_cfg.get_parameter(variable), variable)
        params.update(param)
        return {"method": name, "param": params}
