"""The edge side of language-model joint inference: the n-gram LM, EdgeLM, the cache and the metrics."""

import numpy as np
import pytest

from sedna_lib.exceptions import DataError, NotFittedError, ParameterError
from sedna_lib.llm import EdgeLM, LLMMetrics, NGramLanguageModel, QueryMetrics, ResponseCache

TEXT = ["the capital of france is paris .", "the capital of italy is rome .",
        "the capital of spain is madrid ."]


@pytest.fixture
def lm():
    return NGramLanguageModel(order=3, name="tiny").fit(TEXT)


def test_ngram_distributions_are_probabilities_and_memorised_facts_are_confident(lm):
    probs = lm.distribution(["capital", "of"])
    assert probs.sum() == pytest.approx(1.0) and (probs > 0).all()
    (rome, dot) = list(lm.generate("the capital of italy is", top_logprobs=2))
    assert rome.text == " rome" and np.exp(rome.logprob) > 0.5 and len(rome.top_logprobs) == 2
    (guess, _) = list(lm.generate("the capital of peru is"))
    assert guess.logprob < rome.logprob and guess.entropy > rome.entropy


def test_sampling_is_reproducible_with_a_seed_and_greedy_without_temperature(lm):
    draw = lambda seed: [s.text for s in lm.generate("the", temperature=1.5, seed=seed, max_tokens=8)]  # noqa
    assert draw(3) == draw(3)
    assert [s.text for s in lm.generate("the capital of spain is")] == [" madrid", " ."]


def test_an_untrained_or_misconfigured_model_says_so():
    with pytest.raises(NotFittedError, match="fit"):
        list(NGramLanguageModel().generate("x"))
    with pytest.raises(ParameterError, match="order must be an int >= 1"):
        NGramLanguageModel(order=0).fit(TEXT)
    with pytest.raises(DataError, match="no text"):
        NGramLanguageModel().fit(["", "  "])


def test_edge_lm_records_tokens_timings_entropies_samples_and_the_reference(lm):
    clock = iter(np.arange(0.0, 100.0, 0.5))
    edge = EdgeLM(lm, num_samples=3, sample_temperature=2.0, clock=lambda: float(next(clock)))
    answer = edge.predict({"prompt": "the capital of italy is", "reference": "rome"})
    assert answer.text == " rome ." and answer.reference == "rome" and len(answer.samples) == 3
    assert answer.prompt_tokens == 5 and answer.completion_tokens == 2 and len(answer.entropies) == 2
    assert (answer.ttft_s, answer.itl_s, answer.latency_s) == (0.5, 0.5, 1.5)


def test_edge_lm_renders_chat_messages_with_the_models_template(lm):
    answer = EdgeLM(lm).predict({"messages": [{"role": "system", "content": "be brief"},
                                              {"role": "user", "content": "the capital of spain is"}]})
    assert answer.prompt == "the capital of spain is" and answer.text == " madrid ."


def test_edge_lm_refuses_what_is_not_a_query_or_an_unknown_option(lm):
    with pytest.raises(DataError, match="a language-model query is a string"):
        EdgeLM(lm).predict(42)
    with pytest.raises(DataError, match="unknown options \\['beam'\\]"):
        EdgeLM(lm).predict("x", beam=4)


def test_the_cache_is_bounded_least_recently_used_first_and_returns_copies():
    cache = ResponseCache(max_entries=2)
    cache.put("a", {"text": "A"})
    cache.put("b", {"text": "B"})
    cache.get("a")  # a is now the most recent
    cache.put("c", {"text": "C"})
    assert cache.get("b") is None and cache.get("a") == {"text": "A"} and len(cache) == 2
    cache.get("a")["text"] = "changed"
    assert cache.get("a") == {"text": "A"} and (cache.hits, cache.misses) == (4, 1)
    assert cache.get({"messages": [{"role": "user", "content": "a"}]}) == {"text": "A"}
    with pytest.raises(ParameterError, match="max_entries"):
        ResponseCache(max_entries=0).put("a", 1)


