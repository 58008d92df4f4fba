"""Sedna's ``sedna.core.federated_learning``: ``FederatedLearning`` and ``FederatedLearningV2``, Sedna's way.

The engine is the native :mod:`sedna_lib.federated_learning`; ``FederatedLearning`` adds Sedna's job
base (:class:`~sedna_lib.compat.core.base.SednaJob`), and ``FederatedLearningV2`` Sedna's class
method that builds the transmitter the deployment names.
"""

from __future__ import annotations

import importlib
from typing import Any

from ...context import Context, resolve
from ...federated_learning import FederatedLearning as _NativeFederatedLearning
from ...federated_learning import FederatedLearningV2 as _NativeFederatedLearningV2
from .base import SednaJob

__all__ = ["FederatedLearning", "FederatedLearningV2"]


class FederatedLearning(SednaJob, _NativeFederatedLearning):
    """Sedna's ``FederatedLearning``: the native trainer job with Sedna's job base.

    See :class:`sedna_lib.federated_learning.FederatedLearning` for the parameters.
    """


class FederatedLearningV2(_NativeFederatedLearningV2):
    """Sedna's ``FederatedLearningV2``: the native V2 trainer with Sedna's ``get_transmitter_from_config``.

    See :class:`sedna_lib.federated_learning.FederatedLearningV2` for the parameters.
    """

    @classmethod
    def get_transmitter_from_config(cls, context: Context | None = None) -> Any:
        """Build the transmitter ``TRANSMITTER`` names (``ws`` or ``s3``), or None.

        Parameters
        ----------
        context : Context, default=None
            Configuration; the environment's context when omitted (Sedna's class method has no job).

        Returns
        -------
        WSTransmitter or S3Transmitter or None
            The transmitter.
        """
        cfg = resolve(context).config
        mod = importlib.import_module("sedna_lib.algorithms.transmitter")  # presets, loaded on demand
        if cfg.transmitter == "ws":
            return mod.WSTransmitter()
        if cfg.transmitter == "s3":
            return mod.S3Transmitter(s3_endpoint_url=cfg.s3_endpoint_url, access_key=cfg.access_key_id,
                                     secret_key=cfg.secret_access_key, transmitter_url=cfg.agg_data_path)
        return None
