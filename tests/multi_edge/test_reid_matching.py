import numpy as np
import pytest

from sedna_lib.algorithms.reid import ReIDMatcher, cosine_similarity_score, match_query_to_targets, tensor_reshape
from sedna_lib.exceptions import DataError, NotFittedError, ParameterError
from sedna_lib.registry import Kind, default_registry


def test_cosine_similarity_is_the_dot_product_of_normalised_rows():
    q, c = np.array([[3.0, 4.0]]), np.array([[6.0, 8.0], [-4.0, 3.0]])

    sim = cosine_similarity_score(q, c, normalize=True)

    np.testing.assert_allclose(sim, [[1.0, 0.0]], atol=1e-12)


def test_match_query_to_targets_finds_the_best_candidate_in_avg_mode_too():
    query = [np.array([[1.0, 0.1]]), np.array([[0.9, 0.0]])]
    candidates = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])

    assert match_query_to_targets(query, candidates)[0] == 1
    assert match_query_to_targets(query, candidates, avg_mode=True)[0] == 1


def test_tensor_reshape_refuses_mismatched_dimensions():
    with pytest.raises(DataError, match="different dimensions"):
        tensor_reshape([np.ones((1, 3)), np.ones((1, 4))])


def test_matcher_top_k_and_threshold(rng):
    gallery = rng.normal(size=(6, 8))
    ids = ["a", "a", "b", "b", "c", "c"]
    matcher = ReIDMatcher(top_k=2, threshold=0.8).fit(gallery, ids)
    queries = np.vstack([gallery[0] + 0.01 * rng.normal(size=8), gallery[4], -gallery[2]])

    top_ids, top_scores = matcher.kneighbors(queries)
    predicted = matcher.predict(queries)

    assert top_ids.shape == (3, 2) and top_ids[0, 0] == "a" and top_ids[1, 0] == "c"
    assert np.all(np.diff(top_scores, axis=1) <= 0)
    assert predicted[0] == "a" and predicted[1] == "c"
    assert predicted[2] == "unknown" or top_scores[2, 0] >= 0.8


def test_matcher_is_registered_and_built_from_string_params():
    matcher = default_registry.create(Kind.REID, "ReIDMatcher", top_k="3", threshold="0.25")

    assert matcher.top_k == 3 and matcher.threshold == 0.25


def test_matcher_errors():
    with pytest.raises(NotFittedError, match="fit"):
        ReIDMatcher().predict([[1.0, 0.0]])
    with pytest.raises(ParameterError, match="top_k"):
        ReIDMatcher(top_k=0).fit([[1.0]], ["a"])
    with pytest.raises(DataError, match="one id per feature"):
        ReIDMatcher().fit([[1.0], [2.0]], ["a"])
    with pytest.raises(DataError, match="dimensions"):
        ReIDMatcher().fit([[1.0, 0.0]], ["a"]).predict([[1.0, 0.0, 0.0]])


def test_a_query_whose_features_are_nan_or_infinite_names_nobody():
    # its scores are NaN: 'score < threshold' is false for NaN and argmax of NaNs is 0, so the first person
    # in the gallery was named (an all-zero crop normalised gives NaN features)
    matcher = ReIDMatcher(threshold=0.5).fit([[1.0, 0.0], [0.0, 1.0]], ["alice", "bob"])
    with np.errstate(invalid="ignore"):
        got = matcher.predict(np.array([[np.nan, np.nan], [np.inf, 0.0], [0.0, 1.0]])).tolist()
    assert got == [matcher.unknown_id, matcher.unknown_id, "bob"]
