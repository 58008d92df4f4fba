"""Task allocation: send each inference sample to the task (model) that should serve it.

References
----------
.. [1] Aljundi, R., Chakravarty, P. and Tuytelaars, T., "Expert Gate: lifelong learning with a
   network of experts", CVPR 2017 (routing samples to task experts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import BaseAlgorithm, check_count
from sedna_lib.exceptions import DataError, ParameterError

from ._data import column, drop_columns, entry_of, features, features_on, is_frame, knn_distance, n_rows
from .task_definition import _as_list, _with_x, origins_of, svc_predict

__all__ = ["TaskAllocationDefault", "TaskAllocationByDataAttr", "TaskAllocationBySVC",
           "TaskAllocationByOrigin",
           "TaskAllocationStream", "TaskAllocationByNearestTask", "TaskMiningByDataAttr", "TaskMiningBySVC",
           "profile_features"]

CITYSCAPES_CITIES = ("aachen", "berlin", "bielefeld", "bochum", "bonn", "bremen", "cologne", "darmstadt",
                     "dusseldorf", "erfurt", "frankfurt", "hamburg", "hanover", "jena", "krefeld", "lindau",
                     "mainz", "monchengladbach", "munster")


class TaskAllocationDefault(BaseAlgorithm):
    """Send every sample to the first task.

    Parameters
    ----------
    task_extractor : object, default=None
        The task extractor (unused).
    """

    def __init__(self, *, task_extractor: Any = None) -> None:
        self.task_extractor = task_extractor

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[Any, list[int]]:
        """Allocate.

        Parameters
        ----------
        samples : data source
            Inference samples.
        **kwargs : object
            Ignored.

        Returns
        -------
        samples, allocations
            The samples unchanged and a list of zeros.
        """
        return samples, [0] * n_rows(samples.x)


class TaskAllocationStream(TaskAllocationDefault):
    """Stream allocation: every sample goes to the current (first) task, as in Sedna."""


class TaskAllocationByDataAttr(BaseAlgorithm):
    """Send a sample to the task named by its attribute values; unknown combinations go to ``default``.

    Parameters
    ----------
    task_extractor : dict, default=None
        ``{entry: task index}`` from :class:`TaskDefinitionByDataAttr`.
    attribute : list of str, default=()
        The attribute columns (dropped from the returned samples).
    default : int, default=0
        Task index for combinations never seen in training, a whole number >= 0.
    """

    def __init__(self, *, task_extractor: Any = None, attribute: list = (), default: int = 0) -> None:
        self.task_extractor = task_extractor
        self.attribute = attribute
        self.default = default

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[Any, list[int]]:
        """Allocate by attribute.

        Parameters
        ----------
        samples : data source
            Inference samples that carry the attribute columns.
        **kwargs : object
            Ignored.

        Returns
        -------
        samples, allocations
            The samples without the attribute columns (``meta_attr`` holds each row's values) and the
            task indices.

        Raises
        ------
        ParameterError
            If no attribute or extractor is given, or ``default`` is not a whole number >= 0.
        """
        attrs = _as_list(self.attribute)
        if not attrs or not isinstance(self.task_extractor, dict):
            raise ParameterError("TaskAllocationByDataAttr needs attribute=[...] and the {entry: index} "
                                 "extractor built by TaskDefinitionByDataAttr")
        default = check_count("default", self.default, 0)
        rows = list(zip(*(column(samples.x, a) for a in attrs)))
        allocations = [int(self.task_extractor.get(entry_of(r), default)) for r in rows]
        out = _with_x(samples, drop_columns(samples.x, attrs))
        out.meta_attr = [[v.item() if hasattr(v, "item") else v for v in r] for r in rows]
        return out, allocations


class TaskMiningByDataAttr(TaskAllocationByDataAttr):
    """The older (multi-task learning) name of :class:`TaskAllocationByDataAttr`."""


class TaskAllocationBySVC(BaseAlgorithm):
    """Send a sample to the cluster an RBF SVC predicts (the extractor of :class:`TaskDefinitionBySVC`).

    Parameters
    ----------
    task_extractor : dict, default=None
        The portable SVC description.
    """

    def __init__(self, *, task_extractor: Any = None) -> None:
        self.task_extractor = task_extractor

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[Any, list[int]]:
        """Allocate by SVC prediction.

        Parameters
        ----------
        samples : data source
            Inference samples.
        **kwargs : object
            Ignored.

        Returns
        -------
        samples, allocations
            The samples unchanged and the predicted cluster of each.

        Raises
        ------
        ParameterError
            If the extractor is not an SVC description.
        """
        ext = self.task_extractor
        if not isinstance(ext, dict) or ext.get("type") != "svc":
            raise ParameterError("TaskAllocationBySVC needs the extractor built by TaskDefinitionBySVC")
        x = features_on(samples.x, ext.get("columns"))
        return samples, [int(v) for v in svc_predict(ext, x)]


class TaskMiningBySVC(TaskAllocationBySVC):
    """The older (multi-task learning) name of :class:`TaskAllocationBySVC`."""


class TaskAllocationByOrigin(BaseAlgorithm):
    """Send a sample to the task of its origin.

    The origin is ``default`` when set, else each sample's ``meta_attr`` / ``origin=`` label,
    else Sedna's Cityscapes rule (``real`` if the sample's first field names a Cityscapes city,
    else ``sim``). Unknown origins go to task 0.

    Parameters
    ----------
    task_extractor : dict, default=None
        ``{origin: task index}``.
    default : str, default=None
        Send every sample to this origin's task.
    """

    def __init__(self, *, task_extractor: Any = None, default: str | None = None) -> None:
        self.task_extractor = task_extractor
        self.default = default

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[Any, list[int]]:
        """Allocate by origin.

        Parameters
        ----------
        samples : data source
            Inference samples.
        **kwargs : object
            ``origin=`` per-sample labels (optional).

        Returns
        -------
        samples, allocations
            The samples unchanged and the task index of each.

        Raises
        ------
        ParameterError
            If the extractor is not an ``{origin: index}`` mapping.
        """
        ext = self.task_extractor
        if not isinstance(ext, dict):
            raise ParameterError("TaskAllocationByOrigin needs the {origin: index} extractor of "
                                 "TaskDefinitionByOrigin")
        n = n_rows(samples.x)
        if self.default is not None:
            return samples, [int(ext.get(str(self.default), 0))] * n
        origins = origins_of(samples, kwargs)
        if origins is None:
            origins = ["real" if any(c in str(_first(row)) for c in CITYSCAPES_CITIES) else "sim"
                       for row in _iter_rows(samples.x)]
        return samples, [int(ext.get(str(o), 0)) for o in origins]


def _iter_rows(x: Any) -> Any:
    return (row for _, row in x.iterrows()) if is_frame(x) else iter(x)


def _first(row: Any) -> Any:
    if isinstance(row, (str, bytes)):
        return row
    try:
        return row.iloc[0] if hasattr(row, "iloc") else row[0]
    except (IndexError, KeyError, TypeError):
        return row


def profile_features(profiles: dict, x: Any) -> np.ndarray:
    """Standardised features of ``x`` in the space of the task profiles (same columns, mean and scale)."""
    feats = features_on(x, profiles.get("columns"))
    mean = np.asarray(profiles["mean"], dtype=float)
    if feats.shape[1] != mean.shape[0]:
        raise DataError(f"the samples have {feats.shape[1]} features; the known tasks have {mean.shape[0]}")
    return (feats - mean) / np.asarray(profiles["scale"], dtype=float)


class TaskAllocationByNearestTask(BaseAlgorithm):
    """Send a sample to the task whose stored reference samples are nearest (k-NN distance).

    Works whenever the task is not written on the sample (a new camera, a drifted domain): the
    knowledge base keeps a few standardised reference samples of every task (its *profile*).

    Parameters
    ----------
    task_extractor : object, default=None
        The task extractor (a ``{"type": "centroids"}`` extractor is used when no profiles exist).
    task_profiles : dict, default=None
        ``{"features", "labels", "mean", "scale", "columns"}``, given by the knowledge base.
    k : int, default=5
        Neighbours averaged per task, a whole number >= 1.

    References
    ----------
    .. [1] Aljundi, R. et al., "Expert Gate", CVPR 2017.
    """

    def __init__(self, *, task_extractor: Any = None, task_profiles: dict | None = None, k: int = 5) -> None:
        self.task_extractor = task_extractor
        self.task_profiles = task_profiles
        self.k = k

    def distances(self, x: Any) -> np.ndarray:
        """Distance of each sample to each task.

        Parameters
        ----------
        x : array-like or DataFrame
            The samples' features.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_tasks)
            k-NN distance to each task's references (or to its centroid).

        Raises
        ------
        ParameterError
            If neither profiles nor a centroid extractor is available, or ``k`` is not a whole
            number >= 1.
        """
        k = check_count("k", self.k)
        prof = self.task_profiles
        if prof is not None and len(prof.get("labels", ())) > 0:
            q = profile_features(prof, x)
            ref = np.asarray(prof["features"], dtype=float)
            labels = np.asarray(prof["labels"], dtype=int)
            n_tasks = int(labels.max()) + 1
            out = np.full((q.shape[0], n_tasks), np.inf)
            for t in range(n_tasks):
                if np.any(labels == t):
                    out[:, t] = knn_distance(q, ref[labels == t], k)
            return out
        ext = self.task_extractor
        if isinstance(ext, dict) and ext.get("type") == "centroids":
            q = (features(x) - np.asarray(ext["mean"])) / np.asarray(ext["scale"])
            c = (np.asarray(ext["centroids"]) - np.asarray(ext["mean"])) / np.asarray(ext["scale"])
            return np.sqrt(np.maximum((q * q).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * q @ c.T, 0.0))
        raise ParameterError("TaskAllocationByNearestTask needs task profiles (kept by the knowledge base) "
                             "or a centroid extractor (TaskDefinitionByCluster)")

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[Any, list[int]]:
        """Allocate each sample to its nearest task.

        Parameters
        ----------
        samples : data source
            Inference samples.
        **kwargs : object
            Ignored.

        Returns
        -------
        samples, allocations
            The samples unchanged and the nearest task's index for each.
        """
        if n_rows(samples.x) == 0:
            return samples, []
        return samples, [int(v) for v in self.distances(samples.x).argmin(1)]
