"""Pure numpy differential-privacy math for federated updates: clipping, noise, adaptive clip norm.

An *update* here is the difference between a client's trained model and the global model it
started from, as a list of arrays. Nothing here knows about rounds or transports.

References
----------
.. [1] McMahan et al., "Learning Differentially Private Recurrent Language Models", ICLR 2018,
   https://arxiv.org/abs/1710.06963 (DP-FedAvg: per-client clipping, Gaussian noise on the sum)
.. [2] Andrew et al., "Differentially Private Learning with Adaptive Clipping", NeurIPS 2021,
   https://arxiv.org/abs/1905.03871
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sedna_lib.base import check_number
from sedna_lib.exceptions import ParameterError

__all__ = ["l2_norm", "difference", "clip_by_l2_norm", "clip_checked", "add_gaussian_noise",
           "adaptive_clip_step", "count_takes_whole_budget", "delta_noise_multiplier",
           "split_noise_multiplier"]


def l2_norm(layers: Sequence[np.ndarray]) -> float:
    """Return the L2 norm of all layers taken together as one vector.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The update.

    Returns
    -------
    float
        ``sqrt(sum of squares)`` over every element of every layer (computed in float64).

    Examples
    --------
    >>> l2_norm([np.array([3.0]), np.array([[4.0]])])
    5.0
    """
    total = 0.0
    for a in layers:
        flat = np.asarray(a, dtype=np.float64).reshape(-1)
        total += float(flat @ flat)
    return float(np.sqrt(total))


def difference(weights: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return ``weights - reference`` layer by layer, in float64.

    Parameters
    ----------
    weights, reference : sequence of numpy.ndarray
        A trained model and the model it started from.

    Returns
    -------
    list of numpy.ndarray
        The update.
    """
    return [np.subtract(w, r, dtype=np.float64) for w, r in zip(weights, reference)]


def clip_by_l2_norm(layers: Sequence[np.ndarray], clipping_norm: float, *,
                    in_place: bool = False) -> tuple[list[np.ndarray], float, bool]:
    """Scale an update so that its overall L2 norm is at most ``clipping_norm``.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The update (float arrays).
    clipping_norm : float
        The bound ``C`` > 0.
    in_place : bool, default=False
        Scale float64 layers in place (their own memory, no copy); other layers are copied.

    Returns
    -------
    clipped : list of numpy.ndarray
        ``layers * min(1, C / norm)`` (new arrays, or ``layers``' own with ``in_place``).
    norm : float
        The norm before clipping.
    unclipped : bool
        Whether the norm was already within ``C`` (the bit adaptive clipping counts).

    Raises
    ------
    ParameterError
        If ``clipping_norm`` is not a finite positive number.

    Examples
    --------
    >>> out, norm, unclipped = clip_by_l2_norm([np.array([3.0, 4.0])], 1.0)
    >>> out[0].tolist(), norm, unclipped
    ([0.6000000000000001, 0.8], 5.0, False)
    """
    return clip_checked(layers, check_number("clipping_norm", clipping_norm, 0, low_open=True),
                        in_place=in_place)


def clip_checked(layers: Sequence[np.ndarray], clipping_norm: float, *,
                 in_place: bool = False) -> tuple[list[np.ndarray], float, bool]:
    """:func:`clip_by_l2_norm` for a ``clipping_norm`` the caller has checked (a finite float > 0)."""
    norm = l2_norm(layers)
    scale = min(1.0, clipping_norm / norm) if norm > 0 else 1.0
    if not in_place:
        return [np.asarray(a, dtype=np.float64) * scale for a in layers], norm, norm <= clipping_norm
    out = []
    for a in layers:
        a = np.asarray(a, dtype=np.float64)
        if a.flags.writeable:
            a *= scale
        else:
            a = a * scale
        out.append(a)
    return out, norm, norm <= clipping_norm


def add_gaussian_noise(layers: Sequence[np.ndarray], stddev: float,
                       rng: np.random.Generator) -> list[np.ndarray]:
    """Add independent ``N(0, stddev^2)`` noise to every element.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The values (float arrays; modified in place and returned).
    stddev : float
        The noise standard deviation (0: no noise).
    rng : numpy.random.Generator
        Randomness source.

    Returns
    -------
    list of numpy.ndarray
        The noised layers.

    Raises
    ------
    ParameterError
        If ``stddev`` is negative, NaN or infinite.
    """
    stddev = check_number("the noise standard deviation", stddev, 0)
    out = []
    for a in layers:
        a = np.asarray(a, dtype=np.float64)
        if not (a.flags.c_contiguous and a.flags.writeable):
            a = np.array(a, dtype=np.float64)
        if stddev > 0:  # drawn by blocks: the numbers of one draw of the whole layer, no model-sized noise
            flat = a.reshape(-1)
            for start in range(0, flat.size, _NOISE_BLOCK):
                block = flat[start:start + _NOISE_BLOCK]
                block += rng.normal(0.0, stddev, size=block.size)
        out.append(a)
    return out


_NOISE_BLOCK = 1 << 16
"""Elements of noise drawn at a time by :func:`add_gaussian_noise`."""


_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)
_LOG_TINY, _LOG_HUGE = math.log(_TINY), math.log(_HUGE)


