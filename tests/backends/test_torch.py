"""TorchBackend: a real training loop, FedProx, state-dict weights and files."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.backends import TorchBackend, set_backend
from sedna_lib.config import Config
from sedna_lib.exceptions import BackendError, DataError, ParameterError, SednaWarning
from sedna_lib.testing import check_backend, make_classification_data

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


class TwoLayer(torch.nn.Module):
    def __init__(self, n_in=4, n_hidden=16, n_out=2):
        super().__init__()
        self.fc1 = torch.nn.Linear(n_in, n_hidden)
        self.fc2 = torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def _net(seed=0, **kw):
    torch.manual_seed(seed)
    return TwoLayer(**kw)


def test_builtin_torch_backend_passes_the_contract():
    check_backend(lambda: TorchBackend(_net(), loss="cross_entropy", optimizer="adam", learning_rate=0.01,
                                       epochs=3, seed=0))


def test_training_really_trains_on_digits(digits):
    x_train, y_train, x_test, y_test = digits
    backend = set_backend(_net(n_in=64, n_hidden=32, n_out=10), Config())

    history = backend.train((x_train[:700], y_train[:700]), valid_data=(x_test, y_test), optimizer="adam",
                            learning_rate=0.02, epochs=4, batch_size=32, seed=0)
    metrics = backend.evaluate((x_test, y_test))

    assert isinstance(backend, TorchBackend)
    assert history["num_samples"] == 700 and len(history["loss"]) == 4
    assert history["loss"][-1] < history["loss"][0] / 3
    assert metrics["accuracy"] > 0.8 and metrics["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    proba = backend.predict_proba(x_test[:4])
    assert proba.shape == (4, 10) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_proximal_term_keeps_weights_near_the_start():
    x, y = make_classification_data(128)

    def drift(mu):
        backend = TorchBackend(_net(), optimizer="sgd", learning_rate=0.1, epochs=5, seed=0)
        start = backend.get_weights()
        backend.train((x, y), proximal_mu=mu)
        return sum(float(np.sum((a - b) ** 2)) for a, b in zip(backend.get_weights(), start))

    assert drift(1.0) < 0.5 * drift(0.0)


def test_same_seed_gives_the_same_history():
    x, y = make_classification_data()

    runs = [TorchBackend(_net(), optimizer="adam", epochs=2, batch_size=16).train((x, y), seed=7)
            for _ in range(2)]

    assert runs[0] == runs[1]


@pytest.mark.parametrize("loss, optimizer", [
    ("mse", "sgd"),
    (torch.nn.MSELoss(), torch.optim.Adam),
    (torch.nn.MSELoss, lambda params: torch.optim.SGD(params, lr=0.1)),
])
def test_losses_and_optimizers_as_names_objects_classes_and_factories(loss, optimizer):
    x, _ = make_classification_data()
    target = (x[:, :1] * 2.0).astype(np.float32)
    backend = TorchBackend(_net(n_out=1), loss=loss, optimizer=optimizer, learning_rate=0.01, epochs=3,
                           seed=0)

    history = backend.train((x, target))

    assert history["loss"][-1] < history["loss"][0] and "accuracy" not in history


def test_optimizer_instance_is_used_as_given():
    x, y = make_classification_data()
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    backend = TorchBackend(net, optimizer=opt, seed=0)

    backend.train((x, y), epochs=2)

    assert opt.state_dict()["param_groups"][0]["lr"] == 0.1


def test_dataloader_dataset_and_data_source_inputs():
    from torch.utils.data import DataLoader, TensorDataset

    x, y = make_classification_data()
    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

    class Source:
        def __init__(self):
            self.x, self.y = x, y

    backend = TorchBackend(_net(), seed=0)
    sizes = [backend.train(data)["num_samples"] for data in
             (DataLoader(dataset, batch_size=10), dataset, Source())]
    backend.train(x, y=y)

    assert sizes == [len(x)] * 3
    assert backend.predict(DataLoader(dataset, batch_size=10)).shape == (len(x), 2)


def test_features_without_labels_raise_data_error():
    backend = TorchBackend(_net())
    x, _ = make_classification_data()

    with pytest.raises(DataError, match="need labels"):
        backend.train(x)
    with pytest.raises(DataError, match="numeric arrays"):
        backend.train((np.array(["a.jpg", "b.jpg"]), [0, 1]))


def test_unknown_loss_optimizer_and_options_are_reported():
    x, y = make_classification_data()
    backend = TorchBackend(_net())

    with pytest.raises(ParameterError, match="unknown loss 'hinge'; use one of"):
        backend.train((x, y), loss="hinge")
    with pytest.raises(ParameterError, match="unknown optimizer 'lbfgs2'"):
        backend.train((x, y), optimizer="lbfgs2")
    with pytest.warns(SednaWarning, match="ignores \\['momentum'\\]"):
        backend.train((x, y), momentum=0.9)


def test_weights_follow_the_state_dict_including_integer_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    backend = TorchBackend(net)

    weights = backend.get_weights()
    backend.set_weights([w + 1 for w in weights])

    assert [w.shape for w in weights] == [tuple(t.shape) for t in net.state_dict().values()]
    assert weights[-1].dtype == np.int64 and int(net.state_dict()["1.num_batches_tracked"]) == 1
    with pytest.raises(BackendError, match="weight '0.weight' has shape \\(3, 4\\), got \\(4, 3\\)"):
        backend.set_weights([np.zeros((4, 3))] + weights[1:])


def test_class_estimator_is_instantiated_and_files_hold_a_state_dict(tmp_path):
    backend = TorchBackend(TwoLayer, model_save_path=str(tmp_path))

    path = backend.save()
    torch.save({"not": "tensors", "x": object.__name__}, tmp_path / "bad.pth")

    assert path.endswith("model_finetune_pytorch.pth")
    assert set(torch.load(path, weights_only=True)) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    with pytest.raises(BackendError, match="does not fit TwoLayer"):
        TorchBackend(TwoLayer).load(str(tmp_path / "bad.pth"))


def test_sedna_style_torch_estimator_is_driven_through_its_methods(tmp_path):
    class Estimator:
        def __init__(self):
            self.net = _net()

        def train(self, train_data, valid_data=None, **kwargs):
            return {"epochs": kwargs.get("epochs")}

        def predict(self, data, **kwargs):
            return "pred"

        def load(self, model_url=""):
            self.loaded = model_url

    (tmp_path / "m.pth").write_bytes(b"x")
    backend = set_backend(Estimator, Config(backend_type="PYTORCH"))

    assert backend.train([1], epochs=3) == {"epochs": 3}
    assert backend.predict([1]) == "pred"
    backend.load(str(tmp_path / "m.pth"))
    assert backend.estimator.loaded == str(tmp_path / "m.pth")


def test_the_backend_decides_once_how_it_drives_its_estimator_and_a_copy_drives_its_own():
    import copy

    built = []

    def factory():
        built.append(1)
        return _net()

    backend = TorchBackend(factory)
    x, y = make_classification_data()
    backend.train((x, y))
    backend.predict(x)
    clone = copy.copy(backend)
    clone.estimator = _net(seed=1)
    clone.set_weights([np.zeros_like(w) for w in clone.get_weights()])

    assert backend.native and built == [1]
    assert not set_backend(type("Plain", (), {"train": lambda self, train_data: None}),
                           Config(backend_type="TORCH")).native
    assert all(w.any() for w in backend.get_weights() if w.dtype.kind == "f")
    assert not any(w.any() for w in clone.get_weights())


def test_ignored_training_options_are_reported_at_the_callers_line():
    x, y = make_classification_data()

    with pytest.warns(SednaWarning, match="ignores") as record:
        TorchBackend(_net()).train((x, y), momentum=0.9)

    assert record[0].filename == __file__


class _Recorder(torch.nn.Module):
    """A linear model that records the first feature of every batch it sees while training."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(x[:, 0].long().tolist())
        return self.fc(x)


