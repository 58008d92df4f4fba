"""Differentially private FedAvg: central DP (server- or client-side clipping) and local DP.

References
----------
McMahan et al., "Learning Differentially Private Recurrent Language Models", ICLR 2018,
https://arxiv.org/abs/1710.06963; Andrew et al., "Differentially Private Learning with Adaptive
Clipping", NeurIPS 2021, https://arxiv.org/abs/1905.03871; Mironov, "Renyi Differential
Privacy", CSF 2017, https://arxiv.org/abs/1702.07476
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import Aggregator, check_count, check_number
from sedna_lib.exceptions import AggregationError, ParameterError

from . import _math, _privacy
from ._streaming import StreamingMean, _unpack

__all__ = ["DPFedAvg", "LocalDPFedAvg"]

_CLIP_SLACK = 1e-6
"""Relative slack allowed on a client-clipped update's norm (float32 rounding on the client)."""


def _accountant(delta: float | None):
    if delta is None:
        return None
    from ._accountant import GaussianAccountant

    return GaussianAccountant(delta)


class DPFedAvg(Aggregator):
    """FedAvg with central differential privacy (user-level): clip each update, add Gaussian noise [1]_.

    Each client's update ``u_k = w_k - w`` (its model minus the round's global model) is clipped
    to L2 norm ``C`` (on the server, or on the client with ``clip_on='client'``); the clipped
    updates are summed with equal weights (sample counts are not used: they would change the
    sensitivity), ``N(0, (z C)^2)`` noise is added to the sum, and the noised sum is divided by
    the expected number of clients ``m``. With ``adaptive=True`` the clipping norm follows the
    ``target_unclipped_quantile`` of the update norms [2]_, using a noised count of unclipped
    updates (each update counts ``+1/2`` when unclipped and ``-1/2`` when clipped, so one client
    moves the count by ``1/2``; ``m / 2`` is added back after the noise, and the noised fraction
    is clamped to [0, 1], so one round moves ``C`` by at most a factor ``exp(clip_learning_rate)``).
    Each round composes a
    Poisson-subsampled Gaussian mechanism (sampling rate ``m / population``) in an RDP accountant
    (``dp-accounting``), and ``epsilon_`` reports the guarantee so far at ``delta``.

    The guarantee assumes a trusted server (it sees the clipped updates before the noise), that
    clients are sampled independently with rate ``m / population`` each round, and that the
    noise's randomness is not known to anyone else.

    Parameters
    ----------
    noise_multiplier : float, default=1.0
        ``z``: noise standard deviation over the clipping norm (0: clipping only, epsilon inf).
    clipping_norm : float, default=1.0
        ``C``, the (initial, when adaptive) L2 bound of one client's update.
    clip_on : {'server', 'client'}, default='server'
        Where updates are clipped. 'client' sends ``C`` in the round settings; the client's
        :meth:`prepare_update` clips, and the server refuses an update above ``C``. Clients and
        server must share the reference model, so the server needs an initial model.
    adaptive : bool, default=False
        Adapt ``C`` to a quantile of the update norms.
    target_unclipped_quantile : float, default=0.5
        The fraction of updates adaptive clipping aims to leave unclipped.
    clip_learning_rate : float, default=0.2
        Step size of the geometric update of ``C`` (> 0).
    clipped_count_stddev : float, default=None
        ``sigma_b``, the noise on the unclipped count (None: ``m / 20``, as the paper suggests).
        With noise, adaptive clipping needs ``2 sigma_b > z`` (with the default: ``m > 10 z``).
    num_sampled_clients : int, default=None
        ``m``, the expected clients per round (None: the number that took part).
    population : int, default=None
        Clients the round samples from (None: ``m``, i.e. everyone takes part every round).
    delta : float or None, default=1e-5
        The delta epsilon is reported at (None: no accountant; ``epsilon_`` stays None).
    seed : int, default=None
        Seed of the server's noise (None: fresh entropy; set it only for tests).

    Raises
    ------
    ParameterError
        When a round begins (before any client trains; the constructor only stores), if a parameter
        is not a finite number in its range (``num_sampled_clients`` and ``population`` must be
        whole numbers), or adaptive clipping's count noise would leave no noise for the model
        (``2 sigma_b <= z``; checked in the first round's :meth:`finish` when neither
        ``num_sampled_clients`` nor ``clipped_count_stddev`` is given). In :meth:`finish`, if
        adaptive clipping's step would take ``C`` out of the finite positive floats (a
        ``clip_learning_rate`` too large): the round ends without a model, ``clipping_norm_``
        keeps its value, and ``epsilon_`` counts the round (the refusal depends on the noised count).

    Attributes
    ----------
    epsilon_ : float or None
        The privacy spent so far, at ``delta``.
    clipping_norm_ : float
        The clipping norm of the next round.
    unclipped_fraction_ : float
        The last round's fraction of unclipped updates (with adaptive clipping: noised, then
        clamped to [0, 1], the value that moved ``C``).

    References
    ----------
    .. [1] McMahan et al., "Learning Differentially Private Recurrent Language Models", ICLR 2018,
       https://arxiv.org/abs/1710.06963
    .. [2] Andrew et al., "Differentially Private Learning with Adaptive Clipping", NeurIPS 2021,
       https://arxiv.org/abs/1905.03871
    """

    streaming = True

    def __init__(self, *, noise_multiplier: float = 1.0, clipping_norm: float = 1.0,
                 clip_on: str = "server", adaptive: bool = False, target_unclipped_quantile: float = 0.5,
                 clip_learning_rate: float = 0.2,
                 clipped_count_stddev: float | None = None, num_sampled_clients: int | None = None,
                 population: int | None = None, delta: float | None = 1e-5, seed: int | None = None) -> None:
        self.noise_multiplier = noise_multiplier
        self.clipping_norm = clipping_norm
        self.clip_on = clip_on
        self.adaptive = adaptive
        self.target_unclipped_quantile = target_unclipped_quantile
        self.clip_learning_rate = clip_learning_rate
        self.clipped_count_stddev = clipped_count_stddev
        self.num_sampled_clients = num_sampled_clients
        self.population = population
        self.delta = delta
        self.seed = seed

    # -- checks and state -------------------------------------------------------------------
    def _validate(self) -> None:
        """Check every parameter, at each round (the constructor only stores; set_params may change them).

        When the round's noise split is known already (``num_sampled_clients`` or
        ``clipped_count_stddev`` given), it is computed here, once, and kept for :meth:`finish`.
        """
        if self.clip_on not in ("server", "client"):
            raise ParameterError(f"clip_on must be 'server' or 'client', got {self.clip_on!r}")
        z = _check_dp_parameters(self)
        check_number("target_unclipped_quantile", self.target_unclipped_quantile, 0, 1)
        check_number("clip_learning_rate", self.clip_learning_rate, 0, low_open=True)
        if self.clipped_count_stddev is not None:
            check_number("clipped_count_stddev", self.clipped_count_stddev, 0)
        m = population = None
        if self.num_sampled_clients is not None:
            m = check_count("num_sampled_clients", self.num_sampled_clients)
        if self.population is not None:
            population = check_count("population", self.population)
        if m is not None and population is not None and m > population:
            raise ParameterError(f"num_sampled_clients={self.num_sampled_clients} exceeds population="
                                 f"{self.population}")
        split = None
        if self.adaptive and z > 0 and (m is not None or self.clipped_count_stddev is not None):
            split = self._noise_split(z, m)
        self._round_noise = (self.get_params(), split)

    def _noise_split(self, z: float, m: float | None, took_part: bool = False) -> tuple[float, float]:
        """Return ``(sigma_b, z_model)``: the noise on the unclipped count and the model's noise multiplier.

        Refuses a ``sigma_b`` that leaves the model no noise (:func:`~._privacy.count_takes_whole_budget`).
        """
        if self.clipped_count_stddev is not None:
            sigma_b = float(self.clipped_count_stddev)
            return sigma_b, _privacy.delta_noise_multiplier(z, sigma_b)  # raises when 2 sigma_b <= z
        sigma_b = m / 20.0
        if z > 0 and _privacy.count_takes_whole_budget(z, sigma_b):
            source = (f"{m:g} clients took part and num_sampled_clients is not given" if took_part
                      else f"num_sampled_clients={self.num_sampled_clients}")
            raise ParameterError(
                "adaptive clipping noises the unclipped count with clipped_count_stddev = m / 20 = "
                f"{sigma_b:g} by default ({source}), which with noise_multiplier={z:g} leaves no noise for "
                "the model: it needs 2 * clipped_count_stddev > noise_multiplier, i.e. m > 10 * "
                f"noise_multiplier = {10 * z:g} clients per round; sample more clients per round "
                f"(num_sampled_clients), lower noise_multiplier, or pass clipped_count_stddev > {z / 2:g}")
        return sigma_b, _privacy.split_noise_multiplier(z, sigma_b)

    def _state(self) -> None:
        self._validate()
        if not hasattr(self, "clipping_norm_"):
            self.clipping_norm_ = float(self.clipping_norm)
            self.epsilon_ = None
            self._rng = np.random.default_rng(self.seed)
            self._accountant_ = _accountant(self.delta)

    def client_config(self) -> dict:
        """Return the round settings: the clipping norm when clients clip.

        Returns
        -------
        dict
            ``{'dp_clip_on': 'client', 'dp_clipping_norm': C}``, or empty for server-side clipping.
        """
        if self.clip_on != "client":
            return {}
        return {"dp_clip_on": "client",
                "dp_clipping_norm": float(getattr(self, "clipping_norm_", self.clipping_norm))}

    def prepare_update(self, weights: list, reference: list | None, config: dict) -> tuple[list, dict]:
        """Clip the update on the client when the server asks for it (``dp_clip_on='client'``).

        Parameters
        ----------
        weights : list of numpy.ndarray
            The trained model.
        reference : list of numpy.ndarray or None
            The round's global model.
        config : dict
            The round settings.

        Returns
        -------
        weights : list of numpy.ndarray
            ``reference + clip(weights - reference)``.
        metrics : dict
            ``{'dp_unclipped': 0 or 1}`` for adaptive clipping.

        Raises
        ------
        AggregationError
            If the server asks for client-side clipping and ``reference`` is unknown.
        """
        if config.get("dp_clip_on") != "client":
            return weights, {}
        if reference is None:
            raise AggregationError("client-side clipping needs the global model the round started from")
        clipped, _, unclipped = _privacy.clip_by_l2_norm(_privacy.difference(weights, reference),
                                                         float(config["dp_clipping_norm"]), in_place=True)
        return _on_reference(clipped, reference, weights), {"dp_unclipped": int(unclipped)}

    # -- a round ----------------------------------------------------------------------------
    def begin_round(self, template: list | None = None) -> None:
        """Start a round; see :meth:`sedna_lib.base.Aggregator.begin_round`.

        Without a template (a server with no initial model) the reference is zero, so the whole
        first model is clipped as the update.
        """
        self._state()
        self._reference = None if template is None else [np.asarray(a) for a in _math.as_layers(template)]
        self._sum: list[np.ndarray] | None = None
        self._count = 0
        self._unclipped = 0
        self._samples = 0.0

    def add(self, update: Any) -> None:
        """Clip (or check) one update and add it to the round's sum; see :meth:`Aggregator.add`."""
        if not hasattr(self, "_count"):
            self.begin_round(None)
        layers, n, who = _unpack(update)
        if self._reference is None and self.clip_on == "client":
            raise AggregationError("clip_on='client' needs the round's global model on the server, the "
                                   "reference clients clip against: start the server from an initial "
                                   "model (initial_weights)")
        names = _math.layer_names(self, update)
        _math.check_layers(layers, [a.shape for a in (self._reference or layers)], names, who=who)
        _math.check_finite(layers, names, who=who)
        if self._reference is None:  # from the first accepted update: a refused one sets nothing
            self._reference = [np.zeros_like(a) for a in layers]
        delta = _privacy.difference(layers, self._reference)
        c = self.clipping_norm_
        if self.clip_on == "server":
            delta, _, unclipped = _privacy.clip_by_l2_norm(delta, c, in_place=True)
        else:
            norm = _privacy.l2_norm(delta)
            if norm > c * (1 + _CLIP_SLACK) + 1e-12:
                raise AggregationError(
                    f"{who} changes the model by L2 norm {norm:.6g}, above the clipping norm {c:.6g}: with "
                    "clip_on='client' each client must clip its update (aggregation 'DPFedAvg' on the client "
                    "runs prepare_update)")
            metrics = getattr(update, "metrics", None) or {}
            unclipped = bool(metrics.get("dp_unclipped", norm < c))
        if self._sum is None:
            self._sum = [np.zeros(a.shape, dtype=np.float64) for a in self._reference]
        for s, d in zip(self._sum, delta):
            s += d
        self._count += 1
        self._unclipped += int(unclipped)
        self._samples += n

    def finish(self) -> list:
        """Noise the clipped sum and apply it; see :meth:`sedna_lib.base.Aggregator.finish`."""
        if not getattr(self, "_count", 0) or self._sum is None:
            raise AggregationError("no client update was added this round")
        m = float(self.num_sampled_clients) if self.num_sampled_clients is not None else float(self._count)
        c = self.clipping_norm_
        z = float(self.noise_multiplier)
        count_stddev, z_model = 0.0, z
        if self.adaptive:
            raw, split = self._round_noise  # computed when the round began, if its values were known then
            if split is None or raw != self.get_params():  # else now (set_params during the round: checked)
                split = self._noise_split(z, m, took_part=self.num_sampled_clients is None)
            count_stddev, z_model = split
        noisy, self._sum = _privacy.add_gaussian_noise(self._sum, z_model * c, self._rng), None
        for s in noisy:  # reference + noisy / m, in the sum's own memory
            s /= m
        result = _on_reference(noisy, self._reference)
        if self.adaptive:
            # the sum of centred bits (unclipped +1/2, clipped -1/2): one client moves it by 1/2, the
            # sensitivity the split of z assumes; m / 2 is added back once it is noised
            centred = self._unclipped - self._count / 2.0
            noise = self._rng.normal(0.0, count_stddev) if z > 0 else 0.0
            # a fraction, clamped to [0, 1] (post-processing): large count noise cannot blow up the step
            fraction = min(1.0, max(0.0, float((centred + noise) / m + 0.5)))
        else:
            fraction = self._unclipped / self._count
        if self._accountant_ is not None:  # before the step: a refused step still depends on the noised count
            population = float(self.population) if self.population is not None else m
            self._accountant_.step(z, min(1.0, m / population))
            self.epsilon_ = self._accountant_.epsilon()
        if self.adaptive:
            try:
                next_norm = _privacy.adaptive_clip_step(
                    c, fraction, target_quantile=float(self.target_unclipped_quantile),
                    learning_rate=float(self.clip_learning_rate))
            except ParameterError as exc:
                del self._count  # the round ends here; clipping_norm_ and the global model stay as they were
                raise ParameterError(f"round {getattr(self, 'round_', 0) + 1}: {exc}; clipping_norm_ stays "
                                     f"{c:.6g}") from exc
            self.clipping_norm_ = next_norm
        self.unclipped_fraction_ = fraction
        self.global_weights_ = result
        self.total_samples_ = int(self._samples)
        self.round_ = getattr(self, "round_", 0) + 1
        del self._count
        return result


