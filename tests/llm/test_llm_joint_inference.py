"""Language-model joint inference end to end: an edge LM, routers, the cloud LM over the OpenAI routes."""

import json
import logging
import threading

import numpy as np
import pytest
import requests

from sedna_lib.algorithms.hard_example_mining.oracle import is_correct
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, DataError, ParameterError, StorageError
from sedna_lib.joint_inference import load_model
from sedna_lib.llm import EdgeLM, LLMJointInference, Prices
from sedna_lib.registry import Kind, default_registry
from sedna_lib.transport.openai import OpenAIClient

pytestmark = pytest.mark.integration


def _answer(generation):
    return generation.text.replace(" .", "").strip()


def _job(edge_lm, cloud, router, tmp_path, **kwargs):
    kwargs.setdefault("context", Context(Config()))
    return LLMJointInference(EdgeLM(edge_lm, max_tokens=4), router, cloud=cloud, report=False,
                             offload_dir=str(tmp_path / "offload"), **kwargs)


def _accuracy(job, items):
    results = [job.inference({"prompt": it.question, "reference": it.answer}) for it in items]
    return np.mean([is_correct(_answer(r.result), it.answer) for r, it in zip(results, items)]), results


def test_a_confidence_router_keeps_its_budget_and_beats_the_edge_alone(edge_lm, cloud_url, qa_items,
                                                                       tmp_path):
    items = qa_items[::2]
    router = {"method": "MeanLogProb", "param": {"upload_ratio": "0.3"}}
    with _job(edge_lm, OpenAIClient(cloud_url), router, tmp_path) as job:
        accuracy, results = _accuracy(job, items)
        totals = job.llm_metrics.totals()
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path / "e") as edge_only:
        edge_accuracy, _ = _accuracy(edge_only, items)
    assert abs(totals["routed_share"] - 0.3) <= 0.02
    assert accuracy >= edge_accuracy + 0.15
    assert totals["cloud_answered"] == sum(r.cloud is not None for r in results) == totals["routed"]
    assert 0 < totals["cloud_token_share"] < 0.5


def test_per_query_metrics_count_tokens_each_side_latencies_and_cost(edge_lm, cloud_url, tmp_path):
    prices = Prices(cloud_prompt=10.0, cloud_completion=30.0, edge_prompt=0.0, edge_completion=1.0)
    with _job(edge_lm, OpenAIClient(cloud_url, stream=True), "CloudOnly", tmp_path, prices=prices) as job:
        result = job.inference("module of sqrt is")
        (m,) = job.llm_metrics.recent()
    assert result.is_hard and m.answered_by == "cloud" and m.routed
    assert m.edge_prompt_tokens == 4 and m.edge_completion_tokens == result.edge.completion_tokens
    assert m.cloud_prompt_tokens == 4 and m.cloud_completion_tokens == result.cloud.completion_tokens > 0
    assert 0 < m.ttft_s <= m.e2e_s and m.itl_s is not None
    text = job.metrics_text()
    assert 'sedna_llm_queries_total{answered_by="cloud"} 1.0' in text
    assert 'sedna_llm_tokens_total{kind="prompt",side="cloud"} 4.0' in text
    assert "sedna_llm_time_to_first_token_seconds_count 1.0" in text
    expected = (4 * 10.0 + m.cloud_completion_tokens * 30.0 + m.edge_completion_tokens * 1.0) / 1e6
    assert m.cost == pytest.approx(expected)


def test_routing_on_the_query_alone_spares_the_edge_the_routed_queries(edge_lm, cloud_url, qa_items,
                                                                       tmp_path):
    edge = EdgeLM(edge_lm, max_tokens=4)
    train = qa_items[1::2]
    wrong = [not is_correct(_answer(edge.predict(it.question)), it.answer) for it in train]
    router = default_registry.create(Kind.HARD_EXAMPLE_MINING, "LearnedRouter", upload_ratio=0.4)
    router.fit([it.question for it in train], wrong)
    ctx = Context(Config(mining_mode="mining-then-inference"))
    with _job(edge_lm, OpenAIClient(cloud_url), router, tmp_path, context=ctx) as job:
        _, results = _accuracy(job, qa_items[::2][:200])
        totals = job.llm_metrics.totals()
    routed = [r for r in results if r.is_hard]
    assert abs(len(routed) / len(results) - 0.4) <= 0.02
    assert all(r.edge is None and r.cloud is not None for r in routed)
    assert totals["edge_completion_tokens"] == sum(r.edge.completion_tokens for r in results if not r.is_hard)


