"""The cloud side of joint inference: the big model served over HTTP, and where the edge finds it."""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from ..backends.loaders import check_model, load_model_file
from ..context import Context, resolve
from ..exceptions import TransportError
from ..job import JobBase
from ..transport.lc import OwnerKind

__all__ = ["BigModelService", "get_big_model_endpoint"]


class BigModelService(JobBase):
    """The cloud side of joint inference: serves the big model over HTTP.

    Parameters
    ----------
    estimator : object, default=None
        The big model (class, factory or instance), wrapped by a backend.
    config : dict, default=None
        Job settings that shadow the environment for this job.
    context : Context, default=None
        Configuration and registry; the environment's context when omitted.

    Notes
    -----
    Binds ``BIG_MODEL_BIND_IP:BIG_MODEL_BIND_PORT`` (all interfaces, port 5000 by default, as
    the control plane expects) and serves ``/{SERVICE_NAME}/predict`` and ``/sedna/predict``.
    ``SEDNA_AUTH_TOKEN`` requires a bearer token, ``SEDNA_MAX_REQUEST_BYTES`` bounds bodies,
    ``SEDNA_TLS_CERT``/``SEDNA_TLS_KEY`` turn on HTTPS.

    Examples
    --------
    Serve on a free local port for the length of a block::

        with BigModelService(estimator=Model).start(host="127.0.0.1", port=0, block=False) as service:
            print(service.url)
    """

    job_kind = OwnerKind.JOINT_INFERENCE_SERVICE.value

    def __init__(self, estimator: Any = None, config: Mapping[str, Any] | None = None, *,
                 context: Context | None = None) -> None:
        super().__init__(estimator, config, context=context)
        self.server: Any = None
        self._lifecycle_lock = threading.Lock()  # a start and a stop, one at a time: one server at most

    def train(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing (the big model is trained elsewhere), as in Sedna."""

    def inference(self, data: Any = None, post_process: Callable[..., Any] | str | None = None,
                  **kwargs: Any) -> Any:
        """Run the big model on ``data`` and apply ``post_process`` (what the server calls).

        Parameters
        ----------
        data : object, default=None
            The input, as the client sent it (a list from JSON, an array from the binary codec).
        post_process : callable or str, default=None
            Applied to the prediction.
        **kwargs : object
            Passed to the estimator's ``predict``.

        Returns
        -------
        object
            The (post-processed) prediction.
        """
        return super().inference(data, post_process=post_process, **kwargs)

    def start(self, host: str | None = None, port: int | None = None, *,
              block: bool = True) -> BigModelService:
        """Load the model and serve it; block until stopped unless ``block=False``.

        Parameters
        ----------
        host : str, default=None
            Address to bind; ``BIG_MODEL_BIND_IP`` if omitted.
        port : int, default=None
            Port to bind (0 picks a free one); ``BIG_MODEL_BIND_PORT`` if omitted.
        block : bool, default=True
            Serve in the foreground (as Sedna's ``start``); False returns once listening.

        Returns
        -------
        BigModelService
            ``self``.

        Raises
        ------
        ConfigError
            If there is no model (``estimator`` is None): set ``MODEL_URL`` (or ``MODEL_PATH``), or
            pass a model object or path.
        StorageNotFoundError
            If ``MODEL_LOAD_MODE`` is ``file`` and the model file does not exist.
        TransportError
            If the address cannot be bound.
        """
        from ..servers import ServerLimits
        from ..servers._lifecycle import serve_in_foreground
        from ..servers.inference import InferenceServer

        cfg = self.context.config
        with self._lifecycle_lock:  # the check, the creation and the start at once: one server
            if self.server is None:
                check_model(self.estimator)
                load_model_file(self)
                self.server = InferenceServer(
                    self, self.job_name or "sedna",
                    host=host or self.config.get("big_model_bind_ip", cfg.big_model_bind_ip),
                    http_port=cfg.big_model_bind_port if port is None else port,
                    max_buffer_size=cfg.max_request_bytes, token=cfg.auth_token,
                    ssl_certfile=cfg.tls_cert, ssl_keyfile=cfg.tls_key,
                    registry=self.context.registry, limits=ServerLimits.from_config(cfg))
            server = self.server
            server.start(block=False)
        if block:  # until stopped: by stop(), SIGTERM or Ctrl-C, each through stop()
            serve_in_foreground(server.wait, self.stop)
        return self

    @property
    def language_model(self) -> Any:
        """The estimator itself, which the OpenAI-compatible routes run (``/v1/chat/completions``)."""
        backend = self.estimator
        instance = getattr(backend, "_instance", None)
        return instance() if callable(instance) else getattr(backend, "estimator", backend)

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://host:port``)."""
        if self.server is None:
            raise TransportError("the service is not started; call start(block=False) first")
        return self.server.url

    def wait(self) -> None:
        """Block until the service stops serving (at once when it does not serve)."""
        if self.server is not None:
            self.server.wait()

    def stop(self) -> None:
        """Stop serving; a start under way in another thread finishes first."""
        with self._lifecycle_lock:
            if self.server is not None:
                self.server.stop()

    def close(self) -> None:
        """Stop serving and release the job's resources."""
        self.stop()
        super().close()

    def __enter__(self) -> BigModelService:
        """Serve in the background (unless started), and return the service, for a ``with`` block."""
        if self.server is None:
            self.start(block=False)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Stop serving at the end of the ``with`` block."""
        self.close()


def get_big_model_endpoint(context: Context | None = None) -> str:
    """Return the cloud's endpoint the deployment gives: ``http://BIG_MODEL_IP:BIG_MODEL_PORT/<service>``.

    Parameters
    ----------
    context : Context, default=None
        Where to read it; the environment's context when omitted.

    Returns
    -------
    str
        The endpoint URL (its last path segment is the service name).

    Examples
    --------
    >>> from sedna_lib.config import Config
    >>> get_big_model_endpoint(Context(Config(big_model_ip="10.0.0.2", service_name="helmet")))
    'http://10.0.0.2:5000/helmet'
    """
    cfg = resolve(context).config
    scheme = "https" if cfg.tls_ca else "http"
    return f"{scheme}://{cfg.big_model_ip}:{cfg.big_model_port}/{cfg.job_or_service_name or 'sedna'}"