def test_array_batches_cover_every_sample_once_per_epoch_and_keep_order_when_predicting():
    # Arrange: the first feature is the sample's index
    x = np.stack([np.arange(10), np.zeros(10)], axis=1).astype("float32")
    y = np.arange(10) % 2
    model = _Recorder()
    backend = TorchBackend(model, epochs=2, batch_size=4, seed=3)

    # Act
    backend.train((x, y))
    proba = backend.predict_proba(x)
    unshuffled = _Recorder()
    TorchBackend(unshuffled, batch_size=4, shuffle=False).train((x, y))

    # Assert
    assert [len(b) for b in model.seen] == [4, 4, 2, 4, 4, 2]
    first, second = sum(model.seen[:3], []), sum(model.seen[3:], [])
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    assert unshuffled.seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    expected = torch.softmax(model.fc(torch.from_numpy(x)), dim=1).detach().numpy()
    np.testing.assert_allclose(proba, expected, rtol=1e-5)


def test_predict_after_training_runs_in_eval_mode():
    # Arrange: dropout makes train-mode outputs random
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Dropout(0.5), torch.nn.Linear(32, 2))
    backend = TorchBackend(model, epochs=1, seed=0)
    x, y = make_classification_data(n_samples=32, n_features=4, seed=0)
    backend.train((x.astype("float32"), y))

    # Act
    first, second = backend.predict(x), backend.predict(x)

    # Assert
    assert model.training is False
    np.testing.assert_array_equal(first, second)


