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
