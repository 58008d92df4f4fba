"""The backend for a user's own Sedna-style estimator: any object with ``train``/``fit``, ``predict``, ...

:class:`EstimatorBackend` calls the estimator's methods with Sedna's conventions
(:class:`EstimatorCalls`). The framework backends (:mod:`sedna_lib.backends.torch`, ...) build on
it: each decides once, on first use, whether the estimator is its framework's own model, which it
then drives natively, or a Sedna-style estimator, which it drives with these calls.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import numpy as np

from ..exceptions import BackendError
from ..registry import accepts, parse_kwargs, signature_shape
from . import files
from .arrays import split_xy
from .base import Backend

__all__ = ["EstimatorBackend", "EstimatorCalls"]


def _call_with_data(method: Callable[..., Any], names: tuple[str, ...], data: Any,
                    extras: dict[str, Any]) -> Any:
    """Call ``method`` with ``data`` by the first accepted keyword in ``names``, else positionally."""
    params = parse_kwargs(method, **extras)
    for name in names:
        if name in named_params(method):
            return method(**{name: data}, **params)
    return method(data, **params)


def _positional_count(func: Callable[..., Any]) -> int:
    shape = signature_shape(func)
    return 0 if shape is None else shape[2]


def named_params(func: Callable[..., Any]) -> frozenset[str]:
    """Return the names ``func`` accepts as keywords (empty when its signature cannot be read)."""
    shape = signature_shape(func)
    return frozenset() if shape is None else shape[1]


class EstimatorCalls:
    """The calls a backend makes on its estimator: here, Sedna's conventions on a user's own estimator.

    :class:`EstimatorBackend` drives every estimator this way. A framework backend drives its
    framework's model with calls of its own (a subclass of this class, with :attr:`native` true)
    and any other estimator this way; which one is decided once, on the backend's first use. The
    calls hold no state: each one is given the backend, so a copy of a backend keeps working.

    Calls follow Sedna: ``train(train_data=..., valid_data=..., **kw)``, ``predict(data=..., **kw)``,
    ``evaluate(data=..., **kw)``, ``load(model_url=path)``, ``save(path)``; a method whose parameter
    has another name gets the data positionally, and keyword arguments it does not take are dropped
    (:func:`parse_kwargs`).
    """

    #: Whether these calls drive a framework's own model (True) or the estimator's own methods.
    native = False

    @staticmethod
    def _method(backend: EstimatorBackend, *names: str) -> Callable[..., Any]:
        est = backend._instance()
        for name in names:
            method = getattr(est, name, None)
            if method is not None and callable(method):
                return method
        raise BackendError(f"{type(est).__name__} has no {' or '.join(names)} method; add one to use "
                           f"{type(backend).__name__}.{names[0]}")

    def train(self, backend: EstimatorBackend, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Call ``estimator.train`` (or ``estimator.fit`` when there is no ``train``)."""
        backend._instance(**kwargs)
        method = self._method(backend, "train", "fit")
        extras = dict(kwargs)
        if valid_data is not None or accepts(method, "valid_data", default=True):
            extras["valid_data"] = valid_data
        if "train_data" not in named_params(method) and _positional_count(method) >= 2:
            # a fit(X, y)-style method: split (x, y) data into its two arguments
            x, y = split_xy(train_data, extras.pop("y", None))
            if y is not None:
                result = method(x, y, **parse_kwargs(method, **extras))
                backend.has_load = True
                return result
        result = _call_with_data(method, ("train_data",), train_data, extras)
        backend.has_load = True
        return result

    def predict(self, backend: EstimatorBackend, data: Any, **kwargs: Any) -> Any:
        """Call ``estimator.predict(data=..., **kw)``, reusing how it takes its data when called alone."""
        method = getattr(backend.estimator, "predict", None)
        if not kwargs and method is not None:
            plan = backend._predict_plan  # how this estimator's predict takes data, read once
            if (plan is not None and plan[0] is backend.estimator
                    and getattr(method, "__func__", method) is plan[1]):
                return method(data=data) if plan[2] else method(data)
        method = self._method(backend, "predict")
        if not kwargs:
            backend._predict_plan = (backend.estimator, getattr(method, "__func__", method),
                                     "data" in named_params(method))
        return _call_with_data(method, ("data",), data, kwargs)

    def predict_proba(self, backend: EstimatorBackend, data: Any, **kwargs: Any) -> Any:
        """Call ``estimator.predict_proba(data=..., **kw)``."""
        return _call_with_data(self._method(backend, "predict_proba"), ("data",), data, kwargs)

    def evaluate(self, backend: EstimatorBackend, data: Any, **kwargs: Any) -> Any:
        """Call ``estimator.evaluate(data=..., **kw)``."""
        return _call_with_data(self._method(backend, "evaluate"), ("data",), data, kwargs)

    def get_weights(self, backend: EstimatorBackend) -> list[np.ndarray]:
        """Return ``estimator.get_weights()`` as numpy arrays."""
        return [np.asarray(w) for w in self._method(backend, "get_weights")()]

    def set_weights(self, backend: EstimatorBackend, weights: Sequence[Any]) -> None:
        """Pass the weights, as numpy arrays, to ``estimator.set_weights``."""
        self._method(backend, "set_weights")([np.asarray(w) for w in weights])

    def save_file(self, backend: EstimatorBackend, path: str) -> None:
        """Call ``estimator.save(path)``."""
        self._method(backend, "save")(path)

    def load_file(self, backend: EstimatorBackend, path: str, **kwargs: Any) -> Any:
        """Call ``estimator.load(model_url=path)`` (or ``model_path=``, positionally, or with no path)."""
        load = self._method(backend, "load")
        for name in ("model_url", "model_path"):
            if name in named_params(load):
                return load(**{name: path}, **parse_kwargs(load, **kwargs))
        shape = signature_shape(load)
        if shape is not None and shape[2] == 0 and not shape[1] and not any(
                p.kind is inspect.Parameter.VAR_POSITIONAL
                for p in inspect.signature(load).parameters.values()):
            # ``def load(self)``: the estimator finds its model itself (it reads MODEL_URL), as
            # Sedna's torch backend expected, calling it with no path
            return load(**parse_kwargs(load, **kwargs))
        return load(path, **parse_kwargs(load, **kwargs))

    def load_options(self, backend: EstimatorBackend, model_url: str, allow_pickle: bool,
                     kwargs: dict[str, Any]) -> dict[str, Any]:
        """Return the options :meth:`load_file` gets; a user's estimator decides about pickles itself."""
        return kwargs

    def extension(self, backend: EstimatorBackend) -> str:
        """Return the extension of the default model file name (Sedna's, by framework)."""
        return files.default_extension(backend.framework)


