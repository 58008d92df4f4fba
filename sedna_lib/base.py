"""Base classes every algorithm shares, the algorithm ABCs, and the value types that cross layers."""

from __future__ import annotations

import abc
import copy
import inspect
import math
import numbers
from typing import Any, Callable, NamedTuple

from .exceptions import ConfigError, ParameterError

__all__ = ["BaseAlgorithm", "ClientUpdate", "HardExampleMiner", "InferenceResult", "cast_to_layer",
           "check_count", "check_number", "check_port", "check_variable"]


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
        """Return a short readable description."""
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
    names : list of str or None
        The layers' names, when the client sent them (error messages name a bad layer by them).
    """

    weights: list
    num_samples: int
    client_id: str = ""
    metrics: dict = {}
    names: list | None = None


def cast_to_layer(values: Any, dtype: Any) -> Any:
    """Return ``values`` as an array of a layer's ``dtype``, as weights must go into it.

    Floats going into an integer or bool layer (a mean of counters, a momentum step) are rounded to
    the nearest integer and kept within the dtype's range (0 and 1 for bool), where a bare cast would
    truncate them (2.9 -> 2) or wrap them around (-1 -> 255 in uint8, True in bool). Byte order
    follows ``dtype`` (a big-endian array into a native layer is converted). A 0-d result stays an
    array.

    Parameters
    ----------
    values : array-like
        The new values.
    dtype : numpy.dtype
        The layer's dtype.

    Returns
    -------
    numpy.ndarray
        ``values`` itself when it already has ``dtype``, else a new array.

    Examples
    --------
    >>> import numpy as np
    >>> cast_to_layer(np.array([2.6, -3.0, 300.0]), np.uint8).tolist()
    [3, 0, 255]
    >>> cast_to_layer(np.array([0.4, 0.6, -0.9]), bool).tolist()
    [False, True, False]
    """
    import numpy as np

    dtype, array = np.dtype(dtype), np.asarray(values)
    if array.dtype == dtype:
        return array
    if dtype.kind in "iub" and array.dtype.kind in "fiub":
        low, high = (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        if array.dtype.kind == "f":
            array = np.rint(array)
            low, high = float(low), float(high)  # as floats: an int64 bound is rounded to the float above
            array = np.clip(array, low, high)
            if dtype.kind != "b" and high >= 2.0 ** 53:  # the top bound as a float lies past the range
                array = np.where(array >= high, np.nextafter(high, 0.0), array)
        elif array.dtype.kind != "b":
            array = np.clip(array, low, high)
    return np.asarray(array).astype(dtype)


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


# -- hard-example mining -------------------------------------------------------------------------

class HardExampleMiner(BaseAlgorithm, abc.ABC):
    """Decide which inference results are hard enough to send to the cloud.

    A miner is called on one sample, as Sedna's filters are (``miner(result) -> bool``), and
    also answers for a whole batch at once (:meth:`is_hard`), vectorised with numpy. Miners that
    rank samples by a hardness score (higher is harder) also implement :meth:`score`; those
    accept ``upload_ratio=r`` to keep the share of hard samples near ``r`` on a stream.

    Attributes
    ----------
    scored : bool
        Class attribute: whether :meth:`score` is implemented.
    input_kind : str
        Class attribute naming what the miner reads: ``'probabilities'`` (a class-probability
        vector), ``'detections'`` (a list of boxes ``[x1, y1, x2, y2, score, label]``, or a
        probability vector read as one box), or ``'any'``.
    """

    scored: bool = False
    input_kind: str = "any"

    def __call__(self, infer_result: Any) -> bool:
        """Tell whether one inference result is hard.

        Parameters
        ----------
        infer_result : object
            One sample's result (probability vector, box list, raw input...).

        Returns
        -------
        bool
            True if the sample should go to the cloud.
        """
        return bool(self.is_hard([infer_result])[0])

    @abc.abstractmethod
    def is_hard(self, batch: Any) -> Any:
        """Tell, for each sample of a batch, whether it is hard.

        Parameters
        ----------
        batch : array-like or list
            A batch of results: a 2-D array of probability vectors, or a list of samples.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            True where the sample should go to the cloud.
        """

    def score(self, batch: Any) -> Any:
        """Return each sample's hardness (higher is harder), for score-based miners.

        Parameters
        ----------
        batch : array-like or list
            A batch of results.

        Returns
        -------
        numpy.ndarray of float, shape (n_samples,)
            The hardness scores.

        Raises
        ------
        NotImplementedError
            If the miner does not rank samples (``scored`` is False).
        """
        raise NotImplementedError(f"{type(self).__name__} does not score samples")

    def reset(self) -> HardExampleMiner:
        """Forget learned state (budget quantiles, random streams); parameters are kept.

        Returns
        -------
        HardExampleMiner
            ``self``.
        """
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
        return self


# -- lifelong learning: the knowledge-base artifacts -----------------------------------------------
# Plain classes with an instance ``__dict__`` (no slots, no dataclass machinery) so that index
# files pickled by Sedna, which name ``sedna.algorithms.seen_task_learning.artifact.Task``, load
# into them unchanged when a user opts in to reading such a file.

__all__ += ["Task", "TaskGroup", "Model"]


class Task:
    """One task of a lifelong-learning knowledge base: a set of samples that share a model.

    Parameters
    ----------
    entry : str
        The task's name (for attribute-defined tasks, the attribute values joined by ``_``).
    samples : object
        The task's samples (a data source with ``x`` and ``y``), or None once stored.
    meta_attr : object, default=None
        What defines the task (attribute values, origin name, cluster label).

    Attributes
    ----------
    test_samples : object
        Held-out samples of the task, if any.
    model : Model or None
        The model that serves the task.
    result : object
        Predictions for :attr:`samples` after inference.
    scores : dict
        Evaluation scores, filled by evaluation.
    """

    def __init__(self, entry: str, samples: Any = None, meta_attr: Any = None) -> None:
        self.entry = entry
        self.samples = samples
        self.meta_attr = meta_attr
        self.test_samples = None
        self.model = None
        self.result = None
        self.scores: dict = {}

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"Task(entry={self.entry!r}, meta_attr={self.meta_attr!r})"


class TaskGroup:
    """Tasks that share one model (the output of task-relationship discovery).

    Parameters
    ----------
    entry : str
        The group's name; its model file is ``<entry>.model``.
    tasks : list of Task
        The member tasks.

    Attributes
    ----------
    samples : object
        The union of the tasks' samples, used to train the group's model.
    model : Model or None
        The trained model.
    """

    def __init__(self, entry: str, tasks: list) -> None:
        self.entry = entry
        self.tasks = list(tasks)
        self.samples = None
        self.model = None

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"TaskGroup(entry={self.entry!r}, tasks={[t.entry for t in self.tasks]!r})"


class Model:
    """A trained model of the knowledge base.

    Parameters
    ----------
    index : int
        Position of the model (and of its task group) in the knowledge base.
    entry : str
        The group's name.
    model : object
        Where the model is (a path or URL), or the loaded model.
    result : object
        Training feedback (metrics), or None.

    Attributes
    ----------
    meta_attr : object
        The task attributes the model serves.
    """

    def __init__(self, index: int, entry: str, model: Any, result: Any = None) -> None:
        self.index = index
        self.entry = entry
        self.model = model
        self.result = result
        self.meta_attr = None

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"Model(index={self.index!r}, entry={self.entry!r}, model={self.model!r})"


# -- federated aggregation -----------------------------------------------------------------------

class AggClient:
    """One uploaded update as Sedna's aggregators receive it: ``num_samples`` and ``weights``.

    Parameters
    ----------
    num_samples : int, default=0
        Training samples behind the update.
    weights : list, default=None
        The model's layers (arrays or nested lists).
    """

    def __init__(self, num_samples: int = 0, weights: list | None = None) -> None:
        self.num_samples = num_samples
        self.weights = weights

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"AggClient(num_samples={self.num_samples!r}, layers={len(self.weights or [])})"


class Aggregator(BaseAlgorithm, abc.ABC):
    """Combine client updates into a new global model; the math apart from the protocol.

    A round is streamed: :meth:`begin_round` receives the current global model (the template:
    shapes, dtypes and, for server optimisers, the reference point), :meth:`add` folds in one
    :class:`ClientUpdate` (or any object with ``weights`` and ``num_samples``) as it arrives,
    and :meth:`finish` returns the new global model. Streaming aggregators (``streaming =
    True``) keep O(1) models whatever the number of clients; the robust ones (Krum, median,
    trimmed mean) must see every update at once and keep them all until :meth:`finish`.
    :meth:`aggregate` runs a whole round over a list, as Sedna's ``aggregate(clients)`` does.

    Attributes
    ----------
    streaming : bool
        Class attribute: memory stays O(1) models during a round.
    one_shot : bool
        Class attribute: the job needs a single round of communication (MistNet).
    linear : bool
        Class attribute: the round's result depends on the updates only through their
        sample-weighted mean, so secure aggregation (which reveals only that) can feed it.
    asynchronous : bool
        Class attribute: updates are client *changes* applied in buffers as they arrive
        (FedBuff), not models of a synchronous round.
    global_weights_ : list of numpy.ndarray
        The model produced by the last :meth:`finish`.
    total_samples_ : int
        Samples behind the last round (Sedna's ``total_size``).
    round_ : int
        Rounds finished so far.
    """

    streaming: bool = True
    one_shot: bool = False
    linear: bool = False
    asynchronous: bool = False

    @abc.abstractmethod
    def begin_round(self, template: list | None = None) -> None:
        """Start a round.

        Parameters
        ----------
        template : list of numpy.ndarray, default=None
            The current global model; None before the first round (the first update then
            defines the shapes).
        """

    @abc.abstractmethod
    def add(self, update: Any) -> None:
        """Fold one client update into the round.

        Parameters
        ----------
        update : ClientUpdate or AggClient
            Anything with ``weights`` (list of layers) and ``num_samples``.

        Raises
        ------
        AggregationError
            If the update's layers do not match the round's shapes (the message names the layer).
        """

    @abc.abstractmethod
    def finish(self) -> list:
        """End the round and return the new global model.

        Returns
        -------
        list of numpy.ndarray
            The aggregated layers.

        Raises
        ------
        AggregationError
            If no usable update was added.
        """

    def aggregate(self, updates: Any) -> list:
        """Aggregate a whole round at once (Sedna's ``aggregate(clients)``).

        Parameters
        ----------
        updates : sequence of ClientUpdate or AggClient
            The round's updates. Empty: the previous global model is returned, as in Sedna.

        Returns
        -------
        list of numpy.ndarray
            The new global model.

        Raises
        ------
        AggregationError
            If there is nothing to aggregate and no previous model, or shapes differ.
        """
        updates = list(updates)
        if not updates:
            previous = getattr(self, "global_weights_", None)
            if previous is None:
                from .exceptions import AggregationError

                raise AggregationError("no updates to aggregate and no previous global model")
            return previous
        self.begin_round(getattr(self, "global_weights_", None))
        for update in updates:
            self.add(update)
        return self.finish()

    def client_config(self) -> dict:
        """Return the settings sent to clients with each round (for example FedProx's ``proximal_mu``).

        Returns
        -------
        dict
            JSON-able settings; empty by default.
        """
        return {}

    def prepare_update(self, weights: list, reference: list | None, config: dict) -> tuple[list, dict]:
        """Turn a client's trained model into what it uploads (runs on the client, after training).

        The default sends the weights unchanged. Differentially private aggregators clip the
        change from ``reference`` here, and add noise for local DP, so that nothing unclipped
        leaves the client.

        Parameters
        ----------
        weights : list of numpy.ndarray
            The locally trained model.
        reference : list of numpy.ndarray or None
            The global model the round started from (None: unknown).
        config : dict
            The server's settings for this round (:meth:`client_config` merged with the server's).

        Returns
        -------
        weights : list of numpy.ndarray
            What to upload.
        metrics : dict
            Extra metrics to upload with it (JSON-able).
        """
        return weights, {}

    @property
    def total_size(self) -> int:
        """Samples behind the last round (Sedna's attribute name)."""
        return getattr(self, "total_samples_", 0)

    @property
    def weights(self) -> list | None:
        """The last global model (Sedna's attribute name), or None before the first round."""
        return getattr(self, "global_weights_", None)


__all__ += ["AggClient", "Aggregator"]


# -- checks of numeric parameters -----------------------------------------------------------------
# NaN compares false with everything, so ``if value < 0: raise`` accepts it; these checks refuse NaN and
# infinity explicitly, and ``bool`` (``True`` is not a count). Values may be the text a control plane
# writes (``"0.5"``), as ``float()`` reads it. The aggregators check their parameters through here, and
# so do the servers theirs.

def _is_bool(value: Any) -> bool:
    """Whether ``value`` is a bool, Python's or numpy's (without importing numpy)."""
    kind = type(value)
    return isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__.startswith("bool"))


def _finite_float(value: Any) -> float | None:
    """``value`` as a finite float (text as ``float()`` reads it), or None (a bool is not a number)."""
    if _is_bool(value) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking that it is a finite number in range.

    A NaN compares false with every bound, so a plain ``value < 0`` check lets it through; a
    NaN or infinite noise multiplier, clipping norm or rate would silently disable the noise, the
    privacy accounting or a discount. The aggregators check their parameters through here.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        A number (or its text, as a control plane writes parameters); ``bool`` is refused.
    low, high : float, default=None
        The bounds (None: unbounded on that side).
    low_open, high_open : bool, default=False
        Exclude the bound itself.

    Returns
    -------
    float
        The value.

    Raises
    ------
    ParameterError
        If the value is not a number, is NaN or infinite, or is out of range.

    Examples
    --------
    >>> check_number("delta", "1e-5", 0, 1, low_open=True, high_open=True)
    1e-05
    >>> check_number("noise_multiplier", float("nan"), 0)
    Traceback (most recent call last):
    ...
    sedna_lib.exceptions.ParameterError: noise_multiplier must be a finite number >= 0, got nan
    """
    number = _finite_float(value)
    if number is None \
            or low is not None and (number < low or (low_open and number == low)) \
            or high is not None and (number > high or (high_open and number == high)):
        # the message is built on failure only: the checks run where values are used
        if low is not None and high is not None:
            what = (f"a finite number in {'(' if low_open else '['}{low:g}, {high:g}"
                    f"{')' if high_open else ']'}")
        elif low is not None:
            what = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            what = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            what = "a finite number"
        raise ParameterError(f"{name} must be {what}, got {value!r}")
    return number


def check_count(name: str, value: Any, low: int = 1) -> int:
    """Return ``value`` as an int after checking that it is a whole number >= ``low``.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        An integer, an integral float or its text; ``bool`` and fractions are refused.
    low : int, default=1
        The smallest value allowed.

    Returns
    -------
    int
        The value.

    Raises
    ------
    ParameterError
        If the value is not a whole number >= ``low``.

    Examples
    --------
    >>> check_count("num_sampled_clients", "10")
    10
    """
    if isinstance(value, numbers.Integral) and not _is_bool(value):
        number: int | None = int(value)
    else:
        real = _finite_float(value)
        number = int(real) if real is not None and real.is_integer() else None
    if number is None or number < low:
        raise ParameterError(f"{name} must be a whole number >= {low}, got {value!r}")
    return number


def check_port(name: str, value: Any, low: int = 0) -> int:
    """Return a TCP port checked to be a whole number from ``low`` to 65535.

    ``int()`` turned a port of 3.7 into 3 and ``True`` into 1, and a server then bound them.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        An integer, an integral float or its text; ``bool`` is refused.
    low : int, default=0
        0 where a server may take any free port, 1 for a peer's port.

    Returns
    -------
    int
        The port.

    Raises
    ------
    ParameterError
        If it is not a whole number from ``low`` to 65535.

    Examples
    --------
    >>> check_port("port", "8080")
    8080
    """
    try:
        port = check_count(name, value, low)
    except ParameterError:
        port = None
    if port is None or port > 65535:
        free = " (0: any free port)" if low == 0 else ""
        raise ParameterError(f"{name} must be a whole number from {low} to 65535{free}, got {value!r}")
    return port


def check_variable(variable: str, value: Any, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Check a value the environment gave, as ``check(variable, value, *args, **kwargs)`` does.

    Parameters
    ----------
    variable : str
        The environment variable the value came from, named in the error.
    value : object
        Its value, as the configuration parsed it.
    check : callable
        :func:`check_number` or :func:`check_count`.
    *args, **kwargs : object
        The check's bounds.

    Returns
    -------
    object
        What ``check`` returns.

    Raises
    ------
    ConfigError
        Naming ``variable``, where ``check`` raises :class:`ParameterError` (a bad argument).
    """
    try:
        return check(variable, value, *args, **kwargs)
    except ParameterError as exc:
        raise ConfigError(str(exc), variable=variable) from None
