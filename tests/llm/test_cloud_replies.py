"""What the edge does with a cloud reply it cannot use: a malformed body, a cut or stalled stream."""

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ProtocolError, TransportError, TransportTimeout
from sedna_lib.llm import EdgeLM, LLMJointInference
from sedna_lib.transport.openai import OpenAIClient

pytestmark = pytest.mark.integration

ANSWER = {"message": {"role": "assistant", "content": "math"}, "finish_reason": "stop"}


def _job(edge_lm, url, tmp_path, **kwargs):
    client = OpenAIClient(url, max_retries=0, **kwargs)
    return LLMJointInference(EdgeLM(edge_lm, max_tokens=4), "CloudOnly", cloud=client, report=False,
                             context=Context(Config()), offload_dir=str(tmp_path / "offload"), cache_size=4)


def _chunk(index=0, content=None, finish=None, **extra):
    delta = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}], **extra}


@pytest.mark.parametrize("route, body, words", [
    ("chat", [ANSWER], "the reply must be an object"),
    ("chat", {"choices": {"0": ANSWER}}, "no choices"),
    ("chat", {"choices": ["math"]}, r"choices\[0\] must be an object"),
    ("chat", {"choices": [{"message": "math"}]}, r"choices\[0\].message must be an object"),
    ("chat", {"choices": [{"message": {"content": 5}}]}, r"choices\[0\].message.content must be a string"),
    ("chat", {"choices": [{"message": {"content": ["math"]}}]}, "message.content must be a string"),
    ("chat", {"choices": [{"finish_reason": "stop"}]}, r"choices\[0\] has neither"),
    ("chat", {"choices": [{**ANSWER, "finish_reason": 1}]}, "finish_reason must be a string"),
    ("chat", {"choices": [ANSWER], "model": ["m"]}, "model must be a string"),
    ("chat", {"choices": [ANSWER], "usage": [4, 1]}, "usage must be an object"),
    ("chat", {"choices": [ANSWER], "usage": {"prompt_tokens": "4"}}, "usage.prompt_tokens must be a non-neg"),
    ("chat", {"choices": [ANSWER], "usage": {"completion_tokens": 1.5}}, "usage.completion_tokens must be"),
    ("chat", {"choices": [ANSWER], "usage": {"completion_tokens": True}}, "usage.completion_tokens must be"),
    ("chat", {"choices": [ANSWER], "usage": {"prompt_tokens": 4, "completion_tokens": -3}},
     "usage.completion_tokens must be a non-negative integer"),
    ("chat", {"choices": [{**ANSWER, "logprobs": ["x"]}]}, "logprobs must be an object"),
    ("chat", {"choices": [{**ANSWER, "logprobs": {"content": 7}}]}, "logprobs.content must be a list"),
    ("chat", {"choices": [{**ANSWER, "logprobs": {"content": ["math"]}}]}, r"content\[0\] must be an object"),
    ("chat", {"choices": [{**ANSWER, "logprobs": {"content": [{"token": "math", "logprob": "low"}]}}]},
     r"content\[0\].logprob must be a number"),
    ("chat", {"choices": [{**ANSWER, "logprobs": {"content": [{"token": 3, "logprob": -1.0}]}}]},
     r"content\[0\].token must be a string"),
    ("chat", {"choices": [{**ANSWER, "logprobs": {"content": [
        {"token": "m", "logprob": -1.0, "top_logprobs": {"m": -1.0}}]}}]}, "top_logprobs must be a list"),
    ("completion", {"choices": [{"text": ["math"]}]}, r"choices\[0\].text must be a string"),
    ("completion", {"choices": [{"text": "math", "logprobs": {"tokens": "math"}}]},
     "logprobs.tokens must be a list"),
    ("completion", {"choices": [{"text": "math", "logprobs": {"tokens": ["m"], "token_logprobs": [{}]}}]},
     r"token_logprobs\[0\] must be a number"),
    ("completion", {"choices": [{"text": "math", "logprobs": {"tokens": ["m"], "top_logprobs": [["m"]]}}]},
     r"top_logprobs\[0\] must be an object"),
    ("completion", {"choices": [{"text": "m"}], "usage": {"prompt_tokens": -1}}, "prompt_tokens must be"),
])
def test_a_malformed_reply_is_a_protocol_error_and_the_edge_answers(
        canned_cloud, edge_lm, tmp_path, route, body, words):
    url = canned_cloud(body)
    with pytest.raises(ProtocolError, match=words):
        OpenAIClient(url, route=route).predict("module of sqrt is")
    with _job(edge_lm, url, tmp_path, route=route) as job:
        result = job.inference("module of sqrt is")
        assert result.is_hard and result.cloud is None and result.result.source == "edge"
        assert len(job.cache) == 0 and job.client.breaker.state == "open"


def test_a_well_formed_reply_with_nulls_is_read(canned_cloud):
    body = {"choices": [{"message": {"role": "assistant", "content": None}, "finish_reason": None,
                         "logprobs": None}, {"message": {"content": "b"}}], "model": None, "usage": None}
    answer = OpenAIClient(canned_cloud(body)).predict("q")
    assert (answer.text, answer.samples, answer.finish_reason) == ("", ["b"], "stop")
    assert answer.completion_tokens == 0 and answer.model == "" and answer.token_logprobs == []


