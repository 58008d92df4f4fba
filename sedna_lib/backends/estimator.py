"""The backend for a user's own Sedna-style estimator: any object with ``train``/``fit``, ``predict``, ...

:class:`EstimatorBackend` calls the estimator's methods with Sedna's conventions; the framework
backends (:mod:`sedna_lib.backends.torch`, ...) build on it and drive a framework's own model
natively.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import numpy as np

from ..exceptions import BackendError
from ..registry import accepts, parse_kwargs, signature_shape
from .arrays import split_xy
from .base import Backend

__all__ = ["EstimatorBackend"]


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
