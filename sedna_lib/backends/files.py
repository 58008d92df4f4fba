"""Model files: their default names, where a backend writes and reads them, and how they are described.

A backend's :meth:`~sedna_lib.backends.Backend.save` and :meth:`~sedna_lib.backends.Backend.load`
work on a local file; these functions decide which one (a folder gets the model's file name, a
remote URL is copied through the context's storage layer) and describe a saved model the way the
LocalController expects it.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from .._json import json_safe

__all__ = ["default_extension", "remove_path_prefix", "model_format", "describe_model", "is_remote",
           "remote_file", "local_path", "save_dir", "save_target", "load_source"]

#: Model file extension by framework, used to build Sedna's default model name.
_EXTENSIONS = {"pytorch": ".pth", "keras": ".pb", "tensorflow": ".pb", "mindspore": ".ckpt"}

#: Format reported for a model file whose name has no extension, by framework.
_FORMATS = {"pytorch": "pt", "keras": "pb", "tensorflow": "pb", "mindspore": "ckpt", "sklearn": "pkl"}


def default_extension(framework: str) -> str:
    """Return the extension of Sedna's default model file name for a framework.

    Parameters
    ----------
    framework : str
        A backend's ``framework`` tag.

    Returns
    -------
    str
        ``.pth`` for PyTorch, ``.pb`` for TensorFlow/Keras, ``.ckpt`` for MindSpore, ``.pkl``
        otherwise.

    Examples
    --------
    >>> default_extension("pytorch"), default_extension("")
    ('.pth', '.pkl')
    """
    return _EXTENSIONS.get(framework, ".pkl")


def remove_path_prefix(path: str, prefix: str | None) -> str:
    """Strip a container prefix (``DATA_PATH_PREFIX``) from a path, at a path boundary only.

    Parameters
    ----------
    path : str
        The container path.
    prefix : str or None
        The prefix to remove; nothing is removed when empty or when it does not match.

    Returns
    -------
    str
        The host path the LocalController understands.

    Examples
    --------
    >>> remove_path_prefix("/home/data/models/m.pb", "/home/data")
    '/models/m.pb'
    >>> remove_path_prefix("/home/database/m.pb", "/home/data")
    '/home/database/m.pb'
    """
    if not prefix:
        return path
    stem = prefix.rstrip("/")
    if not stem:
        return path
    if path == stem:
        return "/"
    if path.startswith(stem + "/"):
        return path[len(stem):]
    return path


def model_format(model: str, framework: str = "") -> str:
    """Return the format reported for a model file: its extension, else the framework's format.

    Parameters
    ----------
    model : str
        Path or URL of the model file.
    framework : str, default=''
        The ``framework`` tag of the backend that saved it, used when the file name has no
        extension (``MODEL_NAME=digits-federated-model``).

    Returns
    -------
    str
        The lower-case extension without its dot; for a name without one, ``pt`` for PyTorch, ``pb``
        for TensorFlow/Keras, ``ckpt`` for MindSpore, ``pkl`` for scikit-learn, and ``''`` for an
        unknown framework.

    Examples
    --------
    >>> model_format("/m/model.PTH", "pytorch"), model_format("/m/digits-model", "pytorch")
    ('pth', 'pt')
    """
    ext = os.path.splitext(model.rstrip("/"))[1].lstrip(".").lower()
    return ext or _FORMATS.get(framework, "")


def describe_model(model: str, relpath: str | None = None, result: Any = None,
                   framework: str = "") -> list[dict[str, Any]]:
    """Describe a saved model the way the LocalController expects it.

    Parameters
    ----------
    model : str
        Path or URL of the model file.
    relpath : str, default=None
        Prefix to strip (``DATA_PATH_PREFIX``), turning container paths into host paths.
    result : dict, default=None
        Metrics of the model; numpy values are made plain JSON.
    framework : str, default=''
        The saving backend's ``framework`` tag; gives the format of a file name without an
        extension (:func:`model_format`).

    Returns
    -------
    list of dict
        ``[{"format": ext, "url": path, "metrics": result}]``.

    Examples
    --------
    >>> describe_model("/home/data/m.pkl", "/home/data", {"acc": 0.5})
    [{'format': 'pkl', 'url': '/m.pkl', 'metrics': {'acc': 0.5}}]
    """
    url = remove_path_prefix(model, relpath)
    return [{"format": model_format(model, framework), "url": url, "metrics": json_safe(result)}]


def is_remote(url: str) -> bool:
    """Whether ``url`` names a remote file (``s3://``, ``http(s)://``), not a local path or ``file://``."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return len(scheme) > 1 and scheme != "file"


def remote_file(url: str, name: str) -> str:
    """Return the file URL: a URL ending in ``/`` or without an extension is a folder holding ``name``."""
    path = urllib.parse.urlsplit(url).path
    if url.endswith("/") or not os.path.splitext(path)[1]:
        return url.rstrip("/") + "/" + name
    return url


def local_path(url: str) -> str:
    """Return the path of a ``file://`` URL, and any other string as it is."""
    return urllib.parse.urlsplit(url).path if url.lower().startswith("file://") else url


def save_dir(model_save_path: str | None) -> tuple[str, str | None]:
    """Return the folder a backend saves in, and a file name when ``model_save_path`` names a file.

    ``None`` and a remote ``model_save_path`` save under ``./models`` (a remote one is then the
    upload target).
    """
    base = local_path(model_save_path) if model_save_path else os.path.join(".", "models")
    if is_remote(base):
        return os.path.join(".", "models"), None
    if os.path.isfile(base) or (os.path.splitext(base)[1] and not os.path.isdir(base)):
        folder, name = os.path.split(base)
        return folder or ".", name
    return base, None


def save_target(model_url: str, model_save_path: str | None, model_name: str | None,
                default_name: Any) -> tuple[str, str]:
    """Return the local file :meth:`~sedna_lib.backends.Backend.save` writes, and the URL to upload it to.

    Parameters
    ----------
    model_url : str
        What the caller passed to ``save``; empty means ``model_save_path`` (uploaded to when remote).
    model_save_path : str or None
        The backend's save folder or file.
    model_name : str or None
        The file name the caller passed.
    default_name : callable
        Returns the backend's :attr:`~sedna_lib.backends.Backend.model_name`, asked only when needed.

    Returns
    -------
    tuple of str
        ``(local path, remote URL or '')``.
    """
    if not model_url and model_save_path and is_remote(model_save_path):
        model_url = model_save_path
    remote = bool(model_url) and is_remote(model_url)
    if model_url and not remote:
        target = local_path(model_url)
        if os.path.isdir(target) or target.endswith(("/", os.sep)) or not os.path.splitext(target)[1]:
            return os.path.join(target, model_name or default_name()), ""
        return target, ""
    folder, file_name = save_dir(model_save_path)
    return os.path.join(folder, model_name or file_name or default_name()), (model_url if remote else "")


def load_source(model_url: str, model_save_path: str | None, name: str,
                storage: Any) -> tuple[str, str]:
    """Return the local file :meth:`~sedna_lib.backends.Backend.load` reads, downloading a remote one first.

    Parameters
    ----------
    model_url : str
        What the caller passed to ``load``; empty means ``model_save_path``.
    model_save_path : str or None
        The backend's save folder or file.
    name : str
        The model's file name, for a folder.
    storage : callable
        Returns the storage layer (a :class:`~sedna_lib.storage.StorageRouter`), asked only for a
        remote URL.

    Returns
    -------
    tuple of str
        ``(local path, the URL as given or '')``.
    """
    folder, _ = save_dir(model_save_path)
    if not model_url and model_save_path and is_remote(model_save_path):
        model_url = model_save_path
    if model_url and is_remote(model_url):
        store = storage()
        url = remote_file(model_url, name)
        local = os.path.join(folder, os.path.basename(urllib.parse.urlsplit(url).path))
        os.makedirs(folder, exist_ok=True)
        return store.download(url, local), model_url
    if model_url:
        target = local_path(model_url)
        if os.path.isdir(target):
            return os.path.join(target, name), model_url
        return target, model_url
    return os.path.join(folder, name), ""
