"""Prometheus metrics: one catalogue of names, and a registry per server or worker.

Every metric sedna_lib exports is declared once in :data:`CATALOGUE` (name, type, help, labels),
which is also the table of the documentation. Names follow the Prometheus conventions: the
``sedna_`` prefix, base units in the name (``_seconds``, ``_bytes``), ``_total`` on counters,
and no unbounded label values (routes are the route templates, never the raw paths).
``prometheus_client`` is imported on first use.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from ..exceptions import BackendUnavailableError, ParameterError

__all__ = ["CATALOGUE", "MetricSpec", "Metrics", "prometheus_client"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the catalogue.

    Parameters
    ----------
    name : str
        The full name (``sedna_http_requests_total``).
    kind : {'counter', 'gauge', 'histogram'}
        The Prometheus type.
    help : str
        One line: what it counts.
    labels : tuple of str, default=()
        Label names.
    exported_by : str, default=''
        Which servers or workers export it.
    buckets : tuple of float, default=None
        Histogram buckets (seconds); prometheus_client's defaults when None.
    """

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    exported_by: str = ""
    buckets: tuple[float, ...] | None = None


_HTTP_SERVERS = "every HTTP server"
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LLM_EDGE = "language-model joint-inference edge (LLMJointInference.prometheus)"
_ROUND = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

