import threading

import pytest

from sedna_lib.config import Config
from sedna_lib.exceptions import ConfigError, ParameterError
from sedna_lib.multi_edge_inference import BaseService


class _Recorder(BaseService):
    def __init__(self, **kw):
        self.batches = []
        self.ready = threading.Event()
        super().__init__(models=[object()], **kw)

    def process_data(self, ai, data, **kwargs):
        self.batches.append(list(data))
        self.ready.set()

    def update_operational_mode(self, status):
        return None


def test_synchronous_batches_are_processed_by_put_and_flattened():
    svc = _Recorder(config=Config(batch_size=2), autostart=False)

    svc.put([1, [2]])
    svc.put(3)

    assert svc.batches == [[1, 2, 3]] and svc.processed_ == 3


def test_a_partial_batch_is_flushed_after_the_timeout():
    with _Recorder(config=Config(batch_size=5), timeout=0.05, asynchronous=True) as svc:
        svc.put("a")
        assert svc.ready.wait(5)

    assert svc.batches == [["a"]]


def test_close_flushes_what_is_left():
    svc = _Recorder(config=Config(batch_size=10), timeout=60, asynchronous=True)
    svc.put("x")
    svc.put("y")

    svc.close()

    assert svc.batches == [["x", "y"]]


def test_flatten_is_iterative_and_keeps_order():
    deep = [0]
    for i in range(5000):
        deep = [deep, i + 1]

    flat = BaseService.flatten(deep)

    assert flat == list(range(5001))


def test_models_of_mixed_types_are_refused():
    from sedna_lib.exceptions import ParameterError

    class _Mixed(_Recorder):
        def __init__(self):
            BaseService.__init__(self, models=[1, "a"], autostart=False, config=Config())

    with pytest.raises(ParameterError, match="one type"):
        _Mixed()


def test_flatten_refuses_lists_that_contain_themselves_or_multiply_without_end():
    # a 9-byte pickle of `l = []; l.append(l)` (SEDNA_LEGACY_PICKLE) made the flattening grow memory for ever
    from sedna_lib.exceptions import DataError
    from sedna_lib.multi_edge_inference.components import base

    looped: list = [1]
    looped.append(looped)
    with pytest.raises(DataError, match="contain themselves"):
        BaseService.flatten(looped)
    shared: list = [1, 2]
    for _ in range(30):  # 2**31 leaves from 30 lists shared twice each
        shared = [shared, shared]
    original, base._MAX_LEAVES = base._MAX_LEAVES, 1000
    try:
        with pytest.raises(DataError, match="more than 1000 items"):
            BaseService.flatten(shared)
    finally:
        base._MAX_LEAVES = original
    assert BaseService.flatten([1, [2, [3, []], 4], [[5]]]) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_put_after_close_is_a_closed_error_not_a_silently_stranded_item(asynchronous):
    from sedna_lib.exceptions import ClosedError

    svc = _Recorder(config=Config(batch_size=3), timeout=60, asynchronous=asynchronous)
    svc.put("before")
    svc.close()

    with pytest.raises(ClosedError, match=r"_Recorder is closed.*call start\(\)"):
        svc.put("after")
    svc.close()  # idempotent

    assert svc.batches == [["before"]] and svc.processed_ == 1


def test_a_closed_service_takes_items_again_once_started():
    svc = _Recorder(config=Config(batch_size=1), asynchronous=True)
    svc.close()
    svc.ready.clear()

    svc.start()
    svc.put("again")
    assert svc.ready.wait(5)
    svc.close()

    assert svc.batches == [["again"]]


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1, True, "soon"], ids=repr)
def test_a_timeout_that_is_not_a_finite_number_ge_0_fails_start(timeout):
    svc = _Recorder(config=Config(batch_size=2), timeout=timeout, asynchronous=True, autostart=False)
    with pytest.raises(ParameterError, match="timeout must be a finite number >= 0"):
        svc.start()
    assert not svc.is_running


@pytest.mark.parametrize("size", [0, -1])
def test_a_batch_size_below_one_is_a_config_error_not_raised_to_one(size):
    with pytest.raises(ConfigError, match="BATCH_SIZE must be a whole number >= 1") as info:
        _Recorder(config=Config(batch_size=size))
    assert info.value.variable == "BATCH_SIZE"


def test_a_service_fed_without_start_checks_its_options_at_the_first_put():
    svc = _Recorder(config=Config(batch_size=0), autostart=False)
    with pytest.raises(ConfigError, match="BATCH_SIZE"):
        svc.put(1)
    assert svc.batches == [] and svc.processed_ == 0


def test_a_timeout_given_as_text_is_taken():
    with _Recorder(config=Config(batch_size=5), timeout="0.05", asynchronous=True) as svc:
        svc.put("a")
        assert svc.ready.wait(5) and svc.timeout == 0.05


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), -1, True], ids=repr)
def test_frame_difference_refuses_a_threshold_that_would_drop_or_pass_every_frame(threshold):
    import numpy as np

    from sedna_lib.multi_edge_inference.components.detector import FrameDifference

    with pytest.raises(ParameterError, match="threshold must be a finite number >= 0"):
        FrameDifference(threshold=threshold)(np.zeros((4, 4)), np.full((4, 4), 9.0))
    assert FrameDifference(threshold="1.5")(np.zeros((4, 4)), np.full((4, 4), 9.0))
