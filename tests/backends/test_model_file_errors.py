"""Model files and single samples: one 1-D sample into torch/Keras models, and unreadable model files."""

from __future__ import annotations

import numpy as np
import pytest

import sedna_lib
from sedna_lib.backends import TorchBackend
from sedna_lib.backends.loaders import load_estimator
from sedna_lib.exceptions import BackendError, DataError

torch = pytest.importorskip("torch")

_CLOUD = "http://127.0.0.1:9/never-asked"  # no miner is configured: every sample stays at the edge


def _linear(n_in=64, n_out=10, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_in, n_out))


class _Scalars(torch.nn.Module):
    """A model whose inputs are a 1-D batch of scalars: it adds the feature axis itself."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(1, 3)

    def forward(self, x):
        return self.fc(x.unsqueeze(-1))


# -- one 1-D sample into a torch model ---------------------------------------------------------

@pytest.mark.torch
def test_a_saved_torch_module_answers_one_1d_sample_like_sklearn(tmp_path):
    net = _linear()
    path = tmp_path / "full.pt"
    torch.save(net, path)
    x = np.random.default_rng(0).normal(size=(3, 64)).astype("float32")
    expected = net(torch.from_numpy(x)).detach().numpy()

    with sedna_lib.load_model(str(path), big_model_endpoint=_CLOUD) as model:
        one = model.predict(x[0])
        batch = model.predict(x)

    assert one.shape == (10,) and np.allclose(one, expected[0], atol=1e-5)
    assert batch.shape == (3, 10) and np.allclose(batch, expected, atol=1e-5)


@pytest.mark.torch
def test_torch_backend_predict_and_proba_take_one_sample_as_a_vector():
    backend = TorchBackend(_linear(4, 3))
    x = np.arange(8, dtype="float32").reshape(2, 4)

    assert np.allclose(backend.predict(x[0]), backend.predict(x)[0], atol=1e-6)
    assert backend.predict(list(x[1])).shape == (3,)
    assert backend.predict(torch.from_numpy(x[0])).shape == (3,)
    proba = backend.predict_proba(x[0])
    assert proba.shape == (3,) and np.isclose(proba.sum(), 1.0)
    assert np.allclose(proba, backend.predict_proba(x)[0], atol=1e-6)


@pytest.mark.torch
def test_torch_backend_refuses_a_1d_vector_of_the_wrong_length():
    backend = TorchBackend(_linear())
    with pytest.raises(DataError, match=r"50 values.*64 features.*\(n, 64\)"):
        backend.predict(np.ones(50))
    with pytest.raises(DataError, match=r"\(n, 64\)"):
        backend.predict_proba(np.ones(32))  # once half a batch, silently answered as one sample


@pytest.mark.torch
def test_1d_batches_of_scalars_and_token_ids_stay_batches():
    torch.manual_seed(0)
    scalars = TorchBackend(_Scalars())
    assert scalars.predict(np.arange(5, dtype="float32")).shape == (5, 3)

    embedding = TorchBackend(torch.nn.Sequential(torch.nn.Embedding(100, 8)))
    assert embedding.predict(torch.arange(5)).shape == (5, 8)


# -- unreadable model files -------------------------------------------------------------------

def _garbage(path, data=b"xgarbage, not a model"):
    path.write_bytes(data)
    return str(path)


def test_a_pickle_that_is_not_one_names_the_file_and_the_loader(tmp_path):
    path = _garbage(tmp_path / "bad.pkl", b"garbage")
    with pytest.raises(BackendError, match=r"bad\.pkl.*joblib") as info:
        load_estimator(path)
    assert info.value.__cause__ is not None


@pytest.mark.torch
def test_a_torch_file_that_is_not_one_names_the_file(tmp_path):
    path = _garbage(tmp_path / "m.pt")
    with pytest.raises(BackendError, match=r"m\.pt.*torch") as info:
        sedna_lib.load_model(path, big_model_endpoint=_CLOUD)
    assert info.value.__cause__ is not None
    with pytest.raises(BackendError, match=r"m\.pt") as info:
        TorchBackend(_linear()).load(path)
    assert info.value.__cause__ is not None


@pytest.mark.torch
def test_a_state_dict_file_says_how_to_load_it_and_the_advice_works(tmp_path):
    net = _linear()
    path = str(tmp_path / "weights.pt")
    torch.save(net.state_dict(), path)

    with pytest.raises(BackendError, match=r"weights\.pt.*state_dict.*TorchBackend\(module\)\.load"):
        sedna_lib.load_model(path, big_model_endpoint=_CLOUD)

    module = TorchBackend(_linear(seed=1)).load(path)
    with sedna_lib.load_model(module, big_model_endpoint=_CLOUD) as model:
        answer = model.predict(np.ones(64, dtype="float32"))
    assert np.allclose(answer, net(torch.ones(1, 64))[0].detach().numpy(), atol=1e-5)


# -- Keras -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    return pytest.importorskip("keras")


@pytest.mark.tensorflow
def test_a_keras_file_that_is_not_an_archive_is_not_called_missing(tmp_path, keras):
    path = _garbage(tmp_path / "m.keras")
    with pytest.raises(BackendError, match=r"m\.keras.*Keras") as info:
        load_estimator(path)
    assert "not found" not in str(info.value).split(":")[0]
    assert "not a .keras archive" in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.tensorflow
def test_keras_backend_takes_one_1d_sample_and_refuses_a_wrong_length(keras):
    from sedna_lib.backends import KerasBackend

    keras.utils.set_random_seed(0)
    backend = KerasBackend(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))
    x = np.arange(8, dtype="float32").reshape(2, 4)

    assert np.allclose(backend.predict(x[0]), backend.predict(x)[0], atol=1e-6)
    proba = backend.predict_proba(x[1])
    assert proba.shape == (3,) and np.allclose(proba, backend.predict_proba(x)[1], atol=1e-6)
    with pytest.raises(DataError, match=r"\(n, 4\)"):
        backend.predict(np.ones(6))


# -- what save_model writes, load_model reads --------------------------------------------------

@pytest.mark.parametrize("name", ["iris.pkl", "iris.joblib", "iris.skops", "folder/"])
def test_a_scikit_learn_model_saved_by_save_model_loads_back_with_load_model(tmp_path, name):
    # save_model writes skops whatever the name; load_model read a .pkl with joblib (an
    # UnpicklingError) and did not know .skops
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    path = sedna_lib.save_model(clf, str(tmp_path / name))
    model = sedna_lib.load_model(path)
    assert np.array_equal(model.predict(x), clf.predict(x))
    assert type(load_estimator(path)) is LogisticRegression


def test_a_skops_name_on_another_kind_of_file_is_a_backend_error(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(BackendError, match="not a skops archive"):
        load_estimator(str(path))


def test_a_local_pickle_still_loads_as_the_users_own_file(tmp_path):
    import joblib
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    joblib.dump(reg, tmp_path / "reg.pkl")
    assert load_estimator(str(tmp_path / "reg.pkl")).predict([[2.0]])[0] == pytest.approx(4.0)
