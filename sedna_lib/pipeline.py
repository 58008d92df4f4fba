"""Custom edge-cloud inference pipelines: declare models, route between them in one decorated function.

In the style of Seldon Tempo's ``@pipeline``: models are declared once (a local estimator, or a
remote endpoint served elsewhere), and a plain Python function calls them with whatever logic
the application needs, hard-example mining being one choice among many::

    edge = Model(name="edge", estimator=small_clf, method="predict_proba")
    cloud = RemoteModel(name="cloud", url="http://cloud:5000")

    @pipeline(name="joint", models=[edge, cloud])
    def joint(x):
        p = edge(x)
        return cloud(x) if p.max() < 0.9 else p

    joint(x)                              # runs here, in-process (tests, notebooks)
    server = joint.serve(port=5000)       # or serves it: POST /joint/predict

Serving uses the joint-inference stack (:class:`sedna_lib.servers.inference.InferenceServer`):
Sedna's ``{"data": [...]}`` / ``{"result": ...}`` JSON and the binary array codec, bearer-token
auth, a body-size limit (413), ``/healthz``, blocking code off the event loop. A served pipeline
is therefore also a valid joint-inference cloud worker, and another pipeline reaches it with a
:class:`RemoteModel`.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Iterable, Iterator, Sequence

from .config import Config
from .context import resolve_config
from .exceptions import ParameterError

__all__ = ["Model", "RemoteModel", "Pipeline", "PipelineModels", "pipeline", "connect"]

logger = logging.getLogger(__name__)

_PLATFORMS = ("edge", "cloud")


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or not name.replace("-", "_").isidentifier():
        raise ParameterError(f"{what} name must be a short identifier (letters, digits, '_' or '-'), "
                             f"got {name!r}")
    return name


def _check_platform(platform: Any) -> str:
    if platform not in _PLATFORMS:
        raise ParameterError(f"platform must be one of {_PLATFORMS}, got {platform!r}")
    return platform


class Model:
    """A model the pipeline runs in-process: any estimator or callable.

    Parameters
    ----------
    name : str
        Name inside the pipeline (``pipeline.models.<name>``).
    estimator : object
        An object with ``method`` (``predict`` by default), or a callable ``f(x)``.
    platform : {'edge', 'cloud'}, default='edge'
        Where it is meant to run (documentation, and :meth:`Pipeline.describe`).
    method : str, default='predict'
        The estimator's method to call (``predict_proba``, ``transform``...).

    Raises
    ------
    ParameterError
        On a bad name, platform, or an estimator without ``method`` (when it is called).

    Examples
    --------
    >>> double = Model(name="double", estimator=lambda x: 2 * x)
    >>> double(3)
    6
    """

    def __init__(self, *, name: str, estimator: Any, platform: str = "edge", method: str = "predict") -> None:
        self.name = name
        self.estimator = estimator
        self.platform = platform
        self.method = method

    def _target(self) -> Callable[[Any], Any]:
        _check_name(self.name, "model")
        _check_platform(self.platform)
        bound = getattr(self.estimator, self.method, None)
        if callable(bound):
            return bound
        if callable(self.estimator):
            return self.estimator
        raise ParameterError(f"model {self.name!r}: {type(self.estimator).__name__} has no "
                             f"{self.method}() and is not callable")

    def __call__(self, data: Any, **kwargs: Any) -> Any:
        """Run the model on ``data``.

        Parameters
        ----------
        data : object
            The input.
        **kwargs : object
            Passed to the estimator.

        Returns
        -------
        object
            Its output.
        """
        return self._target()(data, **kwargs)

    def close(self) -> None:
        """Nothing to release for a local model."""

    def __repr__(self) -> str:
        """Return a short readable description."""
        return (f"Model(name={self.name!r}, platform={self.platform!r}, "
                f"estimator={type(self.estimator).__name__})")


class RemoteModel:
    """A model served elsewhere: a pipeline, a joint-inference cloud worker, Sedna's ``InferenceServer``.

    Calls ``POST {url}/{service}/predict`` with the joint-inference client
    (:class:`sedna_lib.transport.http.InferenceClient`): numeric arrays travel in the binary codec,
    everything else as Sedna's JSON; timeouts, bounded retries and a circuit breaker apply. As
    that client does, it tries ``{url}/sedna/predict`` when the service answers 404 (a
    ``BigModelService`` or an original Sedna cloud worker serves ``/sedna`` whatever the name
    asked for) and keeps the path that works.

    Parameters
    ----------
    name : str
        Name inside the pipeline.
    url : str
        Base URL, ``http://host:port``.
    service : str, default=None
        Path segment of the served model or pipeline; ``name`` by default.
    platform : {'edge', 'cloud'}, default='cloud'
        Where it runs.
    token : str, default=None
        Bearer token; ``SEDNA_AUTH_TOKEN`` of ``config`` by default.
    timeout : float, default=None
        Read timeout in seconds; ``SEDNA_REQUEST_TIMEOUT`` by default.
    config : Config, default=None
        Supplies defaults (token, timeouts, retries, TLS CA); read from the environment at
        construction when omitted.

    Raises
    ------
    TransportError
        When called, if the endpoint cannot be reached (:class:`TransportTimeout`, or
        :class:`RemoteError` with the status it answered).
    """

    def __init__(self, *, name: str, url: str, service: str | None = None, platform: str = "cloud",
                 token: str | None = None, timeout: float | None = None,
                 config: Config | None = None) -> None:
        self.name = name
        self.url = url
        self.service = service
        self.platform = platform
        self.token = token
        self.timeout = timeout
        self.config = resolve_config(config)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The HTTP client (built on first use)."""
        if self._client is None:
            from .transport.http import InferenceClient

            _check_name(self.name, "model")
            _check_platform(self.platform)
            cfg = self.config
            timeout = self.timeout if self.timeout is not None else cfg.request_timeout
            self._client = InferenceClient(self.url, service_name=self.service or self.name,
                                           timeout=(min(cfg.connect_timeout_s, timeout), timeout),
                                           max_retries=cfg.max_retries,
                                           auth_token=self.token or cfg.auth_token,
                                           verify=cfg.tls_ca or True)
        return self._client

    def __call__(self, data: Any, **kwargs: Any) -> Any:
        """Send ``data`` to the remote model and return its result.

        Parameters
        ----------
        data : object
            A numpy array, or JSON-able data.
        **kwargs : object
            Extra fields of the request (``callback=`` names a server-side callback).

        Returns
        -------
        object
            The result (an array when it came back in the binary codec).
        """
        return self.client.predict(data, **kwargs)

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"RemoteModel(name={self.name!r}, url={self.url!r}, platform={self.platform!r})"