def test_the_response_cache_answers_a_repeated_query_without_the_cloud(edge_lm, cloud_url, tmp_path):
    client = OpenAIClient(cloud_url)
    metrics_url = cloud_url.rsplit("/v1", 1)[0] + "/metrics"

    def cloud_requests():
        lines = [x for x in requests.get(metrics_url, timeout=5).text.splitlines()
                 if x.startswith("sedna_http_requests_total{") and 'route="/v1/chat/completions"' in x]
        return int(sum(float(x.split()[-1]) for x in lines))

    with _job(edge_lm, client, "CloudOnly", tmp_path, cache_size=2) as job:
        first = job.inference({"prompt": "module of sqrt is", "reference": "math"})
        before = cloud_requests()
        again = job.inference("module of sqrt is")  # same prompt, no reference: the same query
        assert cloud_requests() == before
        for prompt in ("module of dumps is", "module of loads is", "module of sqrt is"):
            job.inference(prompt)  # the bound (2) pushed the first one out: it goes to the cloud again
        assert cloud_requests() == before + 3
        totals = job.llm_metrics.totals()
    assert again.result.text == first.result.text and again.cloud.source == "cache"
    assert totals["cache_answered"] == 1 and job.cache.hits == 1


def test_an_absent_cloud_costs_the_edge_nothing_and_the_queries_wait_for_it(edge_lm, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIClient(f"http://127.0.0.1:{port}/v1", max_retries=0, reset_timeout=60)
    with _job(edge_lm, client, "CloudOnly", tmp_path) as job:
        results = [job.inference(f"module of {name} is") for name in ("sqrt", "dumps", "loads")]
        assert all(r.cloud is None and r.result.source == "edge" for r in results)
        assert job.pending_offloads == 3 and job.llm_metrics.totals()["edge_answered"] == 3


def test_queued_queries_reach_the_cloud_when_it_is_back(edge_lm, cloud_lm, tmp_path):
    import socket

    from sedna_lib.joint_inference import BigModelService

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delivered, both = [], threading.Event()

    def on_offloaded(example):
        delivered.append(example)
        if len(delivered) == 2:
            both.set()

    client = OpenAIClient(f"http://127.0.0.1:{port}/v1", max_retries=0, reset_timeout=0.01)
    with _job(edge_lm, client, "CloudOnly", tmp_path, on_offloaded=on_offloaded) as job:
        for name in ("dedent", "gcd"):
            job.inference({"prompt": f"module of {name} is", "reference": "x"})
        assert job.pending_offloads == 2
        service = BigModelService(estimator=cloud_lm, context=Context(Config()))
        service.start(host="127.0.0.1", port=port, block=False)
        try:
            job.drain_offload_queue()  # here, or in the job's own drain thread: whichever runs first
            assert both.wait(10) and job.pending_offloads == 0
        finally:
            service.close()
    assert [d.data["prompt"] for d in delivered] == ["module of dedent is", "module of gcd is"]
    assert all(d.result.source == "cloud" and d.result.text for d in delivered)


def test_a_language_model_class_is_built_by_the_backend_not_wrapped_as_an_instance(edge_lm, cloud_url,
                                                                                   tmp_path):
    class Edge(EdgeLM):
        def __init__(self, **kwargs):
            super().__init__(edge_lm, max_tokens=4)

    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path) as job:
        job_class = LLMJointInference(Edge, "EdgeOnly", cloud=OpenAIClient(cloud_url), report=False,
                                      context=Context(Config()), offload_dir=str(tmp_path / "c"))
        with job_class:
            built = job_class.inference("module of gcd is").result
        assert built.text == job.inference("module of gcd is").result.text


