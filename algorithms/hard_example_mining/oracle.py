"""Oracle router: knows the right answers, so sends exactly the queries the edge gets wrong (experiments)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sedna_lib.base import HardExampleMiner
from sedna_lib.exceptions import DataError, ParameterError

from ._generation import normalise_answer, read_generation, read_query

__all__ = ["OracleRouter"]


def is_correct(answer: Any, reference: Any) -> bool:
    """Tell whether ``answer`` matches ``reference`` (or one of a list of references).

    A match is equality after :func:`normalise_answer`, or the answer starting with the
    reference followed by a space (``"Paris is the capital"`` answers ``"Paris"``).

    Parameters
    ----------
    answer : object
        The model's answer text.
    reference : str or list of str
        The right answer(s).

    Returns
    -------
    bool
        Whether the answer is right.
    """
    refs = reference if isinstance(reference, (list, tuple)) else [reference]
    got = normalise_answer(answer)
    for ref in refs:
        want = normalise_answer(ref)
        if got == want or (want and got.startswith(want + " ")):
            return True
    return False


class OracleRouter(HardExampleMiner):
    """Send a query to the cloud exactly when the edge answer is wrong: the ceiling of every router.

    It needs the right answers, so it is for experiments and benchmarks, never for serving. In
    ``inference-then-mining`` it compares the edge's answer with the reference: the generation's
    own ``reference`` field, or ``labels[prompt]``. In ``mining-then-inference`` (query only) it
    reads ``edge_correct[query]``, the edge's recorded outcome on that query.

    Parameters
    ----------
    labels : dict, default=None
        The right answer of each query (``{query: answer or [answers]}``).
    edge_correct : dict, default=None
        Whether the edge answers each query right (``{query: bool}``), for the query-only mode.

    Examples
    --------
    >>> oracle = OracleRouter(labels={"capital of France?": "Paris"})
    >>> oracle({"prompt": "capital of France?", "text": "Paris.", "token_logprobs": [-0.1]})
    False
    >>> oracle({"prompt": "capital of France?", "text": "Lyon", "token_logprobs": [-0.1]})
    True
    """

    input_kind = "generation"

    def __init__(self, *, labels: dict | None = None, edge_correct: dict | None = None) -> None:
        self.labels = labels
        self.edge_correct = edge_correct

    def _check(self, name: str) -> Mapping[str, Any]:
        value = getattr(self, name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ParameterError(f"OracleRouter: {name} must be a mapping {{query: ...}}, "
                                 f"got {type(value).__name__}")
        return value

    def _one(self, sample: Any, labels: Mapping[str, Any], edge_correct: Mapping[str, Any]) -> bool:
        if isinstance(sample, str) or (isinstance(sample, Mapping) and "messages" in sample
                                       and "text" not in sample):
            query = read_query(sample)
            if query not in edge_correct:
                raise DataError(f"OracleRouter has no recorded edge outcome for the query {query[:60]!r}: "
                                f"pass edge_correct={{query: bool}} for the mining-then-inference mode, or "
                                f"use inference-then-mining with labels")
            return not bool(edge_correct[query])
        view = read_generation(sample)
        reference = view.reference
        if reference is None and view.prompt is not None:
            reference = labels.get(view.prompt)
        if reference is None:
            if view.prompt is not None and view.prompt in edge_correct:
                return not bool(edge_correct[view.prompt])
            if not view.text and not view.logprobs.size:
                return True  # no answer at all: the cloud must answer
            raise DataError(f"OracleRouter has no reference answer for {str(view.prompt)[:60]!r}: give the "
                            f"generation a 'reference', or pass labels={{prompt: answer}}")
        return not is_correct(view.text, reference)

    def is_hard(self, batch: Any) -> np.ndarray:
        """Flag the queries the edge answers wrongly.

        Parameters
        ----------
        batch : list
            Generations (with ``prompt`` or ``reference``), or queries in the query-only mode.

        Returns
        -------
        numpy.ndarray of bool, shape (n_samples,)
            True where the edge answer is wrong (the cloud should answer).

        Raises
        ------
        DataError
            If a sample has no reference answer or recorded outcome.
        ParameterError
            If ``labels`` or ``edge_correct`` is not a mapping.
        """
        labels, edge_correct = self._check("labels"), self._check("edge_correct")
        return np.asarray([self._one(s, labels, edge_correct) for s in batch], dtype=bool).reshape(-1)