def adaptive_clip_step(clipping_norm: float, unclipped_fraction: float, *, target_quantile: float,
                       learning_rate: float) -> float:
    """One geometric step of the clipping norm towards a quantile of the update norms [2]_.

    ``C <- C * exp(-lr * (b - gamma))``, where ``b`` is the (noised) fraction of updates whose
    norm was within ``C``, clamped to [0, 1], and ``gamma`` the target fraction. The noise on the
    count can take ``b`` far outside [0, 1] when it is large next to the number of clients;
    clamping (post-processing of the noised count: it costs no privacy) bounds one step's factor
    by ``exp(lr * max(gamma, 1 - gamma))``.

    Parameters
    ----------
    clipping_norm : float
        The current ``C``.
    unclipped_fraction : float
        ``b``, the noised fraction of unclipped updates (clamped to [0, 1] here).
    target_quantile : float
        ``gamma`` in [0, 1].
    learning_rate : float
        ``lr`` > 0.

    Returns
    -------
    float
        The next clipping norm, a finite float no smaller than the smallest normal float64
        (about 2.2e-308).

    Raises
    ------
    ParameterError
        If a value is NaN or infinite, ``target_quantile`` / ``learning_rate`` is out of range, or
        the step would take the norm out of the finite positive floats (above about 1.8e308, or
        below about 2.2e-308): the message names ``clip_learning_rate``, which sets the step.

    Examples
    --------
    >>> round(adaptive_clip_step(1.0, 1.0, target_quantile=0.5, learning_rate=0.2), 6)  # all within: shrink
    0.904837
    >>> adaptive_clip_step(1.0, 7.5, target_quantile=0.5, learning_rate=0.2) == adaptive_clip_step(
    ...     1.0, 1.0, target_quantile=0.5, learning_rate=0.2)  # a noised fraction above 1 counts as 1
    True
    """
    clipping_norm = check_number("clipping_norm", clipping_norm, 0, low_open=True)
    unclipped_fraction = check_number("unclipped_fraction", unclipped_fraction)
    target_quantile = check_number("target_unclipped_quantile", target_quantile, 0, 1)
    learning_rate = check_number("clip_learning_rate", learning_rate, 0, low_open=True)
    fraction = min(1.0, max(0.0, unclipped_fraction))
    step = -learning_rate * (fraction - target_quantile)
    log_next = math.log(clipping_norm) + step
    if _LOG_TINY <= log_next <= _LOG_HUGE:
        result = clipping_norm * math.exp(step) if abs(step) < 700 else math.exp(log_next)
        if _TINY <= result <= _HUGE:
            return result
    where = "above the largest" if log_next > 0 else "below the smallest positive normal"
    raise ParameterError(
        f"adaptive clipping would take the clipping norm from {clipping_norm:.6g} to about "
        f"1e{log_next / math.log(10):.0f}, {where} float (a step of exp({step:.6g}): clip_learning_rate="
        f"{learning_rate:g} times the unclipped fraction {fraction:g} minus target_unclipped_quantile="
        f"{target_quantile:g}); lower clip_learning_rate (one round moves the norm by at most a factor "
        f"exp(clip_learning_rate * max(target_unclipped_quantile, 1 - target_unclipped_quantile)); 0.2 "
        "is the usual value)")


def delta_noise_multiplier(noise_multiplier: float, clipped_count_stddev: float) -> float:
    """Split a round's noise multiplier between the model update and the unclipped count [2]_.

    Adaptive clipping also releases the number of unclipped updates, noised with standard
    deviation ``sigma_b``; the count is a sum of centred bits (``+-1/2``, as the aggregator counts
    them), whose sensitivity is 1/2, so that query's noise multiplier is ``2 sigma_b``. For the
    round to keep noise multiplier ``z`` overall (the two Gaussian queries together are one with
    ``(z_model^-2 + (2 sigma_b)^-2)^(-1/2)``), the model update's is ``(z^-2 - (2 sigma_b)^-2)^(-1/2)``.

    Parameters
    ----------
    noise_multiplier : float
        ``z``, the round's total noise multiplier.
    clipped_count_stddev : float
        ``sigma_b``, the standard deviation of the noise on the unclipped count.

    Returns
    -------
    float
        The model update's noise multiplier.

    Raises
    ------
    ParameterError
        If ``2 sigma_b <= z`` (the count would spend the whole budget), or a value is NaN, infinite
        or negative.

    Examples
    --------
    >>> round(delta_noise_multiplier(1.0, 5.0), 6)
    1.005038
    """
    noise_multiplier = check_number("noise_multiplier", noise_multiplier, 0)
    if noise_multiplier == 0:
        return 0.0
    clipped_count_stddev = check_number("clipped_count_stddev", clipped_count_stddev, 0, low_open=True)
    if count_takes_whole_budget(noise_multiplier, clipped_count_stddev):
        raise ParameterError(
            f"clipped_count_stddev={clipped_count_stddev} spends the whole "
            f"noise_multiplier={noise_multiplier} on the unclipped count (needs 2 * clipped_count_stddev > "
            "noise_multiplier); raise clipped_count_stddev")
    return split_noise_multiplier(noise_multiplier, clipped_count_stddev)


def count_takes_whole_budget(noise_multiplier: float, clipped_count_stddev: float) -> bool:
    """Whether the unclipped count's noise leaves the model none: ``2 sigma_b <= z`` (with ``z > 0``).

    The rule :func:`delta_noise_multiplier` refuses, for callers that explain it their own way.

    Parameters
    ----------
    noise_multiplier : float
        ``z`` > 0, checked by the caller.
    clipped_count_stddev : float
        ``sigma_b`` >= 0, checked by the caller.

    Returns
    -------
    bool
        True when ``2 sigma_b <= z``.
    """
    return 2.0 * clipped_count_stddev <= noise_multiplier


def split_noise_multiplier(noise_multiplier: float, clipped_count_stddev: float) -> float:
    """:func:`delta_noise_multiplier` for values the caller has checked, ``2 sigma_b > z`` included.

    Returns 0.0 when ``z`` is 0.
    """
    if noise_multiplier == 0:
        return 0.0
    return float((noise_multiplier ** -2 - (2.0 * clipped_count_stddev) ** -2) ** -0.5)
