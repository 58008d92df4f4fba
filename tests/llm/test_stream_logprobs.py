"""A streamed answer keeps the log-probabilities of its first choice, and refuses malformed ones."""

import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.transport.openai import OpenAIClient


def _chunk(index, content, logprob, finish=None):
    logprobs = {"content": [{"token": content, "logprob": logprob, "top_logprobs": []}]}
    return {"object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": index, "delta": {"content": content}, "logprobs": logprobs,
                         "finish_reason": finish}]}


def test_only_the_first_choices_logprobs_are_kept(canned_cloud):
    events = [_chunk(0, "a", -0.5), _chunk(1, "b", -2.0), _chunk(0, " c", -0.25, "stop"),
              _chunk(1, " d", -3.0, "length"), "[DONE]"]
    answer = OpenAIClient(canned_cloud(events, stream=True), stream=True).predict("q", n=2)
    assert (answer.text, answer.samples, answer.finish_reason) == ("a c", ["b d"], "stop")
    assert answer.tokens == ["a", " c"] and answer.token_logprobs == [-0.5, -0.25]


@pytest.mark.parametrize("logprobs, words", [
    ({"content": 7}, r"choices\[0\].logprobs.content must be a list"),
    ({"content": [{"token": "a", "logprob": "low"}]}, r"content\[0\].logprob must be a number"),
    (["a"], r"choices\[0\].logprobs must be an object"),
])
def test_malformed_logprobs_of_the_answer_are_refused(canned_cloud, logprobs, words):
    chunk = _chunk(0, "a", -0.5, "stop")
    chunk["choices"][0]["logprobs"] = logprobs
    url = canned_cloud([chunk, "[DONE]"], stream=True)
    with pytest.raises(ProtocolError, match=words):
        OpenAIClient(url, stream=True).predict("q")
