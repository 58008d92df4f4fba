"""The native base of every feature job: context, wrapped estimator, identity, model path and LC reports.

Sedna's ``JobBase`` (its ``config`` attributes read from the environment, its class methods that
read the deployment) is the face over this one, in :mod:`sedna_lib.compat.core.base`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import uuid
from typing import Any, Callable, Mapping

from . import registry
from .config import Config
from .context import Context, resolve
from .exceptions import ConfigError
from .transport.lc import LCClient, OwnerKind, Report

__all__ = ["JobBase", "JobConfig", "check_writable", "resolve_callback"]

LOGGER = logging.getLogger("sedna")

_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


def resolve_callback(post_process: Callable[..., Any] | str | None, *,
                     registry_: registry.Registry | None = None) -> Callable[..., Any] | None:
    """Turn a ``post_process`` argument into a callable, by Sedna's rule for inference and evaluation.

    Parameters
    ----------
    post_process : callable or str or None
        A callable, or the name of a class or function registered as ``Kind.CALLBACK``
        (``post_process_callback``); the registered object is returned as is, and called with
        the result.
    registry_ : Registry, default=None
        Where names are looked up (the default registry when None).

    Returns
    -------
    callable or None
        What to call with the result, or None.

    Raises
    ------
    ClassNotFoundError
        If a name is given that is not registered.
    ParameterError
        If ``post_process`` is neither a callable nor a name.

    See Also
    --------
    sedna_lib.registry.resolve_callback : the one resolver, and the rule of each call site.
    """
    return registry.resolve_callback(post_process, get=functools.partial(
        registry.get_class, registry.Kind.CALLBACK, registry=registry_))


def check_writable(target: str, variable: str, *, folder: bool = False) -> None:
    """Check that a job can write its output at ``target``: create its folder, write and remove a probe.

    Remote locations (``s3://``, ``http(s)://``) are not checked here; their upload reports its own
    failure.

    Parameters
    ----------
    target : str
        The local file the job will write, or the folder it writes in when ``folder`` is true.
    variable : str
        The variable that named the location, named in the error.
    folder : bool, default=False
        Whether ``target`` is the folder itself rather than a file in it.

    Raises
    ------
    ConfigError
        If the folder cannot be created or written (its ``variable`` is ``variable``).
    """
    if not target or "://" in target:
        return
    directory = target if folder else (os.path.dirname(target) or ".")
    probe = os.path.join(directory, f".sedna-write-probe-{uuid.uuid4().hex}")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{variable} names {target!r}, but the folder {directory!r} cannot be written "
                          f"({reason}); set {variable} to a writable location", variable=variable) from exc


class JobConfig:
    """A job's settings, read-only: its own ``config`` values over its context's :class:`Config` fields.

    Parameters
    ----------
    overrides : mapping, default=None
        The job's own values (any key; a :class:`Config` field name shadows that field).
    config : Config
        The context's configuration.

    Examples
    --------
    >>> cfg = JobConfig({"job_name": "local"}, Config(job_name="deployed", namespace="ns"))
    >>> cfg.job_name, cfg.namespace, cfg.get("model_name", "fallback"), cfg.get("not_a_field", 3)
    ('local', 'ns', 'fallback', 3)
    """

    __slots__ = ("_overrides", "_config")

    def __init__(self, overrides: Mapping[str, Any] | None, config: Config) -> None:
        self._overrides = dict(overrides or {})
        self._config = config

    def __getattr__(self, name: str) -> Any:
        """Return the job's own value of ``name``, else the context's field."""
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._overrides:
            return self._overrides[name]
        if name in _CONFIG_FIELDS:
            return getattr(self._config, name)
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    def get(self, name: str, default: Any = None) -> Any:
        """Return a setting, or ``default`` when it is missing, None or empty.

        Parameters
        ----------
        name : str
            The setting (a :class:`Config` field name, or a key of the job's own values).
        default : object, default=None
            Returned when the setting is missing or falsy.

        Returns
        -------
        object
            The value or ``default``.
        """
        return getattr(self, name, None) or default

    def __repr__(self) -> str:
        """Name the job's own settings (not their values, which may be secrets)."""
        return f"{type(self).__name__}(own={sorted(self._overrides)})"


class JobBase:
    """What every feature job shares: configuration, the wrapped estimator, identity and reports.

    Nothing starts in the constructor: no thread, no connection, no model load.

    Parameters
    ----------
    estimator : object
        The user's model or estimator (class, factory or instance); it is wrapped by
        :func:`sedna_lib.backends.set_backend` chosen from ``BACKEND_TYPE`` or its type.
    config : dict, default=None
        Job settings that shadow the context's configuration for this job only (a
        :class:`~sedna_lib.config.Config` field name shadows that field); readable as
        ``self.config.<key>``.
    context : Context, default=None
        Configuration, registry and storage; the environment's context when omitted.

    Attributes
    ----------
    job_kind : str
        The ``ownerKind`` reported to the LocalController (an
        :class:`~sedna_lib.transport.lc.OwnerKind` value); each
        feature sets its own.
    report : bool
        Whether :meth:`report_task_info` reports to the LocalController; True unless a feature's
        ``report=False`` turns its reports off.
    context : Context
        The run-time context.
    config : JobConfig
        The context's configuration with ``config`` on top.
    estimator : Backend or None
        The wrapped estimator.
    job_name : str
        ``JOB_NAME``, else ``SERVICE_NAME``.
    worker_name : str
        ``WORKER_NAME``, else ``job_name``.
    namespace : str
        ``NAMESPACE``, else ``job_name``.

    Examples
    --------
    >>> job = JobBase(None, context=Context(Config(service_name="ji-svc", namespace="ns")))
    >>> job.job_name, job.worker_name, job.namespace
    ('ji-svc', 'ji-svc', 'ns')
    """

    job_kind: str = OwnerKind.DEFAULT.value
    report: bool = True

    def __init__(self, estimator: Any, config: Mapping[str, Any] | None = None, *,
                 context: Context | None = None) -> None:
        self.context = resolve(context)
        self.config = self._config_view(config)
        self.log = LOGGER
        self.estimator = self._wrap(estimator, config)
        self.job_name = self.config.job_name or self.config.service_name or ""
        self.worker_name = self.config.worker_name or self.job_name
        self.namespace = self.config.namespace or self.job_name
        self.lc_server = self.config.lc_server
        self.model_load_mode = self.config.get("model_load_mode", self.context.config.model_load_mode)
        self._lc_client: LCClient | None = None

    def _wrap(self, estimator: Any, config: Mapping[str, Any] | None) -> Any:
        if estimator is None:
            return None
        from .backends import set_backend

        return set_backend(estimator, dict(config) if config else None, context=self.context)

    def _config_view(self, config: Mapping[str, Any] | None) -> Any:
        """Build :attr:`config` from the job's own settings (a face may give its own view)."""
        return JobConfig(config, self.context.config)

    # -- parameters and paths ------------------------------------------------------------------
    def get_parameters(self, param: str, default: Any = None) -> Any:
        """Return a deployment parameter: ``param``, then ``param.upper()``; empty means unset.

        Parameters
        ----------
        param : str
            The variable, as the script spells it.
        default : object, default=None
            Returned, unconverted, when unset.

        Returns
        -------
        str or object
            The raw value or ``default``.
        """
        return self.context.get_parameters(param, default)

    @property
    def model_path(self) -> str:
        """The model to load.

        ``MODEL_PATH`` if set; else ``MODEL_URL`` when it names a file (an existing file, or a
        path with a file extension that is not an existing folder, as ``save`` reads it) or
        ``MODEL_LOAD_MODE`` is not ``file``; else ``MODEL_URL`` (a folder) joined with the model's
        file name. So ``MODEL_URL=/models/model.pkl`` means that file for training, evaluation and
        inference alike.

        Raises
        ------
        ConfigError
            If neither ``MODEL_PATH`` nor ``MODEL_URL`` is set (Sedna raised ``TypeError``).
        """
        explicit = self.config.get("model_path") or self.context.config.model_path
        if explicit:
            return explicit
        model_url = self.config.model_url
        if not model_url:
            raise ConfigError("MODEL_URL is not set, so there is no model to load; set MODEL_URL to the "
                              "model file or folder (or MODEL_PATH to the file)", variable="MODEL_URL")
        names_file = os.path.isfile(model_url) or (
            bool(os.path.splitext(model_url.rstrip("/"))[1]) and not model_url.endswith("/")
            and not os.path.isdir(model_url))
        if self.model_load_mode != "file" or names_file:
            return model_url
        name = getattr(self.estimator, "model_name", None) or self.config.model_name
        if not name:
            raise ConfigError(f"MODEL_URL {model_url!r} is a folder and no model file name is known; set "
                              f"MODEL_NAME (or MODEL_PATH)", variable="MODEL_NAME")
        return os.path.join(model_url, name)

    # -- inference -----------------------------------------------------------------------------
    def inference(self, x: Any = None, post_process: Callable[..., Any] | str | None = None,
                  **kwargs: Any) -> Any:
        """Predict with the wrapped estimator, then apply ``post_process``.

        Parameters
        ----------
        x : object, default=None
            The input.
        post_process : callable or str, default=None
            Called with the prediction (a name is looked up as ``Kind.CALLBACK``).
        **kwargs : object
            Passed to the estimator's ``predict``.

        Returns
        -------
        object
            The (post-processed) prediction.
        """
        result = self.estimator.predict(x, **kwargs)
        callback = resolve_callback(post_process, registry_=self.context.registry)
        return callback(result) if callback is not None else result

    def evaluate(self, data: Any, post_process: Callable[..., Any] | str | None = None, **kwargs: Any) -> Any:
        """Evaluate the wrapped estimator on ``data``, then apply ``post_process``.

        Parameters
        ----------
        data : object
            The evaluation data (a data source, ``(x, y)``, ...).
        post_process : callable or str, default=None
            Called with the result.
        **kwargs : object
            Passed to the estimator's ``evaluate``.

        Returns
        -------
        object
            The (post-processed) evaluation result.
        """
        result = self.estimator.evaluate(data, **kwargs)
        callback = resolve_callback(post_process, registry_=self.context.registry)
        return callback(result) if callback is not None else result

    # -- LocalController reports ---------------------------------------------------------------
    @property
    def lc_client(self) -> LCClient:
        """The LocalController client (built on first use from ``LC_SERVER`` and the timeouts)."""
        if self._lc_client is None:
            cfg = self.context.config
            self._lc_client = LCClient(self.lc_server or cfg.lc_server,
                                       timeout=(cfg.connect_timeout_s, cfg.request_timeout),
                                       max_retries=max(0, cfg.max_retries))
        return self._lc_client

    def make_report(self, kind: str, status: str | None = None, results: Any = None,
                    owner_info: Mapping[str, Any] | None = None) -> Report:
        """Build a report with this job's identity.

        Parameters
        ----------
        kind : str
            ``train``, ``eval``, ``deploy`` or ``inference``.
        status : str, default=None
            ``running``, ``completed`` or ``failed``.
        results : list of dict, default=None
            Model entries.
        owner_info : dict, default=None
            Feature information.

        Returns
        -------
        Report
            The report.
        """
        return Report(name=self.worker_name, namespace=self.namespace, owner_name=self.job_name,
                      owner_kind=getattr(self.job_kind, "value", self.job_kind), kind=kind, status=status,
                      results=results, owner_info=owner_info)

    def report_task_info(self, task_info: Mapping[str, Any] | None, status: str, results: Any = None,
                         kind: str = "train") -> bool:
        """Report a phase's outcome to the LocalController, unless ``report`` is False; never raises.

        Parameters
        ----------
        task_info : dict or None
            Sent as ``ownerInfo`` when not empty.
        status : str
            ``running``, ``completed`` or ``failed``.
        results : list of dict, default=None
            Sent as ``results`` when not empty.
        kind : str, default='train'
            The phase.

        Returns
        -------
        bool
            Whether the LocalController accepted the report (False when reports are off).
        """
        if not self.report:
            return False
        report = self.make_report(kind, getattr(status, "value", status), results or None, task_info or None)
        return self.lc_client.send(self.worker_name, report)

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Release what the job holds (the LocalController client); safe to call twice."""
        if self._lc_client is not None:
            self._lc_client.close()

    def __enter__(self) -> JobBase:
        """Enter the context: return self."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Leave the context: release resources."""
        self.close()
