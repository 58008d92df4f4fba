"""Joint inference of an edge language model and an OpenAI-compatible cloud, with metrics and a cache."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any, Callable, Mapping

from ..base import check_count, check_number, check_variable
from ..config import MiningMode
from ..exceptions import ConfigError, ParameterError, StorageError
from ..joint_inference import InferenceResult, JointInference
from ..transport.openai_wire import Generation
from .cache import ResponseCache
from .edge import EdgeLM
from .metrics import LLMMetrics, Prices, QueryMetrics

__all__ = ["LLMJointInference"]

_UNSET: Any = object()


def _tokens(gen: Any, field: str) -> int:
    """Return a generation's token count; one that is not a non-negative int counts nothing."""
    count = getattr(gen, field, 0) if isinstance(gen, Generation) else 0
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


class LLMJointInference(JointInference):
    """Answer each query with the edge language model, or the cloud LLM when the router says so.

    The edge is an :class:`~sedna_lib.llm.EdgeLM` (a bare language model is wrapped in one);
    the cloud is any OpenAI-compatible server, reached by an
    :class:`~sedna_lib.transport.openai.OpenAIClient` built from ``SEDNA_LLM_BASE_URL`` (else
    ``BIG_MODEL_IP``/``BIG_MODEL_PORT``), ``SEDNA_LLM_MODEL`` and ``OPENAI_API_KEY``. The router is
    a miner of the registry (``HEM_NAME=MeanLogProb``, ``HEM_PARAMETERS`` with ``upload_ratio``);
    ``MINING_MODE=mining-then-inference`` routes on the query alone (``LearnedRouter``) and spares
    the edge the queries the cloud answers. Everything else is :class:`JointInference`'s: the
    breaker, the offload queue, the dead letters, the LocalController report, to which the token,
    latency and cost totals are added (``ownerInfo.llm``).

    Parameters
    ----------
    estimator : EdgeLM or LanguageModel, default=None
        The edge model.
    hard_example_mining : HardExampleMiner or str or dict, default=None
        The router; ``HEM_NAME``/``HEM_PARAMETERS`` if omitted.
    config : dict, default=None
        Job settings that shadow the environment.
    cache_size : int, default=None
        Entries of the exact-match response cache of cloud answers (0: none; a negative or
        non-integer size is a ``ParameterError`` at the first query); ``SEDNA_LLM_CACHE_SIZE``
        if omitted.
    prices : Prices, default=None
        Per-million-token prices for the cost estimate; ``SEDNA_LLM_PRICE_*`` if omitted. Checked
        by :meth:`start` (the first query starts the job): a NaN, infinite or negative price is a
        ``ParameterError`` (a ``ConfigError`` naming the variable when it came from the environment).
    history : int, default=1000
        Recent per-query metrics kept (:meth:`LLMMetrics.recent`; 0 keeps none); a whole number
        >= 0, checked by :meth:`start`.
    query_log : str, default=None
        A JSON-lines file to which each query is appended: the query, who answered, whether it
        was routed, both answers, the reference when the query carries one, tokens and latency
        (``SEDNA_LLM_QUERY_LOG`` if omitted). ``LearnedRouter.fit_log`` trains on it.
    **kwargs : object
        Other :class:`JointInference` arguments (``context``, ``cloud``, ``offload_dir``, ``report``, ...).

    Attributes
    ----------
    llm_metrics : LLMMetrics
        Per-query metrics and their totals (also on the LC report).
    prometheus : Metrics
        The same as Prometheus metrics (``sedna_llm_*``; :meth:`metrics_text` renders them).

    Examples
    --------
    Route on the edge answer's confidence, sending 30 % of the queries to the cloud::

        router = {"method": "MeanLogProb", "param": {"upload_ratio": 0.3}}
        with LLMJointInference(EdgeLM(local_model), router, cloud=OpenAIClient(url)) as job:
            is_hard, answer, edge, cloud = job.inference("What is the capital of France?")
            print(answer.text, job.llm_metrics.totals()["cloud_token_share"])
    """

    def __init__(self, estimator: Any = None, hard_example_mining: Any = None,
                 config: Mapping[str, Any] | None = None, *, cache_size: int | None = None,
                 prices: Prices | None = None, history: int = 1000, query_log: str | None = None,
                 **kwargs: Any) -> None:
        if (callable(getattr(estimator, "generate", None)) and not isinstance(estimator, (EdgeLM, type))
                and callable(getattr(estimator, "count_tokens", None))):
            estimator = EdgeLM(estimator)  # a bare language model instance (a class is built by the backend)
        super().__init__(estimator, hard_example_mining, config, **kwargs)
        self.cache_size = cache_size
        self.prices = prices
        self.history = history
        self.query_log = query_log
        self._log_lock = threading.Lock()
        self._llm_metrics: LLMMetrics | None = None
        self._cache: Any = _UNSET
        self._prometheus: Any = None
        self._tls = threading.local()

    # -- configuration -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The cloud client: an :class:`OpenAIClient` (built on first use), or the user's cloud object."""
        with self._lock:
            if self._client is None:
                from ..transport.openai import OpenAIClient

                cfg = self.context.config
                if isinstance(self.cloud, str):
                    self._client = OpenAIClient.from_config(cfg, url=self.cloud)
                elif self.cloud is not None:
                    self._client = self.cloud
                else:
                    self._client = OpenAIClient.from_config(cfg)
            return self._client

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache, or None when it is off."""
        with self._lock:
            if self._cache is _UNSET:
                size = self.cache_size if self.cache_size is not None else self.context.config.llm_cache_size
                if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                    if self.cache_size is None:
                        raise ConfigError(f"SEDNA_LLM_CACHE_SIZE must be an int >= 0 (0: no cache), got "
                                          f"{size!r}", variable="SEDNA_LLM_CACHE_SIZE")
                    raise ParameterError(f"LLMJointInference: cache_size must be an int >= 0 (0: no cache), "
                                         f"got {size!r}")
                self._cache = ResponseCache(max_entries=size) if size else None
            return self._cache

    @property
    def prometheus(self) -> Any:
        """The Prometheus metrics of the queries (built on first use)."""
        with self._lock:
            if self._prometheus is None:
                from ..observability.metrics import Metrics

                status = self.status_  # the worker's own metrics, served on SEDNA_METRICS_PORT
                self._prometheus = status.site.metrics if status is not None else \
                    Metrics(service=self.job_name or "sedna")
            return self._prometheus

    @property
    def llm_metrics(self) -> LLMMetrics:
        """Per-query metrics and their totals (built on first use, keeping ``history`` recent queries)."""
        with self._lock:
            if self._llm_metrics is None:
                self._llm_metrics = LLMMetrics(history=check_count("history", self.history, low=0))
            return self._llm_metrics

    def _prices(self) -> Prices:
        """Return the prices: given, else from the environment; each a finite number >= 0."""
        if self.prices is not None:
            for name in Prices._fields:
                check_number(f"prices.{name}", getattr(self.prices, name), 0)
            return self.prices
        prices = Prices.from_config(self.context.config)
        for name in Prices._fields:
            check_variable(f"SEDNA_LLM_PRICE_{name.upper()}", getattr(prices, name), check_number, 0)
        return prices

    def _check_options(self) -> None:
        """Check :class:`JointInference`'s options, ``history`` and the prices, before any work."""
        super()._check_options()
        self.llm_metrics
        self._prices_in_use = self._prices()  # resolved once a start, not at every query

    def start(self) -> LLMJointInference:
        """Start the job (see :meth:`JointInference.start`); the LC report carries the LLM totals.

        Returns
        -------
        LLMJointInference
            ``self``.
        """
        super().start()
        with self._lock:  # a job started again has a new status page: its metrics are the new page's
            self._prometheus = None
        if self._reporter is not None:
            self._reporter.extra_info = self.llm_metrics.owner_info
        return self

    # -- the path of one query -----------------------------------------------------------------
    def _offload(self, data: Any, post_process: Any, callback: Callable[..., Any] | None,
                 kwargs: dict[str, Any]) -> Any:
        """Ask the cache, then the cloud; keep the cloud's answer in the cache."""
        self._tls.cloud_start = time.perf_counter()
        cache = self.cache
        model = str(getattr(self.client, "model", "") or "")
        if cache is not None:
            hit = cache.get(data, model)
            if hit is not None:
                if isinstance(hit, Generation):
                    hit.source = "cache"
                return hit
        result = super()._offload(data, post_process, callback, kwargs)
        if cache is not None and result is not None:
            cache.put(data, result, model)
        return result

    def _infer(self, data: Any, cloud_data: Any, post_process: Any, callback: Callable[..., Any] | None,
               mode: MiningMode, kwargs: dict[str, Any], post_name: str, *,
               cloud_callback: bool = True) -> InferenceResult:
        start = time.perf_counter()
        self._tls.cloud_start = None
        self.cache  # a wrong cache_size is told at the first query, not only once one is routed
        result = super()._infer(data, cloud_data, post_process, callback, mode, kwargs, post_name,
                                cloud_callback=cloud_callback)
        end = time.perf_counter()
        m = self._measure(result, start, end)
        self.llm_metrics.record(m)
        self._export(m)
        log = self.query_log or self.context.config.llm_query_log
        if log:
            self._log(log, data, result, m)
        return result

    def _log(self, path: str, query: Any, result: InferenceResult, m: QueryMetrics) -> None:
        """Append one query's line to the query log (a failure to write is a StorageError)."""
        edge, cloud = result.edge, result.cloud
        reference = query.get("reference") if isinstance(query, Mapping) else getattr(edge, "reference", None)
        line = {"time": time.time(), "query": query if not isinstance(query, Mapping) else
                {k: v for k, v in query.items() if k != "reference"},
                "answered_by": m.answered_by, "routed": m.routed,
                "edge_answer": getattr(edge, "text", None), "cloud_answer": getattr(cloud, "text", None),
                "reference": reference, **{k: v for k, v in dataclasses.asdict(m).items()
                                           if k not in ("answered_by", "routed")}}
        text = json.dumps(line, default=str, ensure_ascii=False) + "\n"
        try:
            # a lone surrogate (a query decoded with surrogateescape, say) is no UTF-8: written as its
            # JSON escape (backslashreplace gives \\udXXX), which reads back as the same string
            with self._log_lock, open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(text)
        except OSError as exc:
            raise StorageError(f"cannot append to the query log {path!r} (SEDNA_LLM_QUERY_LOG): {exc}",
                               uri=path) from exc

    def _export(self, m: QueryMetrics) -> None:
        prom = self.prometheus
        prom.counter("sedna_llm_queries_total").labels(answered_by=m.answered_by).inc()
        tokens = prom.counter("sedna_llm_tokens_total")
        for side in ("edge", "cloud"):
            for kind in ("prompt", "completion"):
                count = getattr(m, f"{side}_{kind}_tokens")
                if count:
                    tokens.labels(side=side, kind=kind).inc(count)
        if m.cost:
            prom.counter("sedna_llm_cost_total").inc(m.cost)
        if m.ttft_s is not None:
            prom.histogram("sedna_llm_time_to_first_token_seconds").observe(m.ttft_s)
        if m.itl_s is not None:
            prom.histogram("sedna_llm_inter_token_latency_seconds").observe(m.itl_s)
        prom.histogram("sedna_llm_query_duration_seconds").observe(m.e2e_s)

    def _measure(self, result: InferenceResult, start: float, end: float) -> QueryMetrics:
        edge, cloud = result.edge, result.cloud
        answered_by = "edge"
        ttft, itl = getattr(edge, "ttft_s", None), getattr(edge, "itl_s", None)
        if cloud is not None:
            answered_by = "cache" if getattr(cloud, "source", "cloud") == "cache" else "cloud"
            cloud_start = getattr(self._tls, "cloud_start", None) or start
            if answered_by == "cache":
                ttft, itl = end - start, None
            else:
                cloud_ttft = getattr(cloud, "ttft_s", None)
                ttft = (cloud_start - start) + cloud_ttft if cloud_ttft is not None else end - start
                itl = getattr(cloud, "itl_s", None)
        paid = cloud if answered_by == "cloud" else None  # a cached answer cost the cloud nothing
        m = QueryMetrics(answered_by=answered_by, routed=bool(result.is_hard),
                         edge_prompt_tokens=_tokens(edge, "prompt_tokens"),
                         edge_completion_tokens=_tokens(edge, "completion_tokens"),
                         cloud_prompt_tokens=_tokens(paid, "prompt_tokens"),
                         cloud_completion_tokens=_tokens(paid, "completion_tokens"),
                         ttft_s=ttft, itl_s=itl, e2e_s=end - start)
        prices = getattr(self, "_prices_in_use", None)
        m.cost = (prices if prices is not None else self._prices()).cost(m)
        return m

    def metrics_text(self) -> str:
        """Return the query metrics in the Prometheus text format (serve it on a ``/metrics`` route).

        Returns
        -------
        str
            The exposition text.
        """
        return self.prometheus.render().decode("utf-8")
