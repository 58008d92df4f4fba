import numpy as np
import pytest

from sedna_lib.algorithms.hard_example_mining import (
    CloudOnlyFilter,
    CrossEntropyFilter,
    EdgeOnlyFilter,
    IBTFilter,
    MarginFilter,
    ThresholdFilter,
)
from sedna_lib.algorithms.hard_example_mining._budget import OnlineQuantileBudget
from sedna_lib.exceptions import DataError, ParameterError
from sedna_lib.registry import default_registry

BOX_EASY = [[0, 0, 10, 10, 0.95, 1], [2, 2, 5, 5, 0.91, 0]]
BOX_HARD = [[0, 0, 10, 10, 0.95, 1], [2, 2, 5, 5, 0.30, 0]]


# -- Sedna's formulas ----------------------------------------------------------------------------

def test_threshold_flags_low_mean_box_confidence():
    miner = ThresholdFilter(threshold=0.7)
    assert miner(BOX_HARD) is True  # mean 0.625
    assert miner(BOX_EASY) is False


def test_ibt_uses_the_share_of_uncertain_boxes():
    miner = IBTFilter(threshold_img=0.9, threshold_box=0.9)
    assert miner(BOX_HARD) is True  # 1 of 2 boxes <= 0.9, 0.5 >= 0.1
    assert miner(BOX_EASY) is False


def test_ibt_boundary_is_inclusive_as_in_sedna():
    # 1 of 2 boxes uncertain: share 0.5 >= 1 - 0.5
    assert IBTFilter(threshold_img=0.5, threshold_box=0.5)([[0, 0, 1, 1, 0.5, 0], [0, 0, 1, 1, 0.9, 0]])


def test_cross_entropy_matches_the_normalised_entropy_formula():
    p = np.array([0.7, 0.2, 0.1])
    conf = 1 + np.sum(p * np.log(p)) / np.log(3)
    assert CrossEntropyFilter(threshold_cross_entropy=conf + 1e-9)(p) is True
    assert CrossEntropyFilter(threshold_cross_entropy=conf - 1e-9)(p) is False
    np.testing.assert_allclose(CrossEntropyFilter().score([p]), [1 - conf])


def test_margin_compares_top_two_probabilities():
    miner = MarginFilter(threshold_margin=0.3)
    assert miner.is_hard(np.array([[0.5, 0.3, 0.2], [0.8, 0.1, 0.1]])).tolist() == [True, False]


def test_edge_only_and_cloud_only_are_constant():
    assert EdgeOnlyFilter()([]) is False and CloudOnlyFilter()([]) is True
    assert EdgeOnlyFilter().is_hard(np.zeros((3, 2))).tolist() == [False] * 3


def test_random_ratio_from_a_crd_string_is_converted_by_the_registry():
    miner = default_registry.create("hard_example_mining", "Random", random_ratio="0.25", seed="1")
    assert 0.2 < miner.is_hard([0] * 4000).mean() < 0.3


# -- the original's defects, fixed ---------------------------------------------------------------

@pytest.mark.parametrize("miner", [ThresholdFilter(), IBTFilter()])
def test_an_empty_detection_list_is_hard(miner):
    assert miner([]) is True
    assert miner.is_hard([[], BOX_EASY]).tolist() == [True, False]


def test_cross_entropy_survives_zero_probabilities_and_one_class_vectors():
    assert CrossEntropyFilter()([1.0, 0.0]) is False
    assert CrossEntropyFilter()([1.0]) is False
    assert CrossEntropyFilter()([]) is True


def test_numpy_inputs_are_accepted_where_sedna_needed_lists():
    assert ThresholdFilter()(np.array(BOX_EASY)) is False
    assert IBTFilter().is_hard(np.array([BOX_EASY, BOX_HARD])).tolist() == [False, True]


def test_logits_are_refused_with_a_clear_error():
    with pytest.raises(DataError, match=r"must lie in \[0, 1\].*not logits"):
        CrossEntropyFilter()([2.5, -1.0])


def test_short_boxes_are_refused():
    with pytest.raises(DataError, match="boxes need at least 5 values"):
        IBTFilter()([[0, 0, 1, 1]])


def test_out_of_range_parameter_raises_on_first_use():
    miner = ThresholdFilter(threshold=1.5)  # constructors only store
    with pytest.raises(ParameterError, match=r"threshold must be a finite number in \[0, 1\], got 1.5"):
        miner([0.2, 0.8])


def test_unknown_parameter_is_refused_by_the_registry():
    with pytest.raises(ParameterError, match="threshold_imgs"):
        default_registry.create("hard_example_mining", "IBT", threshold_imgs="0.9")


# -- single sample and batch agree ---------------------------------------------------------------

