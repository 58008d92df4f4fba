"""The cloud ReID component of multi-edge inference: matches features from every edge to the targets."""

from __future__ import annotations

import collections
import logging
from typing import Any, Sequence

from ...base import check_count
from ...config import Config
from ...context import resolve_config
from ...exceptions import ParameterError, SednaError
from ..plugins import PLUGIN, PluggableModel, PluggableNetworkService
from ..plugins.registered import Feature_Extraction_I, ReID_Server
from . import BaseService, FileOperations

__all__ = ["ReID"]

logger = logging.getLogger(__name__)


class ReID(BaseService, FileOperations):
    """Receives enriched detections from all edges and identifies the targets in them.

    On start, each model's ``update_plugin(None)`` returns the target images; the
    feature-extraction service turns them into features (``get_target_features``) and
    ``update_target`` installs them as the model's gallery. Each batch then goes to
    ``ai.predict(batch)``; what it returns is appended to :attr:`results_`.

    Parameters
    ----------
    consumer_topics, producer_topics : sequence of str, default=()
        Kafka topics (none by default).
    plugins : sequence of PluggableNetworkService, default=()
        Extra plugins; ``ReID_Server`` (hosted) and ``Feature_Extraction_I`` are always added.
    models : sequence of PluggableModel, default=()
        Matchers with ``predict``, ``update_plugin`` and ``update_target``.
    timeout : float, default=10
        Partial-batch flush delay.
    asynchronous : bool, default=True
        Process in the worker thread.
    config : Config, default=None
        Configuration, passed to the plugins the component builds; read from the
        environment when omitted.
    autostart : bool, default=True
        Start at construction (Sedna's behaviour).
    max_results : int, default=10000
        How many results :attr:`results_` keeps (oldest dropped first); a whole number >= 0,
        checked by :meth:`start`.

    Attributes
    ----------
    results_ : collections.deque
        The latest results of the models.
    """

    def __init__(self, consumer_topics: Sequence[str] = (), producer_topics: Sequence[str] = (),
                 plugins: Sequence[PluggableNetworkService] = (), models: Sequence[PluggableModel] = (),
                 timeout: float = 10, asynchronous: bool = True, *, config: Config | None = None,
                 autostart: bool = True, max_results: int = 10_000) -> None:
        config = resolve_config(config)
        self.max_results = max_results
        self.results_: collections.deque = collections.deque()  # bounded by start(), once checked
        merged = [ReID_Server(wrapper=self, config=config, autostart=False),
                  Feature_Extraction_I(config=config), *plugins]
        super().__init__(consumer_topics, producer_topics, merged, models, timeout, asynchronous,
                         config=config, autostart=autostart)

    def _check_options(self) -> None:
        super()._check_options()
        size = check_count("max_results", self.max_results, low=0)
        if self.results_.maxlen != size:
            self.results_ = collections.deque(self.results_, maxlen=size)

    def _post_start(self) -> None:
        self.update_operational_mode(None)

    def process_data(self, ai: PluggableModel, data: list, **kwargs: Any) -> None:
        """Match a batch of enriched detections.

        Parameters
        ----------
        ai : PluggableModel
            The matcher.
        data : list
            ``DetTrackResult`` objects with ``features``.
        **kwargs : object
            Unused.
        """
        result = ai.predict(data)
        if isinstance(result, list):
            self.results_.extend(result)
        elif result is not None:
            self.results_.append(result)

    def update_operational_mode(self, status: Any) -> None:
        """Refresh every model's targets: ``update_plugin`` -> FE features -> ``update_target``.

        A model that cannot be updated (feature extraction unreachable...) keeps its previous
        targets; the failure is counted in :attr:`errors_` and kept in :attr:`last_error_`.

        Parameters
        ----------
        status : object
            The update, passed to ``update_plugin``.
        """
        for ai in self.models:
            try:
                ldata = ai.update_plugin(status)
                if ldata is None:
                    continue
                ai.update_target(self.get_target_features(ldata))
            except SednaError as exc:
                self.errors_ += 1
                self.last_error_ = exc
                logger.warning("cannot update the targets of %s: %s", type(ai).__name__, exc)

    def get_target_features(self, ldata: Any) -> Any:
        """Ask the feature-extraction service for the features of target images.

        Parameters
        ----------
        ldata : object
            Target images (a list of ``TargetImages``).

        Returns
        -------
        object
            The targets with features.

        Raises
        ------
        ParameterError
            If no ``Feature_Extraction_I`` plugin is configured.
        TransportError
            If the service cannot be reached or fails.
        """
        plugin = self.get_plugin(PLUGIN.FEATURE_EXTRACTION_I)
        if plugin is None:
            raise ParameterError("ReID needs a Feature_Extraction_I plugin to featurise its targets")
        return plugin.plugin_api.get_target_features(ldata)
