"""The Grafana dashboard and the Prometheus Operator objects beside the examples match metrics and ports."""

from __future__ import annotations

import json
import pathlib
import re

import yaml

from sedna_lib.config import Config
from sedna_lib.observability.metrics import CATALOGUE

FOLDER = pathlib.Path(__file__).resolve().parents[2] / "examples" / "monitoring"
_SUFFIXES = ("_bucket", "_sum", "_count")


def _exprs():
    dashboard = json.loads((FOLDER / "grafana-dashboard.json").read_text(encoding="utf-8"))
    return dashboard, [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in CATALOGUE:
            return name[: -len(suffix)]
    return name


def test_dashboard_queries_only_metrics_that_exist_and_shows_every_one():
    dashboard, exprs = _exprs()
    used = {_family(name) for expr in exprs for name in re.findall(r"\bsedna_[a-z0-9_]+", expr)}

    assert used - set(CATALOGUE) == set(), "the dashboard queries metrics sedna_lib does not export"
    assert set(CATALOGUE) - used == set(), "metrics no panel shows"
    assert all('namespace=~"$namespace"' in expr for expr in exprs)
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "namespace", "pod"}
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"] if p["type"] != "row")


def test_monitors_scrape_metrics_on_the_ports_the_servers_bind_and_the_labels_the_control_plane_sets():
    docs = [d for d in yaml.safe_load_all((FOLDER / "servicemonitor.yaml").read_text(encoding="utf-8")) if d]
    by_name = {d["metadata"]["name"]: d for d in docs}
    defaults = Config()

    assert {d["kind"] for d in docs} == {"ServiceMonitor", "PodMonitor"}
    assert all(d["apiVersion"] == "monitoring.coreos.com/v1" for d in docs)
    big, agg = by_name["sedna-lib-big-model"], by_name["sedna-lib-aggregation"]
    assert big["spec"]["endpoints"][0]["targetPort"] == defaults.big_model_bind_port
    assert agg["spec"]["endpoints"][0]["targetPort"] == defaults.agg_bind_port
    assert big["spec"]["selector"]["matchLabels"] == {"jointinferenceservice.sedna.io/worker-type": "cloud"}
    assert agg["spec"]["selector"]["matchLabels"] == {
        "federatedlearningjob.sedna.io/worker-type": "aggregation"}
    for doc in docs:
        endpoints = doc["spec"].get("endpoints") or doc["spec"]["podMetricsEndpoints"]
        assert [e["path"] for e in endpoints] == ["/metrics"]
    for name in ("sedna-lib-edge-workers", "sedna-lib-inference-workers"):
        assert by_name[name]["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
