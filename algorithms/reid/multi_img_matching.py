"""Cosine-similarity matching of ReID features against a gallery of targets (numpy, vectorised).

Appearance-based person re-identification compares L2-normalised embedding vectors by cosine
similarity; see Zheng, Yang and Hauptmann, "Person Re-identification: Past, Present and Future",
arXiv:1610.02984 (2016), and Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person
Re-Identification", arXiv:1703.07737 (2017).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sedna_lib.base import BaseAlgorithm, check_count, check_number
from sedna_lib.exceptions import DataError, NotFittedError

__all__ = ["cosine_similarity_score", "tensor_reshape", "match_query_to_targets", "ReIDMatcher"]


def tensor_reshape(data: Any) -> np.ndarray:
    """Stack features into one ``(n, d)`` float array.

    Accepts an array (or tensor) of shape ``(d,)``, ``(n, d)`` or ``(1, n, d)``, or a list of such
    pieces, which are concatenated along the first axis. Tensors are converted with
    ``numpy.asarray`` (torch tensors must be on the CPU).

    Parameters
    ----------
    data : array-like or list of array-like
        The features.

    Returns
    -------
    numpy.ndarray
        A 2-D float array.

    Raises
    ------
    DataError
        If the pieces do not share a feature dimension, or there are none.
    """
    if isinstance(data, (list, tuple)):
        if not data:
            raise DataError("no features given (an empty list)")
        pieces = [np.asarray(x, dtype=np.float64) for x in data]
        pieces = [p.reshape(-1, p.shape[-1]) if p.ndim else p.reshape(1, 1) for p in pieces]
        dims = {p.shape[1] for p in pieces}
        if len(dims) != 1:
            raise DataError(f"features of different dimensions cannot be stacked: {sorted(dims)}")
        return np.concatenate(pieces, axis=0)
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 0:
        raise DataError("features must be a vector or a matrix, got a scalar")
    return arr.reshape(-1, arr.shape[-1])


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0.0, 1.0, norms)


def cosine_similarity_score(query: Any = None, candidates: Any = None, *,
                            normalize: bool = False) -> np.ndarray:
    """Similarity matrix ``query @ candidates.T``.

    As in Sedna the features are expected to be L2-normalised already (then this is the cosine
    similarity); pass ``normalize=True`` to normalise them here.

    Parameters
    ----------
    query : array-like of shape (m, d)
        Query features.
    candidates : array-like of shape (n, d)
        Candidate features.
    normalize : bool, default=False
        L2-normalise the rows first.

    Returns
    -------
    numpy.ndarray of shape (m, n)
        Similarities.

    Raises
    ------
    DataError
        If the feature dimensions differ.

    Examples
    --------
    >>> cosine_similarity_score([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]).tolist()
    [[1.0, 0.0]]
    """
    q, c = tensor_reshape(query), tensor_reshape(candidates)
    if q.shape[1] != c.shape[1]:
        raise DataError(f"query features have {q.shape[1]} dimensions but candidates have {c.shape[1]}")
    if normalize:
        q, c = _normalise(q), _normalise(c)
    return q @ c.T


def match_query_to_targets(query_feats: Any, candidate_feats: Any,
                           avg_mode: bool = False) -> tuple[int, float]:
    """Find the candidate that best matches any of the query features.

    Parameters
    ----------
    query_feats : array-like of shape (m, d) or list
        Features of the target (several views).
    candidate_feats : array-like of shape (n, d) or list
        Features of the objects detected in the scene.
    avg_mode : bool, default=False
        Match the mean of the query features instead of each view.

    Returns
    -------
    index : int
        Row of the best candidate.
    similarity : float
        Its similarity.

    Raises
    ------
    DataError
        If either side is empty or the dimensions differ.

    Examples
    --------
    >>> match_query_to_targets([[0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
    (1, 1.0)
    """
    q = tensor_reshape(query_feats)
    if avg_mode:
        q = q.mean(axis=0, keepdims=True)
    sim = cosine_similarity_score(q, candidate_feats)
    if sim.size == 0:
        raise DataError("nothing to match: no query or no candidate features")
    best = int(np.argmax(sim.max(axis=0)))
    return best, float(sim[:, best].max())


class ReIDMatcher(BaseAlgorithm):
    """Identify query features by cosine similarity to a gallery of target features.

    The gallery may hold several features per identity; each identity is scored by its best
    matching feature. A query whose best score is below ``threshold`` is ``unknown_id``.

    Parameters
    ----------
    top_k : int, default=1
        Identities returned per query by :meth:`kneighbors`, a whole number >= 1.
    threshold : float, default=0.5
        Smallest similarity that counts as a match: a finite number, in [-1, 1] when ``normalize``
        (a cosine similarity never leaves that range).
    normalize : bool, default=True
        L2-normalise gallery and query features.
    unknown_id : str, default='unknown'
        Identity given to queries that match nothing.

    Attributes
    ----------
    gallery_ : numpy.ndarray of shape (n, d)
        The (normalised) gallery features.
    gallery_ids_ : numpy.ndarray of shape (n,)
        Identity of each gallery row.
    classes_ : numpy.ndarray
        The distinct identities.

    Examples
    --------
    >>> m = ReIDMatcher(threshold=0.9).fit([[1, 0], [0, 1]], ["alice", "bob"])
    >>> m.predict([[0.9, 0.1], [-1, 0]]).tolist()
    ['alice', 'unknown']
    """

    def __init__(self, *, top_k: int = 1, threshold: float = 0.5, normalize: bool = True,
                 unknown_id: str = "unknown") -> None:
        self.top_k = top_k
        self.threshold = threshold
        self.normalize = normalize
        self.unknown_id = unknown_id

    def _threshold(self) -> float:
        if self.normalize:
            return check_number("threshold", self.threshold, -1, 1)
        return check_number("threshold", self.threshold)

    def fit(self, gallery: Any, ids: Sequence[Any]) -> ReIDMatcher:
        """Store the gallery of target features.

        Parameters
        ----------
        gallery : array-like of shape (n, d) or list
            Target features.
        ids : sequence of length n
            Identity of each feature.

        Returns
        -------
        ReIDMatcher
            ``self``.

        Raises
        ------
        ParameterError
            If ``top_k`` is not a whole number >= 1, or ``threshold`` is not a finite number (in
            [-1, 1] when ``normalize``).
        DataError
            If ``ids`` does not have one entry per feature.
        """
        check_count("top_k", self.top_k)
        self._threshold()
        feats = tensor_reshape(gallery)
        ids = np.asarray(list(ids), dtype=object)
        if len(ids) != len(feats):
            raise DataError(f"{len(feats)} gallery features but {len(ids)} ids; give one id per feature")
        self.gallery_ = _normalise(feats) if self.normalize else feats
        self.gallery_ids_ = ids
        self.classes_, first, self._inverse = np.unique(ids.astype(str), return_index=True,
                                                        return_inverse=True)
        self._class_ids = ids[first]  # each identity as given (not its string form), in classes_ order
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "gallery_"):
            raise NotFittedError("ReIDMatcher has no gallery; call fit(gallery, ids) first")

    def identity_scores(self, query: Any) -> np.ndarray:
        """Similarity of each query to each identity (its best gallery feature).

        Parameters
        ----------
        query : array-like of shape (m, d)
            Query features.

        Returns
        -------
        numpy.ndarray of shape (m, n_identities)
            Scores, columns in :attr:`classes_` order.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        self._check_fitted()
        sim = cosine_similarity_score(query, self.gallery_, normalize=self.normalize)
        scores = np.full((sim.shape[0], len(self.classes_)), -np.inf)
        np.maximum.at(scores, (slice(None), self._inverse), sim)
        return scores

    def kneighbors(self, query: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return the ``top_k`` best identities of each query, best first.

        Parameters
        ----------
        query : array-like of shape (m, d)
            Query features.

        Returns
        -------
        ids : numpy.ndarray of shape (m, k)
            Identities (``k = min(top_k, n_identities)``).
        scores : numpy.ndarray of shape (m, k)
            Their similarities.
        """
        top_k = check_count("top_k", self.top_k)
        scores = self.identity_scores(query)
        k = min(top_k, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        return self._class_ids[idx], np.take_along_axis(scores, idx, axis=1)

    def predict(self, query: Any) -> np.ndarray:
        """Identity of each query, or ``unknown_id`` below ``threshold``.

        Parameters
        ----------
        query : array-like of shape (m, d)
            Query features.

        Returns
        -------
        numpy.ndarray of shape (m,)
            Identities (object dtype).
        """
        threshold = self._threshold()
        scores = self.identity_scores(query)
        best = np.argmax(scores, axis=1)
        out = self._class_ids[best].copy()
        # below the threshold, or NaN (a NaN or infinite feature): nobody is named
        out[~(scores[np.arange(len(best)), best] >= threshold)] = self.unknown_id
        return out
