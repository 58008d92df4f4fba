"""The feature-extraction component of multi-edge inference."""

from __future__ import annotations

import logging
from typing import Any, Sequence

from ...config import Config
from ...context import resolve_config
from ..plugins import PLUGIN, PluggableModel, PluggableNetworkService
from ..plugins.registered import Feature_Extraction, VideoAnalytics_I
from . import BaseService

__all__ = ["FEService"]

logger = logging.getLogger(__name__)


class FEService(BaseService):
    """Extracts ReID features from detections and sends the enriched results on.

    Results go back to the detector (``VideoAnalytics_I``) or to Kafka; when a ``ReID_I`` plugin is
    given, they also go to the ReID service. ``get_target_features`` featurises target images for
    the ReID service.

    Parameters
    ----------
    consumer_topics : sequence of str, default=('object_detection',)
        Kafka topics detections arrive on.
    producer_topics : sequence of str, default=('enriched_object',)
        Kafka topics enriched results go to.
    plugins : sequence of PluggableNetworkService, default=()
        Extra plugins (e.g. ``ReID_I``); ``VideoAnalytics_I`` and ``Feature_Extraction``
        (hosted) are always added.
    models : sequence of PluggableModel, default=()
        Feature extractors with ``inference(batch)`` and ``get_target_features(targets)``.
    timeout : float, default=10
        Partial-batch flush delay.
    asynchronous : bool, default=False
        Process in the worker thread.
    config : Config, default=None
        Configuration, passed to the plugins the component builds; read from the
        environment when omitted.
    autostart : bool, default=True
        Start at construction (Sedna's behaviour).
    """

    def __init__(self, consumer_topics: Sequence[str] = ("object_detection",),
                 producer_topics: Sequence[str] = ("enriched_object",),
                 plugins: Sequence[PluggableNetworkService] = (), models: Sequence[PluggableModel] = (),
                 timeout: float = 10, asynchronous: bool = False, *, config: Config | None = None,
                 autostart: bool = True) -> None:
        config = resolve_config(config)
        merged = [VideoAnalytics_I(config=config),
                  Feature_Extraction(wrapper=self, config=config, autostart=False), *plugins]
        super().__init__(consumer_topics, producer_topics, merged, models, timeout, asynchronous,
                         config=config, autostart=autostart)

    def process_data(self, ai: PluggableModel, data: list, **kwargs: Any) -> None:
        """Extract features for a batch of detections and send the enriched results on.

        Parameters
        ----------
        ai : PluggableModel
            The feature extractor.
        data : list
            ``DetTrackResult`` objects.
        **kwargs : object
            Passed to the clients.
        """
        result = ai.inference(data)
        self._forward(result, PLUGIN.VIDEO_ANALYTICS_I, **kwargs)
        reid = self.get_plugin(PLUGIN.REID_I)
        if reid is not None and result:
            reid.plugin_api.transmit(result, **kwargs)

    def update_operational_mode(self, status: Any) -> None:
        """Pass an operational-mode update to the models.

        Parameters
        ----------
        status : object
            The update.
        """
        for ai in self.models:
            ai.update_plugin(status)

    def get_target_features(self, ldata: Any) -> Any:
        """Featurise target images with the first model.

        Parameters
        ----------
        ldata : object
            Usually a list of ``TargetImages``.

        Returns
        -------
        object
            Usually a list of ``Target``.

        Raises
        ------
        ParameterError
            If the service has no model.
        """
        if not self.models:
            from ...exceptions import ParameterError

            raise ParameterError("FEService has no model to extract target features; pass models=[...]")
        return self.models[0].get_target_features(ldata)
