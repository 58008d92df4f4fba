"""The question-answering helpers say what is wrong with their inputs, and how to give them."""

import pytest

from sedna_lib.exceptions import DataError, ParameterError
from sedna_lib.llm.qa import QAItem, fact_sentences, module_qa, split_knowledge

ITEMS = [QAItem("module of sqrt is", "math"), QAItem("module of dumps is", "json"),
         QAItem("module of dedent is", "textwrap"), QAItem("module of gcd is", "math")]


@pytest.mark.parametrize("modules, words", [
    ("math", "modules must be a non-empty sequence of module names"),
    ((), "modules must be a non-empty sequence"),
    (None, "modules must be a non-empty sequence"),
    (("math", 3), r"modules\[1\] must be a module name"),
    (("math", ""), r"modules\[1\] must be a module name"),
    (("no_such_module_here",), "none of the modules .* can be imported"),
])
def test_module_qa_refuses_what_is_not_a_list_of_module_names(modules, words):
    with pytest.raises(ParameterError, match=words):
        module_qa(modules)


def test_module_qa_skips_a_missing_module_next_to_a_real_one():
    assert {item.answer for item in module_qa(("math", "no_such_module_here"))} == {"math"}


@pytest.mark.parametrize("items, words", [
    ([], "items is empty"),
    ("module of sqrt is", "items must be a list of QAItem"),
    (None, "items must be a list of QAItem"),
    ([("module of sqrt is", "math")], r"items\[0\] must be a QAItem"),
    ([ITEMS[0], "module of gcd is"], r"items\[1\] must be a QAItem"),
])
@pytest.mark.parametrize("helper", [fact_sentences, split_knowledge])
def test_the_helpers_refuse_what_is_not_a_list_of_items(helper, items, words):
    with pytest.raises(DataError, match=f"{helper.__name__}: {words}"):
        helper(items)


@pytest.mark.parametrize("options, words", [
    ({"wrong": -0.1}, "wrong must be a finite number in"), ({"wrong": 1.5}, "wrong must be"),
    ({"wrong": float("nan")}, "wrong must be"), ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"seed": 1.5}, "seed must be"),
])
def test_fact_sentences_refuses_an_option_out_of_range(options, words):
    with pytest.raises(ParameterError, match=words):
        fact_sentences(ITEMS, **options)


def test_wrong_answers_need_two_different_answers():
    with pytest.raises(DataError, match="two different answers"):
        fact_sentences(ITEMS[:1], wrong=0.5)
    assert fact_sentences(ITEMS[:1]) == ["module of sqrt is math ."]
    assert len(fact_sentences(ITEMS, wrong=1.0)) == len(ITEMS)


@pytest.mark.parametrize("options, words", [
    ({"edge_share": float("nan")}, "edge_share must be a finite number in"),
    ({"edge_share": -0.5}, "edge_share must be"),
    ({"cloud_share": 1.5}, "cloud_share must be"),
    ({"edge_share": 0.9, "cloud_share": 0.5}, r"edge_share \(0.9\) must be <= cloud_share \(0.5\)"),
    ({"topic_skew": float("inf")}, "topic_skew must be"),
    ({"topic_skew": -0.2}, "topic_skew must be"),
    ({"seed": -3}, "seed must be a whole number >= 0"),
])
def test_split_knowledge_refuses_shares_out_of_range(options, words):
    with pytest.raises(ParameterError, match=words):
        split_knowledge(ITEMS, **options)


def test_split_knowledge_gives_the_edge_a_subset_of_the_clouds_facts():
    for options in ({}, {"topic_skew": 0.6}, {"edge_share": 0.0, "cloud_share": 0.0, "topic_skew": 0.5}):
        edge, cloud = split_knowledge(ITEMS, **options)
        assert set(edge) <= set(cloud)
