"""The scikit-learn backend: fit, predict, evaluate, linear/MLP weights; models stored with skops."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import warnings
from typing import Any, Sequence

import numpy as np

from .._version import install_hint
from ..exceptions import BackendError, BackendUnavailableError, DataError, NotFittedError, SednaWarning
from .arrays import cast_like, split_xy
from .base import framework_of, parse_kwargs
from .estimator import EstimatorBackend, EstimatorCalls
from .files import is_remote

__all__ = ["SklearnBackend", "load_skops"]


def _features(data: Any) -> Any:
    """Return the inputs of ``data``: ``data.x`` for a data source, else ``data`` itself."""
    if hasattr(data, "x") and not isinstance(data, np.ndarray):
        return data.x
    return data


def _is_one_sample(estimator: Any, x: Any) -> bool:
    """Whether ``x`` is a single 1-D feature vector for an estimator fitted on 2-D inputs."""
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None or isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        return False
    return np.ndim(x) == 1 and len(x) == n_features


class _SklearnCalls(EstimatorCalls):
    """How :class:`SklearnBackend` drives a scikit-learn estimator: fit, scores, weights, skops files."""

    native = True

    def train(self, backend: SklearnBackend, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Fit the estimator, and score it on ``valid_data``."""
        est = backend.estimator
        x, y = split_xy(train_data, kwargs.pop("y", None))
        params = parse_kwargs(est.fit, **kwargs)
        params.pop("X", None)
        known = getattr(est, "classes_", None)
        try:
            est.fit(x, y, **params) if y is not None else est.fit(x, **params)
        except ValueError as exc:
            missing = _missing_classes(known, y)
            if not missing:
                raise
            raise DataError(
                f"{type(est).__name__} cannot go on training from its weights on labels without the classes "
                f"{missing} it already knows ({exc}); in federated learning every client's labels must "
                f"cover the model's classes (a warm-started scikit-learn fit needs all of them): give "
                f"each client samples of every class, or train from scratch (warm_start=False)") from exc
        backend.has_load = True
        history: dict[str, Any] = {"num_samples": int(len(x))}
        if valid_data is not None and y is not None:
            history.update({f"val_{k}": v for k, v in self.evaluate(backend, valid_data).items()})
        return history

    def predict(self, backend: SklearnBackend, data: Any, **kwargs: Any) -> Any:
        """Predict with the estimator."""
        return self._call(backend, "predict", _features(data), **kwargs)

    def predict_proba(self, backend: SklearnBackend, data: Any, **kwargs: Any) -> Any:
        """Predict class probabilities."""
        if not hasattr(backend.estimator, "predict_proba"):
            raise BackendError(f"{type(backend.estimator).__name__} has no predict_proba; use predict")
        return self._call(backend, "predict_proba", _features(data), **kwargs)

    def _call(self, backend: SklearnBackend, name: str, x: Any, **kwargs: Any) -> Any:
        from sklearn.exceptions import NotFittedError as SkNotFitted

        method = getattr(backend.estimator, name)
        if _is_one_sample(backend.estimator, x):
            # One sample (a 1-D feature vector, as joint inference sends): answer for it alone.
            return self._call(backend, name, np.asarray(x).reshape(1, -1), **kwargs)[0]
        try:
            return method(x, **parse_kwargs(method, **kwargs))
        except SkNotFitted as exc:
            raise NotFittedError(f"{type(backend.estimator).__name__} is not fitted; call train() or load() "
                                 f"before {name}()") from exc

    def evaluate(self, backend: SklearnBackend, data: Any, **kwargs: Any) -> Any:
        """Score the estimator: accuracy or r2, plus an extra metric."""
        from sklearn.base import is_classifier

        metric = kwargs.pop("metric", None)
        x, y = split_xy(data, kwargs.pop("y", None))
        if y is None:
            raise DataError("evaluate needs labels: pass (x, y), a data source with .y, or y=")
        pred = self._call(backend, "predict", x)
        y = np.asarray(y)
        if is_classifier(backend.estimator):
            result = {"accuracy": float(np.mean(pred == y))}
        else:
            from sklearn.metrics import r2_score

            result = {"r2": float(r2_score(y, pred))}
        if metric is not None:
            result[getattr(metric, "__name__", "metric")] = float(metric(y, pred))
        return result

    def _weight_attrs(self, backend: SklearnBackend) -> list[tuple[str, int | None]]:
        est = backend.estimator
        if hasattr(est, "coefs_") and hasattr(est, "intercepts_"):
            pairs = []
            for i in range(len(est.coefs_)):
                pairs += [("coefs_", i), ("intercepts_", i)]
            return pairs
        if hasattr(est, "coef_") and hasattr(est, "intercept_"):
            return [("coef_", None), ("intercept_", None)]
        return []

    def _check_weights_supported(self, backend: SklearnBackend) -> None:
        from sklearn.exceptions import NotFittedError as SkNotFitted
        from sklearn.utils.validation import check_is_fitted

        est = backend.estimator
        try:
            check_is_fitted(est)
        except SkNotFitted as exc:
            raise NotFittedError(f"{type(est).__name__} is not fitted: train it once (or load it) so that "
                                 f"its classes and weight shapes exist, then get/set weights") from exc
        if not self._weight_attrs(backend):
            raise BackendError(f"{type(est).__name__} has no weight arrays (coef_/intercept_ or "
                               f"coefs_/intercepts_); weights are supported for linear models and MLPs")

    def get_weights(self, backend: SklearnBackend) -> list[np.ndarray]:
        """Return the fitted weight arrays (copies)."""
        self._check_weights_supported(backend)
        out = []
        for attr, i in self._weight_attrs(backend):
            value = getattr(backend.estimator, attr)
            out.append(np.array(value[i] if i is not None else value, copy=True))
        return out

    def set_weights(self, backend: SklearnBackend, weights: Sequence[Any]) -> None:
        """Replace the fitted weight arrays."""
        self._check_weights_supported(backend)
        attrs = self._weight_attrs(backend)
        arrays = cast_like(type(backend.estimator).__name__, weights, self.get_weights(backend),
                           names=[attr for attr, _ in attrs])
        for (attr, i), arr in zip(attrs, arrays):
            if i is None:
                setattr(backend.estimator, attr, arr.copy())
            else:
                getattr(backend.estimator, attr)[i] = arr.copy()

    def save_file(self, backend: SklearnBackend, path: str) -> None:
        """Write the estimator to ``path`` with skops (a pickle when skops is missing)."""
        try:
            skops_io = _skops_io()
        except BackendUnavailableError:
            import joblib

            warnings.warn("skops is not installed: the scikit-learn model is saved as a pickle, which is "
                          "loaded only where pickles are allowed (never from a knowledge base); "
                          f"{install_hint('sedna_lib[sklearn]')}", SednaWarning, stacklevel=4)
            joblib.dump(backend.estimator, path)
            return None
        skops_io.dump(backend.estimator, path)

    def load_file(self, backend: SklearnBackend, path: str, allow_pickle: bool = True, **kwargs: Any) -> Any:
        """Read a skops file (or, where allowed, a pickle) from ``path``."""
        if not os.path.isfile(path):
            raise BackendError(f"{path!r} is not a file saved by SklearnBackend.save")
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic == b"PK\x03\x04":
            model = load_skops(path)
        elif allow_pickle:
            import joblib  # a local file the user named: their own pickle

            model = joblib.load(path)
        else:
            raise BackendError(f"{path!r} is a pickle, and this model came from elsewhere: a pickled model "
                               "from the network or a knowledge base is never loaded (unpickling runs "
                               f"code). Save the model with skops ({install_hint('sedna_lib[sklearn]')}) "
                               "and publish it again")
        if framework_of(model) != "sklearn":
            raise BackendError(f"{path!r} holds a {type(model).__name__}, not a scikit-learn estimator")
        backend.estimator = model
        return model

    def load_options(self, backend: SklearnBackend, model_url: str, allow_pickle: bool,
                     kwargs: dict[str, Any]) -> dict[str, Any]:
        """Allow a pickle only for a local file the caller allows it for; never from a remote URL."""
        remote = bool(model_url) and is_remote(model_url)  # pickles from the network can run code
        return {**kwargs, "allow_pickle": allow_pickle and not remote}