@pytest.mark.parametrize("events, words", [
    ([_chunk(index=5, content="x"), "[DONE]"], "index must be an integer from 0 to 0"),
    ([_chunk(index=-1, content="x"), "[DONE]"], "index must be an integer from 0 to 0"),
    ([_chunk(index=10 ** 12, content="x"), "[DONE]"], "index must be an integer from 0 to 0"),
    ([_chunk(index="0", content="x"), "[DONE]"], "index must be an integer"),
    ([_chunk(index=True, content="x"), "[DONE]"], "index must be an integer"),
    ([["not", "a", "chunk"], "[DONE]"], "a chunk must be an object"),
    ([{"choices": {"index": 0}}, "[DONE]"], "choices must be a list"),
    ([{"choices": ["x"]}, "[DONE]"], r"choices\[0\] must be an object"),
    ([{"choices": [{"index": 0, "delta": "x"}]}, "[DONE]"], "delta must be an object"),
    ([{"choices": [{"index": 0, "delta": {"content": 1}}]}, "[DONE]"], "delta.content must be a string"),
    ([_chunk(content="x", finish=["stop"]), "[DONE]"], "finish_reason must be a string"),
    ([_chunk(content="x", finish="stop"), {"choices": [], "usage": {"completion_tokens": -1}}, "[DONE]"],
     "usage.completion_tokens must be a non-negative integer"),
    ([_chunk(content="x", finish="stop"), {"choices": [], "usage": "many"}, "[DONE]"], "usage must be an"),
])
def test_a_malformed_stream_is_a_protocol_error_and_the_edge_answers(
        canned_cloud, edge_lm, tmp_path, events, words):
    url = canned_cloud(events, stream=True)
    with pytest.raises(ProtocolError, match=words):
        OpenAIClient(url, stream=True).predict("module of sqrt is")
    with _job(edge_lm, url, tmp_path, stream=True) as job:
        result = job.inference("module of sqrt is")
        assert result.cloud is None and result.result.source == "edge" and len(job.cache) == 0
        assert job.client.breaker.state == "open"


def test_stream_choices_up_to_n_are_read_as_samples(canned_cloud):
    events = [_chunk(0, "a"), _chunk(1, "b"), _chunk(0, finish="stop"), _chunk(1, finish="stop"), "[DONE]"]
    answer = OpenAIClient(canned_cloud(events, stream=True), stream=True).predict("q", n=2)
    assert (answer.text, answer.samples) == ("a", ["b"])


@pytest.mark.parametrize("events", [
    [_chunk(content="math")],
    [_chunk(content="math"), _chunk(content=" .")],
    [_chunk(0, "a"), _chunk(1, "b"), _chunk(0, finish="stop")],  # choice 1 never ended
])
def test_a_stream_cut_before_its_end_is_a_transport_error_and_is_not_cached(
        canned_cloud, edge_lm, tmp_path, events):
    url = canned_cloud(events, stream=True)
    n = 2 if len(events) == 3 else 1
    with pytest.raises(TransportError, match="ended before its end"):
        OpenAIClient(url, stream=True).predict("module of sqrt is", n=n)
    with pytest.raises(TransportError, match="ended before its end"):
        list(OpenAIClient(url).stream_chat("module of sqrt is", n=n))
    if n == 1:
        with _job(edge_lm, url, tmp_path, stream=True) as job:
            result = job.inference("module of sqrt is")
            assert result.cloud is None and result.result.source == "edge"
            assert len(job.cache) == 0 and job.pending_offloads == 1


@pytest.mark.parametrize("events", [
    [_chunk(content="math"), _chunk(finish="stop")],  # no [DONE], but every choice ended
    [_chunk(content="math"), "[DONE]"],  # no finish_reason, but the server said it is done
])
def test_a_stream_that_ends_with_a_finish_reason_or_done_is_complete(canned_cloud, events):
    answer = OpenAIClient(canned_cloud(events, stream=True), stream=True).predict("q")
    assert answer.text == "math"


def test_a_stream_that_stalls_is_a_timeout_and_a_breaker_failure(canned_cloud):
    url = canned_cloud([_chunk(content="math")], stream=True, hold=True)
    client = OpenAIClient(url, stream=True, timeout=(1.0, 0.3), failure_threshold=2, reset_timeout=60)
    with pytest.raises(TransportTimeout, match="stalled"):
        client.predict("q")
    assert client.breaker.state == "closed"  # one failure of the two that open it
    with pytest.raises(TransportTimeout, match="stalled"):
        list(client.stream_chat("q"))
    assert client.breaker.state == "open"
    with pytest.raises(TransportError, match="circuit open"):
        client.predict("q")


def test_a_stream_malformed_after_its_first_chunk_counts_one_failure_each_time(canned_cloud):
    # the stream used to count a success for the chunk it had given, then the failure: the success
    # cleared the failures before, so a peer that always breaks off this way never opened the breaker
    url = canned_cloud([_chunk(content="x"), {"choices": "many"}, "[DONE]"], stream=True)
    client = OpenAIClient(url, stream=True, max_retries=0, failure_threshold=2, reset_timeout=60)
    for _ in range(2):
        with pytest.raises(ProtocolError, match="choices must be a list"):
            client.predict("q")
    assert client.breaker.state == "open"
