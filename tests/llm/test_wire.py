"""The OpenAI-compatible wire on its own: request checks, stop sequences, SSE framing, reply reading."""

import pytest

from sedna_lib.exceptions import ProtocolError
from sedna_lib.transport import openai_wire as wire


class _Words:
    """A language model that says a fixed list of tokens."""

    name = "words"

    def __init__(self, tokens):
        self.tokens = tokens

    def generate(self, prompt, *, max_tokens=64, temperature=0.0, top_p=1.0, seed=None, top_logprobs=0):
        for token in self.tokens[:max_tokens]:
            yield wire.TokenStep(token, -0.5)

    def count_tokens(self, text):
        return len(text.split())


def _run(tokens, stop, max_tokens=20):
    pairs = list(wire.run_generation(_Words(tokens), "p", max_tokens=max_tokens, stop=stop))
    return "".join(step.text for step, _ in pairs), pairs[-1][1]


def test_a_stop_sequence_spanning_tokens_never_reaches_the_caller():
    assert _run(["a", "\n", "\n", "b"], ["\n\n"]) == ("a", "stop")
    assert _run(["a", "\n", "c", "\n", "\n"], ["\n\n"]) == ("a\nc", "stop")
    assert _run([" x", " EN", "D y"], ["END"]) == (" x ", "stop")


def test_a_held_back_prefix_is_released_when_the_stop_does_not_follow():
    assert _run(["a", "E", "N", "x"], ["END"]) == ("aENx", "stop")


def test_max_tokens_ends_with_length():
    assert _run(["a", "b", "c"], [], max_tokens=2) == ("ab", "length")
    assert _run(["a", "b", "c"], ["zz"], max_tokens=2) == ("ab", "length")


@pytest.mark.parametrize("body, param, words", [
    ({"messages": []}, "messages", "'messages' is required"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "must be one of"),
    ({"messages": [{"role": {"name": "user"}, "content": "x"}]}, "messages[0].role", "must be one of"),
    ({"messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role", "must be one of"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content", "string or a list of text parts"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content",
     "only text"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature",
     "between 0.0 and 2.0"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 0}, "n", "between 1 and 16"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": "9"}, "max_tokens", "must be an integer"),
    ({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}, "top_logprobs", "needs 'logprobs'"),
    ({"messages": [{"role": "user", "content": "x"}], "stop": ["a"] * 5}, "stop", "up to 4"),
    ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream", "true or false"),
])
def test_a_chat_request_that_breaks_a_rule_names_the_field(body, param, words):
    with pytest.raises(wire.RequestError, match=words) as info:
        wire.parse_chat_request(body)
    assert info.value.param == param


def test_a_completion_request_needs_a_text_prompt():
    with pytest.raises(wire.RequestError, match="token-id prompts are not supported"):
        wire.parse_completion_request({"prompt": [1, 2, 3]})
    req = wire.parse_completion_request({"prompt": ["a", "b"], "logprobs": 2, "echo": True, "n": 2})
    assert (req.prompts, req.top_logprobs, req.logprobs, req.echo, req.n) == (("a", "b"), 2, True, True, 2)


def test_sse_frames_decode_back_to_their_payloads_and_stop_at_done():
    stream = b"".join([wire.sse_event({"a": 1}), b": keep-alive\n\n", wire.sse_event({"b": 2}),
                       wire.sse_event("[DONE]"), wire.sse_event({"never": 1})])
    assert list(wire.iter_sse(stream.split(b"\n"))) == [{"a": 1}, {"b": 2}]


def test_an_error_event_or_a_non_json_event_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="ended with an error: boom"):
        list(wire.iter_sse(wire.sse_event({"error": {"message": "boom"}}).split(b"\n")))
    with pytest.raises(ProtocolError, match="not JSON"):
        list(wire.iter_sse([b"data: {oops", b""]))


def test_a_reply_without_choices_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="no choices"):
        wire.generation_from_reply({"choices": []})


