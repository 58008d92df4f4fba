"""Start-of-training output check of lifelong learning, and the entropies a language-model router reads."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

import algorithms.hard_example_mining as hem
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, DataError
from sedna_lib.lifelong_learning import LifelongLearning, Samples


_BY_ORIGIN = {"task_definition": {"method": "TaskDefinitionByOrigin"},
              "task_allocation": {"method": "TaskAllocationByNearestTask"}}


class _CountingEstimator(DummyClassifier):
    """A tiny estimator that counts its ``fit`` calls (one per task trained)."""

    calls = 0

    def fit(self, x, y=None, **kwargs):
        type(self).calls += 1
        return super().fit(x, y)


def test_lifelong_training_refuses_an_unwritable_output_before_any_task_trains(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ctx = Context(Config(output_url=str(blocker / "out"), edge_output_url=str(tmp_path / "edge"),
                         lc_server="http://127.0.0.1:9", max_retries=0, connect_timeout_s=0.5,
                         work_dir=str(tmp_path / "work")))
    _CountingEstimator.calls = 0
    rng = np.random.default_rng(0)
    samples = Samples(rng.random((40, 3)), rng.integers(0, 2, 40), np.array(["a", "b"] * 20))

    with pytest.raises(ConfigError, match="OUTPUT_URL") as info:
        LifelongLearning(_CountingEstimator(), context=ctx, **_BY_ORIGIN).train(samples)

    assert info.value.variable == "OUTPUT_URL"
    assert _CountingEstimator.calls == 0


@pytest.mark.parametrize("bad", [float("nan"), -0.5, float("inf")])
def test_token_entropy_router_refuses_entropies_that_are_not_entropies(bad):
    router = hem.TokenEntropyRouter()
    with pytest.raises(DataError, match="entropies must be"):
        router({"text": "x y", "token_logprobs": [-0.1, -0.2], "entropies": [0.3, bad]})


def test_token_entropy_router_reads_valid_entropies():
    router = hem.TokenEntropyRouter()
    assert router({"text": "x y", "token_logprobs": [-0.1, -0.2], "entropies": [0.0, 0.4]}) in (True, False)
