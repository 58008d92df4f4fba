"""MistNet: clients upload privatised cut-layer features once; the server trains the layers after the cut.

References
----------
Wang et al., "MistNet: Towards Private Neural Network Training with Local Differential
Privacy" (NeurIPS 2020 submission; shipped with the Plato framework); symmetric unary encoding
from Wang et al., "Locally Differentially Private Protocols for Frequency Estimation", USENIX
Security 2017.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sedna_lib.base import Aggregator, ClientUpdate
from sedna_lib.exceptions import AggregationError, ParameterError

from . import _math

__all__ = ["MistNet", "forward_to"]


def _parse_cut_layer(value: Any) -> int | str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if not text:
        raise ParameterError("cut_layer is empty; give a layer index (e.g. 1) or a layer name")
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        number = float(text)  # a number is an index (layer names are not numbers): 2.0 is 2, 2.5 is wrong
    except ValueError:
        return text
    if not number.is_integer():
        raise ParameterError(f"cut_layer must be a whole layer index (e.g. 1) or a layer name, got {value!r}")
    return int(number)


def _parse_epsilon(value: Any) -> float | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "none", "null", "inf", "infinity"):
        return None
    try:
        eps = float(text)
    except ValueError:
        raise ParameterError(f"epsilon must be a positive number, 'inf' or None, got {value!r}") from None
    if math.isinf(eps):
        return None
    if not eps > 0:
        raise ParameterError(f"epsilon must be positive (or 'inf'/None for no noise), got {value!r}")
    return eps


def forward_to(model: Any, x: Any, cut_layer: int | str) -> np.ndarray:
    """Run ``model`` on ``x`` up to (and including) layer ``cut_layer`` and return the activations.

    Supports PyTorch ``nn.Sequential``, Keras ``Sequential`` models, scikit-learn MLPs, and
    any object with a ``forward_to(x, cut_layer)`` method.

    Parameters
    ----------
    model : object
        The pre-trained model (or a backend wrapping it, through its ``estimator``).
    x : array-like
        Inputs.
    cut_layer : int or str
        Number of leading layers to run (an index), or the name of the last layer to run.

    Returns
    -------
    numpy.ndarray
        The features, one row per sample.

    Raises
    ------
    ParameterError
        If the model type is not supported or the layer does not exist.
    """
    if hasattr(model, "forward_to"):
        return np.asarray(model.forward_to(x, cut_layer))
    inner = getattr(model, "estimator", None)
    if inner is not None and inner is not model and not hasattr(model, "coefs_"):
        return forward_to(inner, x, cut_layer)
    if hasattr(model, "coefs_"):  # scikit-learn MLP
        if not isinstance(cut_layer, int) or not 0 < cut_layer <= len(model.coefs_):
            raise ParameterError(f"cut_layer must be an int in 1..{len(model.coefs_)} for this MLP, "
                                 f"got {cut_layer!r}")
        act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z,
               "logistic": lambda z: 1 / (1 + np.exp(-z))}[model.activation]
        h = np.asarray(x, dtype=np.float64)
        for w, b in zip(model.coefs_[:cut_layer], model.intercepts_[:cut_layer]):
            h = act(h @ w + b)
        return h
    module = type(model).__module__
    if module.startswith("torch"):
        import torch

        names = [n for n, _ in model.named_children()]
        stop = names.index(cut_layer) + 1 if isinstance(cut_layer, str) and cut_layer in names else cut_layer
        if not isinstance(stop, int) or not 0 < stop <= len(names):
            raise ParameterError(f"cut_layer {cut_layer!r} is not a layer of this model "
                                 f"({len(names)} layers)")
        with torch.no_grad():
            h = torch.as_tensor(np.asarray(x, dtype=np.float32))
            for layer in list(model.children())[:stop]:
                h = layer(h)
        return h.numpy()
    if module.startswith(("keras", "tensorflow", "tf_keras")):
        layers = list(model.layers)
        names = [layer.name for layer in layers]
        stop = names.index(cut_layer) + 1 if isinstance(cut_layer, str) and cut_layer in names else cut_layer
        if not isinstance(stop, int) or not 0 < stop <= len(layers):
            raise ParameterError(f"cut_layer {cut_layer!r} is not a layer of this model "
                                 f"({len(layers)} layers)")
        h = np.asarray(x, dtype=np.float32)
        for layer in layers[:stop]:
            h = layer(h)
        return np.asarray(h)
    raise ParameterError(f"cannot cut a {type(model).__name__}; use a torch nn.Sequential, a Keras "
                         "Sequential, a scikit-learn MLP, or give the model a forward_to(x, cut_layer) "
                         "method")


class MistNet(Aggregator):
    """One-shot split learning with local differential privacy [1]_.

    Each client runs its pre-trained model up to ``cut_layer`` (:func:`forward_to`), binarises
    the activations (1 where positive) and perturbs every bit with symmetric unary encoding: a
    1 stays 1 with probability ``p = e^(eps/2) / (e^(eps/2) + 1)`` and a 0 becomes 1 with
    probability ``1 - p`` [2]_. (The MistNet paper quotes ``e^eps / (1 + e^eps)`` per bit;
    sedna_lib follows the unary-encoding convention, where ``eps`` bounds the whole vector.)
    The features and labels are uploaded once (:meth:`client_update`); the server pools them
    and trains the layers after the cut (the ``head``), after which the job ends.

    Parameters
    ----------
    cut_layer : int or str, default=1
        Layers run on the client: a count, or the name of the last one. Digit strings (as the
        control plane passes them) are read as ints.
    epsilon : float or str or None, default=1.0
        Local privacy budget; ``None``, ``'inf'`` or ``''`` mean no noise. Strings are parsed
        as numbers (Sedna replaced a digit-string epsilon by ``cut_layer``; this does not).
    seed : int or None, default=None
        Seed of the clients' randomness.

    Attributes
    ----------
    features_, labels_ : numpy.ndarray
        The pooled uploads after :meth:`finish`.
    head_ : object
        The server-side model trained in :meth:`finish` (bound with :meth:`bind_head`).

    References
    ----------
    .. [1] Wang et al., "MistNet: Towards Private Neural Network Training with Local
       Differential Privacy", NeurIPS 2020 submission (Plato framework)
    .. [2] Wang et al., "Locally Differentially Private Protocols for Frequency Estimation",
       USENIX Security 2017

    Examples
    --------
    >>> m = MistNet(cut_layer="4", epsilon="2")
    >>> m.parameters
    {'type': 'mistnet', 'cut_layer': 4, 'epsilon': 2.0}
    """

    streaming = False
    one_shot = True

    def __init__(self, *, cut_layer: int | str = 1, epsilon: float | str | None = 1.0,
                 seed: int | None = None) -> None:
        self.cut_layer = cut_layer
        self.epsilon = epsilon
        self.seed = seed

    @property
    def parameters(self) -> dict:
        """Sedna's parameter dict: ``{"type": "mistnet", "cut_layer": .., "epsilon": ..}`` (parsed)."""
        return {"type": "mistnet", "cut_layer": _parse_cut_layer(self.cut_layer),
                "epsilon": _parse_epsilon(self.epsilon)}

    def encode(self, features: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Binarise and perturb features.

        Parameters
        ----------
        features : numpy.ndarray
            Cut-layer activations.
        rng : numpy.random.Generator, default=None
            Randomness (seeded from ``seed`` when omitted).

        Returns
        -------
        numpy.ndarray of uint8
            The reported bits.
        """
        rng = rng or np.random.default_rng(self.seed)
        return _math.randomized_response(_math.binarize(features), _parse_epsilon(self.epsilon), rng)

    def client_update(self, model: Any, x: Any, y: Any, *, client_id: str = "",
                      rng: np.random.Generator | None = None) -> ClientUpdate:
        """Build a client's one upload: ``weights = [bits, labels]``.

        Parameters
        ----------
        model : object
            The pre-trained model (see :func:`forward_to`).
        x, y : array-like
            The client's data and labels.
        client_id : str, default=''
            Sender name.
        rng : numpy.random.Generator, default=None
            Randomness.

        Returns
        -------
        ClientUpdate
            The upload.
        """
        feats = forward_to(model, x, _parse_cut_layer(self.cut_layer))
        bits = self.encode(feats.reshape(len(feats), -1), rng)
        return ClientUpdate([bits, np.asarray(y)], len(bits), client_id)

    def bind_head(self, head: Any) -> MistNet:
        """Set the server-side model trained on the pooled features.

        Parameters
        ----------
        head : object
            Anything with ``fit(x, y)`` (scikit-learn, Keras) or ``train((x, y))`` (a backend).

        Returns
        -------
        MistNet
            ``self``.
        """
        self.head_ = head
        return self

    def begin_round(self, template: list | None = None) -> None:
        """Start collecting uploads."""
        self._feats: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def add(self, update: Any) -> None:
        """Keep one client's features and labels.

        Parameters
        ----------
        update : ClientUpdate
            ``weights = [features, labels]``.

        Raises
        ------
        AggregationError
            If the upload is not ``[features, labels]`` with matching lengths and widths.
        """
        if not hasattr(self, "_feats"):
            self.begin_round()
        weights = list(update.weights)
        if len(weights) != 2:
            raise AggregationError(f"a MistNet upload is [features, labels], got {len(weights)} arrays")
        feats, labels = np.asarray(weights[0]), np.asarray(weights[1])
        if feats.ndim != 2 or len(feats) != len(labels):
            raise AggregationError(f"MistNet features must be (n, d) with n labels; got {feats.shape} "
                                   f"and {labels.shape}")
        if self._feats and feats.shape[1] != self._feats[0].shape[1]:
            raise AggregationError(f"layer 0 (features) has width {feats.shape[1]}, expected "
                                   f"{self._feats[0].shape[1]}: clients cut at different layers")
        self._feats.append(feats)
        self._labels.append(labels)

    def finish(self) -> list:
        """Pool the uploads and train the head on them.

        Returns
        -------
        list of numpy.ndarray
            The head's weights when it exposes ``get_weights``, else an empty list.

        Raises
        ------
        AggregationError
            If nothing was uploaded.
        """
        if not getattr(self, "_feats", None):
            raise AggregationError("no MistNet features were uploaded")
        self.features_ = np.concatenate(self._feats).astype(np.float32)
        self.labels_ = np.concatenate(self._labels)
        self.total_samples_ = len(self.labels_)
        self.round_ = getattr(self, "round_", 0) + 1
        del self._feats, self._labels
        head = getattr(self, "head_", None)
        result: list = []
        if head is not None:
            if hasattr(head, "train") and not hasattr(head, "fit"):
                head.train((self.features_, self.labels_))
            else:
                head.fit(self.features_, self.labels_)
            if hasattr(head, "get_weights"):
                result = [np.asarray(w) for w in head.get_weights()]
        self.global_weights_ = result
        return result