@pytest.mark.parametrize("miner", [ThresholdFilter(), IBTFilter(), CrossEntropyFilter(), MarginFilter()])
def test_batch_decisions_equal_single_sample_decisions(miner, rng):
    probs = rng.dirichlet(np.ones(5) * 0.5, size=50)
    batch = miner.is_hard(probs)
    single = [miner(p) for p in probs]
    assert batch.tolist() == single


def test_ragged_detection_batches_are_vectorised(rng):
    samples = [rng.uniform(0, 1, size=(int(rng.integers(0, 6)), 6)) for _ in range(40)]
    miner = IBTFilter(threshold_img=0.6, threshold_box=0.4)
    assert miner.is_hard(samples).tolist() == [miner(s) for s in samples]


# -- budget control ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Threshold", "CrossEntropy", "IBT", "Margin"])
def test_upload_ratio_holds_on_a_stream_and_after_a_shift(name, rng):
    miner = default_registry.create("hard_example_mining", name, upload_ratio="0.3")
    plain = rng.dirichlet(np.ones(10) * 0.3, size=1500)
    shifted = rng.dirichlet(np.ones(10) * 3.0, size=1500)  # much less confident
    flags = [miner(p) for p in plain]
    assert abs(np.mean(flags) - 0.3) < 0.02
    flags_after = [miner(p) for p in shifted]
    assert abs(np.mean(flags_after) - 0.3) < 0.02


def test_an_upload_ratio_changed_with_set_params_is_the_one_that_holds(rng):
    # the budget was built once, at first use: a later set_params(upload_ratio=...) changed nothing
    miner = MarginFilter(upload_ratio=0.2)
    first = np.concatenate([miner.is_hard(rng.dirichlet(np.ones(10), size=250)) for _ in range(4)])
    miner.set_params(upload_ratio=0.5)
    after = np.concatenate([miner.is_hard(rng.dirichlet(np.ones(10), size=250)) for _ in range(8)])
    assert abs(first.mean() - 0.2) < 0.03 and abs(after.mean() - 0.5) < 0.03
    with pytest.raises(ParameterError, match="upload_ratio"):  # and checked as it takes effect
        miner.set_params(upload_ratio=1.5).is_hard(rng.dirichlet(np.ones(10), size=5))


def test_upload_ratio_holds_for_large_batches(rng):
    miner = MarginFilter(upload_ratio=0.2)
    flags = np.concatenate([miner.is_hard(rng.dirichlet(np.ones(10), size=250)) for _ in range(8)])
    assert abs(flags.mean() - 0.2) < 0.02


@pytest.mark.parametrize("trend", ["falling", "rising"])
@pytest.mark.parametrize("ratio", [0.1, 0.4])
def test_the_flagged_count_stays_within_the_slack_when_hardness_keeps_drifting(trend, ratio, rng):
    # a lagging quantile is never crossed by a stream whose scores keep falling (or always is, rising)
    scores = np.linspace(1, 0, 400) + rng.normal(0, 0.05, 400)
    scores = scores if trend == "falling" else scores[::-1]
    budget = OnlineQuantileBudget(ratio)
    flags = np.array([budget.decide(np.array([s]))[0] for s in scores])

    owed = ratio * np.arange(1, len(flags) + 1) - np.cumsum(flags)
    assert np.abs(owed).max() <= budget.slack + 1e-9
    assert abs(flags[:200].mean() - ratio) <= budget.slack / 200 + 1e-9


def test_a_batch_keeps_its_hardest_samples_when_the_slack_binds(rng):
    budget = OnlineQuantileBudget(0.25, slack=2)
    budget.decide(np.full(40, 10.0))  # a window of high scores: the next, low ones never cross it
    batch = rng.random(40)
    flags = budget.decide(batch)

    assert abs(budget.flagged - 0.25 * budget.seen) <= 2
    assert flags.sum() and batch[flags].min() >= batch[~flags].max()  # the batch's hardest went up


def test_budget_extremes():
    assert OnlineQuantileBudget(1.0).decide(np.arange(5.0)).all()
    assert not OnlineQuantileBudget(0.0).decide(np.arange(5.0)).any()


def test_reset_forgets_budget_state(rng):
    miner = MarginFilter(upload_ratio=0.5)
    miner.is_hard(rng.dirichlet(np.ones(3), size=10))
    assert hasattr(miner, "budget_")
    assert not hasattr(miner.reset(), "budget_")
    assert not hasattr(miner.clone(), "budget_")


def test_sedna_module_path_exposes_the_filters():
    import sedna  # noqa: F401
    from sedna.algorithms.hard_example_mining import IBTFilter as Aliased
    from sedna.algorithms.hard_example_mining.hard_example_mining import BaseFilter

    assert Aliased is IBTFilter and issubclass(Aliased, BaseFilter)
