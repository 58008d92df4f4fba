import numpy as np
import pytest

from sedna_lib.exceptions import DataError
from sedna_lib.registry import default_registry

SCORED = ["Threshold", "CrossEntropy", "IBT", "Margin"]
VECTORS = [[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [1.0], [0.5, 0.5], []]


@pytest.mark.parametrize("name", SCORED)
def test_one_array_is_decided_as_the_same_vector_in_a_batch(name):
    miner = default_registry.create("hard_example_mining", name)
    batch_answer = [bool(miner.is_hard([v])[0]) for v in VECTORS]

    single = [miner(np.asarray(v, dtype=float)) for v in VECTORS]
    as_lists = [miner(v) for v in VECTORS]

    assert single == as_lists == batch_answer


@pytest.mark.parametrize("name", SCORED)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5, 1.5])
def test_one_array_out_of_range_is_a_data_error(name, bad):
    miner = default_registry.create("hard_example_mining", name)

    with pytest.raises(DataError, match="must lie in \\[0, 1\\]"):
        miner(np.array([0.2, bad]))


def test_one_integer_vector_takes_the_array_path_too():
    assert default_registry.create("hard_example_mining", "Margin")(np.array([1, 0])) is False


def test_first_use_from_many_threads_shares_one_budget_and_one_generator():
    import threading

    import numpy as np

    from sedna_lib.registry import create

    margin = create("hard_example_mining", "Margin", upload_ratio=0.3)
    rand = create("hard_example_mining", "Random", random_ratio=0.5)
    start = threading.Barrier(8)

    def work():
        start.wait(5)
        margin.is_hard(np.full((4, 3), 1 / 3))
        rand.is_hard(np.zeros((4, 3)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert margin.budget_.realised_ratio >= 0 and rand.rng_ is not None


@pytest.mark.parametrize("name", ["Threshold", "IBT", "Margin", "CrossEntropy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_short_vector_gets_the_batch_answer_also_on_the_threshold(name, dtype):
    # one vector is decided in plain floats; the answer must be the batch path's, bit for bit
    rng = np.random.default_rng(7)
    vectors = [rng.dirichlet(np.full(k, alpha)) for k in (2, 3, 10, 64) for alpha in (0.1, 1.0, 10.0)
               for _ in range(20)]
    vectors += [np.array(v) for v in ([0.5, 0.5], [0.7, 0.3], [0.6, 0.4, 0.0], [1.0, 0.0], [0.0, 0.0],
                                      [0.25, 0.25, 0.25, 0.25], [1 + 5e-7, -5e-7], [0.5, 0.3, 0.2],
                                      [0.75, 0.25], [0.125, 0.625, 0.25])]  # margins and tops on the thresholds
    for params in ({}, {"threshold": 0.75, "threshold_margin": 0.5, "threshold_box": 0.75, "threshold_img": 0.0,
                        "threshold_cross_entropy": 0.3}):
        miner = default_registry.create("hard_example_mining", name,
                                        **{k: v for k, v in params.items() if k in vars(
                                            default_registry.create("hard_example_mining", name))})
        for v in vectors:
            v = v.astype(dtype)
            assert miner(v) is bool(miner.is_hard(v.reshape(1, -1))[0]), (name, dtype, params, v)


@pytest.mark.parametrize("name", ["Threshold", "IBT", "Margin"])
@pytest.mark.parametrize("vector", [[np.nan, 0.2, 0.3], [0.2, np.nan, 0.3], [0.9, np.inf, -np.inf],
                                    [0.5, 1 + 2e-6], [-2e-6, 0.5]])
def test_one_short_vector_with_a_bad_value_anywhere_is_a_data_error(name, vector):
    miner = default_registry.create("hard_example_mining", name)

    with pytest.raises(DataError, match="must lie in \\[0, 1\\]"):
        miner(np.array(vector))
