"""The torch backend on a GPU: runs where CUDA is available, skipped elsewhere."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

from sedna_lib.backends import set_backend  # noqa: E402
from sedna_lib.config import Config  # noqa: E402
from sedna_lib.context import Context  # noqa: E402


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def _cuda_context(tmp_path):
    # CUDA_VISIBLE_DEVICES present is Sedna's GPU switch.
    return Context(Config(cuda_visible_devices="0", model_url=str(tmp_path), model_name="net.pth"))


def test_cuda_visible_devices_trains_on_the_gpu_and_weights_come_back_as_numpy(digits, tmp_path):
    x, y, xt, yt = digits
    backend = set_backend(_net(), context=_cuda_context(tmp_path))
    history = backend.train((x, y.astype("int64")), epochs=15, batch_size=32, loss="cross_entropy",
                            optimizer="sgd", learning_rate=0.1, seed=0)
    assert next(backend.estimator.parameters()).device.type == "cuda"
    assert history["loss"][-1] < history["loss"][0]
    accuracy = float(np.mean(np.argmax(backend.predict(xt), axis=1) == yt))
    assert accuracy > 0.85
    weights = backend.get_weights()
    assert all(isinstance(w, np.ndarray) for w in weights)


def test_weights_and_files_move_between_gpu_and_cpu(digits, tmp_path):
    x, y, xt, _ = digits
    gpu = set_backend(_net(), context=_cuda_context(tmp_path))
    gpu.train((x, y.astype("int64")), epochs=3, loss="cross_entropy", seed=0)
    path = gpu.save()

    cpu = set_backend(_net(), context=Context(Config()))
    cpu.set_weights(gpu.get_weights())
    assert np.allclose(cpu.predict(xt), gpu.predict(xt), atol=1e-4)

    loaded = set_backend(_net(), context=Context(Config()))
    loaded.load(path)
    assert np.allclose(loaded.predict(xt), gpu.predict(xt), atol=1e-4)

    gpu.set_weights(cpu.get_weights())  # FedAvg results arrive as numpy: back onto the GPU
    assert next(gpu.estimator.parameters()).device.type == "cuda"


def test_proximal_term_on_the_gpu(digits, tmp_path):
    x, y, _, _ = digits
    free = set_backend(_net(), context=_cuda_context(tmp_path))
    prox = set_backend(_net(), context=_cuda_context(tmp_path))
    start = [w.copy() for w in free.get_weights()]
    free.train((x, y.astype("int64")), epochs=3, loss="cross_entropy", learning_rate=0.5, seed=0)
    prox.train((x, y.astype("int64")), epochs=3, loss="cross_entropy", learning_rate=0.5, seed=0,
               proximal_mu=1.0)  # lr * mu < 2: the proximal step is stable

    def drift(backend):
        return sum(float(np.sum((w - s) ** 2)) for w, s in zip(backend.get_weights(), start))

    assert drift(prox) < drift(free)
