"""The privacy accountant: Renyi-DP composition from Google's ``dp-accounting`` library.

Imported only when a differentially private aggregator reports epsilon; ``dp-accounting`` is the
``privacy`` extra.
"""

from __future__ import annotations

from sedna_lib.exceptions import BackendUnavailableError, ParameterError

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
    """

    def __init__(self, delta: float) -> None:
        if not 0 < float(delta) < 1:
            raise ParameterError(f"delta must be in (0, 1), got {delta!r}")
        self.delta = float(delta)
        self._accountant = _dp_accounting().rdp.RdpAccountant()

    def step(self, noise_multiplier: float, sampling_rate: float = 1.0) -> None:
        """Compose one round.

        Parameters
        ----------
        noise_multiplier : float
            ``z``: noise standard deviation over the sensitivity (0: no privacy, epsilon is inf).
        sampling_rate : float, default=1.0
            ``q``: the chance a given participant takes part in the round.
        """
        dp = _dp_accounting()
        if not 0 < sampling_rate <= 1:
            raise ParameterError(f"sampling_rate must be in (0, 1], got {sampling_rate!r}")
        event = dp.GaussianDpEvent(float(noise_multiplier))
        if sampling_rate < 1:
            event = dp.PoissonSampledDpEvent(float(sampling_rate), event)
        self._accountant.compose(event)

    def epsilon(self) -> float:
        """Return epsilon for all rounds so far, at :attr:`delta`.

        Returns
        -------
        float
            Epsilon (``inf`` without noise).
        """
        return float(self._accountant.get_epsilon(self.delta))
