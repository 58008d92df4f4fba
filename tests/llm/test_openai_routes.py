"""The big-model server's OpenAI-compatible routes, over real HTTP on 127.0.0.1."""

import json

import pytest
import requests

from sedna_lib.llm import NGramLanguageModel
from sedna_lib.transport import openai_wire as wire

pytestmark = pytest.mark.integration

CHAT = {"messages": [{"role": "user", "content": "module of sqrt is"}], "temperature": 0}


def _chat(url, **extra):
    return requests.post(url + "/chat/completions", json={**CHAT, **extra}, timeout=10)


def test_chat_completion_answers_with_logprobs_and_usage(cloud_url, qa_items):
    reply = _chat(cloud_url, logprobs=True, top_logprobs=3, model="cloud-ngram")
    body = reply.json()
    assert reply.status_code == 200 and body["object"] == "chat.completion" and body["model"] == "cloud-ngram"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    entries = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    assert all(e["logprob"] <= 0 and len(e["top_logprobs"]) == 3 for e in entries)
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": len(entries),
                             "total_tokens": 4 + len(entries)}


def test_completion_route_batches_prompts_and_echoes(cloud_url):
    reply = requests.post(cloud_url + "/completions", json={
        "prompt": ["module of sqrt is", "module of dumps is"], "n": 2, "echo": True, "logprobs": 1,
        "temperature": 0, "max_tokens": 1}, timeout=10).json()
    assert reply["object"] == "text_completion" and len(reply["choices"]) == 4
    first = reply["choices"][0]
    assert first["text"].startswith("module of sqrt is ") and first["finish_reason"] == "length"
    assert first["logprobs"]["text_offset"] == [len("module of sqrt is")]


def test_streamed_chat_sends_one_event_per_token_then_usage_and_done(cloud_url):
    with requests.post(cloud_url + "/chat/completions", json={**CHAT, "stream": True, "logprobs": True,
                                                              "stream_options": {"include_usage": True}},
                       stream=True, timeout=10) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in reply.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    tokens = [c["choices"][0]["delta"].get("content") for c in chunks[1:] if c["choices"]
              and c["choices"][0]["delta"].get("content")]
    whole = _chat(cloud_url).json()["choices"][0]["message"]["content"]
    assert "".join(tokens) == whole
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(tokens)
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in chunks)


@pytest.mark.parametrize("body, status, param", [
    ({"messages": "hi"}, 400, "messages"),
    ({**CHAT, "temperature": -1}, 400, "temperature"),
    ({**CHAT, "top_p": 0}, 400, "top_p"),  # keeps no token: the models refuse it too
    ({**CHAT, "model": "gpt-4o"}, 404, None),
])
def test_a_bad_request_gets_a_4xx_in_the_openai_error_shape_and_keeps_the_server_serving(
        cloud_url, body, status, param):
    reply = requests.post(cloud_url + "/chat/completions", json=body, timeout=10)
    error = reply.json()["error"]
    assert reply.status_code == status and error["param"] == param and error["message"]
    assert _chat(cloud_url).status_code == 200


def test_malformed_json_and_a_wrong_content_type_are_refused(cloud_url):
    assert requests.post(cloud_url + "/chat/completions", data=b"{", timeout=10).status_code == 400
    reply = requests.post(cloud_url + "/chat/completions", data=b"x", headers={"Content-Type": "text/plain"},
                          timeout=10)
    assert reply.status_code == 415 and "application/json" in reply.json()["error"]["message"]


def test_the_token_guards_the_routes(serve, cloud_lm):
    url = serve(cloud_lm, auth_token="s3cret") + "/v1"
    assert requests.post(url + "/chat/completions", json=CHAT, timeout=10).status_code == 401
    reply = requests.post(url + "/chat/completions", json=CHAT, headers={"Authorization": "Bearer s3cret"},
                          timeout=10)
    assert reply.status_code == 200


def test_an_oversized_body_is_413(serve, cloud_lm):
    url = serve(cloud_lm, max_request_bytes=200) + "/v1"
    big = {"messages": [{"role": "user", "content": "x" * 500}]}
    assert requests.post(url + "/chat/completions", json=big, timeout=10).status_code == 413


