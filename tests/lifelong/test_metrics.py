"""Continual-learning metrics (Lopez-Paz / Avalanche definitions) and the replay baseline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.exceptions import DataError, NotFittedError, ParameterError
from sedna_lib.lifelong_learning.metrics import backward_transfer, forgetting, forward_transfer, summary
from sedna_lib.lifelong_learning.replay import ReplayLearner

R = np.array([[0.9, 0.2, 0.1], [0.6, 0.8, 0.3], [0.5, 0.7, 0.95]])


def test_metrics_match_the_hand_computed_values():
    s = summary(R, baseline=[0.1, 0.1, 0.1])

    assert s["acc"] == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert s["bwt"] == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)
    assert s["fwt"] == pytest.approx(((0.2 - 0.1) + (0.3 - 0.1)) / 2)
    assert s["forgetting"] == pytest.approx(-s["bwt"])
    assert forgetting(R, mode="max") == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)


def test_one_task_has_no_transfer():
    assert backward_transfer([[0.7]]) == 0.0 and forward_transfer([[0.7]], [0.1]) == 0.0


def test_non_square_matrix_raises():
    with pytest.raises(DataError, match="square"):
        backward_transfer([[0.1, 0.2]])


def test_fwt_needs_one_baseline_per_task():
    with pytest.raises(DataError, match="baseline"):
        forward_transfer(R, [0.1])


def test_replay_keeps_a_bounded_class_balanced_memory(rng):
    learner = ReplayLearner(LogisticRegression(max_iter=1000), memory_size=10)
    for c in range(3):
        x = rng.normal(c * 3, 0.3, (40, 2))
        learner.fit_task(x, np.array([c * 2] * 20 + [c * 2 + 1] * 20))

    assert len(learner.memory_y_) <= 10
    assert set(learner.memory_y_) == set(range(6))
    assert (learner.predict(np.array([[0.0, 0.0]])) < 2).all()


def test_replay_predict_before_fit_raises():
    with pytest.raises(NotFittedError, match="fit_task"):
        ReplayLearner(LogisticRegression()).predict([[0.0]])


@pytest.mark.parametrize("size", [float("nan"), float("inf"), -1, 2.5, True], ids=repr)
def test_replay_refuses_a_memory_size_that_is_not_a_count_before_training(size):
    learner = ReplayLearner(LogisticRegression(), memory_size=size)
    with pytest.raises(ParameterError, match="memory_size must be a whole number >= 0"):
        learner.fit_task([[0.0], [0.1], [1.0], [1.1]], [0, 0, 1, 1])
    assert not hasattr(learner, "model_")


def test_replay_takes_a_memory_size_given_as_text():
    learner = ReplayLearner(LogisticRegression(), memory_size="2")
    learner.fit_task([[0.0], [0.1], [1.0], [1.1]], [0, 0, 1, 1])
    assert len(learner.memory_y_) == 2
