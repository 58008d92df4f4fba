"""The model format reported to the LocalController, for file names with and without an extension."""

from __future__ import annotations

import json

import pytest

from sedna_lib.backends.sklearn import SklearnBackend

NAME = "digits-federated-model"  # the control plane's MODEL_NAME: no extension


def test_torch_model_saved_without_extension_is_reported_as_pt(tmp_path):
    torch = pytest.importorskip("torch")
    from sedna_lib.backends import TorchBackend

    backend = TorchBackend(torch.nn.Linear(4, 2), model_name=NAME, model_save_path=str(tmp_path))

    path = backend.save()
    info = backend.model_info(path, relpath=str(tmp_path), result={"accuracy": [0.5]})

    assert path.endswith(NAME)
    assert info == [{"format": "pt", "url": f"/{NAME}", "metrics": {"accuracy": [0.5]}}]
    assert backend.model_info(str(tmp_path / "model.PTH"))[0]["format"] == "pth"  # an extension wins
    json.dumps(info)


def test_sklearn_model_saved_without_extension_is_reported_as_pkl(tmp_path):
    from sklearn.linear_model import LogisticRegression

    backend = SklearnBackend(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), model_name=NAME,
                             model_save_path=str(tmp_path))

    path = backend.save()

    assert path.endswith(NAME)
    assert backend.model_info(path)[0]["format"] == "pkl"
    assert backend.model_info(str(tmp_path / "m.skops"))[0]["format"] == "skops"


def test_tensorflow_model_without_extension_is_reported_as_pb_with_its_ckpt_folder():
    from sedna_lib.backends.tensorflow import KerasBackend, TensorFlowBackend

    class SednaEstimator:
        def train(self, train_data, valid_data=None, **kwargs):
            return {}

    for backend_class in (TensorFlowBackend, KerasBackend):
        info = backend_class(SednaEstimator).model_info(f"/home/data/out/{NAME}", relpath="/home/data")

        assert info == [{"format": "pb", "url": f"/out/{NAME}", "metrics": None},
                        {"format": "ckpt", "url": "/out", "metrics": None}]
