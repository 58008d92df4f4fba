"""Task definition: split training samples into tasks (by attribute, by origin, by clustering).

References
----------
.. [1] Chen, Z. and Liu, B., *Lifelong Machine Learning*, 2nd ed., Morgan & Claypool, 2018
   (task-based knowledge bases).
.. [2] Sedna lifelong-learning design, kubeedge/sedna ``docs/proposals/lifelong-learning.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import BaseAlgorithm, Task, check_count
from sedna_lib.exceptions import DataError, ParameterError

from ._data import column, drop_columns, entry_of, features, is_frame, n_rows, take

__all__ = ["TaskDefinitionByDataAttr", "TaskDefinitionByOrigin", "TaskDefinitionBySVC",
           "TaskDefinitionByCluster",
           "svc_extractor", "svc_predict"]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


class TaskDefinitionByDataAttr(BaseAlgorithm):
    """One task per distinct combination of attribute values (a city, a site, a device).

    Parameters
    ----------
    attribute : list of str, default=()
        Columns whose values define the task; they are dropped from the samples the models see.
        A comma-separated string is accepted.

    Examples
    --------
    >>> TaskDefinitionByDataAttr(attribute=["city"]).get_params()
    {'attribute': ['city']}
    """

    def __init__(self, *, attribute: list = ()) -> None:
        self.attribute = attribute

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[list[Task], dict, Any]:
        """Define the tasks.

        Parameters
        ----------
        samples : data source
            Training samples with ``x`` (a DataFrame, or a 2-D array with integer attribute columns) and
            ``y``.
        **kwargs : object
            Ignored (training options meant for the models).

        Returns
        -------
        tasks : list of Task
            One per attribute combination, ``meta_attr`` holding the values.
        extractor : dict
            ``{entry: task index}``, what :class:`TaskAllocationByDataAttr` needs.
        samples : data source
            The samples without the attribute columns.

        Raises
        ------
        ParameterError
            If no attribute is given.
        DataError
            If an attribute column is missing.
        """
        attrs = _as_list(self.attribute)
        if not attrs:
            raise ParameterError("TaskDefinitionByDataAttr needs attribute=[column, ...] naming the task "
                                 "columns")
        keys = [tuple(row) for row in zip(*(column(samples.x, a) for a in attrs))]
        stripped = _with_x(samples, drop_columns(samples.x, attrs))
        tasks, extractor = [], {}
        for values in sorted(set(keys), key=lambda v: tuple(map(str, v))):
            idx = [i for i, k in enumerate(keys) if k == values]
            entry = entry_of(values)
            extractor[entry] = len(tasks)
            tasks.append(Task(entry=entry, samples=take(stripped, idx),
                              meta_attr=[_plain(v) for v in values]))
        return tasks, extractor, stripped


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _with_x(samples: Any, x: Any) -> Any:
    import copy

    out = copy.copy(samples)
    out.x = x
    return out


def origins_of(samples: Any, kwargs: dict) -> np.ndarray | None:
    """Per-sample origin labels: ``origin=`` keyword, else ``samples.meta_attr`` of one value per sample."""
    n = n_rows(samples.x)
    for value in (kwargs.get("origin"), kwargs.get("origins"), getattr(samples, "meta_attr", None)):
        if value is None or isinstance(value, (str, bytes)):
            continue
        arr = np.asarray(value, dtype=object).reshape(-1)
        if arr.shape[0] == n:
            return arr
    return None


class TaskDefinitionByOrigin(BaseAlgorithm):
    """One task per data origin (a domain: a camera, a season, a simulator, an image transform).

    The origin of each sample is read from ``samples.meta_attr`` (one label per sample) or the
    ``origin=`` keyword; each origin is a task named after it. Without per-sample origins,
    Sedna's rule applies, with Sedna's names: samples whose label (``y``, a path) contains
    ``city`` form the task ``"<attribute[0]>.model"``, the rest ``"<attribute[-1]>.model"``
    (``meta_attr`` the origin), and the extractor is ``{origin: position in attribute}``, so
    that :class:`TaskAllocationByOrigin` and the knowledge base's keys (``"real.model"``) match
    Sedna 0.6 and what Ianvs reports per task.

    Parameters
    ----------
    attribute : list of str or str, default=('real', 'sim')
        Origin names for Sedna's rule (Sedna 0.6 passes the string ``"real, sim"``, split on commas).
    city : str, default='berlin'
        Substring marking the first origin in Sedna's rule.
    """

    def __init__(self, *, attribute: list | str = ("real", "sim"), city: str = "berlin") -> None:
        self.attribute = attribute
        self.city = city

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[list[Task], dict, Any]:
        """Define one task per origin.

        Parameters
        ----------
        samples : data source
            Training samples.
        **kwargs : object
            ``origin=`` per-sample origin labels (optional).

        Returns
        -------
        tasks, extractor, samples
            The tasks (``meta_attr`` is the origin), ``{origin: index}``, and the samples.
        """
        origins = origins_of(samples, kwargs)
        if origins is None:  # Sedna's rule, with its task names ("real.model") and extractor
            names = _as_list(self.attribute) or ["real", "sim"]
            labels = samples.y if getattr(samples, "y", None) is not None else samples.x
            first = np.asarray([self.city in str(v) for v in labels], dtype=bool)
            tasks = []
            for name, idx in ((names[0], np.flatnonzero(first)), (names[-1], np.flatnonzero(~first))):
                if len(idx):
                    tasks.append(Task(entry=f"{name}.model", samples=take(samples, idx), meta_attr=name))
            return tasks, {name: i for i, name in enumerate(names)}, samples
        tasks, extractor = [], {}
        for origin in sorted(set(origins.tolist()), key=str):
            idx = np.flatnonzero(origins == origin)
            extractor[str(origin)] = len(tasks)
            tasks.append(Task(entry=str(origin), samples=take(samples, idx), meta_attr=str(origin)))
        return tasks, extractor, samples


def svc_extractor(model: Any, columns: list | None = None) -> dict:
    """Portable (JSON + arrays) description of a fitted RBF ``sklearn.svm.SVC``, for :func:`svc_predict`."""
    return {"type": "svc", "columns": columns, "gamma": float(model._gamma),
            "classes": np.asarray(model.classes_).tolist(),
            "support_vectors": np.asarray(model.support_vectors_, dtype=float),
            "dual_coef": np.asarray(model.dual_coef_, dtype=float),
            "intercept": np.asarray(model.intercept_, dtype=float),
            "n_support": np.asarray(model.n_support_, dtype=int)}


def svc_predict(extractor: dict, x: np.ndarray) -> np.ndarray:
    """Predict with an RBF one-vs-one SVC described by :func:`svc_extractor` (pure numpy)."""
    sv = np.asarray(extractor["support_vectors"], dtype=float)
    dual = np.asarray(extractor["dual_coef"], dtype=float)
    intercept = np.asarray(extractor["intercept"], dtype=float)
    n_support = np.asarray(extractor["n_support"], dtype=int)
    classes = list(extractor["classes"])
    d2 = (x * x).sum(1)[:, None] + (sv * sv).sum(1)[None, :] - 2.0 * x @ sv.T
    kernel = np.exp(-float(extractor["gamma"]) * np.maximum(d2, 0.0))
    start = np.concatenate([[0], np.cumsum(n_support)])
    votes = np.zeros((x.shape[0], len(classes)), dtype=int)
    pair = 0
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
            dec = kernel[:, si] @ dual[j - 1, si] + kernel[:, sj] @ dual[i, sj] + intercept[pair]
            votes[:, i] += dec > 0
            votes[:, j] += dec <= 0
            pair += 1
    return np.asarray(classes)[votes.argmax(1)]


def _float_columns(x: Any) -> tuple[np.ndarray, list | None]:
    if is_frame(x):
        cols = [c for c in x.columns if str(x[c].dtype) in ("float64", "float32")]
        if not cols:
            raise DataError("TaskDefinitionBySVC needs float columns to cluster on")
        return x[cols].to_numpy(dtype=float), cols
    return features(x), None


class TaskDefinitionBySVC(BaseAlgorithm):
    """Tasks from agglomerative clustering of the samples; an RBF SVC learns the cluster boundaries.

    Parameters
    ----------
    n_class : int, default=2
        Number of tasks (clusters), a whole number >= 2.

    References
    ----------
    .. [1] Ward, J. H., "Hierarchical grouping to optimize an objective function", JASA 58, 1963.
    """

    def __init__(self, *, n_class: int = 2) -> None:
        self.n_class = n_class

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[list[Task], dict, Any]:
        """Cluster the samples into ``n_class`` tasks.

        Parameters
        ----------
        samples : data source
            Training samples (float columns are clustered).
        **kwargs : object
            Ignored.

        Returns
        -------
        tasks, extractor, samples
            Tasks ``svc_<k>``, a portable SVC description (see :func:`svc_predict`), the samples.

        Raises
        ------
        ParameterError
            If ``n_class`` is not a whole number >= 2, or is above the number of samples.
        """
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.svm import SVC

        n_class = check_count("n_class", self.n_class, 2)
        feats, cols = _float_columns(samples.x)
        if n_class > feats.shape[0]:
            raise ParameterError(f"TaskDefinitionBySVC n_class must be in [2, n_samples={feats.shape[0]}], "
                                 f"got {self.n_class!r}")
        labels = AgglomerativeClustering(n_clusters=n_class).fit_predict(feats)
        svc = SVC(gamma=0.01).fit(feats, labels)
        extractor = svc_extractor(svc, cols)
        tasks = [Task(entry=f"svc_{k}", samples=take(samples, np.flatnonzero(labels == k)), meta_attr=int(k))
                 for k in range(n_class)]
        extractor["entries"] = {t.entry: i for i, t in enumerate(tasks)}
        return tasks, extractor, samples


class TaskDefinitionByCluster(BaseAlgorithm):
    """Tasks from k-means clusters of the (standardised) features; the extractor keeps the centroids.

    Parameters
    ----------
    n_class : int, default=2
        Number of tasks, a whole number >= 1.
    random_state : int, default=0
        Seed of the k-means initialisation, a whole number >= 0.

    References
    ----------
    .. [1] Arthur, D. and Vassilvitskii, S., "k-means++: the advantages of careful seeding", SODA 2007.
    """

    def __init__(self, *, n_class: int = 2, random_state: int = 0) -> None:
        self.n_class = n_class
        self.random_state = random_state

    def __call__(self, samples: Any, **kwargs: Any) -> tuple[list[Task], dict, Any]:
        """Cluster the samples into ``n_class`` tasks.

        Parameters
        ----------
        samples : data source
            Training samples with numeric features.
        **kwargs : object
            Ignored.

        Returns
        -------
        tasks, extractor, samples
            Tasks ``cluster_<k>``, ``{"type": "centroids", ...}``, the samples.

        Raises
        ------
        ParameterError
            If ``n_class`` is not a whole number >= 1, or is above the number of samples, or
            ``random_state`` is not a whole number >= 0.
        """
        from sklearn.cluster import KMeans

        n_class = check_count("n_class", self.n_class)
        random_state = check_count("random_state", self.random_state, 0)
        feats = features(samples.x)
        if n_class > feats.shape[0]:
            raise ParameterError(f"TaskDefinitionByCluster n_class must be in [1, n_samples], "
                                 f"got {self.n_class!r}")
        mean, scale = feats.mean(0), feats.std(0) + 1e-12
        km = KMeans(n_clusters=n_class, n_init=4, random_state=random_state).fit((feats - mean) / scale)
        tasks = [Task(entry=f"cluster_{k}", samples=take(samples, np.flatnonzero(km.labels_ == k)),
                      meta_attr=int(k))
                 for k in range(n_class)]
        extractor = {"type": "centroids", "centroids": km.cluster_centers_ * scale + mean,
                     "mean": mean, "scale": scale}
        return tasks, extractor, samples
