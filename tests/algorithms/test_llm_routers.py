"""Routers of language-model queries: confidence statistics, budgets, the oracle and the learned router."""

import numpy as np
import pytest

from sedna_lib.exceptions import DataError, NotFittedError, ParameterError
from sedna_lib.registry import Kind, default_registry

ROUTERS = ("MeanLogProb", "MinLogProb", "TokenEntropy", "SelfConsistency")


def _generation(rng, confident):
    """A generation whose tokens are likely (confident) or torn between alternatives."""
    n = int(rng.integers(1, 5))
    top_p = 0.9 if confident else 0.4
    answer = "paris" if confident or rng.random() < 0.3 else str(rng.choice(["lyon", "nice", "lille"]))
    samples = ["paris"] * 3 if confident else [str(s) for s in rng.choice(["paris", "lyon", "nice"], size=3)]
    lp = np.log(rng.uniform(top_p - 0.05, top_p + 0.05, size=n))
    top = [{"a": float(v), "b": float(np.log((1 - np.exp(v)) * 0.9))} for v in lp]
    return {"text": answer, "token_logprobs": lp.tolist(), "top_logprobs": top, "samples": samples}


def _create(name, **params):
    return default_registry.create(Kind.HARD_EXAMPLE_MINING, name, **params)


def test_every_router_is_registered_under_the_miner_door():
    names = set(default_registry.names(Kind.HARD_EXAMPLE_MINING))
    assert {"EdgeOnly", "CloudOnly", "Random", "Oracle", "MeanLogProb", "MinLogProb", "TokenEntropy",
            "SelfConsistency", "LearnedRouter"} <= names


@pytest.mark.parametrize("name", ROUTERS)
def test_confidence_router_sends_the_unsure_answers_and_keeps_the_sure_ones(name):
    rng = np.random.default_rng(0)
    sure = [_generation(rng, True) for _ in range(50)]
    unsure = [_generation(rng, False) for _ in range(50)]
    params = {"MinLogProb": {"threshold_prob": 0.6}, "TokenEntropy": {"threshold_entropy": 0.6}}
    router = _create(name, **params.get(name, {}))
    scores = router.score(sure + unsure)
    assert scores[:50].max() < scores[50:].min() or name == "SelfConsistency"
    assert not router.is_hard(sure).any()
    assert router.is_hard(unsure).mean() > 0.6


@pytest.mark.parametrize("name", ROUTERS)
@pytest.mark.parametrize("ratio", [0.2, 0.5])
def test_upload_ratio_keeps_the_cloud_share_within_two_points_on_a_stream(name, ratio):
    rng = np.random.default_rng(1)
    router = _create(name, upload_ratio=str(ratio))  # a string, as HEM_PARAMETERS gives it
    flags = [router(_generation(rng, rng.random() < 0.7)) for _ in range(1500)]
    assert abs(np.mean(flags) - ratio) <= 0.02


def test_routers_read_openai_chat_and_completion_replies():
    chat = {"choices": [{"message": {"role": "assistant", "content": "Paris"},
                         "logprobs": {"content": [{"token": "Paris", "logprob": -2.5,
                                                   "top_logprobs": [{"token": "Paris", "logprob": -2.5},
                                                                    {"token": "Lyon", "logprob": -0.2}]}]}},
                        {"message": {"content": "Lyon"}}]}
    completion = {"choices": [{"text": " Paris", "logprobs": {"tokens": [" Paris"], "token_logprobs": [-0.01],
                                                              "top_logprobs": [{" Paris": -0.01}]}}]}
    assert _create("MeanLogProb")(chat) is True
    assert _create("MeanLogProb")(completion) is False
    assert _create("TokenEntropy", threshold_entropy=0.3)(chat) is True
    assert _create("SelfConsistency")(chat) is True  # "Paris" vs "Lyon": agreement 0.5


def test_a_positive_log_probability_is_a_data_error_naming_the_field():
    with pytest.raises(DataError, match="token_logprobs must be log-probabilities"):
        _create("MeanLogProb")({"text": "a", "token_logprobs": [0.7]})


def test_a_plain_text_answer_is_refused_with_the_fix():
    with pytest.raises(DataError, match="do not turn them into text before mining"):
        _create("MinLogProb")(42)


@pytest.mark.parametrize("name", ROUTERS)
def test_a_confidence_router_given_the_query_says_which_mode_it_needs(name):
    with pytest.raises(DataError, match="MINING_MODE=inference-then-mining"):
        _create(name)("What is the capital of France?")


def test_self_consistency_without_samples_says_how_to_get_them():
    with pytest.raises(DataError, match="num_samples"):
        _create("SelfConsistency")({"text": "a", "token_logprobs": [-0.1]})