def test_the_query_log_trains_the_learned_router(edge_lm, cloud_url, qa_items, tmp_path):
    log = tmp_path / "queries.jsonl"
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, query_log=str(log)) as job:
        for it in qa_items[1::2]:
            job.inference({"prompt": it.question, "reference": it.answer})
        job.inference("module of gcd is")  # no reference: logged, but no outcome to learn from
    lines = log.read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == len(qa_items[1::2]) + 1 and first["answered_by"] == "edge"
    assert first["query"] == {"prompt": qa_items[1].question} and first["reference"] == qa_items[1].answer
    assert first["edge_completion_tokens"] > 0 and first["cloud_answer"] is None
    router = default_registry.create(Kind.HARD_EXAMPLE_MINING, "LearnedRouter").fit_log(str(log))
    wrong = [not is_correct(_answer(EdgeLM(edge_lm, max_tokens=4).predict(it.question)), it.answer)
             for it in qa_items[1::2]]
    assert (router.is_hard([it.question for it in qa_items[1::2]]) == np.array(wrong)).mean() > 0.8


def test_a_query_log_without_outcomes_or_with_a_bad_line_is_a_data_error(tmp_path):
    router = default_registry.create(Kind.HARD_EXAMPLE_MINING, "LearnedRouter")
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"query": "q", "edge_answer": "a"}) + "\n")
    with pytest.raises(DataError, match="no line with an outcome"):
        router.fit_log(str(empty))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "edge_correct": true}\nnot json\n')
    with pytest.raises(DataError, match="bad.jsonl:2 is not JSON"):
        router.fit_log(str(bad))


def test_an_unwritable_query_log_is_a_storage_error(edge_lm, cloud_url, tmp_path):
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, query_log=str(tmp_path)) as job:
        with pytest.raises(StorageError, match="SEDNA_LLM_QUERY_LOG"):
            job.inference("module of gcd is")


def test_the_lc_report_carries_the_llm_totals(edge_lm, cloud_url, tmp_path, lc_stub):
    ctx = Context(Config(lc_server=lc_stub.url, worker_name="llm-edge", lc_period=3600))
    job = LLMJointInference(EdgeLM(edge_lm, max_tokens=4), "CloudOnly", cloud=OpenAIClient(cloud_url),
                            context=ctx, offload_dir=str(tmp_path / "q"))
    job.inference("module of sqrt is")
    job.close()
    body = lc_stub.next_body()
    llm = body["ownerInfo"]["llm"]
    assert body["ownerInfo"]["inferenceNumber"] == 1 and llm["cloudAnswered"] == 1
    assert llm["cloudCompletionTokens"] > 0 and "cloudTokenShare" in llm


def test_the_router_comes_from_hem_name_and_parameters(edge_lm, cloud_url, tmp_path):
    cfg = Config(hem_name="TokenEntropy", hem_parameters={"upload_ratio": "0.5"})
    with _job(edge_lm, OpenAIClient(cloud_url), None, tmp_path, context=Context(cfg)) as job:
        assert type(job.miner).__name__ == "TokenEntropyRouter" and job.miner.upload_ratio == 0.5


def test_the_solar_corona_face_routes_language_model_queries_too(edge_lm, cloud_url, tmp_path):
    router = default_registry.create(Kind.HARD_EXAMPLE_MINING, "MinLogProb", threshold_prob=1.0)
    with load_model(EdgeLM(edge_lm, max_tokens=4), cloud_offload_algorithm=router,
                    big_model_endpoint=cloud_url, context=Context(Config()),
                    offload_dir=str(tmp_path / "q")) as model:
        answer = model.predict("module of sqrt is")
        assert model.last_result.is_hard and answer.source == "cloud"


def test_a_lone_surrogate_in_a_query_is_logged_and_read_back(edge_lm, cloud_url, tmp_path):
    log = tmp_path / "queries.jsonl"
    query = {"prompt": "module of gcd\ud800 is", "reference": "math"}
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, query_log=str(log)) as job:
        assert job.inference(query).result.source == "edge"
    (line,) = log.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["query"] == {"prompt": "module of gcd\ud800 is"}


def test_a_lone_surrogate_sent_to_the_cloud_is_refused_and_the_edge_answers(edge_lm, cloud_url, tmp_path,
                                                                            caplog):
    with _job(edge_lm, OpenAIClient(cloud_url), "CloudOnly", tmp_path) as job:
        with caplog.at_level(logging.WARNING, "sedna_lib"):  # dead-lettered: it would never be taken
            result = job.inference("module of gcd\ud800 is")
        assert any("lone surrogate" in r.getMessage() for r in caplog.records)
        assert result.cloud is None and result.result.source == "edge"
        assert job.inference("module of gcd is").cloud is not None  # the cloud still answers


