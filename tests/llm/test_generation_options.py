"""A language model checks its generation options itself, as EdgeLM does, when generate() is called."""

import math

import numpy as np
import pytest

from sedna_lib.exceptions import ParameterError
from sedna_lib.llm import NGramLanguageModel
from sedna_lib.transport._numbers import is_int, is_number
from sedna_lib.transport.openai_wire import check_generation_options

TEXT = ["the capital of france is paris .", "the capital of italy is rome ."]

# (option, value) pairs every model refuses, and the words of the error
BAD_OPTIONS = (
    [("max_tokens", v) for v in (0, -1, 2.5, float("nan"), float("inf"), True)]
    + [("top_logprobs", v) for v in (-1, 2.5, float("nan"), True)]
    + [("temperature", v) for v in (-0.5, float("nan"), float("inf"), True)]
    + [("top_p", v) for v in (0, -0.1, 1.5, float("nan"), True)]
    + [("seed", v) for v in (2.5, float("nan"), float("inf"), True)])


@pytest.fixture(scope="module")
def lm():
    return NGramLanguageModel(order=3, name="tiny").fit(TEXT)


@pytest.mark.parametrize("option, value", BAD_OPTIONS, ids=repr)
def test_ngram_generate_refuses_a_bad_option_when_called(lm, option, value):
    with pytest.raises(ParameterError, match=f"^{option} must be"):
        lm.generate("the capital of italy is", **{option: value})  # not only once iterated


@pytest.mark.parametrize("option, value", [("max_tokens", -1), ("temperature", float("nan")), ("top_p", 2)])
def test_ngram_predict_refuses_a_bad_option(lm, option, value):
    with pytest.raises(ParameterError, match=option):
        lm.predict("the capital of italy is", **{option: value})


def test_ngram_generate_takes_good_options_as_the_checks_read_them(lm):
    steps = list(lm.generate("the capital of italy is", max_tokens="1", temperature=np.float32(0.0),
                             top_p=1, seed=np.int64(-3), top_logprobs=2))
    assert [s.text for s in steps] == [" rome"] and len(steps[0].top_logprobs) == 2

    def draw(seed):
        return [s.text for s in lm.generate("the capital of", temperature=1.5, seed=seed)]

    assert draw(5.0) == draw(5) and draw("-2") == draw(-2)  # whole numbers, as EdgeLM reads them


def test_the_shared_check_returns_plain_numbers():
    checked = check_generation_options(max_tokens=np.int64(4), temperature="0.5", top_p=1, seed=None,
                                       top_logprobs=0)
    assert checked == {"max_tokens": 4, "temperature": 0.5, "top_p": 1.0, "seed": None, "top_logprobs": 0}
    assert type(checked["max_tokens"]) is int and type(checked["top_p"]) is float


@pytest.mark.parametrize("value, integer, number", [
    (3, True, True), (-2 ** 70, True, True), (True, False, False), (False, False, False),
    (2.0, False, True), (math.nan, False, True), ("3", False, False), (None, False, False),
    (np.int64(3), False, False), (np.bool_(True), False, False),
])
def test_number_kinds_refuse_bools_and_text(value, integer, number):
    assert is_int(value) is integer and is_number(value) is number


def test_numpy_integers_are_ints_when_asked():
    assert is_int(np.int32(5), numpy=True) and is_int(7, numpy=True)
    assert not is_int(np.bool_(True), numpy=True) and not is_int(np.float64(5.0), numpy=True)
