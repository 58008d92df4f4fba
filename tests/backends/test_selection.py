"""set_backend: selection by BACKEND_TYPE or by the estimator's type, without importing frameworks."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from sedna_lib.backends import (
    EstimatorBackend,
    KerasBackend,
    MindSporeBackend,
    SklearnBackend,
    TensorFlowBackend,
    TorchBackend,
    backend_class,
    framework_of,
    set_backend,
)
from sedna_lib.backends.base import Backend
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import BackendUnavailableError, NotRegisteredError, SednaWarning
from sedna_lib.registry import Kind, Registry


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
needs_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                      reason="tensorflow is not installed")


class Estimator:
    def train(self, train_data, valid_data=None):
        return "trained"

    def predict(self, data):
        return data


def _fake(module, name, bases=()):
    return type(name, bases, {"__module__": module})


@pytest.mark.parametrize("backend_type, cls", [
    pytest.param("TENSORFLOW", TensorFlowBackend, marks=needs_tensorflow),
    pytest.param("tensorflow", TensorFlowBackend, marks=needs_tensorflow),
    pytest.param("KERAS", KerasBackend, marks=needs_tensorflow),
    pytest.param("TORCH", TorchBackend, marks=needs_torch), pytest.param("PYTORCH", TorchBackend, marks=needs_torch),
    ("SKLEARN", SklearnBackend), ("ESTIMATOR", EstimatorBackend),
])
def test_backend_type_picks_the_backend(backend_type, cls):
    backend = set_backend(Estimator, Config(backend_type=backend_type))

    assert type(backend) is cls


def test_unknown_backend_type_warns_and_uses_the_estimator_itself():
    with pytest.warns(SednaWarning, match="XGBOOST.*not a known backend"):
        backend = set_backend(Estimator, Config(backend_type="XGBOOST"))

    assert type(backend) is EstimatorBackend
    assert backend.train([1]) == "trained"


def test_no_estimator_gives_none():
    assert set_backend(None, Config()) is None


@needs_torch
@needs_tensorflow
def test_empty_backend_type_detects_the_type_by_module_name():
    torch_module = _fake("torch.nn.modules.module", "Module")
    keras_model = _fake("keras.src.models.model", "Model")
    sk_base = _fake("sklearn.base", "BaseEstimator")
    net = type("Net", (torch_module,), {"__module__": "user"})
    clf = type("Clf", (sk_base,), {"__module__": "user"})

    assert framework_of(net) == "torch" and framework_of(net()) == "torch"
    assert framework_of(keras_model()) == "keras"
    assert framework_of(clf) == "sklearn"
    assert type(set_backend(net, Config())) is TorchBackend
    assert type(set_backend(keras_model(), Config())) is KerasBackend
    assert type(set_backend(clf, Config())) is SklearnBackend
    assert type(set_backend(Estimator, Config())) is EstimatorBackend


@needs_torch
@needs_tensorflow
def test_factory_function_without_arguments_is_called_once_and_its_product_decides():
    # Arrange
    from sedna_lib.compat.backend import set_backend as sedna_set_backend

    clf = type("Clf", (_fake("sklearn.base", "BaseEstimator"),), {"__module__": "user"})
    calls = []

    def factory():
        calls.append(1)
        return clf()

    def factory_with_options(num_classes=10):
        calls.append(2)
        return clf()

    # Act
    backend = set_backend(factory, Config())
    face = sedna_set_backend(factory, {})
    with_options = set_backend(factory_with_options, Config())
    chosen = set_backend(factory, Config(backend_type="TORCH"))

    # Assert: the product's framework decides; factories with arguments or an explicit
    # BACKEND_TYPE keep the lazy call (with the training options) on first use
    assert type(backend) is SklearnBackend and isinstance(backend.estimator, clf)
    assert type(face) is SklearnBackend
    assert type(with_options) is EstimatorBackend and with_options.estimator is factory_with_options
    assert type(chosen) is TorchBackend and chosen.estimator is factory
    assert calls == [1, 1]


@needs_torch
@needs_tensorflow
def test_selection_imports_no_framework():
    code = textwrap.dedent("""
        import json, sys, warnings
        from sedna_lib.backends import set_backend
        from sedna_lib.config import Config

        class Estimator:
            def train(self, train_data): ...

        warnings.simplefilter("ignore")
        names = [type(set_backend(Estimator, Config(backend_type=t))).__name__
                 for t in ("TENSORFLOW", "KERAS", "TORCH", "SKLEARN", "OTHER", "")]
        loaded = [m for m in ("torch", "tensorflow", "keras", "sklearn") if m in sys.modules]
        print(json.dumps([names, loaded]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    names, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert names == ["TensorFlowBackend", "KerasBackend", "TorchBackend", "SklearnBackend",
                     "EstimatorBackend", "EstimatorBackend"]
    assert loaded == []


def test_mindspore_missing_raises_backend_unavailable_naming_the_install():
    import importlib.util

    if importlib.util.find_spec("mindspore") is not None:
        pytest.skip("mindspore is installed")

    with pytest.raises(BackendUnavailableError, match="mindspore is not installed; pip install mindspore"):
        set_backend(Estimator, Config(backend_type="MINDSPORE"))
    assert isinstance(BackendUnavailableError("x"), ImportError)
    assert MindSporeBackend.framework == "mindspore"


def test_missing_framework_of_a_registered_backend_names_the_extra():
    class NeedsMissing(EstimatorBackend):
        requires = ("sedna_lib_absent_framework", "sedna_lib[absent]")

    registry = Registry(use_entry_points=False)
    registry.register(Kind.BACKEND, "absent", NeedsMissing)

    with pytest.raises(BackendUnavailableError,
                       match=r'sedna_lib_absent_framework is not installed; '
                             r'pip install "<sedna_lib clone or wheel>\[absent\]"'):
        set_backend(Estimator, Config(backend_type="absent"), context=Context(registry=registry))


def test_third_party_backend_registered_by_name_is_selected():
    class MyBackend(EstimatorBackend):
        framework = "mine"

    registry = Registry(use_entry_points=False)
    registry.register(Kind.BACKEND, "mypkg.Mine", MyBackend)

    backend = set_backend(Estimator, Config(backend_type="mypkg.Mine"),
                          context=Context(registry=registry))

    assert type(backend) is MyBackend and backend.model_name == "model_finetune_mine.pkl"


def test_backend_class_of_an_unknown_name_lists_known_names():
    with pytest.raises(NotRegisteredError, match="no backend named 'nope'; known names: .*sklearn"):
        backend_class("nope")


@needs_torch
@needs_tensorflow
def test_sedna_style_config_mapping_overrides_the_environment(tmp_path):
    backend = set_backend(Estimator,
                          {"backend_type": "TORCH", "model_url": str(tmp_path), "model_name": "a.pth"},
                          context=Context(config=Config(backend_type="KERAS")))

    assert type(backend) is TorchBackend
    assert backend.model_save_path == str(tmp_path) and backend.model_name == "a.pth"


def test_cuda_visible_devices_enables_cuda_without_writing_the_environment(monkeypatch):
    monkeypatch.delenv("DEVICE_CATEGORY", raising=False)
    backend = set_backend(Estimator, Config(cuda_visible_devices="0"))

    assert backend.use_cuda is True
    import os

    assert "DEVICE_CATEGORY" not in os.environ


def test_every_backend_is_a_backend_and_declares_its_framework():
    for cls, framework in [(SklearnBackend, "sklearn"), (TorchBackend, "pytorch"),
                           (TensorFlowBackend, "tensorflow"), (KerasBackend, "keras"), (EstimatorBackend, ""),
                           (MindSporeBackend, "mindspore")]:
        assert issubclass(cls, Backend) and cls.framework == framework


# -- the Sedna face --------------------------------------------------------------------------

@needs_torch
@needs_tensorflow
def test_sedna_face_set_backend_returns_sedna_classes():
    from sedna_lib.compat.backend import set_backend as sedna_set_backend
    from sedna_lib.compat.backend.base import BackendBase
    from sedna_lib.compat.backend.tensorflow import KerasBackend as SednaKeras
    from sedna_lib.compat.backend.tensorflow import TFBackend
    from sedna_lib.compat.backend.torch import TorchBackend as SednaTorch

    tf_backend = sedna_set_backend(Estimator, {"backend_type": "TENSORFLOW"})
    keras_backend = sedna_set_backend(Estimator, {"backend_type": "KERAS"})
    torch_backend = sedna_set_backend(Estimator, {"backend_type": "PYTORCH"})
    with pytest.warns(SednaWarning):
        plain = sedna_set_backend(Estimator, {"backend_type": "XGBOOST"})

    assert type(tf_backend) is TFBackend and tf_backend.model_name == "model_finetune_tensorflow.pb"
    assert type(keras_backend) is SednaKeras and type(torch_backend) is SednaTorch
    assert type(plain) is BackendBase
    assert all(isinstance(b, BackendBase) for b in (tf_backend, keras_backend, torch_backend, plain))
    assert sedna_set_backend(None) is None


def test_sedna_face_constructors_take_sedna_keywords(tmp_path):
    from sedna_lib.compat.backend.base import BackendBase
    from sedna_lib.compat.backend.torch import TorchBackend as SednaTorch

    base = BackendBase(Estimator, fine_tune=False, use_cuda=True, use_npu=True,
                       model_save_path=str(tmp_path), model_name=None)
    torch_backend = SednaTorch(Estimator, epochs=4, use_npu=False)

    assert base.model_name == "model.pkl" and base.use_cuda and base.use_npu
    assert base.model_save_path == str(tmp_path)
    assert torch_backend.epochs == 4 and torch_backend.train([1]) == "trained"


def test_sedna_face_mindspore_backend_names_the_install_when_missing():
    import importlib.util

    if importlib.util.find_spec("mindspore") is not None:
        pytest.skip("mindspore is installed")
    from sedna_lib.compat.backend.mindspore import MSBackend

    with pytest.raises(BackendUnavailableError, match="pip install mindspore"):
        MSBackend(Estimator)


def test_sedna_alias_paths_are_the_compat_modules():
    import sedna  # noqa: F401
    import sedna.backend
    import sedna.backend.base

    import sedna_lib.compat.backend

    assert sedna.backend is sedna_lib.compat.backend
    assert sedna.backend.base.BackendBase.__module__ == "sedna_lib.compat.backend.base"


# -- Sedna 0.6: a BACKEND_TYPE whose framework is missing ------------------------------------

_BLOCKED_FRAMEWORKS = textwrap.dedent("""
    import sys, warnings, json
    for name in ("torch", "tensorflow", "keras", "sklearn"):
        sys.modules[name] = None  # an import of it fails as if it were not installed
    from sedna_lib.backends import set_backend
    from sedna_lib.compat.backend import set_backend as sedna_set_backend
    from sedna_lib.config import Config

    class Estimator:
        def train(self, train_data, **kwargs):
            return "trained"

        def predict(self, data, **kwargs):
            return [len(data)]

    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for value in ("PYTORCH", "TORCH", "TENSORFLOW", "KERAS", "SKLEARN", "PYTORCH"):
            backend = set_backend(Estimator, Config(backend_type=value))
            out[value] = [type(backend).__name__, backend.predict([1, 2, 3])]
        face = sedna_set_backend(Estimator, {"backend_type": "PYTORCH"})
        out["face"] = type(face).__name__
        try:
            set_backend(Estimator, Config(backend_type="MINDSPORE"))
        except ImportError as exc:
            out["mindspore"] = type(exc).__name__
    out["warnings"] = sorted(str(w.message).split(":")[0] for w in caught)
    print(json.dumps(out))
""")


def test_backend_type_naming_a_missing_framework_falls_back_with_one_warning_each():
    out = subprocess.run([sys.executable, "-c", _BLOCKED_FRAMEWORKS], capture_output=True, text=True,
                         timeout=60, check=True)

    result = json.loads(out.stdout.strip().splitlines()[-1])
    for value in ("PYTORCH", "TORCH", "TENSORFLOW", "KERAS", "SKLEARN"):
        assert result[value] == ["EstimatorBackend", [3]]
    assert result["face"] == "BackendBase"
    assert result["mindspore"] == "BackendUnavailableError"  # no fallback: Sedna 0.6 failed the import too
    assert result["warnings"] == ["BACKEND_TYPE=KERAS", "BACKEND_TYPE=PYTORCH", "BACKEND_TYPE=SKLEARN",
                                  "BACKEND_TYPE=TENSORFLOW", "BACKEND_TYPE=TORCH"]
