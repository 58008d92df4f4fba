"""The edge object-detection component of multi-edge inference."""

from __future__ import annotations

import collections
import logging
from typing import Any, Callable, Sequence

import numpy as np

from ...base import check_number
from ...config import Config
from ...context import resolve_config
from ..plugins import PLUGIN, PluggableModel, PluggableNetworkService
from ..plugins.registered import Feature_Extraction_I, VideoAnalytics
from . import BaseService, FileOperations

__all__ = ["ObjectDetector", "FrameDifference"]

logger = logging.getLogger(__name__)


class FrameDifference:
    """Motion test between two frames: the mean absolute pixel difference exceeds ``threshold``.

    A dependency-free stand-in for optical flow (Lucas-Kanade needs OpenCV).

    Parameters
    ----------
    threshold : float, default=1.0
        Mean absolute difference, in pixel units, above which the frame counts as moving.
    """

    def __init__(self, *, threshold: float = 1.0) -> None:
        self.threshold = threshold

    def __call__(self, old_frame: Any, current_frame: Any) -> bool:
        """Tell whether ``current_frame`` moved from ``old_frame``.

        Parameters
        ----------
        old_frame, current_frame : numpy.ndarray
            Frames of one shape.

        Returns
        -------
        bool
            True on movement (or a shape change).

        Raises
        ------
        ParameterError
            If ``threshold`` is not a finite number >= 0.
        """
        # a NaN threshold would compare false with every difference: no frame would ever move
        threshold = check_number("threshold", self.threshold, 0)
        a, b = np.asarray(old_frame), np.asarray(current_frame)
        if a.shape != b.shape:
            return True
        return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32)))) > threshold


class ObjectDetector(BaseService, FileOperations):
    """Detects (or tracks) objects in frames at the edge and sends them to feature extraction.

    ``put(frame)`` or ``put((frame, ...))`` queues a frame; frames without motion since the last
    accepted one are dropped (the first always passes). ``put([results])`` (a list) is how
    enriched results come back from feature extraction: they are kept in :attr:`results_` and,
    with ``shared_folder``, written there with the safe codec.

    Parameters
    ----------
    consumer_topics : sequence of str, default=('enriched_object',)
        Kafka topics carrying enriched results back.
    producer_topics : sequence of str, default=('object_detection',)
        Kafka topics detections go to.
    plugins : sequence of PluggableNetworkService, default=()
        Extra plugins; ``VideoAnalytics`` (hosted) and ``Feature_Extraction_I`` are always added.
    models : sequence of PluggableModel, default=()
        Detectors; ``inference(batch)`` returns a list of ``DetTrackResult``.
    timeout : float, default=10
        Partial-batch flush delay.
    asynchronous : bool, default=False
        Process in the worker thread.
    config : Config, default=None
        Configuration, passed to the plugins the component builds; read from the
        environment when omitted.
    autostart : bool, default=True
        Start at construction (Sedna's behaviour).
    motion_filter : callable, default=None
        ``(previous_frame, frame) -> bool``; :class:`FrameDifference` by default, ``False`` to
        accept every frame.
    shared_folder : str, default=None
        Folder where returned results are also written.
    """

    def __init__(self, consumer_topics: Sequence[str] = ("enriched_object",),
                 producer_topics: Sequence[str] = ("object_detection",),
                 plugins: Sequence[PluggableNetworkService] = (), models: Sequence[PluggableModel] = (),
                 timeout: float = 10, asynchronous: bool = False, *, config: Config | None = None,
                 autostart: bool = True, motion_filter: Callable[[Any, Any], bool] | bool | None = None,
                 shared_folder: str | None = None) -> None:
        config = resolve_config(config)
        self.motion_filter = motion_filter
        self.shared_folder = shared_folder
        self.optical_flow = FrameDifference() if motion_filter is None else motion_filter
        self.prev_frame = np.empty(0)
        self.data_counter = 0
        self.results_: collections.deque = collections.deque(maxlen=10_000)
        merged = [VideoAnalytics(wrapper=self, config=config, autostart=False),
                  Feature_Extraction_I(config=config), *plugins]
        super().__init__(consumer_topics, producer_topics, merged, models, timeout, asynchronous,
                         config=config, autostart=autostart)

    def preprocess(self, data: Any, **kwargs: Any) -> Any:
        """Keep results coming back (lists); let a frame through only if it moved.

        Parameters
        ----------
        data : object
            A list of results, or a frame / a tuple whose first element is the frame.
        **kwargs : object
            Unused.

        Returns
        -------
        object or None
            The frame item, or None when it is dropped.
        """
        if isinstance(data, list):
            self.data_counter += len(data)
            self.results_.extend(data)
            if self.shared_folder:
                self.write_to_disk(data, folder=self.shared_folder)
            return None
        frame = data[0] if isinstance(data, tuple) else data
        if self.optical_flow is False or not self.prev_frame.size:
            self.prev_frame = np.asarray(frame)
            return data
        if self.optical_flow(self.prev_frame, frame):
            self.prev_frame = np.asarray(frame)
            return data
        return None

    def process_data(self, ai: PluggableModel, data: list, **kwargs: Any) -> None:
        """Detect objects in a batch of frames and send them to feature extraction (or Kafka).

        Parameters
        ----------
        ai : PluggableModel
            The detector.
        data : list
            Frames.
        **kwargs : object
            Passed to the client.
        """
        self._forward(ai.inference(data), PLUGIN.FEATURE_EXTRACTION_I, **kwargs)

    def update_operational_mode(self, status: Any) -> None:
        """Pass an operational-mode update to the models that accept one.

        Parameters
        ----------
        status : object
            The update (an ``OP_MODE``...).
        """
        for ai in self.models:
            ai.update_plugin(status)
