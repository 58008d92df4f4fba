"""SklearnBackend: real scikit-learn models, numpy weights, skops files (pickles only where allowed)."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.backends import SklearnBackend, set_backend
from sedna_lib.config import Config
from sedna_lib.exceptions import BackendError, DataError, NotFittedError
from sedna_lib.testing import check_backend, make_classification_data

pytest.importorskip("sklearn")

from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _mlp():
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)


@pytest.mark.parametrize("factory", [LogisticRegression, _mlp], ids=["logistic", "mlp"])
def test_builtin_sklearn_backend_passes_the_contract(factory):
    check_backend(lambda: SklearnBackend(factory()))


def test_train_and_evaluate_on_digits(digits):
    x_train, y_train, x_test, y_test = digits
    backend = set_backend(LogisticRegression(max_iter=300), Config())

    history = backend.train((x_train, y_train), valid_data=(x_test, y_test))
    metrics = backend.evaluate((x_test, y_test))

    assert isinstance(backend, SklearnBackend)
    assert history["num_samples"] == len(x_train) and history["val_accuracy"] == metrics["accuracy"]
    assert metrics["accuracy"] > 0.9
    assert backend.predict_proba(x_test[:3]).shape == (3, 10)


def test_mlp_weights_interleave_layers():
    x, y = make_classification_data(40)
    backend = SklearnBackend(MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0))
    backend.train(x, y=y)

    shapes = [w.shape for w in backend.get_weights()]

    assert shapes == [(4, 5), (5,), (5, 1), (1,)]


def test_set_weights_before_any_fit_raises_not_fitted():
    backend = SklearnBackend(LogisticRegression())

    with pytest.raises(NotFittedError, match="not fitted: train it once"):
        backend.set_weights([np.zeros((1, 4)), np.zeros(1)])
    with pytest.raises(NotFittedError, match="call train\\(\\) or load\\(\\) before predict"):
        backend.predict(np.zeros((1, 4)))


def test_set_weights_after_a_fit_replaces_the_model():
    x, y = make_classification_data()
    backend = SklearnBackend(LogisticRegression())
    backend.train((x, y))

    backend.set_weights([np.zeros((1, 4)), np.array([5.0])])

    assert backend.predict(x).tolist() == [1] * len(x)
    with pytest.raises(BackendError, match="weight 0 \\(coef_\\) has shape \\(1, 4\\), got \\(4,\\)"):
        backend.set_weights([np.zeros(4), np.zeros(1)])


def test_models_without_weight_arrays_say_so():
    x, y = make_classification_data()
    backend = SklearnBackend(DecisionTreeClassifier(random_state=0))
    backend.train((x, y))

    with pytest.raises(BackendError, match="no weight arrays"):
        backend.get_weights()


def test_regressor_reports_r2_and_a_custom_metric():
    x, _ = make_classification_data()
    target = x @ np.array([1.0, 2.0, 0.0, -1.0])
    backend = SklearnBackend(LinearRegression())
    backend.train((x, target))

    def max_error(y_true, y_pred):
        return float(np.max(np.abs(y_true - y_pred)))

    metrics = backend.evaluate((x, target), metric=max_error)

    assert metrics["r2"] == pytest.approx(1.0, abs=1e-6) and metrics["max_error"] < 1e-4


def test_evaluate_without_labels_raises_data_error():
    x, y = make_classification_data()
    backend = SklearnBackend(LogisticRegression())
    backend.train((x, y))

    with pytest.raises(DataError, match="evaluate needs labels"):
        backend.evaluate(x)


@pytest.fixture
def web(tmp_path):
    """A plain HTTP file server on 127.0.0.1 serving ``tmp_path / 'www'``."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _fitted():
    x, y = make_classification_data(n_samples=40, n_features=3, seed=0)
    return LogisticRegression().fit(x, y), x


def test_pickles_are_never_loaded_from_the_network(web, tmp_path, monkeypatch):
    import joblib

    root, url = web
    joblib.dump(_fitted()[0], root / "model.pkl")
    backend = SklearnBackend(LogisticRegression(), model_save_path=str(tmp_path / "dl"))

    with pytest.raises(BackendError, match="is a pickle, and this model came from elsewhere"):
        backend.load(f"{url}/model.pkl")


def test_model_is_saved_with_skops_and_loads_from_the_network(web, tmp_path):
    root, url = web
    model, x = _fitted()
    saved = SklearnBackend(model).save(str(root / "model.skops"))
    backend = SklearnBackend(LogisticRegression(), model_save_path=str(tmp_path / "dl"))

    backend.load(f"{url}/model.skops")

    assert open(saved, "rb").read(4) == b"PK\x03\x04"  # a skops archive, not a pickle
    assert backend.predict(x).tolist() == model.predict(x).tolist()


def test_a_skops_file_naming_a_function_is_refused(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    skops.io.dump(FunctionTransformer(func=eval), path)

    with pytest.raises(BackendError, match=r"outside the allow-list .*builtins.eval"):
        SklearnBackend(LogisticRegression()).load(str(path), allow_pickle=False)


def test_a_local_pickle_the_user_names_still_loads_unless_forbidden(tmp_path):
    import joblib

    model, x = _fitted()
    joblib.dump(model, tmp_path / "mine.pkl")

    assert SklearnBackend(LogisticRegression()).load(str(tmp_path / "mine.pkl")).predict(x).tolist() == \
        model.predict(x).tolist()
    with pytest.raises(BackendError, match="is a pickle"):
        SklearnBackend(LogisticRegression()).load(str(tmp_path / "mine.pkl"), allow_pickle=False)


def test_load_refuses_a_file_that_is_not_a_sklearn_model(tmp_path):
    import joblib

    path = tmp_path / "other.pkl"
    joblib.dump({"not": "a model"}, path)

    with pytest.raises(BackendError, match="holds a dict, not a scikit-learn estimator"):
        SklearnBackend(LogisticRegression()).load(str(path))


def test_sedna_style_estimator_declared_sklearn_is_driven_through_its_methods():
    class Estimator:
        def train(self, train_data, valid_data=None, **kwargs):
            return "trained"

        def predict(self, data):
            return ["ok"]

    backend = set_backend(Estimator, Config(backend_type="SKLEARN"))

    assert isinstance(backend, SklearnBackend) and backend.model_name == "model_finetune_.pkl"
    assert backend.train([1]) == "trained" and backend.predict([1]) == ["ok"]


def test_one_feature_vector_is_predicted_as_one_sample(digits):
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.backends import set_backend

    x, y, xt, _ = digits
    backend = set_backend(LogisticRegression(max_iter=300).fit(x[:300], y[:300]))
    assert backend.predict(xt[0]) == backend.predict(xt[:1])[0]
    assert backend.predict(list(xt[0])) == backend.predict(xt[:1])[0]
    assert backend.predict_proba(xt[0]).shape == (10,)


@pytest.mark.parametrize("make", [
    lambda: SGDClassifier(random_state=0, warm_start=True, max_iter=5, tol=None),
    lambda: LogisticRegression(warm_start=True, max_iter=20),
    lambda: MLPClassifier((5,), warm_start=True, max_iter=5, random_state=0),
])
def test_a_client_without_every_class_is_a_data_error_naming_them(make):
    # non-IID data: a client that never saw class 2 cannot go on from the model's weights; scikit-learn
    # says so in its own terms (coef_init does not match), which reached the user as a bare ValueError
    import warnings

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    backend = SklearnBackend(make())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the few iterations
        backend.train((x, y))
        with pytest.raises(DataError, match=r"without the classes \[2\]"):
            backend.train((x[y < 2], y[y < 2]))