class LocalDPFedAvg(StreamingMean):
    """FedAvg of updates each client clipped and noised itself (local DP) [1]_.

    On the client, :meth:`prepare_update` clips the update ``w_k - w`` to L2 norm ``C`` and
    adds ``N(0, (z C)^2)`` to every coordinate before anything is sent; the server averages
    the noised models by sample count, as FedAvg. The server need not be trusted. Since the
    update of a client whose data is replaced can move anywhere within the ball of radius ``C``,
    one round is a Gaussian mechanism with sensitivity ``2 C``, i.e. noise multiplier ``z / 2``;
    ``epsilon_`` composes that over the rounds in an RDP accountant (``dp-accounting``),
    assuming the client takes part in every round.

    Parameters
    ----------
    noise_multiplier : float, default=1.0
        ``z``: noise standard deviation over ``C``, added by each client.
    clipping_norm : float, default=1.0
        ``C``.
    delta : float or None, default=1e-5
        The delta epsilon is reported at (None: no accountant).
    seed : int, default=None
        Seed of the client's noise (None: fresh entropy; set it only for tests and simulations).

    Raises
    ------
    ParameterError
        When a round begins (before any client trains), if ``noise_multiplier`` (>= 0),
        ``clipping_norm`` (> 0) or ``delta`` (in (0, 1)) is not a finite number in its range.

    Attributes
    ----------
    epsilon_ : float or None
        One client's privacy spent so far, at ``delta``.

    References
    ----------
    .. [1] Truex et al., "LDP-Fed: Federated Learning with Local Differential Privacy", EdgeSys 2020,
       https://arxiv.org/abs/2006.03637; Mironov, "Renyi Differential Privacy", CSF 2017
    """

    def __init__(self, *, noise_multiplier: float = 1.0, clipping_norm: float = 1.0,
                 delta: float | None = 1e-5, seed: int | None = None) -> None:
        self.noise_multiplier = noise_multiplier
        self.clipping_norm = clipping_norm
        self.delta = delta
        self.seed = seed

    def begin_round(self, template: list | None = None) -> None:
        """Start a round; see :meth:`sedna_lib.base.Aggregator.begin_round`."""
        _check_dp_parameters(self)
        super().begin_round(template)

    def client_config(self) -> dict:
        """Return the round settings: the clipping norm and noise clients apply.

        Returns
        -------
        dict
            ``{'dp_local': True, 'dp_clipping_norm': C, 'dp_noise_multiplier': z}``.
        """
        return {"dp_local": True, "dp_clipping_norm": float(self.clipping_norm),
                "dp_noise_multiplier": float(self.noise_multiplier)}

    def prepare_update(self, weights: list, reference: list | None, config: dict) -> tuple[list, dict]:
        """Clip and noise the update on the client.

        Parameters
        ----------
        weights : list of numpy.ndarray
            The trained model.
        reference : list of numpy.ndarray or None
            The round's global model.
        config : dict
            The round settings.

        Returns
        -------
        weights : list of numpy.ndarray
            ``reference + clip(weights - reference) + noise``.
        metrics : dict
            Empty.

        Raises
        ------
        AggregationError
            If ``reference`` is unknown.
        ParameterError
            If the round settings' clipping norm or noise multiplier is not a finite number in range.
        """
        if not config.get("dp_local", True):
            return weights, {}
        if reference is None:
            raise AggregationError("local DP needs the global model the round started from")
        if not hasattr(self, "_client_rng"):
            self._client_rng = np.random.default_rng(self.seed)
        c = check_number("dp_clipping_norm", config.get("dp_clipping_norm", self.clipping_norm), 0,
                         low_open=True)
        z = check_number("dp_noise_multiplier", config.get("dp_noise_multiplier", self.noise_multiplier), 0)
        clipped, _, _ = _privacy.clip_checked(_privacy.difference(weights, reference), c, in_place=True)
        noised = _privacy.add_gaussian_noise(clipped, z * c, self._client_rng)
        return _on_reference(noised, reference, weights), {}

    def finish(self) -> list:
        """Average the noised models and account one round; see :meth:`Aggregator.finish`."""
        result = super().finish()
        if self.delta is not None:
            if getattr(self, "_accountant_", None) is None:
                self._accountant_ = _accountant(self.delta)
            self._accountant_.step(float(self.noise_multiplier) / 2.0, 1.0)
            self.epsilon_ = self._accountant_.epsilon()
        else:
            self.epsilon_ = None
        return result


def _check_dp_parameters(aggregator: Any) -> float:
    """Check the noise multiplier, clipping norm and delta both aggregators share; return ``z``."""
    z = check_number("noise_multiplier", aggregator.noise_multiplier, 0)
    check_number("clipping_norm", aggregator.clipping_norm, 0, low_open=True)
    if aggregator.delta is not None:  # None: no accountant
        check_number("delta", aggregator.delta, 0, 1, low_open=True, high_open=True)
    return z


def _on_reference(changes: list, reference: list, like: list | None = None) -> list:
    """Return ``reference + changes`` in ``like``'s dtypes (default: ``reference``'s), in ``changes``' memory.

    ``changes`` are float64 arrays of this module's own making (a difference, a noised sum); they are
    overwritten and their buffers become the result's (:func:`~._math.finish_layers`).
    """
    for c, r in zip(changes, reference):
        c += r  # float64 + the reference's dtype: the reference widened exactly, as in r.astype(float64) + c
    return _math.finish_layers(changes, [np.asarray(a).dtype for a in (reference if like is None else like)])
