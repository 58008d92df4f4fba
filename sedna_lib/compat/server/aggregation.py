"""Sedna's ``sedna.service.server.aggregation``: the V2 aggregation server (Sedna's Plato adapter).

:class:`AggregationServerV2` keeps Sedna 0.6's signature (``data``, ``estimator``, ``aggregation``,
``transmitter``, ``chooser``) on sedna_lib's websocket server,
:class:`~sedna_lib.servers.aggregation.AggregationServer`, which this module also exports under
its Sedna name.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

from ...context import Context
from ...servers.aggregation import AggregationServer

__all__ = ["AggregationServer", "AggregationServerV2"]

logger = logging.getLogger(__name__)


class AggregationServerV2(AggregationServer):
    """The V2 aggregation server (Sedna's Plato adapter), served by sedna_lib itself.

    Parameters
    ----------
    data : object, default=None
        Unused on the server (kept for Sedna's signature).
    estimator : object, default=None
        An object with ``model`` (and optionally ``pretrained``/``saved``); for MistNet, the
        model whose layers after the cut the server trains (anything with ``fit(x, y)``, or a
        backend).
    aggregation : Aggregator or str, default=None
        ``FedAvgV2()``, ``MistNet(...)`` or any aggregator; FedAvg when omitted.
    transmitter : object, default=None
        ``WSTransmitter`` or ``S3Transmitter`` (informational: payloads travel on the websocket).
    chooser : SimpleClientChoose, default=None
        Its ``per_round`` becomes the number of participants per round.
    exit_round : int, default=None
        Rounds (``EXIT_ROUND``/``exit_round``; 1 for one-shot aggregators).
    **server_options : object
        Keyword options of :class:`AggregationServer` (``host``, ``http_port``, ``round_timeout``, ...).

    Attributes
    ----------
    saved_path_ : str or None
        Where the final global model was saved (``estimator.saved`` set), else None.
    save_error_ : Exception or None
        Why saving it failed, if it did; :meth:`start` with ``block=True`` raises it at the end.
    """

    def __init__(self, data: Any = None, estimator: Any = None, aggregation: Any = None,
                 transmitter: Any = None,
                 chooser: Any = None, *, exit_round: int | None = None, **server_options: Any) -> None:
        self.data = data
        self.estimator = estimator
        self.transmitter = transmitter
        self.chooser = chooser
        super().__init__(aggregation if aggregation is not None else "FedAvg", **server_options)
        self.exit_round = exit_round

    def _rounds_wanted(self, ctx: Context) -> int:
        """Return ``exit_round``, else ``EXIT_ROUND`` from the configuration, else 1."""
        return self.exit_round or ctx.config.exit_round or 1

    def _participants_wanted(self, ctx: Context) -> int:
        """Return the chooser's ``per_round``, else ``PARTICIPANTS_COUNT``, else ``participants_count``."""
        if self.chooser is not None:
            return int(getattr(self.chooser, "per_round", 1))
        return ctx.config.participants_count or self.participants_count

    def _setup(self) -> None:
        super()._setup()
        self.saved_path_: str | None = None
        self.save_error_: Exception | None = None
        head = getattr(self.estimator, "model", self.estimator)
        if head is not None and hasattr(self.aggregator_, "bind_head"):
            self.aggregator_.bind_head(head)

    def start(self, *, block: bool = True) -> AggregationServerV2:
        """Serve as :meth:`AggregationServer.start` does; with ``block=True``, raise a failed final save.

        Parameters
        ----------
        block : bool, default=True
            Wait until the job is done and the clients have left.

        Returns
        -------
        AggregationServerV2
            ``self``.

        Raises
        ------
        TransportError
            If the server cannot bind.
        StorageError, ConfigError
            With ``block=True``, if the final model could not be saved to ``estimator.saved``.
        """
        super().start(block=block)
        if block and self.save_error_ is not None:
            raise self.save_error_
        return self

    def save_model(self, path: str | None = None) -> str:
        """Save the global model (for MistNet, the trained head) through its backend.

        The estimator's ``model`` gets the aggregated weights (a one-shot aggregator trained it
        in place) and is saved to ``path``, or to ``estimator.saved`` (Sedna's ``aggregate.py``
        sets it to ``MODEL_URL``). The server calls this when the last round is aggregated if
        ``estimator.saved`` is set.

        Parameters
        ----------
        path : str, default=None
            Destination file or folder (local or ``s3://``).

        Returns
        -------
        str
            Where the model was written.

        Raises
        ------
        ConfigError
            If neither ``path`` nor ``estimator.saved`` is set.
        ParameterError
            If the estimator has no ``model``, or no round has finished.
        """
        from ...backends import set_backend
        from ...exceptions import ConfigError, ParameterError

        target = path or getattr(self.estimator, "saved", None)
        if not target:
            raise ConfigError("no place to save the global model: pass path, or set estimator.saved "
                              "(e.g. to MODEL_URL)", variable="MODEL_URL")
        model = getattr(self.estimator, "model", None)
        if model is None:
            raise ParameterError("the server's estimator has no model to save; give it a 'model' attribute")
        if not getattr(self, "round_", 0):
            raise ParameterError("no round has finished yet; there is no global model to save")
        backend = set_backend(model, context=getattr(self, "context_", None) or self.context)
        if not self.aggregator_.one_shot and self.global_weights_:
            backend.set_weights([np.asarray(w) for w in self.global_weights_])
        return backend.save(model_url=str(target))

    async def _on_job_done(self) -> None:
        if not getattr(self.estimator, "saved", None) or getattr(self.estimator, "model", None) is None:
            return
        from ...exceptions import SednaError

        try:
            self.saved_path_ = await asyncio.to_thread(self.save_model)
            logger.info("global model saved to %s", self.saved_path_)
        except (SednaError, OSError, ValueError) as exc:  # kept for start() to raise; trainers still finish
            self.save_error_ = exc
            logger.error("could not save the global model to %s: %s", self.estimator.saved, exc)