def test_a_model_that_refuses_its_input_is_422_and_a_failing_one_500_without_stopping(serve):
    class Picky:
        name = "picky"

        def generate(self, prompt, **options):
            if "bad" in prompt:
                raise ValueError("no bad words")
            if "crash" in prompt:
                raise RuntimeError("out of memory")
            yield from ()

        def count_tokens(self, text):
            return 1

    url = serve(Picky()) + "/v1"
    ask = lambda text: requests.post(url + "/completions", json={"prompt": text}, timeout=10)  # noqa: E731
    assert ask("bad").status_code == 422 and "no bad words" in ask("bad").json()["error"]["message"]
    assert ask("crash").status_code == 500
    assert ask("fine").status_code == 200


def test_any_estimator_with_predict_is_served_on_the_openai_routes(serve):
    class Upper:
        def predict(self, prompt):
            return prompt.upper()

    url = serve(Upper()) + "/v1"
    body = {"messages": [{"role": "user", "content": "hi you"}]}
    reply = requests.post(url + "/chat/completions", json=body, timeout=10).json()
    assert "HI YOU" in reply["choices"][0]["message"]["content"]


def test_models_and_metrics_describe_the_served_model(cloud_url):
    _chat(cloud_url)
    assert requests.get(cloud_url + "/models", timeout=10).json()["data"][0]["id"] == "cloud-ngram"
    text = requests.get(cloud_url.rsplit("/v1", 1)[0] + "/metrics", timeout=10).text
    served = [line for line in text.splitlines()
              if line.startswith('sedna_llm_served_tokens_total{kind="completion"}')]
    assert served and float(served[0].split()[-1]) > 0
    assert 'route="/v1/chat/completions"' in text


def test_the_sedna_predict_route_answers_an_edge_lm_generation_as_json(serve, cloud_lm):
    from sedna_lib.llm import EdgeLM

    url = serve(EdgeLM(cloud_lm, max_tokens=4))
    messages = [{"role": "user", "content": "module of gcd is"}]
    reply = requests.post(url + "/sedna/predict", json={"data": messages}, timeout=10)
    result = reply.json()["result"]
    assert reply.status_code == 200 and result["text"] and result["token_logprobs"][0] <= 0


def test_the_sedna_predict_route_still_serves_the_same_model(cloud_url):
    base = cloud_url.rsplit("/v1", 1)[0]
    reply = requests.post(base + "/sedna/predict", json={"data": ["module of sqrt is"]}, timeout=10)
    assert reply.status_code == 200 and isinstance(reply.json()["result"], str)


def test_the_openai_package_talks_to_the_server_unchanged(cloud_url):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=cloud_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model="cloud-ngram", messages=CHAT["messages"], temperature=0,
                                           logprobs=True, top_logprobs=2)
    assert reply.choices[0].message.content and reply.usage.prompt_tokens == 4
    assert reply.choices[0].logprobs.content[0].logprob <= 0
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
        model="cloud-ngram", messages=CHAT["messages"], temperature=0, stream=True) if chunk.choices)
    assert streamed == reply.choices[0].message.content
    completion = client.completions.create(model="cloud-ngram", prompt="module of sqrt is", temperature=0)
    assert completion.choices[0].text.strip()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=CHAT["messages"])


def test_sampling_is_reproducible_with_a_seed(cloud_url):
    a = _chat(cloud_url, temperature=1.5, seed=7, n=3).json()
    b = _chat(cloud_url, temperature=1.5, seed=7, n=3).json()
    assert [c["message"]["content"] for c in a["choices"]] == [c["message"]["content"] for c in b["choices"]]


def test_ngram_model_is_served_through_its_name(serve):
    lm = NGramLanguageModel(order=2, name="tiny").fit(["a b c ."])
    url = serve(lm) + "/v1"
    assert requests.get(url + "/models", timeout=10).json()["data"][0]["id"] == "tiny"


@pytest.mark.parametrize("path, body", [
    ("/completions", '{"prompt": "module \\ud800 of", "echo": true, "max_tokens": 2}'),
    ("/completions", '{"prompt": "module \\ud800 of", "echo": true, "max_tokens": 2, "stream": true}'),
    ("/chat/completions", '{"messages": [{"role": "user", "content": "module \\udfff of"}]}'),
])
def test_a_lone_surrogate_in_the_text_is_a_400_naming_the_field(cloud_url, path, body):
    reply = requests.post(cloud_url + path, data=body.encode(), headers={"Content-Type": "application/json"},
                          timeout=10)
    error = reply.json()["error"]
    assert reply.status_code == 400 and "lone surrogate" in error["message"]
    assert error["param"] in ("prompt", "messages[0].content")
    assert _chat(cloud_url).status_code == 200


