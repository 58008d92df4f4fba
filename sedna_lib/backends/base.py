"""The backend contract (:class:`Backend`) and what every backend shares.

The shared parts are the estimator's instantiation (:func:`is_factory`, :func:`instantiate`),
the framework an estimator belongs to (:func:`framework_of`, read without importing any), the
lazy import of a framework, and :meth:`Backend.save`/:meth:`Backend.load` over model files
(:mod:`sedna_lib.backends.files`). The backend for a user's own estimator is
:class:`~sedna_lib.backends.estimator.EstimatorBackend`.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import inspect
import os
import shutil
import uuid
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..base import check_count, check_number
from ..context import resolve
from ..exceptions import (BackendError, BackendUnavailableError, ParameterError, SednaError,
                          StorageNotFoundError)
from ..registry import parse_kwargs
from . import files

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from ..storage import StorageRouter

__all__ = [
    "Backend",
    "parse_kwargs",
    "instantiate",
    "is_factory",
    "framework_of",
]


# -- helpers shared by every backend -------------------------------------------------------------


def training_options(epochs: Any, batch_size: Any, *, learning_rate: Any = None, proximal_mu: Any = None,
                     seed: Any = None,
                     seed_low: int | None = 0) -> tuple[int, int, float | None, float, int | None]:
    """Check a framework backend's training options where a training starts, before any work.

    A plain ``int()`` or ``range()`` let these through: 0 or -1 epochs trained nothing and reported
    no samples, 2.5 epochs trained 2, a batch size of 0 became 1, a NaN learning rate turned the
    weights into NaN, and a NaN or negative FedProx ``proximal_mu`` silently switched the proximal
    term off.

    Parameters
    ----------
    epochs, batch_size : int
        Whole numbers >= 1 (integral floats and their text are taken as the environment gives them).
    learning_rate : float, default=None
        A finite number > 0, or None (the optimizer's own).
    proximal_mu : float, default=None
        A finite number >= 0 (None: 0, no proximal term).
    seed : int, default=None
        A whole number >= ``seed_low``, or None.
    seed_low : int or None, default=0
        The smallest seed the framework takes (None: any whole number).

    Returns
    -------
    tuple
        ``(epochs, batch_size, learning_rate, proximal_mu, seed)``, checked.

    Raises
    ------
    ParameterError
        Naming the option, the value it got and what it takes.
    """
    return (check_count("epochs", epochs), check_batch_size(batch_size),
            None if learning_rate is None else check_number("learning_rate", learning_rate, 0, low_open=True),
            0.0 if proximal_mu is None else check_number("proximal_mu", proximal_mu, 0),
            None if seed is None else _seed(seed, seed_low))


def _seed(value: Any, low: int | None) -> int:
    try:
        return check_count("seed", value, -2 ** 63 if low is None else low)
    except ParameterError:
        raise ParameterError(f"seed must be a whole number{'' if low is None else f' >= {low}'}, "
                             f"got {value!r}") from None


def check_batch_size(value: Any) -> int:
    """Return a batch size checked to be a whole number >= 1 (0 used to become 1, 2.5 to become 2).

    Raises
    ------
    ParameterError
        If it is not.
    """
    return check_count("batch_size", value)


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


def _require(module: str, install: str) -> None:
    """Raise :class:`BackendUnavailableError` if ``module`` cannot be imported (without importing it)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise BackendUnavailableError.missing(module, install)


def _import(module: str, install: str) -> Any:
    """Import a framework lazily, translating ImportError into :class:`BackendUnavailableError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError.missing(module, install, error=exc) from exc


def _temporary_folder(path: str) -> str:
    """Return a unique hidden folder name beside ``path``, to write a file of ``path``'s own name in."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), f".saving-{uuid.uuid4().hex[:12]}")


def _cause(exc: BaseException, path: str) -> str:
    """Describe why writing ``path`` failed.

    An ``OSError`` gives its reason (without the temporary file's name). A framework's own error
    often hides a full disk (torch reports an unexpected position), so the free space is added.
    """
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    try:
        free = f" ({shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free} bytes free there)"
    except OSError:
        free = ""
    return f"{type(exc).__name__}: {exc}{free}"


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
        Gives the storage layer for remote ``model_url`` values (``s3://``, ``http(s)://``);
        the environment's context, read here, when omitted.

    Attributes
    ----------
    framework : str
        ``'pytorch'``, ``'keras'``, ``'tensorflow'``, ``'sklearn'``, ``'mindspore'`` or ``''``.
    has_load : bool
        Whether a model was trained or loaded.
    """

    framework: str = ""
    #: Module that must be importable, and what installs it: an extra spelt ``"sedna_lib[torch]"``, or a
    #: package (see :func:`sedna_lib._version.install_hint`).
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
        self.context = resolve(context)
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
        return files.default_extension(self.framework)

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

    def _writes_one_file(self) -> bool:
        """Whether :meth:`_save_file` writes exactly the file it is given (a framework's own model).

        A user's estimator may write other files beside it, or none, so it is given the path itself.
        """
        return bool(getattr(self, "native", True))

    def _replace_file(self, path: str) -> None:
        """Write the model in a temporary folder beside ``path``, then rename the file onto ``path``.

        The file keeps its own name there (frameworks read its extension, torch names its archive
        after it), the previous file stays whole until the new one is complete, and on any failure
        the temporary folder is removed. A folder that takes nothing new but holds a writable
        ``path`` gets the model written in place, as nothing else can be done there.
        """
        if os.path.islink(path):
            path = os.path.realpath(path)  # replace the file the link points to, not the link
        staging = _temporary_folder(path)
        try:
            os.mkdir(staging)
        except PermissionError:
            if os.path.isfile(path) and os.access(path, os.W_OK):
                self._save_file(path)
                return
            raise
        try:
            tmp = os.path.join(staging, os.path.basename(path))
            self._save_file(tmp)
            if os.path.exists(path):
                with contextlib.suppress(OSError):
                    shutil.copymode(path, tmp)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _save_dir(self) -> tuple[str, str | None]:
        """Return the save folder, and a file name when ``model_save_path`` names a file."""
        return files.save_dir(self.model_save_path)

    def _storage(self) -> StorageRouter:
        """Return the storage layer of the backend's context."""
        return self.context.storage

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

        Notes
        -----
        A framework's model (torch, Keras, scikit-learn) is written to a temporary file in the same
        folder and renamed onto the model file once complete, so a failed save (a full disk, say)
        leaves the previous model whole. A user's own estimator is given the model path itself.

        Raises
        ------
        NotFittedError
            If there is no model to save.
        BackendError
            If the model cannot be written (a full disk, a read-only folder, a framework's writer
            failing); it names the path and the cause, kept as ``__cause__``.
        StorageError
            If the upload fails.
        """
        path, upload_to = files.save_target(model_url, self.model_save_path, model_name,
                                            lambda: self.model_name)
        try:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            if self._writes_one_file():
                self._replace_file(path)
            else:
                self._save_file(path)
        except SednaError:
            raise
        except Exception as exc:
            raise BackendError(f"cannot save the model to {path!r}: {_cause(exc, path)}") from exc
        if not upload_to:
            return path
        if not os.path.exists(path):
            raise BackendError(f"the estimator did not write {path}; check its save method")
        return self._storage().upload(path, files.remote_file(upload_to, os.path.basename(path)))

    def _resolve_load_path(self, model_url: str, model_name: str | None) -> tuple[str, str]:
        """Return ``(local path, original url)`` for :meth:`load`, downloading remote files."""
        _, file_name = self._save_dir()
        name = model_name or file_name or self.model_name
        return files.load_source(model_url, self.model_save_path, name, self._storage)

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
            ``[{"format": ext, "url": path, "metrics": result}]``; for a file name without an
            extension the format is the framework's (``pt`` for PyTorch, ``pb`` for
            TensorFlow/Keras, ``ckpt`` for MindSpore, ``pkl`` for scikit-learn).
        """
        return files.describe_model(model, relpath, result, framework=self.framework)