@pytest.mark.parametrize("size", [-1, 1.5, True, "3"])
def test_a_cache_size_that_is_not_a_count_is_a_parameter_error_at_the_first_query(
        edge_lm, cloud_url, tmp_path, size):
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, cache_size=size) as job:
        with pytest.raises(ParameterError, match="cache_size must be an int >= 0"):
            job.inference("module of gcd is")


def test_a_negative_cache_size_from_the_environment_is_a_config_error(edge_lm, cloud_url, tmp_path):
    ctx = Context(Config(llm_cache_size=-1))
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, context=ctx) as job:
        with pytest.raises(ConfigError, match="SEDNA_LLM_CACHE_SIZE"):
            job.inference("module of gcd is")


def test_a_cache_size_of_zero_keeps_no_cache(edge_lm, cloud_url, tmp_path):
    with _job(edge_lm, OpenAIClient(cloud_url), "CloudOnly", tmp_path, cache_size=0) as job:
        assert job.inference("module of gcd is").cloud.source == "cloud" and job.cache is None


def test_token_counts_a_cloud_object_gets_wrong_are_not_counted(edge_lm, tmp_path):
    from sedna_lib.transport.openai_wire import Generation

    class Cloud:
        model = "odd"

        def predict(self, data, **kwargs):
            return Generation(text="math", prompt_tokens=-4, completion_tokens="many", source="cloud")

    with _job(edge_lm, Cloud(), "CloudOnly", tmp_path) as job:
        result = job.inference("module of gcd is")
        (m,) = job.llm_metrics.recent()
    assert result.result.text == "math" and (m.cloud_prompt_tokens, m.cloud_completion_tokens) == (0, 0)


def test_a_job_started_again_counts_its_queries_on_its_new_status_page(edge_lm, cloud_url, tmp_path):
    job = _job(edge_lm, OpenAIClient(cloud_url), "CloudOnly", tmp_path)
    with job:
        job.inference("module of sqrt is")
    with job:  # started again after close(): a new status page, which the queries must reach
        job.inference("module of sqrt is")
        assert job.status_.site.metrics.value("sedna_llm_queries_total", answered_by="cloud") == 1.0
        assert job.prometheus is job.status_.site.metrics


@pytest.mark.parametrize("history", [float("nan"), float("inf"), -1, 2.5, True], ids=repr)
def test_a_history_that_is_not_a_count_is_a_parameter_error_at_start(edge_lm, cloud_url, tmp_path, history):
    job = _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, history=history)
    with pytest.raises(ParameterError, match="history"):
        job.inference("module of gcd is")
    job.close()


@pytest.mark.parametrize("price", [float("nan"), float("inf"), -1.0, True], ids=repr)
def test_a_bad_price_is_a_parameter_error_at_start(edge_lm, cloud_url, tmp_path, price):
    job = _job(edge_lm, OpenAIClient(cloud_url), "CloudOnly", tmp_path, prices=Prices(cloud_completion=price))
    with pytest.raises(ParameterError, match="prices.cloud_completion"):
        job.start()
    assert job.llm_metrics.totals()["queries"] == 0
    job.close()


def test_a_negative_price_from_the_environment_is_a_config_error(edge_lm, cloud_url, tmp_path):
    ctx = Context(Config(llm_price_edge_prompt=-2.0))
    job = _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, context=ctx)
    with pytest.raises(ConfigError, match="SEDNA_LLM_PRICE_EDGE_PROMPT") as info:
        job.inference("module of gcd is")
    assert info.value.variable == "SEDNA_LLM_PRICE_EDGE_PROMPT"
    job.close()


def test_a_history_of_zero_keeps_no_recent_queries(edge_lm, cloud_url, tmp_path):
    with _job(edge_lm, OpenAIClient(cloud_url), "EdgeOnly", tmp_path, history="0") as job:
        job.inference("module of gcd is")
        assert job.llm_metrics.recent() == [] and job.llm_metrics.totals()["queries"] == 1