def test_an_out_of_range_threshold_is_a_parameter_error():
    with pytest.raises(ParameterError, match=r"threshold_prob must be a finite number in \[0, 1\]"):
        _create("MeanLogProb", threshold_prob=1.5)({"text": "a", "token_logprobs": [-0.1]})
    with pytest.raises(ParameterError, match="threshold_entropy must be a finite number >= 0"):
        _create("TokenEntropy", threshold_entropy=-1)({"text": "a", "token_logprobs": [-0.1]})


def test_oracle_flags_exactly_the_wrong_edge_answers():
    oracle = _create("Oracle", labels={"q1": "Paris", "q2": ["Nice", "Nizza"]})
    batch = [{"prompt": "q1", "text": "paris.", "token_logprobs": [-3.0]},
             {"prompt": "q1", "text": "Lyon", "token_logprobs": [-0.01]},
             {"prompt": "q2", "text": "Nizza", "token_logprobs": [-0.01]},
             {"prompt": "other", "text": "x", "reference": "x"}]
    assert oracle.is_hard(batch).tolist() == [False, True, False, False]


def test_oracle_routes_queries_before_generation_from_recorded_outcomes():
    oracle = _create("Oracle", edge_correct={"easy": True, "hard": False})
    assert [oracle("easy"), oracle({"messages": [{"role": "user", "content": "hard"}]})] == [False, True]
    with pytest.raises(DataError, match="no recorded edge outcome"):
        oracle("unknown")


def test_oracle_without_a_reference_says_what_to_pass():
    with pytest.raises(DataError, match="labels="):
        _create("Oracle")({"prompt": "q", "text": "a", "token_logprobs": [-0.1]})


def _queries(n, rng):
    hard_words, easy_words = ["integral", "theorem", "proof", "lemma"], ["hello", "weather", "time", "name"]
    queries, hard = [], []
    for _ in range(n):
        is_hard = rng.random() < 0.4
        words = rng.choice(hard_words if is_hard else easy_words, size=3)
        queries.append("please " + " ".join(words))
        hard.append(is_hard)
    return queries, np.asarray(hard)


def test_learned_router_learns_which_queries_fail_and_survives_a_save_and_load(tmp_path):
    rng = np.random.default_rng(2)
    train_q, train_y = _queries(300, rng)
    test_q, test_y = _queries(200, rng)
    router = _create("LearnedRouter").fit(train_q, train_y)
    assert (router.is_hard(test_q) == test_y).mean() > 0.95
    path = router.save(str(tmp_path / "router.npz"))
    loaded = _create("LearnedRouter", model_path=path)
    assert np.allclose(loaded.predict_proba(test_q), router.predict_proba(test_q))
    # both mining modes: the query itself, or the edge's generation carrying its prompt
    generations = [{"prompt": q, "text": "x", "token_logprobs": [-0.1]} for q in test_q]
    assert (loaded.is_hard(generations) == router.is_hard(test_q)).all()


def test_learned_router_keeps_its_budget_within_two_points():
    rng = np.random.default_rng(3)
    train_q, train_y = _queries(300, rng)
    router = _create("LearnedRouter", upload_ratio=0.2).fit(train_q, train_y)
    stream, _ = _queries(1500, rng)
    assert abs(np.mean([router(q) for q in stream]) - 0.2) <= 0.02


def test_an_untrained_learned_router_says_how_to_train_it(tmp_path):
    with pytest.raises(NotFittedError, match="fit\\(queries, hard\\)"):
        _create("LearnedRouter")("a query")
    with pytest.raises(NotFittedError, match="does not exist"):
        _create("LearnedRouter", model_path=str(tmp_path / "missing.npz"))("a query")


def test_learned_router_checks_a_parameter_set_after_fitting_before_its_next_use():
    router = _create("LearnedRouter", n_features=64).fit(["easy one", "hard riddle"], [False, True])
    assert router.set_params(threshold=0.0).is_hard(["easy one"]).all()  # the new threshold decides
    with pytest.raises(ParameterError, match=r"LearnedRouter: threshold must be a finite number in \[0, 1\]"):
        router.set_params(threshold=float("nan"))("easy one")
    with pytest.raises(ParameterError, match="LearnedRouter: ngram must be a whole number >= 1"):
        router.set_params(threshold=0.5, ngram=0).predict_proba(["easy one"])
    with pytest.raises(DataError, match="trained on 64-wide embeddings, got 32"):
        router.set_params(ngram=3, n_features=32)("easy one")


def test_learned_router_refuses_mismatched_outcomes():
    with pytest.raises(DataError, match="as many outcomes as queries"):
        _create("LearnedRouter").fit(["a", "b"], [True])