@pytest.mark.parametrize("route", ["/chat/completions", "/completions"])
def test_a_negative_seed_samples_reproducibly(cloud_url, route):
    body = {**CHAT, "prompt": "module of", "temperature": 1.5, "seed": -7, "n": 2}
    if route == "/completions":
        del body["messages"]
    first = requests.post(cloud_url + route, json=body, timeout=10)
    again = requests.post(cloud_url + route, json=body, timeout=10)
    assert first.status_code == 200 and first.json()["choices"] == again.json()["choices"]


def test_a_model_that_says_a_lone_surrogate_is_answered_with_its_escape(serve):
    class Broken:
        name = "broken"

        def generate(self, prompt, **options):
            yield from (wire.TokenStep("a"), wire.TokenStep("\ud800"))

        def count_tokens(self, text):
            return 1

    url = serve(Broken()) + "/v1"
    reply = requests.post(url + "/chat/completions", json=CHAT, timeout=10)
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "a\ud800"
    stream = {**CHAT, "stream": True}
    with requests.post(url + "/chat/completions", json=stream, stream=True, timeout=10) as r:
        events = [line for line in r.iter_lines() if line.startswith(b"data: ")]
    assert r.status_code == 200 and events[-1] == b"data: [DONE]"


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(("path", "body"), [
    ("/chat/completions", {**CHAT, "logprobs": True, "top_logprobs": 3}),
    ("/completions", {"prompt": "module of sqrt is", "logprobs": 3, "echo": True}),
])
def test_non_finite_logprobs_are_sent_as_null_in_strict_json(serve, path, body):
    class Unsure:
        name = "unsure"

        def generate(self, prompt, **options):
            yield wire.TokenStep(" a", float("-inf"), {" a": float("-inf"), " b": float("nan"), " c": -0.5})
            yield wire.TokenStep(" d", float("nan"), {" d": float("inf")})

        def count_tokens(self, text):
            return 1

    url = serve(Unsure()) + "/v1"
    reply = requests.post(url + path, json=body, timeout=10)
    assert reply.status_code == 200
    choice = _strict_json(reply.text)["choices"][0]
    if path == "/chat/completions":
        entries = choice["logprobs"]["content"]
        assert [e["logprob"] for e in entries] == [None, None]
        assert {alt["token"]: alt["logprob"] for alt in entries[0]["top_logprobs"]} == {
            " a": None, " b": None, " c": -0.5}
    else:
        assert choice["logprobs"]["token_logprobs"] == [None, None]
        assert choice["logprobs"]["top_logprobs"][0] == {" a": None, " b": None, " c": -0.5}
    with requests.post(url + path, json={**body, "stream": True}, stream=True, timeout=10) as streamed:
        events = [line[6:] for line in streamed.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    assert streamed.status_code == 200 and events[-1] == "[DONE]"
    chunks = [_strict_json(event) for event in events[:-1]]
    logprobs = [c["choices"][0]["logprobs"] for c in chunks if c["choices"] and c["choices"][0]["logprobs"]]
    if path == "/chat/completions":
        assert [lp["content"][0]["logprob"] for lp in logprobs] == [None, None]
    else:
        assert [lp["token_logprobs"] for lp in logprobs if lp["tokens"]] == [[None], [None]]


@pytest.mark.parametrize("path, body, param, words", [
    # 1600 generations of up to 4096 tokens asked for by a body of 1 kB
    ("/completions", {"prompt": ["the cat"] * 100, "n": 16, "max_tokens": 4096, "temperature": 1.0}, "prompt",
     f"1600 choices, over the {wire.MAX_CHOICES}"),
    # stop sequences checked against every token's text: 4 of 30 000 characters took minutes a choice
    ("/completions", {"prompt": "the cat", "stop": ["q" * 30_000] * 4, "max_tokens": 4096}, "stop",
     f"at most {wire.MAX_STOP_CHARS}"),
    ("/chat/completions", {**CHAT, "stop": ["q" * 30_000] * 4, "max_tokens": 4096}, "stop",
     f"at most {wire.MAX_STOP_CHARS}"),
])
def test_a_small_request_asking_for_unbounded_work_is_a_400_answered_at_once(
        cloud_url, path, body, param, words):
    reply = requests.post(cloud_url + path, json=body, timeout=60)
    error = reply.json()["error"]
    assert reply.status_code == 400 and error["param"] == param and words in error["message"]
    assert reply.elapsed.total_seconds() < 5
