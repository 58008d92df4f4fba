"""Per-query metrics of language-model joint inference: where it was answered, tokens, latency, cost."""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from typing import Any, NamedTuple

from ..base import check_count

__all__ = ["Prices", "QueryMetrics", "LLMMetrics"]


class Prices(NamedTuple):
    """Prices of one million tokens on each side (any currency), for the cost estimate.

    Attributes
    ----------
    cloud_prompt, cloud_completion, edge_prompt, edge_completion : float
        Price per million tokens.
    """

    cloud_prompt: float = 0.0
    cloud_completion: float = 0.0
    edge_prompt: float = 0.0
    edge_completion: float = 0.0

    @classmethod
    def from_config(cls, config: Any) -> Prices:
        """Read the ``SEDNA_LLM_PRICE_*`` fields of a :class:`~sedna_lib.config.Config`.

        Parameters
        ----------
        config : Config
            The configuration.

        Returns
        -------
        Prices
            The prices.
        """
        return cls(config.llm_price_cloud_prompt, config.llm_price_cloud_completion,
                   config.llm_price_edge_prompt, config.llm_price_edge_completion)

    def cost(self, m: QueryMetrics) -> float:
        """Return the cost of one query.

        Parameters
        ----------
        m : QueryMetrics
            The query's token counts.

        Returns
        -------
        float
            The estimated cost.
        """
        cloud = m.cloud_prompt_tokens * self.cloud_prompt + m.cloud_completion_tokens * self.cloud_completion
        edge = m.edge_prompt_tokens * self.edge_prompt + m.edge_completion_tokens * self.edge_completion
        return (cloud + edge) / 1e6


@dataclasses.dataclass
class QueryMetrics:
    """What one query cost.

    Attributes
    ----------
    answered_by : str
        ``'edge'``, ``'cloud'`` or ``'cache'`` (a cloud answer served again).
    routed : bool
        Whether the router sent it to the cloud (it may still be answered by the edge when the
        cloud is away).
    edge_prompt_tokens, edge_completion_tokens : int
        Tokens the edge model read and wrote.
    cloud_prompt_tokens, cloud_completion_tokens : int
        Tokens the cloud read and wrote (0 for a cached answer).
    ttft_s : float or None
        Seconds from the query to the first token of the answer given.
    itl_s : float or None
        Mean seconds between the answer's tokens.
    e2e_s : float
        Seconds from the query to the complete answer (routing included).
    cost : float
        Estimated cost (from :class:`Prices`).
    """

    answered_by: str = "edge"
    routed: bool = False
    edge_prompt_tokens: int = 0
    edge_completion_tokens: int = 0
    cloud_prompt_tokens: int = 0
    cloud_completion_tokens: int = 0
    ttft_s: float | None = None
    itl_s: float | None = None
    e2e_s: float = 0.0
    cost: float = 0.0


_SUMS = ("edge_prompt_tokens", "edge_completion_tokens", "cloud_prompt_tokens", "cloud_completion_tokens",
         "cost", "e2e_s")


class LLMMetrics:
    """Thread-safe totals of the per-query metrics, and the most recent queries.

    Parameters
    ----------
    history : int, default=1000
        How many recent :class:`QueryMetrics` to keep (a whole number >= 0, else ParameterError).

    Examples
    --------
    >>> metrics = LLMMetrics()
    >>> metrics.record(QueryMetrics(answered_by="cloud", routed=True, cloud_prompt_tokens=10,
    ...                             cloud_completion_tokens=5, edge_prompt_tokens=10,
    ...                             edge_completion_tokens=2))
    >>> totals = metrics.totals()
    >>> totals["queries"], totals["cloud_answered"], round(totals["cloud_token_share"], 3)
    (1, 1, 0.556)
    """

    def __init__(self, *, history: int = 1000) -> None:
        self.history = history
        self._lock = threading.Lock()
        # the deque is the object itself, so its bound is checked here (a bool or a fraction
        # would be taken as a size, a NaN or a negative fail inside deque with a raw error)
        self._recent: deque[QueryMetrics] = deque(maxlen=check_count("history", history, low=0))
        names = ("queries", "routed", "edge_answered", "cloud_answered", "cache_answered")
        self._counts = dict.fromkeys(names, 0)
        self._sums = dict.fromkeys(_SUMS, 0.0)
        self._ttft = [0.0, 0]
        self._itl = [0.0, 0]

    def record(self, m: QueryMetrics) -> None:
        """Add one query.

        Parameters
        ----------
        m : QueryMetrics
            The query's metrics.
        """
        with self._lock:
            self._recent.append(m)
            self._counts["queries"] += 1
            self._counts["routed"] += int(m.routed)
            self._counts[f"{m.answered_by}_answered"] += 1
            for name in _SUMS:
                self._sums[name] += getattr(m, name)
            if m.ttft_s is not None:
                self._ttft[0] += m.ttft_s
                self._ttft[1] += 1
            if m.itl_s is not None:
                self._itl[0] += m.itl_s
                self._itl[1] += 1

    def recent(self) -> list[QueryMetrics]:
        """Return the most recent queries' metrics, oldest first.

        Returns
        -------
        list of QueryMetrics
            Up to ``history`` of them.
        """
        with self._lock:
            return list(self._recent)

    def totals(self) -> dict[str, Any]:
        """Return the totals.

        Returns
        -------
        dict
            Counts (``queries``, ``routed``, ``edge_answered``, ``cloud_answered``,
            ``cache_answered``), token sums per side, ``cloud_token_share`` (cloud tokens over all
            tokens), ``routed_share``, ``cost``, and means of ``ttft_s``, ``itl_s``, ``e2e_s``.
        """
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            sums = dict(self._sums)
            ttft, itl = list(self._ttft), list(self._itl)
        n = out["queries"]
        for name in _SUMS[:4]:
            out[name] = int(sums[name])
        cloud = sums["cloud_prompt_tokens"] + sums["cloud_completion_tokens"]
        edge = sums["edge_prompt_tokens"] + sums["edge_completion_tokens"]
        out["cloud_token_share"] = cloud / (cloud + edge) if cloud + edge else 0.0
        out["routed_share"] = out["routed"] / n if n else 0.0
        out["cost"] = sums["cost"]
        out["mean_ttft_s"] = ttft[0] / ttft[1] if ttft[1] else None
        out["mean_itl_s"] = itl[0] / itl[1] if itl[1] else None
        out["mean_e2e_s"] = sums["e2e_s"] / n if n else None
        return out

    def owner_info(self) -> dict[str, Any]:
        """Return the totals as the LocalController report's ``ownerInfo`` fields (camelCase).

        Returns
        -------
        dict
            ``{"llm": {...}}``.
        """
        totals = self.totals()
        return {"llm": {_camel(k): v for k, v in totals.items()}}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
