"""The preset algorithms check their numeric parameters where they are first put to use.

A NaN, an infinity, a value out of range, a fraction where a whole number is meant, or a bool
(``True`` is not a count nor a threshold) is a ParameterError naming the parameter, raised before
any work; it is never clamped, truncated, or left to make the algorithm a silent no-op. A number
written as text, as a control plane writes parameters, is read as that number.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from sedna_lib.algorithms.client_choose.simple import SimpleClientChoose
from sedna_lib.algorithms.hard_example_mining import (
    CrossEntropyFilter,
    IBTFilter,
    LearnedRouter,
    MarginFilter,
    MeanLogProbRouter,
    MinLogProbRouter,
    RandomFilter,
    SelfConsistencyRouter,
    ThresholdFilter,
    TokenEntropyRouter,
)
from sedna_lib.algorithms.hard_example_mining._budget import OnlineQuantileBudget
from sedna_lib.algorithms.hard_example_mining.learned_router import embed_queries
from sedna_lib.algorithms.lifelong import (
    ModelProbeFilter,
    SampleRegonitionDefault,
    TaskAllocationByDataAttr,
    TaskAllocationByNearestTask,
    TaskDefinitionByCluster,
    TaskDefinitionByDataAttr,
    TaskDefinitionBySVC,
)
from sedna_lib.algorithms.reid import ReIDMatcher
from sedna_lib.algorithms.reid.close_contact_estimation import ContactTracker
from sedna_lib.base import Task
from sedna_lib.exceptions import ParameterError
from sedna_lib.lifelong_learning import Samples
from sedna_lib.lifelong_learning._data import build_profiles

NAN, INF = float("nan"), float("inf")
NOT_A_UNIT = [NAN, INF, -INF, -0.1, 1.5, True, False, None, "half"]  # for a value in [0, 1]

DETECTIONS = [[[0, 0, 4, 4, 0.3, 1], [0, 0, 4, 4, 0.9, 0]], [[0, 0, 4, 4, 0.95, 1]], []]
PROBABILITIES = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]
GENERATIONS = [{"text": "paris", "token_logprobs": [-0.1, -0.2], "samples": ["paris", "Paris."],
                "top_logprobs": [{"a": -0.1, "b": -2.5}, {"a": -0.2, "b": -1.8}]},
               {"text": "lyon", "token_logprobs": [-2.0], "samples": ["nice", "lille"],
                "top_logprobs": [{"a": -0.7, "b": -0.7}]}]
QUERIES = ["what is the capital of france", "module of sqrt two", "prove the riemann hypothesis",
           "count the primes under a billion"]
OUTCOMES = [False, False, True, True]
CLIENTS = [f"c{i}" for i in range(6)]


# -- hard-example miners and routers: thresholds and budgets in [0, 1] ---------------------------

UNIT_PARAMETERS = [
    (ThresholdFilter, "threshold", DETECTIONS),
    (ThresholdFilter, "upload_ratio", DETECTIONS),
    (IBTFilter, "threshold_img", DETECTIONS),
    (IBTFilter, "threshold_box", DETECTIONS),
    (IBTFilter, "upload_ratio", DETECTIONS),
    (CrossEntropyFilter, "threshold_cross_entropy", PROBABILITIES),
    (CrossEntropyFilter, "upload_ratio", PROBABILITIES),
    (MarginFilter, "threshold_margin", PROBABILITIES),
    (MarginFilter, "upload_ratio", PROBABILITIES),
    (RandomFilter, "random_ratio", PROBABILITIES),
    (MeanLogProbRouter, "threshold_prob", GENERATIONS),
    (MinLogProbRouter, "threshold_prob", GENERATIONS),
    (MinLogProbRouter, "upload_ratio", GENERATIONS),
    (TokenEntropyRouter, "upload_ratio", GENERATIONS),
    (SelfConsistencyRouter, "threshold_agreement", GENERATIONS),
    (SelfConsistencyRouter, "upload_ratio", GENERATIONS),
]


UNIT_CASES = [(cls, name, batch, value) for cls, name, batch in UNIT_PARAMETERS for value in NOT_A_UNIT
              if not (name == "upload_ratio" and value is None)]  # None: no budget, the fixed rule decides


@pytest.mark.parametrize(("cls", "name", "batch", "value"), UNIT_CASES,
                         ids=[f"{c.__name__}-{n}-{v!r}" for c, n, _, v in UNIT_CASES])
def test_miner_refuses_a_threshold_or_ratio_outside_the_unit_interval(cls, name, batch, value):
    miner = cls(**{name: value})  # constructors only store

    with pytest.raises(ParameterError, match=rf"^{cls.__name__}: {name} must be a finite number in \[0, 1\]"):
        miner.is_hard(batch)
    with pytest.raises(ParameterError, match=name):
        miner(batch[0])


@pytest.mark.parametrize(("cls", "name", "batch"), UNIT_PARAMETERS,
                         ids=[f"{c.__name__}-{n}" for c, n, _ in UNIT_PARAMETERS])
def test_miner_reads_a_threshold_or_ratio_given_as_text(cls, name, batch):
    extra = {"seed": 3} if cls is RandomFilter else {}
    as_text, as_number = cls(**{name: "0.5"}, **extra), cls(**{name: 0.5}, **extra)

    assert as_text.is_hard(batch * 4).tolist() == as_number.is_hard(batch * 4).tolist()


def test_learned_router_refuses_a_bool_threshold_or_ratio():
    trained = LearnedRouter().fit(QUERIES, OUTCOMES)
    for params in ({"threshold": True}, {"upload_ratio": True}, {"threshold": NAN}):
        match = f"LearnedRouter: {next(iter(params))} must be a finite"
        with pytest.raises(ParameterError, match=match):
            LearnedRouter(**params).fit(QUERIES, OUTCOMES)
        with pytest.raises(ParameterError, match=match):
            trained.clone().set_params(**params).is_hard(QUERIES)


@pytest.mark.parametrize("value", [INF, NAN, -1, True, "many"], ids=repr)
def test_token_entropy_router_refuses_an_infinite_or_bool_threshold(value):
    # an infinite threshold would send nothing to the cloud, whatever the edge answered
    router = TokenEntropyRouter(threshold_entropy=value)

    message = "TokenEntropyRouter: threshold_entropy must be a finite number >= 0,"
    with pytest.raises(ParameterError, match=message):
        router.is_hard(GENERATIONS)


@pytest.mark.parametrize("value", [-1, 2.5, True, NAN, INF], ids=repr)
def test_random_filter_refuses_a_seed_that_is_not_a_whole_number(value):
    miner = RandomFilter(random_ratio=0.5, seed=value)

    with pytest.raises(ParameterError, match="RandomFilter: seed must be a whole number >= 0"):
        miner.is_hard(PROBABILITIES)
    assert getattr(miner, "rng_", None) is None  # refused before the stream was seeded


def test_random_filter_reads_a_seed_given_as_text():
    assert (RandomFilter(random_ratio=0.5, seed="7").is_hard([None] * 50).tolist()
            == RandomFilter(random_ratio=0.5, seed=7).is_hard([None] * 50).tolist())


@pytest.mark.parametrize(("params", "message"), [
    *[({"ratio": v}, r"ratio must be a finite number in \[0, 1\]") for v in (NAN, INF, -0.1, 1.5, True)],
    *[({"window": v}, "window must be a whole number >= 1") for v in (0, -3, 2.5, True, NAN)],
    *[({"slack": v}, "slack must be a finite number >= 0") for v in (NAN, INF, -1.0, True)],
])
def test_upload_budget_refuses_a_ratio_window_or_slack_out_of_range(params, message):
    # a window of 0 would take each quantile over the current batch alone; a NaN slack fail at the first batch
    with pytest.raises(ParameterError, match=message):
        OnlineQuantileBudget(**{"ratio": 0.3, **params})


def test_upload_budget_reads_values_given_as_text():
    scores = np.random.default_rng(0).random(300)
    as_text = OnlineQuantileBudget("0.3", window="64", slack="2")
    as_number = OnlineQuantileBudget(0.3, window=64, slack=2.0)

    assert as_text.decide(scores).tolist() == as_number.decide(scores).tolist()


# -- the learned router: embedding sizes, penalty, training schedule ------------------------------

@pytest.mark.parametrize(("name", "value"), [
    *[("n_features", v) for v in (2.5, True, INF, NAN, 0)],
    *[("ngram", v) for v in (2.5, True, INF, NAN, 0)],
])
def test_learned_router_refuses_an_embedding_size_that_is_not_a_whole_number(name, value):
    # truncating 2.5 to 2, or reading True as 1, would build an embedding nobody asked for
    router = LearnedRouter(**{name: value})

    with pytest.raises(ParameterError, match=f"LearnedRouter: {name} must be a whole number >= 1"):
        router.fit(QUERIES, OUTCOMES)
    assert getattr(router, "coef_", None) is None


@pytest.mark.parametrize("value", [NAN, INF, -1.0, True], ids=repr)
def test_learned_router_refuses_a_penalty_that_is_not_a_finite_number_at_least_zero(value):
    # a NaN penalty would train NaN weights, and every prediction would be NaN
    with pytest.raises(ParameterError, match="LearnedRouter: l2 must be a finite number >= 0"):
        LearnedRouter(l2=value).fit(QUERIES, OUTCOMES)


@pytest.mark.parametrize(("name", "value", "rule"), [
    *[("epochs", v, "a whole number >= 1") for v in (0, -1, 2.5, True, NAN)],
    *[("learning_rate", v, "a finite number > 0") for v in (0.0, -0.5, NAN, INF, True)],
])
def test_learned_router_fit_refuses_a_schedule_that_would_not_train(name, value, rule):
    # no epoch (or a zero step) would leave the router at its prior; a NaN step would make NaN weights
    router = LearnedRouter()

    with pytest.raises(ParameterError, match=f"{name} must be {rule}"):
        router.fit(QUERIES, OUTCOMES, **{name: value})
    assert getattr(router, "coef_", None) is None


def test_learned_router_reads_sizes_given_as_text():
    as_text = LearnedRouter(n_features="256", ngram="2", l2="0.001").fit(QUERIES, OUTCOMES, epochs="50")
    as_number = LearnedRouter(n_features=256, ngram=2, l2=0.001).fit(QUERIES, OUTCOMES, epochs=50)

    assert np.array_equal(as_text.predict_proba(QUERIES), as_number.predict_proba(QUERIES))


@pytest.mark.parametrize(("name", "value"), [("n_features", 0), ("n_features", 2.5), ("ngram", True),
                                             ("ngram", 0)])
def test_embed_queries_refuses_sizes_that_are_not_whole_numbers(name, value):
    with pytest.raises(ParameterError, match=f"{name} must be a whole number >= 1"):
        embed_queries(QUERIES, **{name: value})


# -- client selection ---------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "call", "message"), [
    *[({"per_round": v}, {}, "per_round must be a whole number >= 1") for v in (2.5, True, NAN, INF, 0)],
    *[({"fraction": v}, {}, r"fraction must be a finite number in \(0, 1\]") for v in (True, NAN, 0, 1.5)],
    *[({"min_clients": v}, {}, "min_clients must be a whole number >= 0") for v in (2.5, True, NAN, INF, -1)],
    *[({"seed": v}, {}, "seed must be a whole number >= 0") for v in (2.5, True, NAN, INF, -1)],
    *[({"seed": 1}, {"round_number": v}, "round_number must be a whole number >= 0")
      for v in (2.5, True, NAN, -1)],
])
def test_client_chooser_refuses_counts_that_are_not_whole_numbers(params, call, message):
    # 2.5 clients per round are not truncated to 2, nor is True read as 1
    chooser = SimpleClientChoose(**params)

    with pytest.raises(ParameterError, match=message):
        chooser.choose(CLIENTS, **call)


def test_client_chooser_reads_counts_given_as_text_or_as_whole_floats():
    reference = SimpleClientChoose(per_round=3, min_clients=1, seed=4).choose(CLIENTS, round_number=2)

    assert SimpleClientChoose(per_round="3", min_clients="1", seed="4").choose(CLIENTS, "2") == reference
    assert SimpleClientChoose(per_round=3.0, min_clients=1.0, seed=4.0).choose(CLIENTS, 2.0) == reference
    assert SimpleClientChoose(per_round="3").parameters == {"per_round": 3}
    assert len(SimpleClientChoose(fraction="0.5", min_clients=0).choose(CLIENTS)) == 3


# -- re-identification and close contact ----------------------------------------------------------

GALLERY, IDENTITIES = [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], ["alice", "bob", "carol"]


@pytest.mark.parametrize("value", [NAN, INF, -INF, 1.5, -1.5, True, None],
                         ids=repr)
def test_reid_matcher_refuses_a_threshold_that_no_similarity_can_cross(value):
    # a NaN or 1.5 threshold would name every query unknown; -inf every query someone
    matcher = ReIDMatcher(threshold=value)

    with pytest.raises(ParameterError, match=r"threshold must be a finite number in \[-1, 1\]"):
        matcher.fit(GALLERY, IDENTITIES)
    assert not hasattr(matcher, "gallery_")


def test_reid_matcher_checks_a_threshold_changed_after_fit():
    matcher = ReIDMatcher(threshold=0.9).fit(GALLERY, IDENTITIES)
    matcher.set_params(threshold=NAN)

    with pytest.raises(ParameterError, match="threshold"):
        matcher.predict([[0.9, 0.1]])


def test_reid_matcher_without_normalisation_takes_any_finite_threshold():
    matcher = ReIDMatcher(threshold=3.0, normalize=False).fit([[2.0, 0.0], [0.0, 4.0]], ["a", "b"])

    assert matcher.predict([[2.0, 0.0], [0.0, 1.0]]).tolist() == ["a", "b"]
    with pytest.raises(ParameterError, match="threshold must be a finite number, got inf"):
        ReIDMatcher(threshold=INF, normalize=False).fit(GALLERY, IDENTITIES)


def test_reid_matcher_reads_top_k_and_threshold_given_as_text():
    query = [[0.9, 0.2], [0.1, 0.95]]
    as_text = ReIDMatcher(top_k="2", threshold="0.9").fit(GALLERY, IDENTITIES)
    as_number = ReIDMatcher(top_k=2, threshold=0.9).fit(GALLERY, IDENTITIES)

    assert as_text.kneighbors(query)[0].tolist() == as_number.kneighbors(query)[0].tolist()
    assert as_text.predict(query).tolist() == as_number.predict(query).tolist()


@pytest.mark.parametrize("name", ["h_ratio", "v_ratio"])
@pytest.mark.parametrize("value", [NAN, INF, -0.5, 1.0, 2.5, True], ids=repr)
def test_contact_tracker_refuses_a_perspective_ratio_outside_zero_to_one(name, value):
    # at 1 the far edge of the ground collapses (a singular homography); above it the ground is mirrored
    tracker = ContactTracker()

    with pytest.raises(ParameterError, match=rf"{name} must be a finite number in \[0, 1\)"):
        tracker.prep_homography((240, 320, 3), (100, 60, 140, 180), **{name: value})
    assert tracker.homography_matrix is None and tracker.ellipse_target is None


def test_contact_tracker_reads_ratios_given_as_text():
    as_text, as_number = ContactTracker(), ContactTracker()
    as_text.prep_homography((240, 320, 3), (100, 60, 140, 180), "0.4", "0.6")
    as_number.prep_homography((240, 320, 3), (100, 60, 140, 180), 0.4, 0.6)

    assert np.array_equal(as_text.homography_matrix, as_number.homography_matrix)
    assert as_text.ellipse_target == as_number.ellipse_target


# -- lifelong learning: unseen-sample detection, task definition and allocation -------------------

@pytest.fixture(scope="module")
def digits_tasks():
    """Two tasks of real digits (0-4 and 5-9), their profiles, and a model trained on them."""
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    low, high = y[:600] < 5, y[:600] >= 5
    profiles = build_profiles([Samples(x[:600][low], y[:600][low]), Samples(x[:600][high], y[:600][high])])
    model = LogisticRegression(max_iter=300).fit(x[:600], y[:600])
    return x, y, profiles, model


@pytest.mark.parametrize(("name", "value", "rule"), [
    *[("k", v, "a whole number >= 1") for v in (2.5, True, NAN, INF, 0)],
    *[("quantile", v, r"a finite number in \(0, 1\]") for v in (True, NAN, 0, 1.5)],
    *[("threshold", v, "a finite number >= 0") for v in (NAN, INF, -1.0, True)],
    *[("margin", v, "a finite number > 0") for v in (NAN, INF, -1.0, 0, True)],
])
def test_unseen_sample_recognition_refuses_bad_parameters(digits_tasks, name, value, rule):
    # a NaN threshold or margin would call every sample unseen, an infinite one every sample seen
    x, _, profiles, _ = digits_tasks
    recognizer = SampleRegonitionDefault(task_index={"seen_task": {"profiles": profiles}}, **{name: value})

    with pytest.raises(ParameterError, match=f"{name} must be {rule}"):
        recognizer(Samples(x[1000:1100]))
    assert not hasattr(recognizer, "threshold_")


def test_unseen_sample_recognition_reads_parameters_given_as_text(digits_tasks):
    x, _, profiles, _ = digits_tasks
    index = {"seen_task": {"profiles": profiles}}
    as_text = SampleRegonitionDefault(task_index=index, k="3", quantile="0.95", margin="1.2").fit()
    as_number = SampleRegonitionDefault(task_index=index, k=3, quantile=0.95, margin=1.2).fit()

    assert as_text.threshold_ == as_number.threshold_
    assert np.array_equal(as_text.score(x[1000:1100]), as_number.score(x[1000:1100]))


@pytest.mark.parametrize("value", [0, -1, 2.5, True, NAN], ids=repr)
def test_nearest_task_allocation_refuses_a_neighbour_count_that_is_not_a_whole_number(digits_tasks, value):
    # 0 or -1 neighbours are not raised to 1, nor 2.5 truncated to 2
    x, _, profiles, _ = digits_tasks

    with pytest.raises(ParameterError, match="k must be a whole number >= 1"):
        TaskAllocationByNearestTask(task_profiles=profiles, k=value)(Samples(x[1000:1010]))


@pytest.mark.parametrize("value", [NAN, INF, -0.1, 1.5, True, "sure"], ids=repr)
def test_model_probe_filter_refuses_a_threshold_outside_the_unit_interval(digits_tasks, value):
    # a NaN threshold would call every batch seen, whatever the models said
    x, _, _, model = digits_tasks
    task = Task("digits", Samples(x[1000:1050]))
    task.model = model

    with pytest.raises(ParameterError, match=r"threshold must be a finite number in \[0, 1\]"):
        ModelProbeFilter()([task], threshold=value)
    assert ModelProbeFilter()([task], threshold="0.5") is ModelProbeFilter()([task], threshold=0.5)


@pytest.mark.parametrize(("cls", "params", "message"), [
    *[(TaskDefinitionBySVC, {"n_class": v}, "n_class must be a whole number >= 2")
      for v in (2.5, NAN, INF, True)],
    *[(TaskDefinitionByCluster, {"n_class": v}, "n_class must be a whole number >= 1")
      for v in (2.5, NAN, True)],
    *[(TaskDefinitionByCluster, {"random_state": v}, "random_state must be a whole number >= 0")
      for v in (2.5, NAN, True, -1)],
])
def test_task_definition_refuses_a_cluster_count_that_is_not_whole(digits_tasks, cls, params, message):
    # 2.5 tasks are not truncated to 2, nor True read as 1 (one task: no split at all)
    x, y, _, _ = digits_tasks

    with pytest.raises(ParameterError, match=message):
        cls(**params)(Samples(x[:200], y[:200]))


def test_task_definition_reads_cluster_counts_given_as_text(digits_tasks):
    x, y, _, _ = digits_tasks
    samples = Samples(x[:200], y[:200])

    tasks, extractor, _ = TaskDefinitionByCluster(n_class="3", random_state="1")(samples)
    twin, twin_extractor, _ = TaskDefinitionByCluster(n_class=3, random_state=1)(samples)

    assert [t.samples.inx for t in tasks] == [t.samples.inx for t in twin]
    assert np.array_equal(extractor["centroids"], twin_extractor["centroids"])
    assert len(TaskDefinitionBySVC(n_class="2")(samples)[0]) == 2


@pytest.mark.parametrize("value", [-1, 2.5, True, NAN], ids=repr)
def test_allocation_by_attribute_refuses_a_default_task_that_is_not_a_task_index(value):
    # -1 would send unknown combinations to the last task, 2.5 to task 2
    import pandas as pd

    train = Samples(pd.DataFrame({"city": ["a", "b", "a"], "f": [1.0, 2.0, 3.0]}), [0, 1, 0])
    _, extractor, _ = TaskDefinitionByDataAttr(attribute=["city"])(train)
    allocate = TaskAllocationByDataAttr(task_extractor=extractor, attribute=["city"], default=value)

    with pytest.raises(ParameterError, match="default must be a whole number >= 0"):
        allocate(Samples(pd.DataFrame({"city": ["a", "z"], "f": [1.0, 2.0]})))
    assert TaskAllocationByDataAttr(task_extractor=extractor, attribute=["city"], default="1")(
        Samples(pd.DataFrame({"city": ["a", "z"], "f": [1.0, 2.0]})))[1] == [0, 1]