def connect(url: str, *, name: str, token: str | None = None, timeout: float | None = None,
            config: Config | None = None) -> RemoteModel:
    """Return a client for the pipeline ``name`` served at ``url`` (a :class:`RemoteModel`).

    Parameters
    ----------
    url : str
        Base URL of the server.
    name : str
        The pipeline's name.
    token : str, default=None
        Bearer token.
    timeout : float, default=None
        Read timeout in seconds.
    config : Config, default=None
        Defaults for the client.

    Returns
    -------
    RemoteModel
        Call it with the pipeline's input.
    """
    return RemoteModel(name=name, url=url, token=token, timeout=timeout, config=config)


class PipelineModels:
    """The models of a pipeline, by name (``models.edge``, ``models["edge"]``), in declaration order."""

    def __init__(self, models: Iterable[Model | RemoteModel]) -> None:
        self._models: dict[str, Model | RemoteModel] = {}
        for model in models:
            if not isinstance(model, (Model, RemoteModel)):
                raise ParameterError(f"pipeline models must be Model or RemoteModel, "
                                     f"got {type(model).__name__}")
            name = _check_name(model.name, "model")
            if name in self._models:
                raise ParameterError(f"two pipeline models are named {name!r}; names must be unique")
            self._models[name] = model

    def __getattr__(self, name: str) -> Model | RemoteModel:
        """Return the model called ``name`` (attribute access)."""
        models = self.__dict__.get("_models", {})
        if name in models:
            return models[name]
        raise AttributeError(f"the pipeline has no model {name!r}; it has {sorted(models)}")

    def __getitem__(self, name: str) -> Model | RemoteModel:
        """Return the model called ``name``."""
        try:
            return self._models[name]
        except KeyError:
            raise KeyError(f"the pipeline has no model {name!r}; it has {sorted(self._models)}") from None

    def __iter__(self) -> Iterator[Model | RemoteModel]:
        """Iterate over the models in declaration order."""
        return iter(self._models.values())

    def __len__(self) -> int:
        """Return the number of models."""
        return len(self._models)

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"PipelineModels({list(self._models)})"


