"""TensorFlowBackend and KerasBackend: compile if needed, real fit, FedProx, numpy weights, Keras files."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.backends import KerasBackend, TensorFlowBackend, set_backend
from sedna_lib.config import Config
from sedna_lib.exceptions import BackendError, DataError, ParameterError
from sedna_lib.testing import check_backend, make_classification_data

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tensorflow


def _model(seed=0, softmax=False):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(2, activation="softmax" if softmax else None)])


def test_builtin_keras_backend_passes_the_contract():
    check_backend(lambda: KerasBackend(_model(), optimizer="adam", learning_rate=0.05, epochs=3, seed=0))


def test_keras_instance_is_not_called_and_is_compiled_on_first_train():
    model = _model(softmax=True)
    x, y = make_classification_data(128)
    backend = set_backend(model, Config())

    history = backend.train((x, y), valid_data=(x, y), optimizer="adam", learning_rate=0.05, epochs=4, seed=0)

    assert isinstance(backend, KerasBackend) and backend.estimator is model
    assert history["num_samples"] == 128 and history["loss"][-1] < history["loss"][0]
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert np.allclose(backend.predict_proba(x[:3]).sum(axis=1), 1.0, atol=1e-5)


def test_tf_dataset_and_proximal_term():
    import tensorflow as tf

    x, y = make_classification_data(128)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)

    def drift(mu):
        backend = TensorFlowBackend(_model(), optimizer="sgd", learning_rate=0.2, epochs=3, seed=0)
        start = backend.get_weights()
        history = backend.train(dataset, proximal_mu=mu)
        moved = sum(float(np.sum((a - b) ** 2)) for a, b in zip(backend.get_weights(), start))
        return moved, history

    free, free_history = drift(0.0)
    held, held_history = drift(2.0)

    assert held < 0.5 * free
    assert free_history["num_samples"] == held_history["num_samples"] == 128
    assert len(held_history["loss"]) == 3


def test_weights_are_numpy_arrays_and_files_are_keras_formats(tmp_path):
    x, y = make_classification_data()
    backend = KerasBackend(_model(), epochs=1, seed=0)
    backend.train((x, y))

    weights_file = backend.save(str(tmp_path / "m.weights.h5"))
    fresh = KerasBackend(_model(seed=1))
    fresh.load(weights_file)

    assert all(isinstance(w, np.ndarray) for w in backend.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), backend.get_weights()))
    assert TensorFlowBackend(_model()).model_name == "model_finetune_tensorflow.keras"
    with pytest.raises(BackendError, match="saved as .keras, .h5 or .weights.h5, not .*model.pb"):
        backend.save(str(tmp_path / "model.pb"))


def test_one_batch_and_many_batches_predict_the_same_as_model_predict():
    model = _model()
    x, _ = make_classification_data(40)
    backend = KerasBackend(model, batch_size=16)

    one_batch, many_batches = backend.predict(x[:16]), backend.predict(x)

    expected = model.predict(x, verbose=0)
    assert isinstance(one_batch, np.ndarray) and one_batch.dtype == expected.dtype
    np.testing.assert_allclose(one_batch, expected[:16], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(many_batches, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_model_file_with_python_code_in_it_is_refused_in_either_format(tmp_path, suffix):
    # a Lambda layer's function is Python bytecode in the file: loading it would run the sender's code
    inp = keras.Input((4,))
    lam = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp))
    path = str(tmp_path / f"lam{suffix}")
    lam.save(path)

    with pytest.raises(BackendError, match="cannot load a Keras model from .*Lambda"):
        KerasBackend(keras.Sequential()).load(path)


@pytest.mark.parametrize("options, message", [
    ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),  # fit nothing, reported the samples
    ({"epochs": 2.5}, "epochs must be a whole number >= 1, got 2.5"),  # fit 2 epochs
    ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
    ({"learning_rate": float("inf")}, "learning_rate must be a finite number > 0, got inf"),
    ({"proximal_mu": float("nan")}, "proximal_mu must be a finite number >= 0, got nan"),  # FedProx off
    ({"seed": -1}, "seed must be a whole number >= 0, got -1"),
])
def test_training_options_are_checked_before_any_training(options, message):
    x, y = make_classification_data(32)
    backend = TensorFlowBackend(_model(), optimizer="sgd", learning_rate=0.1)
    start = backend.get_weights()

    with pytest.raises(ParameterError, match=f"^{message}$"):
        backend.train((x, y), **options)
    assert all(np.array_equal(a, b) for a, b in zip(backend.get_weights(), start))


def test_the_backends_own_learning_rate_and_batch_size_are_checked_where_used():
    x, y = make_classification_data(32)
    backend = TensorFlowBackend(_model(), optimizer="sgd", learning_rate=float("nan"))  # only stored
    with pytest.raises(ParameterError, match="learning_rate must be a finite number > 0, got nan"):
        backend.train((x, y))
    backend.learning_rate = 0.1
    assert backend.train((x, y))["num_samples"] == 32
    with pytest.raises(ParameterError, match="batch_size must be a whole number >= 1, got 0"):
        backend.predict(x, batch_size=0)


def _two_inputs():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = keras.layers.Concatenate()([a, b])
    return keras.Model([a, b], keras.layers.Dense(4, activation="softmax")(joined))


@pytest.mark.parametrize("batch_size", [64, 16])  # one call of the model, and Keras' predict
def test_a_model_of_two_inputs_takes_a_list_tuple_or_dict_of_them(batch_size):
    model = _two_inputs()
    rng = np.random.default_rng(0)
    xa, xb, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2)), rng.integers(0, 4, 40)
    whole = model.predict([xa, xb], verbose=0)
    backend = KerasBackend(model, optimizer="adam", learning_rate=0.05, epochs=2, batch_size=batch_size,
                           seed=0)

    for x in ([xa, xb], (xa, xb), {"a": xa, "b": xb}):
        assert np.allclose(backend.predict(x), whole, atol=1e-6)
        assert np.allclose(backend.predict_proba(x), whole, atol=1e-6)
    assert np.allclose(backend.predict([xa[0], xb[0]]), whole[0], atol=1e-6)  # one sample of each input

    history = backend.train(([xa, xb], y), valid_data=({"a": xa, "b": xb}, y))
    proximal = backend.train(((xa, xb), y), proximal_mu=0.1)
    assert history["num_samples"] == proximal["num_samples"] == 40 and "val_loss" in history
    assert set(backend.evaluate(([xa, xb], y))) >= {"loss", "accuracy"}


def test_a_model_of_two_outputs_returns_them_as_keras_does():
    keras.utils.set_random_seed(0)
    i = keras.Input((4,))
    h = keras.layers.Dense(6)(i)
    model = keras.Model(i, [keras.layers.Dense(3, activation="softmax")(h), keras.layers.Dense(1)(h)])
    x, y = make_classification_data(40)
    whole = model.predict(x, verbose=0)
    backend = KerasBackend(model, batch_size=16)

    for out in (backend.predict(x), backend.predict(x, batch_size=64)):
        assert isinstance(out, list) and [o.shape for o in out] == [(40, 3), (40, 1)]
        assert all(np.allclose(o, w, atol=1e-6) for o, w in zip(out, whole))
    assert [o.shape for o in backend.predict(x[0])] == [(3,), (1,)]
    with pytest.raises(DataError, match="list of 2 outputs.*choose it"):
        backend.predict_proba(x)
    with pytest.raises(ParameterError, match="2 outputs.*one per output"):
        backend.train((x, [y, x[:, :1]]))

    history = backend.train((x, [y, x[:, :1]]), loss=["sparse_categorical_crossentropy", "mse"])
    assert history["num_samples"] == 40
