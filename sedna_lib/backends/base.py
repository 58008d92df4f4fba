"""The backend contract, its shared plumbing, and the backend for a user's own Sedna-style estimator."""

from __future__ import annotations

import abc
import functools
import inspect
import os
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .._json import json_safe
from ..exceptions import BackendError, BackendUnavailableError, DataError, StorageNotFoundError
from ..registry import accepts, parse_kwargs, signature_shape

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context

__all__ = [
    "Backend",
    "EstimatorBackend",
    "parse_kwargs",
    "instantiate",
    "is_factory",
    "framework_of",
    "split_xy",
    "remove_path_prefix",
]

#: Model file extension by framework, used to build Sedna's default model name.
_EXTENSIONS = {"pytorch": ".pth", "keras": ".pb", "tensorflow": ".pb", "mindspore": ".ckpt"}


# -- helpers shared by every backend -------------------------------------------------------------

def is_factory(obj: Any) -> bool:
    """Tell whether ``obj`` is a class or factory function that must be called to get an estimator.

    Unlike Sedna's ``callable(obj)``, an *instance* with ``__call__`` (a Keras model, a torch
    module) is not a factory and is used as it is.

    Parameters
    ----------
    obj : object
        The estimator as the user gave it.

    Returns
    -------
    bool
        True for classes, functions, methods and ``functools.partial`` objects.

    Examples
    --------
    >>> class Estimator:
    ...     def __call__(self): return "called"
    >>> is_factory(Estimator), is_factory(Estimator())
    (True, False)
    """
    return (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj)
            or inspect.isbuiltin(obj) or isinstance(obj, functools.partial))


def instantiate(obj: Any, **kwargs: Any) -> Any:
    """Return an estimator instance: call a class or factory with the kwargs it accepts, else ``obj``.

    Parameters
    ----------
    obj : object
        A class, a factory function, or an instance.
    **kwargs : object
        Candidate constructor arguments, filtered with :func:`parse_kwargs`.

    Returns
    -------
    object
        The instance.
    """
    if is_factory(obj):
        return obj(**parse_kwargs(obj, **kwargs))
    return obj


def _class_framework(cls: type) -> str | None:
    """Name the framework of a class from the module names of its hierarchy."""
    try:
        mro = inspect.getmro(cls)
    except AttributeError:  # pragma: no cover - exotic metaclasses
        mro = (cls,)
    for klass in mro:
        module = getattr(klass, "__module__", "") or ""
        root = module.split(".", 1)[0]
        name = klass.__name__
        if root == "torch" and name == "Module" and module.startswith("torch.nn"):
            return "torch"
        if root in ("keras", "tf_keras") and name in ("Model", "Functional", "Sequential"):
            return "keras"
        if root == "tensorflow" and "keras" in module and name == "Model":
            return "keras"
        if root == "sklearn" and name == "BaseEstimator":
            return "sklearn"
    return None


# Backends ask on every predict; a class's hierarchy does not change, so it is read once.
_cached_class_framework = functools.lru_cache(maxsize=512)(_class_framework)


def framework_of(obj: Any) -> str | None:
    """Name the framework an estimator (class or instance) belongs to, without importing any.

    The estimator's class hierarchy is inspected by module name only, so this never imports
    torch, TensorFlow or scikit-learn.

    Parameters
    ----------
    obj : object
        An estimator class or instance.

    Returns
    -------
    {'torch', 'keras', 'sklearn'} or None
        ``'torch'`` for ``torch.nn.Module``, ``'keras'`` for a Keras ``Model``, ``'sklearn'``
        for a scikit-learn ``BaseEstimator``, ``None`` for anything else.

    Examples
    --------
    >>> class Estimator:
    ...     def train(self, train_data): ...
    >>> framework_of(Estimator) is None
    True
    """
    if isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.isclass(obj):
        cls = obj
    elif inspect.isfunction(obj) or inspect.ismethod(obj):
        return None
    else:
        cls = type(obj)
    try:
        return _cached_class_framework(cls)
    except TypeError:  # a class whose metaclass makes it unhashable: read it each time
        return _class_framework(cls)