class Pipeline:
    """A routing function over declared models; callable in-process, servable over HTTP.

    Build one with the :func:`pipeline` decorator.

    Parameters
    ----------
    func : callable
        The routing logic; called with the pipeline's input.
    name : str
        Service name (``POST /{name}/predict``).
    models : sequence of Model or RemoteModel, default=()
        The models ``func`` calls.

    Attributes
    ----------
    models : PipelineModels
        The models by name.
    """

    def __init__(self, *, func: Callable[..., Any], name: str,
                 models: Sequence[Model | RemoteModel] = ()) -> None:
        self.func = func
        self.name = _check_name(name, "pipeline")
        self.models = PipelineModels(models)
        self._servers: list[Any] = []
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the pipeline in-process.

        Parameters
        ----------
        *args, **kwargs : object
            The routing function's arguments.

        Returns
        -------
        object
            Its result.
        """
        return self.func(*args, **kwargs)

    def predict(self, data: Any) -> Any:
        """Run the pipeline on one input (what the server calls).

        Parameters
        ----------
        data : object
            The input.

        Returns
        -------
        object
            The result.
        """
        return self.func(data)

    def describe(self) -> dict[str, Any]:
        """Describe the pipeline: its name and its models' names, kinds and platforms.

        Returns
        -------
        dict
            ``{"name", "models": [{"name", "kind", "platform"}, ...]}``.
        """
        return {"name": self.name, "models": [
            {"name": m.name, "kind": type(m).__name__, "platform": m.platform} for m in self.models]}

    def serve(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
              max_request_bytes: int | None = None, ssl_certfile: str | None = None,
              ssl_keyfile: str | None = None, config: Config | None = None) -> Any:
        """Serve the pipeline over HTTP in a background thread (returns once bound).

        Parameters
        ----------
        host : str, default='127.0.0.1'
            Address to bind (``0.0.0.0`` in a pod).
        port : int, default=0
            Port; 0 picks a free one (read ``server.port`` / ``server.url``).
        token : str, default=None
            Bearer token clients must send; ``SEDNA_AUTH_TOKEN`` by default.
        max_request_bytes : int, default=None
            Largest body (413 beyond); ``SEDNA_MAX_REQUEST_BYTES`` by default.
        ssl_certfile, ssl_keyfile : str, default=None
            Serve HTTPS; ``SEDNA_TLS_CERT``/``SEDNA_TLS_KEY`` by default.
        config : Config, default=None
            Supplies the defaults; read from the environment when omitted.

        Returns
        -------
        InferenceServer
            The running server; ``stop()`` it (or call :meth:`close`).

        Raises
        ------
        TransportError
            If the port cannot be bound.
        """
        from .servers import ServerLimits
        from .servers.inference import InferenceServer

        cfg = resolve_config(config)
        server = InferenceServer(self, self.name, host=host, http_port=port,
                                 max_buffer_size=max_request_bytes or cfg.max_request_bytes,
                                 token=token if token is not None else cfg.auth_token,
                                 ssl_certfile=ssl_certfile or cfg.tls_cert,
                                 ssl_keyfile=ssl_keyfile or cfg.tls_key,
                                 limits=ServerLimits.from_config(cfg))
        server.start(block=False)
        self._servers.append(server)
        logger.info("pipeline %s serving on %s", self.name, server.url)
        return server

    def close(self) -> None:
        """Stop the servers this pipeline started and close its remote models' sessions."""
        while self._servers:
            self._servers.pop().stop()
        for model in self.models:
            model.close()

    def __enter__(self) -> Pipeline:
        """Return ``self`` for a ``with`` block."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close at the end of the ``with`` block."""
        self.close()

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"Pipeline(name={self.name!r}, models={list(m.name for m in self.models)})"


def pipeline(*, name: str | None = None, models: Sequence[Model | RemoteModel] = ()) -> Callable[
        [Callable[..., Any]], Pipeline]:
    """Turn a routing function into a :class:`Pipeline`.

    Parameters
    ----------
    name : str, default=None
        Service name; the function's name (``_`` -> ``-`` kept as is) by default.
    models : sequence of Model or RemoteModel, default=()
        The models the function calls (reachable as ``<pipeline>.models.<name>``).

    Returns
    -------
    callable
        The decorator.

    Raises
    ------
    ParameterError
        If a name is invalid or two models share one.

    Examples
    --------
    >>> double = Model(name="double", estimator=lambda x: 2 * x)
    >>> @pipeline(models=[double])
    ... def plus_one(x):
    ...     return double(x) + 1
    >>> plus_one(4), plus_one.name
    (9, 'plus_one')
    """
    def decorate(func: Callable[..., Any]) -> Pipeline:
        return Pipeline(func=func, name=name or func.__name__, models=models)

    return decorate