_SKLEARN_CALLS = _SklearnCalls()


class SklearnBackend(EstimatorBackend):
    """Run a scikit-learn estimator (or a Sedna-style estimator declared as ``SKLEARN``).

    For a scikit-learn estimator, :meth:`train` calls ``fit(x, y)``, :meth:`evaluate` returns
    ``{"accuracy": ...}`` for classifiers and ``{"r2": ...}`` for regressors, and the weights
    are ``[coef_, intercept_]`` for linear models or ``[W0, b0, W1, b1, ...]`` for MLPs. Any
    other estimator is driven like :class:`~sedna_lib.backends.EstimatorBackend`.

    Models are saved with skops (``skops.io``, the ``sklearn`` extra), a format
    that is loaded without unpickling: :meth:`load` admits only scikit-learn types and numpy or
    scipy classes named in the file, and refuses any other (a function, a foreign class). A
    pickle (joblib) file is read only when the caller allows it: a local file a user names
    explicitly (``allow_pickle=True``, the default of a direct :meth:`load` of a local path);
    never a remote URL, and never a model a knowledge base delivered. Without skops installed,
    models are written as joblib pickles (with a warning), usable only where pickles are allowed.

    Parameters
    ----------
    estimator : object
        A scikit-learn estimator class or instance, or a Sedna-style estimator.
    model_save_path, model_name, model_save_url, use_cuda, fine_tune, model_load_mode, context
        The :class:`~sedna_lib.backends.Backend` options.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> backend = SklearnBackend(LogisticRegression())
    >>> _ = backend.train(([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))
    >>> backend.predict([[0.2], [2.8]]).tolist()
    [0, 1]
    >>> [w.shape for w in backend.get_weights()]
    [(1, 1), (1,)]
    """

    framework = "sklearn"
    requires = ("sklearn", "scikit-learn")
    # Sedna drove scikit-learn through BackendBase, whose default file name has no framework tag.
    _name_tag = ""

    @property
    def model_name(self) -> str:
        """File name of the model; Sedna's default for this backend is ``model_finetune_.pkl``."""
        if self.default_name:
            return self.default_name
        return f"model{'_finetune_' if self.fine_tune else ''}{self._name_tag}.pkl"

    def _choose_calls(self) -> EstimatorCalls:
        """Drive a scikit-learn estimator natively, any other estimator through its own methods."""
        return _SKLEARN_CALLS if framework_of(self._instance()) == "sklearn" else super()._choose_calls()

    def train(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Fit the estimator.

        Parameters
        ----------
        train_data : object
            ``(x, y)``, a data source with ``.x``/``.y``, or ``x`` with ``y=`` given.
        valid_data : object, default=None
            Data to score after fitting (reported as ``val_<metric>``).
        **kwargs : object
            ``y=``, and fit parameters such as ``sample_weight`` (others are dropped).

        Returns
        -------
        dict
            ``{"num_samples": n}`` plus validation metrics; for a Sedna-style estimator, what
            its ``train``/``fit`` returns.
        """
        return self._calls.train(self, train_data, valid_data, **kwargs)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Predict with the estimator.

        Parameters
        ----------
        data : array-like or data source
            Inputs.
        **kwargs : object
            Passed to ``predict`` when accepted.

        Returns
        -------
        numpy.ndarray
            Predictions.

        Raises
        ------
        NotFittedError
            If the estimator was neither trained nor loaded.
        """
        return self._calls.predict(self, data, **kwargs)

    def predict_proba(self, data: Any, **kwargs: Any) -> Any:
        """Predict class probabilities.

        Parameters
        ----------
        data : array-like or data source
            Inputs.
        **kwargs : object
            Passed to ``predict_proba`` when accepted.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Probabilities.

        Raises
        ------
        BackendError
            If the estimator has no ``predict_proba``.
        NotFittedError
            If the estimator was neither trained nor loaded.
        """
        return self._calls.predict_proba(self, data, **kwargs)

    def evaluate(self, data: Any, **kwargs: Any) -> Any:
        """Score the estimator.

        Parameters
        ----------
        data : object
            ``(x, y)``, a data source, or ``x`` with ``y=``.
        **kwargs : object
            ``y=``; ``metric=`` a callable ``metric(y_true, y_pred) -> float`` to add.

        Returns
        -------
        dict
            ``{"accuracy": float}`` (classifiers) or ``{"r2": float}`` (regressors), plus the
            extra metric under its ``__name__``.

        Raises
        ------
        DataError
            If no labels are given.
        NotFittedError
            If the estimator was neither trained nor loaded.
        """
        return self._calls.evaluate(self, data, **kwargs)

    def get_weights(self) -> list[np.ndarray]:
        """Return the fitted weights as numpy arrays.

        Returns
        -------
        list of numpy.ndarray
            ``[coef_, intercept_]`` or ``[coefs_[0], intercepts_[0], coefs_[1], ...]`` (copies).

        Raises
        ------
        NotFittedError
            If the estimator is not fitted yet.
        BackendError
            If the estimator has no weight arrays (trees, for example).
        """
        return self._calls.get_weights(self)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace the fitted weights.

        The estimator must have been fitted (or loaded) once, so that it knows its classes and
        weight shapes. To continue training from these weights, build the estimator with
        ``warm_start=True`` (``LogisticRegression``, ``MLPClassifier``, ``SGDClassifier``).

        Parameters
        ----------
        weights : sequence of array-like
            As :meth:`get_weights` returns them.

        Raises
        ------
        NotFittedError
            If the estimator was never fitted.
        BackendError
            If the number or shapes of the arrays do not match.
        """
        self._calls.set_weights(self, weights)

    def load(self, model_url: str = "", model_name: str | None = None, *, allow_pickle: bool = True,
             **kwargs: Any) -> Any:
        """Load a model saved by :meth:`save`.

        Parameters
        ----------
        model_url : str, default=''
            A local file or folder, or a remote URL (downloaded first; then only a skops file is
            loaded); empty means ``model_save_path``/:attr:`model_name`.
        model_name : str, default=None
            File name inside a folder.
        allow_pickle : bool, default=True
            Whether a local pickle (joblib) file may be loaded: True for a file the caller names
            and trusts; False for a model that travelled (the lifelong-learning edge passes False).
            A remote URL never allows it.
        **kwargs : object
            Passed to a Sedna-style estimator's ``load``.

        Returns
        -------
        object
            The loaded estimator.

        Raises
        ------
        BackendError
            If the file is a pickle that may not be loaded, or a skops file naming a type outside
            the allow-list (scikit-learn types, numpy and scipy classes).
        StorageNotFoundError
            If the file does not exist.
        """
        options = self._calls.load_options(self, model_url, allow_pickle, kwargs)
        return super().load(model_url, model_name, **options)


class _FrameworksNotImported:
    """While installed, imports of the named frameworks fail in the thread that installed it.

    ``skops.io`` lists scikit-learn's estimators at import time by walking every sklearn package,
    ``sklearn.externals.array_api_compat.torch`` included, which imports torch: a scikit-learn
    worker would carry torch (seconds to import, seconds more to tear down at exit, which once let a
    worker outlive its shutdown deadline under load). The walk ignores a package that fails to import,
    and the estimator list is the same without it.
    """

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:  # noqa: D102
        if name.partition(".")[0] in self.names and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{name} is not imported while skops lists scikit-learn's types",
                                      name=name)
        return None


def _skops_io() -> Any:
    if "skops.io" in sys.modules:
        return importlib.import_module("skops.io")
    blocker = _FrameworksNotImported({n for n in ("torch", "cupy", "jax", "dask") if n not in sys.modules})
    sys.meta_path.insert(0, blocker)
    try:
        return importlib.import_module("skops.io")
    except ImportError:
        raise BackendUnavailableError.missing(
            "skops", "sedna_lib[sklearn]",
            note="scikit-learn models are stored with skops, a format loaded without unpickling") from None
    finally:
        sys.meta_path.remove(blocker)


def _is_trusted_type(name: str) -> bool:
    """Scikit-learn types, and classes (not functions) of numpy and scipy."""
    if name.startswith("sklearn."):
        return True
    if not name.startswith(("numpy.", "scipy.")):
        return False
    module, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type)


def load_skops(path: str) -> Any:
    """Load a scikit-learn model from a skops file (only scikit-learn types, numpy and scipy classes).

    Parameters
    ----------
    path : str
        A file written by ``skops.io.dump`` (:meth:`SklearnBackend.save`).

    Returns
    -------
    object
        The estimator.

    Raises
    ------
    BackendError
        If the file names a type outside the allow-list, or is not a valid skops file.
    BackendUnavailableError
        If skops is not installed.
    """
    skops_io = _skops_io()
    try:
        types = list(skops_io.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises many kinds on a damaged file: translate at the adapter
        raise BackendError(f"{path!r} is not a valid skops model file: {exc}") from exc
    refused = sorted(t for t in types if not _is_trusted_type(t))
    if refused:
        raise BackendError(f"{path!r} names types outside the allow-list (scikit-learn types, numpy and "
                           f"scipy classes): {refused}; it is not loaded")
    try:
        return skops_io.load(path, trusted=types)
    except Exception as exc:
        raise BackendError(f"{path!r} could not be loaded with skops: {exc}") from exc


def _missing_classes(known: Any, y: Any) -> list:
    """Return the classes an estimator knows that the labels ``y`` lack (empty when unknown or none)."""
    if known is None or y is None:
        return []
    try:
        present = set(np.unique(np.asarray(y)).tolist())
        return [c for c in np.asarray(known).tolist() if c not in present]
    except (TypeError, ValueError):
        return []
