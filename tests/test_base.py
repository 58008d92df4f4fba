import pytest

from sedna_lib.base import BaseAlgorithm, ClientUpdate, InferenceResult
from sedna_lib.exceptions import ParameterError


class Algo(BaseAlgorithm):
    def __init__(self, *, alpha: float = 1.0, layers: list | None = None):
        self.alpha = alpha
        self.layers = layers


def test_get_params_reads_the_signature():
    assert Algo(alpha=2.0).get_params() == {"alpha": 2.0, "layers": None}


def test_set_params_returns_self_and_refuses_unknown_names():
    algo = Algo()
    assert algo.set_params(alpha=3.0) is algo and algo.alpha == 3.0
    with pytest.raises(ParameterError, match="Invalid parameter 'beta' for Algo; valid parameters: alpha, layers"):
        algo.set_params(beta=1)


def test_clone_copies_parameters_not_learned_state():
    algo = Algo(layers=[1, 2])
    algo.fitted_ = True
    twin = algo.clone()
    assert twin.get_params() == algo.get_params() and twin.layers is not algo.layers
    assert not hasattr(twin, "fitted_")


def test_repr_shows_parameters():
    assert repr(Algo(alpha=0.5)) == "Algo(alpha=0.5, layers=None)"


def test_star_args_constructor_is_refused():
    class Bad(BaseAlgorithm):
        def __init__(self, *args):
            self.args = args

    with pytest.raises(TypeError, match="must not take \\*args"):
        Bad().get_params()


def test_inference_result_unpacks_like_sednas_list():
    is_hard, final, edge, cloud = InferenceResult(True, [1], [0], [1])
    assert (is_hard, final, edge, cloud) == (True, [1], [0], [1])
    assert InferenceResult(False, 1, 1).cloud is None


def test_client_update_defaults():
    update = ClientUpdate([1], 10)
    assert update.client_id == "" and update.metrics == {}