def test_set_weights_rounds_into_integer_buffers_and_reads_other_byte_orders():
    # a mean of counters is 2.9 after aggregation: the counter is 3, not 2 (a cast truncates);
    # weights that travelled big-endian load too (torch takes native arrays only)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    backend = TorchBackend(net)
    weights = backend.get_weights()
    weights[-1] = np.array(2.9)
    weights[0] = weights[0].astype(">f4")
    backend.set_weights(weights)
    state = net.state_dict()
    assert int(state["1.num_batches_tracked"]) == 3 and state["0.weight"].dtype == torch.float32
    assert np.array_equal(state["0.weight"].numpy(), weights[0].astype("<f4"))


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_a_model_of_another_float_dtype_trains_predicts_and_federates_on_numpy_data(dtype):
    # numpy features are float32: a float64 or float16 module failed on its first batch
    # ("mat1 and mat2 must have the same dtype"); a bfloat16 one could not even give its weights
    # (numpy has no bfloat16: they travel as float32, exactly, and go back into bfloat16)
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 2).to(getattr(torch, dtype))
    backend = TorchBackend(net, loss="cross_entropy", optimizer="sgd", batch_size=8)
    x, y = make_classification_data(n_samples=40, n_features=4, seed=0)
    backend.train((x, y), epochs=1)
    proba = backend.predict_proba(x[:3])
    weights = backend.get_weights()
    backend.set_weights([w * 0.5 for w in weights])
    assert proba.shape == (3, 2) and np.all(np.isfinite(proba))
    assert [w.dtype for w in weights] == [np.dtype("float32" if dtype == "bfloat16" else dtype)] * 2
    assert net.weight.dtype == getattr(torch, dtype)
    assert np.allclose(net.weight.float().detach().numpy(), weights[0] * 0.5, atol=1e-2)