def test_an_estimator_with_only_predict_is_adapted_without_logprobs():
    class Echo:
        def predict(self, prompt):
            return f"you said {prompt}"

    lm = wire.as_language_model(Echo())
    steps = list(lm.generate("hi there", max_tokens=3))
    assert "".join(s.text for s in steps) == "you said hi" and steps[0].logprob is None


def test_a_null_max_completion_tokens_is_not_given():
    messages = [{"role": "user", "content": "x"}]
    assert wire.parse_chat_request({"messages": messages, "max_tokens": 5,
                                    "max_completion_tokens": None}).max_tokens == 5
    assert wire.parse_chat_request({"messages": messages, "max_tokens": 5,
                                    "max_completion_tokens": 7}).max_tokens == 7
    assert wire.parse_chat_request({"messages": messages, "max_tokens": None}).max_tokens == 256
    with pytest.raises(wire.RequestError, match="'max_completion_tokens' must be an integer") as info:
        wire.parse_chat_request({"messages": messages, "max_tokens": 5, "max_completion_tokens": "9"})
    assert info.value.param == "max_completion_tokens"


PART = [{"type": "text", "text": "\udfff"}]


@pytest.mark.parametrize("parse, body, param", [
    (wire.parse_chat_request, {"messages": [{"role": "user", "content": "a\ud800b"}]}, "messages[0].content"),
    (wire.parse_chat_request, {"messages": [{"role": "user", "content": PART}]}, "messages[0].content"),
    (wire.parse_chat_request, {"messages": [{"role": "user", "content": "a"}], "stop": ["\ud800"]}, "stop"),
    (wire.parse_completion_request, {"prompt": "a\ud800b"}, "prompt"),
    (wire.parse_completion_request, {"prompt": ["ok", "\udc80"]}, "prompt"),
])
def test_text_with_a_lone_surrogate_is_refused_naming_the_field(parse, body, param):
    with pytest.raises(wire.RequestError, match="lone surrogate") as info:
        parse(body)
    assert info.value.param == param


def test_any_integer_seed_is_accepted():
    for seed in (-1, -(2 ** 70), 2 ** 70):
        assert wire.parse_completion_request({"prompt": "a", "seed": seed}).seed == seed
    assert wire.rng_seed(-1) == 2 ** 64 - 1 and wire.rng_seed(2 ** 64 + 3) == 3


# -- a small request cannot ask for unbounded work: prompts times n, and the length of stop sequences ---
@pytest.mark.parametrize("prompts, n", [(100, 16), (wire.MAX_CHOICES + 1, 1), (5, 16), (33, 2)])
def test_a_completion_request_asking_for_too_many_choices_is_refused(prompts, n):
    words = f"{prompts * n} choices, over the {wire.MAX_CHOICES}"
    with pytest.raises(wire.RequestError, match=words) as info:
        wire.parse_completion_request({"prompt": ["the cat"] * prompts, "n": n, "max_tokens": 4096})
    assert info.value.param == "prompt"


@pytest.mark.parametrize("prompts, n", [(wire.MAX_CHOICES, 1), (4, 16), (1, wire.MAX_N)])
def test_a_completion_request_within_the_choices_is_accepted(prompts, n):
    req = wire.parse_completion_request({"prompt": ["p"] * prompts, "n": n})
    assert len(req.prompts) * req.n == prompts * n


@pytest.mark.parametrize("parse, body", [
    (wire.parse_chat_request, {"messages": [{"role": "user", "content": "x"}]}),
    (wire.parse_completion_request, {"prompt": "x"}),
])
def test_a_stop_sequence_longer_than_the_limit_is_refused(parse, body):
    longest = "s" * wire.MAX_STOP_CHARS
    assert parse({**body, "stop": [longest] * wire.MAX_STOPS}).stop == (longest,) * wire.MAX_STOPS
    for stop in (longest + "s", ["a", "q" * 30_000]):
        with pytest.raises(wire.RequestError, match=f"each may have at most {wire.MAX_STOP_CHARS}") as info:
            parse({**body, "stop": stop})
        assert info.value.param == "stop"
