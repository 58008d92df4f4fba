"""solar_corona's ``save_model``: save a trained model where the deployment says."""

from __future__ import annotations

from typing import Any

from .context import Context, resolve

__all__ = ["save_model"]


def save_model(model: Any, path: str | None = None, *, context: Context | None = None) -> str:
    """Save ``model`` through its backend to ``path``, or to ``MODEL_URL``/``MODEL_NAME``.

    Parameters
    ----------
    model : object
        A torch, Keras or scikit-learn model (or a backend).
    path : str, default=None
        Destination file or folder (local, ``s3://``); the deployment's model location when omitted.
    context : Context, default=None
        Configuration; the environment's context when omitted.

    Returns
    -------
    str
        Where the model was written.

    Raises
    ------
    ConfigError
        If no ``path`` is given and ``MODEL_URL`` is unset.
    """
    from .backends import set_backend

    ctx = resolve(context)

    is_backend = all(hasattr(model, name) for name in ("save", "get_weights", "framework"))
    backend = model if is_backend else set_backend(model, context=ctx)
    if path is None:
        if not ctx.config.model_url:
            from .exceptions import ConfigError

            raise ConfigError("save_model needs a path, or MODEL_URL (and MODEL_NAME) in the environment",
                              variable="MODEL_URL")
        return backend.save(model_url=ctx.config.model_url, model_name=ctx.config.model_name)
    return backend.save(model_url=path)