def test_a_secure_simulation_keeps_the_layers_dtypes_and_rounds_the_counter():
    # the unmasked mean is float64: the float32 layers and the int64 num_batches_tracked came back float64,
    # the counter a fraction (2.6) that set_weights then truncated (2); the plain round gives 3
    pytest.importorskip("cryptography")
    pytest.importorskip("Cryptodome")
    from sedna_lib.collaborative_training import simulate

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(40, 8)).astype("float32"))
    y = torch.from_numpy(rng.integers(0, 3, 40))
    shards = [(x[:16], y[:16]), (x[16:], y[16:])]  # 2 and 3 batches of 8: the counter's mean is 2.6
    results = {}
    for secure in (False, True):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 3))
        backend = TorchBackend(net, loss="cross_entropy", optimizer="sgd", batch_size=8, shuffle=False)
        results[secure] = simulate(backend, shards, "FedAvg", rounds=1, secure_aggregation=secure).weights
    plain, secure = results[False], results[True]
    assert [w.dtype for w in secure] == [w.dtype for w in plain] and plain[6].dtype == np.int64
    assert int(secure[6]) == int(plain[6]) == 3
    for a, b in zip(plain, secure):
        np.testing.assert_allclose(a, b, atol=1e-6)


BAD_TRAINING_OPTIONS = [
    ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),  # trained nothing, reported 0 samples
    ({"epochs": -1}, "epochs must be a whole number >= 1, got -1"),
    ({"epochs": 2.5}, "epochs must be a whole number >= 1, got 2.5"),  # trained 2 epochs
    ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),  # became 1
    ({"batch_size": True}, "batch_size must be a whole number >= 1, got True"),
    ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0, got nan"),  # NaN weights
    ({"lr": 0}, "learning_rate must be a finite number > 0, got 0"),
    ({"proximal_mu": -1.0}, "proximal_mu must be a finite number >= 0, got -1.0"),  # FedProx silently off
    ({"proximal_mu": float("nan")}, "proximal_mu must be a finite number >= 0, got nan"),
    ({"seed": 1.5}, "seed must be a whole number, got 1.5"),  # a RuntimeError from torch
]


@pytest.mark.parametrize("options, message", BAD_TRAINING_OPTIONS)
def test_training_options_are_checked_before_any_training(options, message):
    x, y = make_classification_data(32)
    backend = TorchBackend(_net(), loss="cross_entropy", optimizer="sgd", learning_rate=0.1)
    start = backend.get_weights()

    with pytest.raises(ParameterError, match=f"^{message}$".replace("(", r"\(")):
        backend.train((x, y), **options)
    assert all(np.array_equal(a, b) for a, b in zip(backend.get_weights(), start))  # nothing trained


def test_constructor_training_options_are_checked_at_train_and_batch_sizes_when_predicting():
    x, y = make_classification_data(32)
    backend = TorchBackend(_net(), loss="cross_entropy", epochs=0)  # the constructor only stores
    with pytest.raises(ParameterError, match="epochs must be a whole number >= 1, got 0"):
        backend.train((x, y))
    backend.epochs = 2
    history = backend.train((x, y), seed=-5)  # torch takes negative seeds
    assert len(history["loss"]) == 2 and history["num_samples"] == 32
    with pytest.raises(ParameterError, match="batch_size must be a whole number >= 1, got 0"):
        backend.predict(x, batch_size=0)  # it used to fall back to the backend's 32
    with pytest.raises(ParameterError, match="batch_size must be a whole number >= 1, got -2"):
        backend.evaluate((x, y), batch_size=-2)
    assert backend.predict(x, batch_size=5).shape == (32, 2)


class TokenBag(torch.nn.Module):
    """Token ids in, two classes out: its embedding needs integer input."""

    def __init__(self, vocab=20, dim=8):
        super().__init__()
        self.embed = torch.nn.EmbeddingBag(vocab, dim)
        self.out = torch.nn.Linear(dim, 2)

    def forward(self, ids):
        return self.out(self.embed(ids))


