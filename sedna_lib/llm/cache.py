"""An exact-match, bounded response cache: a repeated query is answered again without the cloud."""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..exceptions import ParameterError
from ..transport._numbers import is_int

__all__ = ["ResponseCache", "cache_key"]


def cache_key(query: Any, model: str = "") -> str:
    """Return the key of a query: its prompt or messages (the reference answer left out) and the model.

    Parameters
    ----------
    query : str or dict or list
        The query.
    model : str, default=''
        The model asked.

    Returns
    -------
    str
        A canonical JSON string.

    Examples
    --------
    >>> cache_key({"prompt": "hi", "reference": "x"}) == cache_key("hi")
    True
    """
    if isinstance(query, Mapping):
        if "messages" in query:
            query = {"messages": query["messages"]}
        elif "prompt" in query:
            query = query["prompt"]
    if isinstance(query, str):
        query = [{"role": "user", "content": query}]
    elif isinstance(query, Mapping) and "messages" in query:
        query = query["messages"]
    return json.dumps([model, query], sort_keys=True, separators=(",", ":"), default=str)


class ResponseCache:
    """Keep the last ``max_entries`` cloud answers by exact query; least recently used goes first.

    Parameters
    ----------
    max_entries : int, default=1024
        Bound on the entries (>= 1).

    Attributes
    ----------
    hits, misses : int
        Lookups that found, and did not find, an answer.

    Examples
    --------
    >>> cache = ResponseCache(max_entries=1)
    >>> cache.put("q1", "a1"); cache.put("q2", "a2")
    >>> cache.get("q1") is None, cache.get("q2")
    (True, 'a2')
    """

    def __init__(self, *, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Return how many answers are kept."""
        with self._lock:
            return len(self._data)

    def _check_bound(self) -> None:
        bound = self.max_entries
        if not is_int(bound) or bound < 1:
            raise ParameterError(f"ResponseCache: max_entries must be an int >= 1, got {self.max_entries!r}")

    def get(self, query: Any, model: str = "") -> Any:
        """Return a copy of the answer kept for ``query``, or None.

        Parameters
        ----------
        query : object
            The query.
        model : str, default=''
            The model asked.

        Returns
        -------
        object or None
            The answer (a copy: the caller may change it).

        Raises
        ------
        ParameterError
            If ``max_entries`` is not an int >= 1.
        """
        self._check_bound()
        key = cache_key(query, model)
        with self._lock:
            if key not in self._data:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            value = self._data[key]
        return copy.deepcopy(value)

    def put(self, query: Any, value: Any, model: str = "") -> None:
        """Keep ``value`` as the answer to ``query``, dropping the least recently used beyond the bound.

        Parameters
        ----------
        query : object
            The query.
        value : object
            The answer.
        model : str, default=''
            The model asked.

        Raises
        ------
        ParameterError
            If ``max_entries`` is not an int >= 1.
        """
        self._check_bound()
        key = cache_key(query, model)
        with self._lock:
            self._data[key] = copy.deepcopy(value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
