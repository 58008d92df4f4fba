"""EdgeLM.generate checks its options once before a model sees them; every generate() checks its prompt."""

from __future__ import annotations

import pytest

from sedna_lib.exceptions import DataError, ParameterError
from sedna_lib.llm import EdgeLM, NGramLanguageModel
from sedna_lib.llm.transformers_lm import TransformersLM
from sedna_lib.transport.openai_wire import TokenStep


class EchoLM:
    """A language model of one's own: it trusts the options it gets and records them."""

    def __init__(self):
        self.calls = []

    def generate(self, prompt, *, max_tokens=64, temperature=0.0, top_p=1.0, seed=None, top_logprobs=0):
        self.calls.append({"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
                           "seed": seed, "top_logprobs": top_logprobs})
        return iter([TokenStep(w) for w in prompt.split()[:max_tokens]])

    def count_tokens(self, text):
        return len(text.split())


class PredictOnly:
    """An estimator with only predict(prompt) -> text."""

    def __init__(self):
        self.prompts = []

    def predict(self, prompt):
        self.prompts.append(prompt)
        return "an answer"


@pytest.fixture(scope="module")
def ngram():
    return NGramLanguageModel(order=2).fit(["the capital of italy is rome ."])


BAD = [("max_tokens", 0), ("max_tokens", 2.5), ("temperature", float("nan")), ("top_p", 0), ("seed", 1.5),
       ("top_logprobs", -1)]


@pytest.mark.parametrize("option, value", BAD, ids=repr)
def test_edge_generate_refuses_a_bad_option_before_a_model_of_ones_own_runs(option, value):
    own = EchoLM()
    with pytest.raises(ParameterError, match=f"^{option} must be"):
        EdgeLM(own).generate("a b c", **{option: value})
    assert own.calls == []


def test_edge_generate_checks_the_options_of_a_predict_only_model():
    model = PredictOnly()
    with pytest.raises(ParameterError, match="^max_tokens must be a whole number >= 1, got -1"):
        EdgeLM(model).generate("a question", max_tokens=-1)
    assert model.prompts == []
    assert [s.text for s in EdgeLM(model).generate("a question", max_tokens=1)] == ["an"]


def test_edge_generate_gives_the_model_the_options_as_plain_numbers():
    own = EchoLM()
    steps = list(EdgeLM(own).generate("a b c", max_tokens="2", temperature="0.5", top_p=1, seed=-3.0,
                                      top_logprobs=0.0))
    assert [s.text for s in steps] == ["a", "b"]
    assert own.calls == [{"max_tokens": 2, "temperature": 0.5, "top_p": 1.0, "seed": -3, "top_logprobs": 0}]
    assert type(own.calls[0]["max_tokens"]) is int and type(own.calls[0]["temperature"]) is float


@pytest.mark.parametrize("prompt", [3, None, b"the capital", ["the capital"], {"prompt": "the capital"}],
                         ids=repr)
def test_generate_refuses_a_prompt_that_is_not_a_string(ngram, prompt):
    own = EchoLM()
    for lm in (ngram, EdgeLM(own), EdgeLM(ngram), TransformersLM("/no/such/model")):  # checked before a load
        with pytest.raises(DataError, match=f"^prompt must be a string .*got {type(prompt).__name__}: "):
            lm.generate(prompt)  # when called, not only once iterated
    assert own.calls == []