def test_metrics_totals_and_prometheus_text():
    metrics = LLMMetrics(history=2)
    for by, cloud_tokens in (("edge", 0), ("cloud", 8), ("cache", 0)):
        metrics.record(QueryMetrics(answered_by=by, routed=by != "edge", edge_prompt_tokens=4,
                                    edge_completion_tokens=2, cloud_completion_tokens=cloud_tokens,
                                    e2e_s=1.0, ttft_s=0.5, cost=0.25))
    totals = metrics.totals()
    counts = [totals[k] for k in ("queries", "edge_answered", "cloud_answered", "cache_answered")]
    assert counts == [3, 1, 1, 1]
    assert totals["cloud_token_share"] == pytest.approx(8 / 26) and totals["cost"] == pytest.approx(0.75)
    assert len(metrics.recent()) == 2 and metrics.owner_info()["llm"]["cloudCompletionTokens"] == 8


def _spread_lm():
    """A model whose most likely token has a probability below 1/2: ``p ** 1000`` is 0 in floats."""
    return NGramLanguageModel(order=1).fit([f"w{i} x x" for i in range(40)])


@pytest.mark.parametrize("temperature", [0.001, 1e-6])
def test_a_tiny_temperature_samples_as_greedy_does(temperature):
    lm = _spread_lm()
    assert (lm.distribution([]) ** (1 / temperature)).sum() == 0.0
    greedy = [s.text for s in lm.generate("", temperature=0.0, max_tokens=3)]
    assert greedy == [" x", " x", " x"]
    for top_p in (1.0, 0.5):
        steps = list(lm.generate("", temperature=temperature, top_p=top_p, seed=1, max_tokens=3))
        assert [s.text for s in steps] == greedy
        assert all(np.isfinite(s.logprob) and np.isfinite(s.entropy) for s in steps)


def test_a_negative_or_huge_seed_samples_reproducibly(lm):
    draw = lambda seed: [s.text for s in lm.generate("the", temperature=1.5, seed=seed, max_tokens=8)]  # noqa
    assert draw(-1) == draw(-1) and draw(-1) == draw(2 ** 64 - 1)
    assert draw(10 ** 30) == draw(10 ** 30)


def test_a_cache_bound_below_one_is_refused_on_lookup_too():
    for bound in (0, -1, True, 2.5):
        with pytest.raises(ParameterError, match="max_entries must be an int >= 1"):
            ResponseCache(max_entries=bound).get("a")


_BAD_EDGE_OPTIONS = (
    [(o, v) for o in ("max_tokens", "top_logprobs", "num_samples")
     for v in (float("nan"), float("inf"), -1, 2.5, True)]
    + [("seed", v) for v in (float("nan"), float("inf"), 2.5, True)]
    + [(o, v) for o in ("temperature", "sample_temperature", "top_p")
       for v in (float("nan"), float("inf"), -1, True)]
    + [("max_tokens", 0), ("top_p", 0), ("top_p", 2.5)])


@pytest.mark.parametrize("option, value", _BAD_EDGE_OPTIONS, ids=repr)
def test_edge_lm_refuses_a_bad_numeric_option_before_generating(lm, option, value):
    with pytest.raises(ParameterError, match=option):
        EdgeLM(lm, **{option: value}).predict("the capital of italy is")


@pytest.mark.parametrize("option, value", [o for o in _BAD_EDGE_OPTIONS if o[0] != "sample_temperature"],
                         ids=repr)
def test_edge_lm_refuses_a_bad_per_query_override(lm, option, value):
    with pytest.raises(ParameterError, match=option):
        EdgeLM(lm).predict("the capital of italy is", **{option: value})


def test_edge_lm_takes_numeric_options_given_as_text(lm):
    edge = EdgeLM(lm, max_tokens="1", num_samples="2", top_p="0.9", seed=None)
    answer = edge.predict("the capital of italy is")
    assert answer.text == " rome" and len(answer.samples) == 2


@pytest.mark.parametrize("history", [float("nan"), -1, 2.5, True], ids=repr)
def test_metrics_refuse_a_history_that_is_not_a_count(history):
    with pytest.raises(ParameterError, match="history must be a whole number >= 0"):
        LLMMetrics(history=history)


def test_edge_lm_takes_a_negative_seed(lm):
    first = EdgeLM(lm, seed=-3, temperature=1.5).predict("the capital of")
    again = EdgeLM(lm, seed="-3", temperature=1.5).predict("the capital of")
    assert first.text == again.text