def split_xy(data: Any, y: Any = None) -> tuple[Any, Any]:
    """Split training or evaluation data into features and labels.

    Parameters
    ----------
    data : object
        ``(x, y)`` tuple or list of length 2, an object with ``.x`` and ``.y`` attributes (a
        :class:`~sedna_lib.datasources.BaseDataSource`), a mapping with ``'x'``/``'y'`` keys, or
        features alone.
    y : object, default=None
        Labels, when ``data`` holds only features.

    Returns
    -------
    tuple
        ``(x, y)``; ``y`` may be None.

    Examples
    --------
    >>> split_xy(([1, 2], [0, 1]))
    ([1, 2], [0, 1])
    >>> split_xy([[1.0], [2.0]], y=[0, 1])
    ([[1.0], [2.0]], [0, 1])
    """
    if y is not None:
        return data, y
    if isinstance(data, tuple) and len(data) == 2:
        return data[0], data[1]
    if isinstance(data, dict) and "x" in data:
        return data["x"], data.get("y")
    if hasattr(data, "x") and hasattr(data, "y") and not isinstance(data, np.ndarray):
        return data.x, data.y
    return data, None


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


def _is_remote(url: str) -> bool:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return len(scheme) > 1 and scheme != "file"


def _remote_file(url: str, name: str) -> str:
    """Return the file URL: a URL ending in ``/`` or without an extension is a folder holding ``name``."""
    path = urllib.parse.urlsplit(url).path
    if url.endswith("/") or not os.path.splitext(path)[1]:
        return url.rstrip("/") + "/" + name
    return url


def _local(url: str) -> str:
    return urllib.parse.urlsplit(url).path if url.lower().startswith("file://") else url


_json_safe = json_safe  # kept under its old private name for the backends and features


