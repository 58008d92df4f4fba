"""The status page and the API docs in headless Chromium: live numbers equal to /metrics, charts, no CDN.

The browser and its DevTools client are the documentation site's (tests/test_docs_browser.py);
the test is skipped where Chromium is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.context import Context

from test_docs_browser import browser  # noqa: F401 - the fixture: headless Chromium over DevTools

from .test_metrics_status import scrape

pytest.importorskip("fastapi")
pytestmark = [pytest.mark.slow, pytest.mark.integration]

_REFRESHED = """new Promise(resolve => {
  const start = Number(document.body.dataset.refreshed || 0);
  const wait = () => Number(document.body.dataset.refreshed || 0) > start ? resolve(true)
                                                                          : setTimeout(wait, 25);
  wait();
})"""

_SHOWN = """(() => ({
  values: Object.fromEntries([...document.querySelectorAll('td[data-sample]')]
                             .map(td => [td.dataset.sample, Number(td.dataset.value)])),
  texts: Object.fromEntries([...document.querySelectorAll('td[data-sample]')]
                            .map(td => [td.dataset.sample, td.textContent])),
  ready: document.getElementById('ready').textContent,
  charts: [...document.querySelectorAll('figure')].map(f => ({
    title: f.querySelector('figcaption').textContent,
    points: Number(f.querySelector('canvas').dataset.points),
    inked: (() => { const c = f.querySelector('canvas');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })(),
  })),
  resources: performance.getEntriesByType('resource').map(e => e.name),
}))()"""


def _show(browser, url):  # noqa: F811 - the imported fixture's value
    browser.open(url + "/", 1000)
    browser.evaluate(_REFRESHED)  # the page's script filled in the numbers at least once more
    return browser.evaluate(_SHOWN)


def test_big_model_status_page_shows_the_numbers_of_its_metrics(browser, tmp_path):  # noqa: F811
    from sedna_lib.servers.inference import InferenceServer

    with InferenceServer(lambda data: [sum(data)], "adder", http_port=0) as server:
        for _ in range(3):
            requests.post(server.url + "/adder/predict", json={"data": [1, 2]}, timeout=5)
        requests.post(server.url + "/adder/predict", data=b"{", timeout=5)
        shown = _show(browser, server.url)
        scraped = scrape(server.url)
        browser.screenshot(tmp_path / "big-model-status.png", 1000)

    predict = {k: v for k, v in shown["values"].items() if 'route="/adder/predict"' in k}
    assert predict == {k: v for k, v in scraped.items()
                       if 'route="/adder/predict"' in k
                       and not k.split("{")[0].endswith(("_bucket", "_created"))}
    assert predict['sedna_http_requests_total{method="POST",route="/adder/predict",status="200"}'] == 3
    assert predict['sedna_http_requests_total{method="POST",route="/adder/predict",status="400"}'] == 1
    assert shown["texts"]['sedna_up{service="adder"}'] == "1"
    assert shown["ready"] == "ready"
    assert all(r.startswith(server.url + "/") for r in shown["resources"])  # nothing from elsewhere
    assert (tmp_path / "big-model-status.png").stat().st_size > 10_000


def test_aggregation_status_page_charts_accuracy_and_loss_per_round(browser, tmp_path):  # noqa: F811
    from sedna_lib.servers.aggregation import AggregationServer
    from sedna_lib.transport.ws import AggregationClient

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=3, participants_count=1,
                               done_grace=1, context=Context(Config())).start(block=False)
    http = server.url.replace("ws", "http", 1).rsplit("/", 1)[0]
    try:
        with AggregationClient(server.url, "t0", connect_timeout=5, recv_timeout=10) as client:
            weights = [np.zeros(4, "float32")]
            for r in (1, 2, 3):
                client.send_update(weights, 10, round_number=r, metrics={"accuracy": 0.5 + 0.1 * r,
                                                                         "loss": 1.0 / r})
                weights = client.recv_weights().weights
        assert server.wait(10)
        shown = _show(browser, http)
        scraped = scrape(http)
        browser.screenshot(tmp_path / "aggregation-status.png", 1000)
    finally:
        server.stop()

    (chart,) = shown["charts"]
    assert chart["title"] == "Accuracy and loss per round" and chart["points"] == 6 and chart["inked"] > 500
    for name in ("sedna_fl_round", "sedna_fl_rounds_total", "sedna_fl_accuracy", "sedna_fl_loss",
                 "sedna_fl_received_bytes_total"):
        assert shown["values"][name] == pytest.approx(scraped[name])
    assert shown["texts"]["sedna_fl_round"] == "3" and shown["texts"]["sedna_fl_accuracy"] == "0.8"
    assert shown["ready"] == "not ready"  # the job is done


def test_swagger_ui_renders_offline_from_the_server(browser):  # noqa: F811
    pytest.importorskip("fastapi_offline")
    from sedna_lib.servers.inference import InferenceServer

    with InferenceServer(lambda data: data, "echo", http_port=0) as server:
        browser.open(server.url + "/docs", 1000)
        title = browser.evaluate("""new Promise(resolve => {
          const wait = () => { const t = document.querySelector('.swagger-ui .info .title');
                               t ? resolve(t.textContent) : setTimeout(wait, 25); };
          wait(); })""")
        paths = browser.evaluate("[...document.querySelectorAll('.opblock-summary-path')]"
                                 ".map(e => e.textContent)")
        resources = browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)")

    assert title.startswith("sedna_lib big-model service 'echo'")
    assert "/echo/predict" in " ".join(paths)
    assert resources and all(r.startswith(server.url + "/") for r in resources)