CATALOGUE: dict[str, MetricSpec] = {spec.name: spec for spec in (
    # -- every server -----------------------------------------------------------------------
    MetricSpec("sedna_http_requests_total", "counter",
               "Requests answered, by route template, method and status code.",
               ("route", "method", "status"), _HTTP_SERVERS),
    MetricSpec("sedna_http_request_duration_seconds", "histogram",
               "Time from request to the end of the reply, by route template.",
               ("route", "method"), _HTTP_SERVERS, _LATENCY),
    MetricSpec("sedna_up", "gauge", "1 while the server or worker runs (its start time is in "
               "sedna_start_time_seconds).", ("service",), "every server and worker"),
    MetricSpec("sedna_start_time_seconds", "gauge", "Unix time the server or worker started.",
               ("service",), "every server and worker"),
    MetricSpec("sedna_ready", "gauge", "1 when /readyz answers 200 (model loaded, peers reachable), else 0.",
               ("service",), "every server and worker"),
    # -- joint inference ----------------------------------------------------------------------
    MetricSpec("sedna_ji_samples_total", "counter",
               "Samples a joint-inference edge answered, by who answered (edge or cloud).",
               ("answered_by",), "joint-inference edge"),
    MetricSpec("sedna_ji_hard_examples_total", "counter",
               "Samples the miner flagged as hard.", (), "joint-inference edge"),
    MetricSpec("sedna_ji_hard_example_ratio", "gauge",
               "Hard examples / samples since the worker started (0 before the first).", (),
               "joint-inference edge"),
    MetricSpec("sedna_ji_offload_ratio", "gauge",
               "Samples answered by the cloud / samples since the worker started (0 before the first).", (),
               "joint-inference edge"),
    MetricSpec("sedna_ji_offload_budget_ratio", "gauge",
               "The offload budget: the largest share of samples the cloud may answer (1 when none is set).",
               (), "joint-inference edge"),
    MetricSpec("sedna_ji_offload_queue_depth", "gauge",
               "Hard examples waiting in the offload queue for the cloud.", (), "joint-inference edge"),
    MetricSpec("sedna_ji_dead_letters", "gauge",
               "Hard examples that will never be sent (in the dead-letter folder).", (),
               "joint-inference edge"),
    MetricSpec("sedna_ji_cloud_failures_total", "counter",
               "Offload attempts that failed, by failure class.", ("reason",), "joint-inference edge"),
    MetricSpec("sedna_ji_cloud_breaker_state", "gauge",
               "The edge's circuit breaker towards the cloud: 0 closed (hard examples go to the cloud), "
               "1 open (the cloud is skipped and the edge answers), 2 half-open (one trial call).", (),
               "joint-inference edge"),
    # -- federated learning -------------------------------------------------------------------
    MetricSpec("sedna_fl_round", "gauge", "The last round the aggregation server completed.", (),
               "aggregation server"),
    MetricSpec("sedna_fl_rounds_total", "counter", "Rounds aggregated.", (), "aggregation server"),
    MetricSpec("sedna_fl_round_duration_seconds", "histogram",
               "Time from a round's first update to its aggregate.", (), "aggregation server", _ROUND),
    MetricSpec("sedna_fl_round_participants", "gauge", "Updates aggregated in the last round.", (),
               "aggregation server"),
    MetricSpec("sedna_fl_clients_connected", "gauge", "Trainers connected now.", (), "aggregation server"),
    MetricSpec("sedna_fl_received_bytes_total", "counter", "Bytes of updates received from trainers.", (),
               "aggregation server"),
    MetricSpec("sedna_fl_sent_bytes_total", "counter", "Bytes of aggregates sent to trainers.", (),
               "aggregation server"),
    MetricSpec("sedna_fl_accuracy", "gauge", "Mean accuracy the trainers reported for the last round.", (),
               "aggregation server"),
    MetricSpec("sedna_fl_loss", "gauge", "Mean loss the trainers reported for the last round.", (),
               "aggregation server"),
    # -- lifelong learning --------------------------------------------------------------------
    MetricSpec("sedna_kb_tasks", "gauge", "Tasks in the knowledge base.", (), "knowledge-base server"),
    MetricSpec("sedna_kb_uploads_total", "counter", "Files uploaded to the knowledge base.", (),
               "knowledge-base server"),
    # -- models -------------------------------------------------------------------------------
    MetricSpec("sedna_model_hot_swaps_total", "counter",
               "Models swapped in while serving, by outcome (done or failed).", ("outcome",),
               "incremental-learning inference worker"),
    MetricSpec("sedna_inference_samples_total", "counter",
               "Samples an inference worker answered.", (), "incremental-learning inference worker"),
    # -- language models (joint inference of an edge LM and an OpenAI-compatible cloud) ----------
    MetricSpec("sedna_llm_served_tokens_total", "counter",
               "Tokens the OpenAI-compatible routes read (kind=prompt) and wrote (kind=completion).",
               ("kind",), "big-model server (OpenAI-compatible routes)"),
    MetricSpec("sedna_llm_queries_total", "counter",
               "Language-model queries, by who answered (edge, cloud, or cache: a cloud answer served "
               "again).", ("answered_by",), _LLM_EDGE),
    MetricSpec("sedna_llm_tokens_total", "counter",
               "Tokens read (kind=prompt) and written (kind=completion) on each side (side=edge or cloud).",
               ("side", "kind"), _LLM_EDGE),
    MetricSpec("sedna_llm_cost_total", "counter",
               "Estimated cost of the queries, from the per-million-token prices (SEDNA_LLM_PRICE_*).", (),
               _LLM_EDGE),
    MetricSpec("sedna_llm_time_to_first_token_seconds", "histogram",
               "Time from a query to the first token of its answer.", (), _LLM_EDGE, _LATENCY),
    MetricSpec("sedna_llm_inter_token_latency_seconds", "histogram",
               "Mean time between the tokens of an answer.", (), _LLM_EDGE, _LATENCY),
    MetricSpec("sedna_llm_query_duration_seconds", "histogram",
               "Time from a query to its complete answer, routing included.", (), _LLM_EDGE, _LATENCY),
    MetricSpec("sedna_il_hard_examples_total", "counter",
               "Hard examples an inference worker found; each is saved for the next training round "
               "unless counted in sedna_il_hard_examples_not_kept_total.", (),
               "incremental-learning inference worker"),
    MetricSpec("sedna_il_hard_examples_not_kept_total", "counter",
               "Hard examples an inference worker found and could not save (no JSON form, storage "
               "failing); the prediction was returned all the same.", (),
               "incremental-learning inference worker"),
)}
"""Every metric sedna_lib exports, by name."""


def prometheus_client() -> Any:
    """Import ``prometheus_client``, or say how to install it.

    Returns
    -------
    module
        ``prometheus_client``.

    Raises
    ------
    BackendUnavailableError
        If it is not installed.
    """
    try:
        import prometheus_client as _prometheus_client
    except ImportError as exc:  # pragma: no cover - a dependency of sedna_lib
        raise BackendUnavailableError.missing("prometheus_client", "prometheus-client", error=exc) from exc
    return _prometheus_client