def _numeric_array(value: Any, *, features: bool, hint: str) -> np.ndarray:
    """Return ``value`` as a numeric array, features as float32 (other floats, ints and bools are cast).

    Raises :class:`DataError` for what cannot be an array or is not numeric; ``hint`` says what
    to pass instead.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot turn {type(value).__name__} into an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise DataError(f"data must be numeric arrays, got dtype {arr.dtype}; {hint}")
    if features and arr.dtype != np.float32 and arr.dtype.kind in "fiub":
        arr = arr.astype(np.float32)
    return arr


def _cast_like(owner: str, weights: Sequence[Any], current: Sequence[np.ndarray],
               names: Sequence[str] | None = None) -> list[np.ndarray]:
    """Cast new weights to the dtypes of ``current``, checking their number and shapes.

    Raises :class:`BackendError` naming ``owner`` (and the array's name, if given) on a mismatch.
    The arrays may share memory with ``weights``.
    """
    if len(weights) != len(current):
        raise BackendError(f"{owner} has {len(current)} weight arrays, got {len(weights)}")
    arrays = []
    for k, (new, old) in enumerate(zip(weights, current)):
        arr = np.asarray(new, dtype=old.dtype)
        if arr.shape != old.shape:
            label = f"weight {k}" if names is None else f"weight {k} ({names[k]})"
            raise BackendError(f"{label} has shape {old.shape}, got {arr.shape}")
        arrays.append(arr)
    return arrays


class _Pass:
    """Sample-weighted mean loss, and accuracy where counted, over the batches of one pass."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.seen = 0
        self.correct = 0
        self.counted = False

    def add(self, loss: float, n: int, hits: int | None) -> None:
        self.loss_sum += loss * n
        self.seen += n
        if hits is not None:
            self.correct += hits
            self.counted = True

    def metrics(self) -> dict[str, float]:
        seen = max(self.seen, 1)
        out = {"loss": self.loss_sum / seen}
        if self.counted:
            out["accuracy"] = self.correct / seen
        return out


def _extend_history(history: dict[str, Any], metrics: dict[str, float], prefix: str = "") -> None:
    """Append one epoch's ``metrics`` to the per-epoch lists of ``history``."""
    for key, value in metrics.items():
        history.setdefault(prefix + key, []).append(value)


def _require(module: str, install: str) -> None:
    """Raise :class:`BackendUnavailableError` if ``module`` cannot be imported (without importing it)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise BackendUnavailableError(f"{module} is not installed; pip install {install}")


def _import(module: str, install: str) -> Any:
    """Import a framework lazily, translating ImportError into :class:`BackendUnavailableError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(f"{module} is not installed; pip install {install}") from exc


# -- the contract -------------------------------------------------------------------------------

class Backend(abc.ABC):
    """One estimator contract over every framework.

    A backend wraps the user's estimator (a class, a factory or an instance) and gives it
    Sedna's face: ``train``/``fit``, ``predict``, ``predict_proba``, ``evaluate``, ``save``,
    ``load``, ``get_weights``, ``set_weights`` and ``model_info``. Weights are always a list of
    numpy arrays. A class or factory is instantiated on first use; an instance, even a callable
    one, is used as given.

    Parameters
    ----------
    estimator : object
        The model or estimator: a class, a factory function, or an instance.
    model_save_path : str, default=None
        Folder (or file) where :meth:`save` writes and :meth:`load` looks; ``MODEL_URL`` when
        built by :func:`~sedna_lib.backends.set_backend`. ``None`` means ``./models``.
    model_name : str, default=None
        File name of the model; ``None`` means Sedna's default (see :attr:`model_name`).
    model_save_url : str, default=None
        Sedna's ``model_save_url`` (``MODEL_URL``), kept for scripts that read it.
    use_cuda : bool, default=False
        Run on a GPU where the framework supports it.
    fine_tune : bool, default=True
        Sedna's flag; it only changes the default model name (``model_finetune_...``).
    model_load_mode : str, default='file'
        ``'file'``: :meth:`load` needs the model file to exist. Anything else lets a user
        estimator load itself (from a hub, say) when no file is there.
    context : Context, default=None
        Gives the storage layer for remote ``model_url`` values (``s3://``, ``http(s)://``).

    Attributes
    ----------
    framework : str
        ``'pytorch'``, ``'keras'``, ``'tensorflow'``, ``'sklearn'``, ``'mindspore'`` or ``''``.
    has_load : bool
        Whether a model was trained or loaded.
    """

    framework: str = ""
    #: Module that must be importable, and what to ``pip install`` to get it.
    requires: tuple[str, str] | None = None

    def __init__(self, estimator: Any, *, model_save_path: str | None = None, model_name: str | None = None,
                 model_save_url: str | None = None, use_cuda: bool = False, fine_tune: bool = True,
                 model_load_mode: str = "file", context: Context | None = None) -> None:
        self.estimator = estimator
        self.model_save_path = model_save_path
        self.default_name = model_name
        self.model_save_url = model_save_url
        self.use_cuda = use_cuda
        self.fine_tune = fine_tune
        self.model_load_mode = model_load_mode
        self.context = context
        self.has_load = False

    def __repr__(self) -> str:
        """Name the backend and the estimator class."""
        est = self.estimator
        name = est.__name__ if inspect.isclass(est) else type(est).__name__
        return f"{type(self).__name__}({name})"

    # -- availability ---------------------------------------------------------------------------
    @classmethod
    def check_available(cls) -> None:
        """Raise if the framework this backend needs is not installed (nothing is imported).

        Raises
        ------
        BackendUnavailableError
            Naming the extra to install.
        """
        if cls.requires is not None:
            _require(*cls.requires)

    # -- the estimator --------------------------------------------------------------------------
    def _instance(self, **kwargs: Any) -> Any:
        """Instantiate a class or factory estimator once (with the kwargs it accepts)."""
        if is_factory(self.estimator):
            self.estimator = instantiate(self.estimator, **kwargs)
        return self.estimator

    @property
    def model_name(self) -> str:
        """File name of the model: ``model_name`` if given, else Sedna's default.

        The default is ``model{'_finetune_' if fine_tune}{framework}{ext}`` with ``.pth`` for
        PyTorch, ``.pb`` for TensorFlow/Keras estimators, ``.ckpt`` for MindSpore and ``.pkl``
        otherwise (Sedna rendered the PyTorch extension as a Python list; fixed).
        """
        if self.default_name:
            return self.default_name
        return f"model{'_finetune_' if self.fine_tune else ''}{self.framework}{self._default_extension()}"

    def _default_extension(self) -> str:
        return _EXTENSIONS.get(self.framework, ".pkl")

    # -- training and inference -----------------------------------------------------------------
    @abc.abstractmethod
    def train(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Train the estimator.

        Parameters
        ----------
        train_data : object
            Training data.
        valid_data : object, default=None
            Validation data.
        **kwargs : object
            Training options.

        Returns
        -------
        object
            What the estimator's training returns (a history dict for native backends).
        """

    def fit(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Alias of :meth:`train`.

        Parameters
        ----------
        train_data : object
            Training data.
        valid_data : object, default=None
            Validation data.
        **kwargs : object
            Training options.

        Returns
        -------
        object
            What :meth:`train` returns.
        """
        return self.train(train_data, valid_data, **kwargs)

    @abc.abstractmethod
    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Predict with the estimator.

        Parameters
        ----------
        data : object
            Inputs.
        **kwargs : object
            Prediction options.

        Returns
        -------
        object
            Predictions.
        """

    def predict_proba(self, data: Any, **kwargs: Any) -> Any:
        """Predict class probabilities.

        Parameters
        ----------
        data : object
            Inputs.
        **kwargs : object
            Prediction options.

        Returns
        -------
        object
            Probabilities.

        Raises
        ------
        BackendError
            If the estimator has no notion of probabilities.
        """
        est = self._instance()
        method = getattr(est, "predict_proba", None)
        if method is None:
            raise BackendError(f"{type(est).__name__} has no predict_proba; use predict")
        return method(data, **parse_kwargs(method, **kwargs))

    @abc.abstractmethod
    def evaluate(self, data: Any, **kwargs: Any) -> Any:
        """Evaluate the estimator.

        Parameters
        ----------
        data : object
            Evaluation data.
        **kwargs : object
            Evaluation options.

        Returns
        -------
        object
            Metrics (a dict of floats for native backends).
        """

    # -- weights --------------------------------------------------------------------------------
    @abc.abstractmethod
    def get_weights(self) -> list[np.ndarray]:
        """Return the model's weights as a list of numpy arrays.

        Returns
        -------
        list of numpy.ndarray
            The weights, in a stable order.
        """

    @abc.abstractmethod
    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace the model's weights.

        Parameters
        ----------
        weights : sequence of array-like
            As :meth:`get_weights` returns them.
        """

    # -- files ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def _save_file(self, path: str) -> None:
        """Write the model to the local file ``path``."""

    @abc.abstractmethod
    def _load_file(self, path: str, **kwargs: Any) -> Any:
        """Read the model from the local file ``path``."""

    def _save_dir(self) -> tuple[str, str | None]:
        """Return the save folder, and a file name when ``model_save_path`` names a file."""
        base = _local(self.model_save_path) if self.model_save_path else os.path.join(".", "models")
        if _is_remote(base):
            return os.path.join(".", "models"), None
        if os.path.isfile(base) or (os.path.splitext(base)[1] and not os.path.isdir(base)):
            folder, name = os.path.split(base)
            return folder or ".", name
        return base, None

    def _storage(self) -> Any:
        """Return the storage router of the context (built from the environment if none was given)."""
        if self.context is not None:
            return self.context.storage
        from ..context import Context

        return Context.from_env().storage

    def save(self, model_url: str = "", model_name: str | None = None) -> str:
        """Save the model and return where it is.

        Parameters
        ----------
        model_url : str, default=''
            Where the model goes. A local folder gets ``<folder>/<model_name>``; a local path
            with a file name is written directly; a remote URL (``s3://``) receives an upload
            of the file first written locally (a URL ending in ``/`` or without an extension is
            a folder). Empty: the model is written under ``model_save_path``, or uploaded to it
            when it is a remote URL.
        model_name : str, default=None
            File name; defaults to :attr:`model_name`.

        Returns
        -------
        str
            The local path, or ``model_url`` after an upload.

        Raises
        ------
        NotFittedError
            If there is no model to save.
        BackendError
            If the model cannot be written.
        StorageError
            If the upload fails.
        """
        if not model_url and self.model_save_path and _is_remote(self.model_save_path):
            model_url = self.model_save_path
        remote = bool(model_url) and _is_remote(model_url)
        if model_url and not remote:
            target = _local(model_url)
            if os.path.isdir(target) or target.endswith(("/", os.sep)) or not os.path.splitext(target)[1]:
                path = os.path.join(target, model_name or self.model_name)
            else:
                path = target
        else:
            folder, file_name = self._save_dir()
            path = os.path.join(folder, model_name or file_name or self.model_name)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._save_file(path)
        if not remote:
            return path
        if not os.path.exists(path):
            raise BackendError(f"the estimator did not write {path}; check its save method")
        return self._storage().upload(path, _remote_file(model_url, os.path.basename(path)))

    def _resolve_load_path(self, model_url: str, model_name: str | None) -> tuple[str, str]:
        """Return ``(local path, original url)`` for :meth:`load`, downloading remote files."""
        folder, file_name = self._save_dir()
        name = model_name or file_name or self.model_name
        if not model_url and self.model_save_path and _is_remote(self.model_save_path):
            model_url = self.model_save_path
        if model_url and _is_remote(model_url):
            store = self._storage()
            url = _remote_file(model_url, name)
            local = os.path.join(folder, os.path.basename(urllib.parse.urlsplit(url).path))
            os.makedirs(folder, exist_ok=True)
            return store.download(url, local), model_url
        if model_url:
            target = _local(model_url)
            if os.path.isdir(target):
                return os.path.join(target, name), model_url
            return target, model_url
        return os.path.join(folder, name), ""

    def load(self, model_url: str = "", model_name: str | None = None, **kwargs: Any) -> Any:
        """Load a saved model.

        Parameters
        ----------
        model_url : str, default=''
            A local file, a local folder (holding ``model_name``), or a remote URL that is
            downloaded first (a folder URL gets ``model_name`` appended). Empty:
            ``model_save_path`` / :attr:`model_name`.
        model_name : str, default=None
            File name inside a folder; defaults to :attr:`model_name`.
        **kwargs : object
            Passed on to the framework's loader (filtered to what it accepts).

        Returns
        -------
        object
            What the loader returns (the user estimator's ``load`` result, or the model).

        Raises
        ------
        StorageNotFoundError
            If the model file does not exist (and ``model_load_mode`` is ``'file'``).
        BackendError
            If the file cannot be read as a model.
        """
        path, _ = self._resolve_load_path(model_url, model_name)
        if not os.path.exists(path) and self.model_load_mode == "file":
            raise StorageNotFoundError(
                f"model file {path!r} does not exist; train and save a model first, or point "
                f"MODEL_URL/model_url at an existing file", uri=path)
        result = self._load_file(path, **kwargs)
        self.has_load = True
        return result

    def model_info(self, model: str, relpath: str | None = None, result: Any = None) -> list[dict[str, Any]]:
        """Describe a saved model the way the LocalController expects it.

        Parameters
        ----------
        model : str
            Path or URL of the model file.
        relpath : str, default=None
            Prefix to strip (``DATA_PATH_PREFIX``), turning container paths into host paths.
        result : dict, default=None
            Metrics of the model; numpy values are made plain JSON.

        Returns
        -------
        list of dict
            ``[{"format": ext, "url": path, "metrics": result}]``.
        """
        ext = os.path.splitext(model)[1].lstrip(".").lower()
        url = remove_path_prefix(model, relpath)
        return [{"format": ext, "url": url, "metrics": _json_safe(result)}]


def _call_with_data(method: Callable[..., Any], names: tuple[str, ...], data: Any,
                    extras: dict[str, Any]) -> Any:
    """Call ``method`` with ``data`` by the first accepted keyword in ``names``, else positionally."""
    params = parse_kwargs(method, **extras)
    for name in names:
        if name in _named_params(method):
            return method(**{name: data}, **params)
    return method(data, **params)


def _positional_count(func: Callable[..., Any]) -> int:
    shape = signature_shape(func)
    return 0 if shape is None else shape[2]


def _named_params(func: Callable[..., Any]) -> frozenset[str]:
    shape = signature_shape(func)
    return frozenset() if shape is None else shape[1]


class EstimatorBackend(Backend):
    """Run a user's own Sedna-style estimator, calling its methods with Sedna's conventions.

    The estimator is any object (or class/factory of one) with some of ``train`` or ``fit``,
    ``predict``, ``predict_proba``, ``evaluate``, ``load``, ``save``, ``get_weights`` and
    ``set_weights``. Calls follow Sedna: ``train(train_data=..., valid_data=..., **kw)``,
    ``predict(data=..., **kw)``, ``evaluate(data=..., **kw)``, ``load(model_url=path)``,
    ``save(path)``; a method whose parameter has another name gets the data positionally, and
    keyword arguments it does not take are dropped (:func:`parse_kwargs`).

    Parameters
    ----------
    estimator : object
        The user's estimator class, factory or instance.
    model_save_path, model_name, model_save_url, use_cuda, fine_tune, model_load_mode, context
        The :class:`Backend` options.

    Examples
    --------
    >>> class Estimator:
    ...     def train(self, train_data, valid_data=None):
    ...         self.mean_ = sum(train_data) / len(train_data)
    ...         return {"mean": self.mean_}
    ...     def predict(self, data):
    ...         return [self.mean_ for _ in data]
    >>> backend = EstimatorBackend(Estimator)
    >>> backend.train([1.0, 3.0], epochs=5)
    {'mean': 2.0}
    >>> backend.predict([0, 0])
    [2.0, 2.0]
    """

    _predict_plan: tuple[Any, Any, bool] | None = None  # (estimator, its predict function, takes data=)

    def _method(self, *names: str) -> Callable[..., Any]:
        est = self._instance()
        for name in names:
            method = getattr(est, name, None)
            if method is not None and callable(method):
                return method
        raise BackendError(f"{type(est).__name__} has no {' or '.join(names)} method; add one to use "
                           f"{type(self).__name__}.{names[0]}")

    def train(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Train with ``estimator.train`` (or ``estimator.fit`` when there is no ``train``).

        Parameters
        ----------
        train_data : object
            Passed as ``train_data=`` (or positionally).
        valid_data : object, default=None
            Passed as ``valid_data=`` when the method takes it.
        **kwargs : object
            Passed on when the method accepts them.

        Returns
        -------
        object
            What the estimator returns.

        Raises
        ------
        BackendError
            If the estimator has neither ``train`` nor ``fit``.
        """
        self._instance(**kwargs)
        method = self._method("train", "fit")
        extras = dict(kwargs)
        if valid_data is not None or accepts(method, "valid_data", default=True):
            extras["valid_data"] = valid_data
        if "train_data" not in _named_params(method) and _positional_count(method) >= 2:
            # a fit(X, y)-style method: split (x, y) data into its two arguments
            x, y = split_xy(train_data, extras.pop("y", None))
            if y is not None:
                result = method(x, y, **parse_kwargs(method, **extras))
                self.has_load = True
                return result
        result = _call_with_data(method, ("train_data",), train_data, extras)
        self.has_load = True
        return result

    def update(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Update the model with new data: ``estimator.update`` if it has one, else :meth:`train`.

        Parameters
        ----------
        train_data : object
            New data.
        valid_data : object, default=None
            Validation data.
        **kwargs : object
            Passed on.

        Returns
        -------
        object
            What the estimator returns.
        """
        est = self._instance(**kwargs)
        if callable(getattr(est, "update", None)):
            extras = dict(kwargs)
            if valid_data is not None:
                extras["valid_data"] = valid_data
            return _call_with_data(est.update, ("train_data",), train_data, extras)
        return self.train(train_data, valid_data, **kwargs)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Predict with ``estimator.predict(data=..., **kw)``.

        Parameters
        ----------
        data : object
            Inputs.
        **kwargs : object
            Passed on when ``predict`` accepts them.

        Returns
        -------
        object
            What the estimator returns.
        """
        method = getattr(self.estimator, "predict", None)
        if not kwargs and method is not None:
            plan = self._predict_plan  # how this estimator's predict takes data, read once
            if (plan is not None and plan[0] is self.estimator
                    and getattr(method, "__func__", method) is plan[1]):
                return method(data=data) if plan[2] else method(data)
        method = self._method("predict")
        if not kwargs:
            self._predict_plan = (self.estimator, getattr(method, "__func__", method),
                                  "data" in _named_params(method))
        return _call_with_data(method, ("data",), data, kwargs)

    def predict_proba(self, data: Any, **kwargs: Any) -> Any:
        """Predict probabilities with ``estimator.predict_proba``.

        Parameters
        ----------
        data : object
            Inputs.
        **kwargs : object
            Passed on when accepted.

        Returns
        -------
        object
            What the estimator returns.

        Raises
        ------
        BackendError
            If the estimator has no ``predict_proba``.
        """
        return _call_with_data(self._method("predict_proba"), ("data",), data, kwargs)

    def evaluate(self, data: Any, **kwargs: Any) -> Any:
        """Evaluate with ``estimator.evaluate(data=..., **kw)``.

        Parameters
        ----------
        data : object
            Evaluation data.
        **kwargs : object
            Passed on when accepted.

        Returns
        -------
        object
            What the estimator returns.
        """
        return _call_with_data(self._method("evaluate"), ("data",), data, kwargs)

    def get_weights(self) -> list[np.ndarray]:
        """Return ``estimator.get_weights()`` as a list of numpy arrays.

        Returns
        -------
        list of numpy.ndarray
            The weights.

        Raises
        ------
        BackendError
            If the estimator has no ``get_weights``.
        """
        return [np.asarray(w) for w in self._method("get_weights")()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Pass the weights, as numpy arrays, to ``estimator.set_weights``.

        Parameters
        ----------
        weights : sequence of array-like
            The weights.

        Raises
        ------
        BackendError
            If the estimator has no ``set_weights``.
        """
        self._method("set_weights")([np.asarray(w) for w in weights])

    def _save_file(self, path: str) -> None:
        self._method("save")(path)

    def _load_file(self, path: str, **kwargs: Any) -> Any:
        load = self._method("load")
        for name in ("model_url", "model_path"):
            if name in _named_params(load):
                return load(**{name: path}, **parse_kwargs(load, **kwargs))
        shape = signature_shape(load)
        if shape is not None and shape[2] == 0 and not shape[1] and not any(
                p.kind is inspect.Parameter.VAR_POSITIONAL
                for p in inspect.signature(load).parameters.values()):
            # ``def load(self)``: the estimator finds its model itself (it reads MODEL_URL), as
            # Sedna's torch backend expected, calling it with no path
            return load(**parse_kwargs(load, **kwargs))
        return load(path, **parse_kwargs(load, **kwargs))

    def load(self, model_url: str = "", model_name: str | None = None, **kwargs: Any) -> Any:
        """Load the model through ``estimator.load(model_url=path)``.

        With ``model_load_mode`` other than ``'file'`` and no file present, the estimator's
        ``load`` is called with ``model_url`` as given so it can fetch the model itself.

        Parameters
        ----------
        model_url : str, default=''
            Local file or folder, or remote URL (downloaded first).
        model_name : str, default=None
            File name inside a folder.
        **kwargs : object
            Passed to the constructor of a class estimator and to ``load`` when accepted.

        Returns
        -------
        object
            What ``estimator.load`` returns.

        Raises
        ------
        StorageNotFoundError
            If the model file does not exist in ``'file'`` mode.
        BackendError
            If the estimator has no ``load`` method.
        """
        self._instance(**kwargs)
        return super().load(model_url, model_name, **kwargs)