#: The calls of every estimator that is not a framework's own model.
ESTIMATOR_CALLS = EstimatorCalls()


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

    def _choose_calls(self) -> EstimatorCalls:
        """Decide how the estimator is driven; a framework backend picks its own calls for its model."""
        return ESTIMATOR_CALLS

    @property
    def _calls(self) -> EstimatorCalls:
        """How the estimator is driven, decided on first use."""
        calls = self.__dict__.get("_chosen_calls")
        if calls is None:
            calls = self._chosen_calls = self._choose_calls()
        return calls

    @property
    def native(self) -> bool:
        """Whether the backend drives a framework's own model rather than the estimator's own methods.

        Deciding it may instantiate a class or factory estimator (with no arguments), as the first
        call of a framework backend does.
        """
        return self._calls.native

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
        return self._calls.train(self, train_data, valid_data, **kwargs)

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
        return self._calls.predict(self, data, **kwargs)

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
        return self._calls.predict_proba(self, data, **kwargs)

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
        return self._calls.evaluate(self, data, **kwargs)

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
        return self._calls.get_weights(self)

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
        self._calls.set_weights(self, weights)

    def _save_file(self, path: str) -> None:
        self._calls.save_file(self, path)

    def _load_file(self, path: str, **kwargs: Any) -> Any:
        return self._calls.load_file(self, path, **kwargs)

    def _default_extension(self) -> str:
        return self._calls.extension(self)

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