class Metrics:
    """The metrics of one server or worker, in a Prometheus registry of its own.

    Metrics are created on first use from :data:`CATALOGUE`, so two servers in one process (or
    one test session) never collide, and a name outside the catalogue is an error.

    Parameters
    ----------
    service : str, default='sedna'
        The ``service`` label of ``sedna_up``, ``sedna_ready`` and ``sedna_start_time_seconds``.

    Attributes
    ----------
    registry : prometheus_client.CollectorRegistry
        The registry :meth:`render` exposes.

    Examples
    --------
    >>> m = Metrics(service="big-model")
    >>> m.counter("sedna_http_requests_total").labels(route="/", method="GET", status="200").inc()
    >>> m.value("sedna_http_requests_total", route="/", method="GET", status="200")
    1.0
    >>> b'sedna_up{service="big-model"} 1.0' in m.render()
    True
    """

    content_type = "text/plain; version=0.0.4; charset=utf-8"
    """The media type of :meth:`render`'s text."""

    def __init__(self, *, service: str = "sedna") -> None:
        self.service = service
        self.registry = prometheus_client().CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}
        self.gauge("sedna_up").labels(service=service).set(1)
        self.gauge("sedna_start_time_seconds").labels(service=service).set(time.time())

    def _get(self, name: str, kind: str) -> Any:
        spec = CATALOGUE.get(name)
        if spec is None:
            raise ParameterError(f"unknown metric {name!r}; declare it in "
                                 f"sedna_lib.observability.metrics.CATALOGUE")
        if spec.kind != kind:
            raise ParameterError(f"metric {name!r} is a {spec.kind}, not a {kind}")
        with self._lock:
            metric = self._made.get(name)
            if metric is None:
                pc = prometheus_client()
                cls = {"counter": pc.Counter, "gauge": pc.Gauge, "histogram": pc.Histogram}[kind]
                name_arg = name[:-len("_total")] if kind == "counter" else name
                extra = {"buckets": spec.buckets} if kind == "histogram" and spec.buckets else {}
                metric = cls(name_arg, spec.help, list(spec.labels), registry=self.registry, **extra)
                self._made[name] = metric
            return metric

    def counter(self, name: str) -> Any:
        """Return the counter ``name`` (created on first use).

        Parameters
        ----------
        name : str
            A counter of :data:`CATALOGUE`, with its ``_total``.

        Returns
        -------
        prometheus_client.Counter
            The counter.

        Raises
        ------
        ParameterError
            If the name is not in the catalogue or is not a counter.
        """
        return self._get(name, "counter")

    def gauge(self, name: str) -> Any:
        """Return the gauge ``name`` (created on first use).

        Parameters
        ----------
        name : str
            A gauge of :data:`CATALOGUE`.

        Returns
        -------
        prometheus_client.Gauge
            The gauge.

        Raises
        ------
        ParameterError
            If the name is not in the catalogue or is not a gauge.
        """
        return self._get(name, "gauge")

    def histogram(self, name: str) -> Any:
        """Return the histogram ``name`` (created on first use).

        Parameters
        ----------
        name : str
            A histogram of :data:`CATALOGUE`.

        Returns
        -------
        prometheus_client.Histogram
            The histogram.

        Raises
        ------
        ParameterError
            If the name is not in the catalogue or is not a histogram.
        """
        return self._get(name, "histogram")

    def stopped(self) -> None:
        """Set ``sedna_up`` to 0 (the server or worker stopped)."""
        self.gauge("sedna_up").labels(service=self.service).set(0)

    def value(self, name: str, **labels: str) -> float | None:
        """Return the current value of one sample (None if it was never set).

        Parameters
        ----------
        name : str
            The sample name, as rendered (``sedna_http_requests_total``,
            ``sedna_fl_round_duration_seconds_count``).
        **labels : str
            The sample's labels.

        Returns
        -------
        float or None
            The value.
        """
        return self.registry.get_sample_value(name, labels)

    def samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        """Yield every sample as ``(name, labels, value)``.

        Yields
        ------
        tuple
            The sample's name, labels and value.
        """
        for family in self.registry.collect():
            for sample in family.samples:
                yield sample.name, dict(sample.labels), sample.value

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric.

        Returns
        -------
        bytes
            The text :attr:`content_type` names.
        """
        return prometheus_client().generate_latest(self.registry)
