"""The privacy accountant: Renyi-DP composition from Google's ``dp-accounting`` library.

Imported only when a differentially private aggregator reports epsilon; ``dp-accounting`` is the
``privacy`` extra.
"""

from __future__ import annotations

from sedna_lib.base import check_number
from sedna_lib.exceptions import BackendUnavailableError

__all__ = ["GaussianAccountant"]


def _dp_accounting():
    try:
        import dp_accounting
    except ImportError as exc:  # pragma: no cover - depends on the environment
        note = "or pass delta=None to run without an accountant"
        raise BackendUnavailableError.missing("dp-accounting", "sedna_lib[privacy]", note=note,
                                              error=exc) from None
    return dp_accounting


class GaussianAccountant:
    """Track epsilon over rounds of a (Poisson-subsampled) Gaussian mechanism with an RDP accountant.

    Each :meth:`step` composes ``PoissonSampledDpEvent(q, GaussianDpEvent(z))``; :meth:`epsilon`
    converts the Renyi-DP curve to ``(epsilon, delta)``.

    Parameters
    ----------
    delta : float
        The ``delta`` epsilon is reported at, in (0, 1).

    Raises
    ------
    ParameterError
        If ``delta`` is not a finite number in (0, 1).
    """

    def __init__(self, delta: float) -> None:
        self.delta = check_number("delta", delta, 0, 1, low_open=True, high_open=True)
        self._accountant = _dp_accounting().rdp.RdpAccountant()

    def step(self, noise_multiplier: float, sampling_rate: float = 1.0) -> None:
        """Compose one round.

        Parameters
        ----------
        noise_multiplier : float
            ``z``: noise standard deviation over the sensitivity (0: no privacy, epsilon is inf).
        sampling_rate : float, default=1.0
            ``q``: the chance a given participant takes part in the round.

        Raises
        ------
        ParameterError
            If ``noise_multiplier`` is negative, NaN or infinite, or ``sampling_rate`` not in (0, 1].
        """
        noise_multiplier = check_number("noise_multiplier", noise_multiplier, 0)
        sampling_rate = check_number("sampling_rate", sampling_rate, 0, 1, low_open=True)
        dp = _dp_accounting()
        event = dp.GaussianDpEvent(noise_multiplier)
        if sampling_rate < 1:
            event = dp.PoissonSampledDpEvent(sampling_rate, event)
        self._accountant.compose(event)

    def epsilon(self) -> float:
        """Return epsilon for all rounds so far, at :attr:`delta`.

        Returns
        -------
        float
            Epsilon (``inf`` without noise).
        """
        return float(self._accountant.get_epsilon(self.delta))
