"""Base classes every algorithm shares, the algorithm ABCs, and the value types that cross layers."""

from __future__ import annotations

import copy
import inspect
from typing import Any, NamedTuple

from .exceptions import ParameterError

__all__ = ["BaseAlgorithm", "ClientUpdate", "InferenceResult"]


class BaseAlgorithm:
    """Parameter handling shared by every algorithm (scikit-learn's estimator contract).

    Constructors only store their keyword arguments under the same names; validation happens
    on first use. :meth:`get_params` reads the parameters back from the signature, so
    :meth:`clone` and :meth:`set_params` are equivalent to construction.

    Examples
    --------
    >>> class Scale(BaseAlgorithm):
    ...     def __init__(self, *, factor: float = 1.0):
    ...         self.factor = factor
    >>> Scale(factor=2.0)
    Scale(factor=2.0)
    >>> Scale().set_params(factor=3.0).get_params()
    {'factor': 3.0}
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind is p.VAR_POSITIONAL:
                raise TypeError(f"{cls.__name__}.__init__ must not take *args (explicit keywords only)")
        return sorted(p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD)

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters as currently set.

        Returns
        -------
        dict
            ``{name: value}`` for every constructor parameter.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseAlgorithm:
        """Set constructor parameters.

        Parameters
        ----------
        **params : object
            New values, by constructor parameter name.

        Returns
        -------
        BaseAlgorithm
            ``self``.

        Raises
        ------
        ParameterError
            If a name is not a constructor parameter.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(f"Invalid parameter {name!r} for {type(self).__name__}; "
                                     f"valid parameters: {', '.join(valid) or 'none'}")
            setattr(self, name, value)
        return self

    def clone(self) -> BaseAlgorithm:
        """Return an unfitted copy with the same parameters (no learned ``*_`` state).

        Returns
        -------
        BaseAlgorithm
            A new instance.
        """
        return type(self)(**copy.deepcopy(self.get_params()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class ClientUpdate(NamedTuple):
    """One client's contribution to a federated round.

    Attributes
    ----------
    weights : list of numpy.ndarray
        The model's layers, in the backend's order.
    num_samples : int
        How many training samples produced them (the FedAvg weight).
    client_id : str
        Who sent them.
    metrics : dict
        Optional training metrics.
    """

    weights: list
    num_samples: int
    client_id: str = ""
    metrics: dict = {}


class InferenceResult(NamedTuple):
    """What joint inference returns; unpacks like Sedna's list ``is_hard, final, edge, cloud``.

    Attributes
    ----------
    is_hard : bool
        Whether the miner flagged the sample.
    result : object
        The final result (the cloud's when it answered, else the edge's).
    edge : object
        The edge model's result.
    cloud : object
        The cloud's result, or None when it was not asked or did not answer.
    """

    is_hard: bool
    result: Any
    edge: Any
    cloud: Any = None