@pytest.mark.parametrize("scripted", [False, True])
def test_integer_token_ids_reach_an_embedding_as_integers(scripted):
    # numpy int64 ids were cast to float32 ("Expected tensor for argument #1 'indices' to have one of
    # the following scalar types: Long, Int"), in training and in predict
    torch.manual_seed(0)
    net = TokenBag()
    if scripted:
        net = torch.jit.script(net)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, size=(32, 5))
    y = (ids[:, 0] < 10).astype("int64")
    backend = TorchBackend(net, loss="cross_entropy", optimizer="adam", batch_size=8)
    backend.train((ids, y), epochs=2)
    assert backend.predict(ids[:4]).shape == (4, 2)
    assert backend.predict_proba(ids.astype("int32")[:4]).shape == (4, 2)


def test_integer_features_become_the_float_models_floats():
    # a model without an embedding takes integer features (counts, pixels) as its own floats
    net = _net()
    backend = TorchBackend(net, loss="cross_entropy", optimizer="sgd", batch_size=8)
    x = np.random.default_rng(0).integers(0, 5, size=(16, 4))
    backend.train((x, np.arange(16) % 2), epochs=1)
    assert np.allclose(backend.predict(x[:2]), backend.predict(x[:2].astype("float32")))
    assert np.allclose(backend.predict(x[:2].astype("uint8")), backend.predict(x[:2].astype("float32")))


class _TwoHeads(torch.nn.Module):
    """A module returning a tuple, or a dict, of a batch of logits and a batch of scores."""

    def __init__(self, as_dict=False):
        super().__init__()
        self.body = torch.nn.Linear(4, 3)
        self.as_dict = as_dict

    def forward(self, x):
        z = self.body(x)
        return {"logits": z, "score": z.sum(1)} if self.as_dict else (z, z.sum(1))


@pytest.mark.parametrize("as_dict", [False, True])
def test_a_module_of_several_outputs_predicts_each_output_over_all_batches(as_dict):
    torch.manual_seed(0)
    module = _TwoHeads(as_dict)
    x = np.random.default_rng(0).normal(size=(70, 4)).astype(np.float32)
    with torch.no_grad():
        whole = module(torch.from_numpy(x))
    backend = TorchBackend(module, batch_size=32)  # three batches, joined output by output

    out = backend.predict(x)
    one = backend.predict(x[0])

    keys = ["logits", "score"] if as_dict else [0, 1]
    assert type(out) is (dict if as_dict else tuple) and len(out) == 2
    for key in keys:
        assert isinstance(out[key], np.ndarray) and np.allclose(out[key], whole[key].numpy(), atol=1e-6)
        assert np.allclose(one[key], out[key][0], atol=1e-6)
    assert out[keys[0]].shape == (70, 3) and out[keys[1]].shape == (70,)
    with pytest.raises(DataError, match="2 outputs|'logits', 'score'.*choose it"):
        backend.predict_proba(x)


def test_several_outputs_train_with_a_callable_loss_and_refuse_a_torch_loss():
    torch.manual_seed(0)
    x, y = make_classification_data(64)
    backend = TorchBackend(_TwoHeads(), optimizer="adam", learning_rate=0.05, epochs=3, seed=0)
    start = backend.get_weights()

    for loss in (None, "cross_entropy"):
        with pytest.raises(ParameterError, match="tuple of 2 outputs.*pass loss= a callable"):
            backend.train((x, y), loss=loss)
    assert all(np.array_equal(a, b) for a, b in zip(backend.get_weights(), start))  # refused before a step

    def loss(outputs, targets):
        return torch.nn.functional.cross_entropy(outputs[0], targets)

    history = backend.train((x, y), valid_data=(x, y), loss=loss)
    assert history["num_samples"] == 64 and history["loss"][-1] < history["loss"][0]
    assert set(backend.evaluate((x, y), loss=loss)) == {"loss"}


def test_integer_features_into_a_module_without_parameters_become_torchs_default_floats():
    # such a module has no float dtype of its own: integers reached a softmax as int64 and torch raised
    backend = TorchBackend(torch.nn.Softmax(dim=1))
    proba = backend.predict(np.array([[1, 2], [3, 4]]))
    assert proba.dtype == np.float32 and np.allclose(proba.sum(axis=1), 1.0)
