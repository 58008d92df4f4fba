"""The PyTorch backend: a real training loop (loss, optimizer, epochs, FedProx), state-dict weights, files."""

from __future__ import annotations

import pickle  # noqa: S403 (its error type only: files are read with torch.load(weights_only=True))
import warnings
from typing import Any, Sequence

import numpy as np

from ..base import cast_to_layer
from ..exceptions import BackendError, DataError, ParameterError, SednaWarning
from .arrays import (describe_structure, first_row, is_one_sample, is_structure, join_batches,
                     map_structure, numeric_array, single_output, split_xy)
from .base import _import, check_batch_size, framework_of, training_options
from .estimator import EstimatorBackend, EstimatorCalls
from .history import EpochMetrics, extend_history

__all__ = ["TorchBackend", "LOSSES", "OPTIMIZERS"]

_INSTALL = "sedna_lib[torch]"

#: Loss names :class:`TorchBackend` understands, and the ``torch.nn`` class each one means.
LOSSES: dict[str, str] = {
    "cross_entropy": "CrossEntropyLoss",
    "crossentropy": "CrossEntropyLoss",
    "categorical_crossentropy": "CrossEntropyLoss",
    "sparse_categorical_crossentropy": "CrossEntropyLoss",
    "nll": "NLLLoss",
    "mse": "MSELoss",
    "mean_squared_error": "MSELoss",
    "l1": "L1Loss",
    "mae": "L1Loss",
    "mean_absolute_error": "L1Loss",
    "smooth_l1": "SmoothL1Loss",
    "huber": "HuberLoss",
    "bce": "BCELoss",
    "binary_crossentropy": "BCEWithLogitsLoss",
    "bce_with_logits": "BCEWithLogitsLoss",
}

#: Optimizer names :class:`TorchBackend` understands, and the ``torch.optim`` class each one means.
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}

_CLASSIFICATION_LOSSES = ("CrossEntropyLoss", "NLLLoss")

_TRAIN_OPTIONS = {"loss", "optimizer", "learning_rate", "lr", "epochs", "batch_size", "device", "proximal_mu",
                  "seed", "shuffle", "y"}


def _torch() -> Any:
    return _import("torch", _INSTALL)


def _placed(model: Any, device: str) -> Any:
    """Return ``model`` on ``device``, moving it only when its first tensor lives elsewhere.

    ``Module.to`` walks every submodule and tensor even when nothing moves, which costs more
    than a small model's forward pass; serving calls this on every request.
    """
    torch = _torch()
    first = next(model.parameters(), None)
    if first is None:
        first = next(model.buffers(), None)
    if first is not None:
        target = torch.device(device)
        here = first.device
        if here.type == target.type and (target.index is None or here.index == target.index):
            return model
    return model.to(device)


def _float_dtype(model: Any) -> Any:
    """Return the dtype of a module's floating parameters (or buffers); None for a module without any."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def _takes_ids(model: Any) -> bool:
    """Whether a module looks up integer ids (it has an ``Embedding`` or ``EmbeddingBag``)."""
    nn = _torch().nn
    return any(isinstance(module, (nn.Embedding, nn.EmbeddingBag))
               or getattr(module, "original_name", "") in ("Embedding", "EmbeddingBag")  # TorchScript
               for module in model.modules())


def _features(xb: Any, device: str, dtype: Any, ids: bool = False) -> Any:
    """Move a batch of features to ``device``, numbers in the module's own float dtype.

    numpy floats arrive as float32 and integers as they are: a float64, float16 or bfloat16
    module needs its own floats, and integers become its floats too unless the module looks up
    ids (``ids``: an embedding's input stays integer).
    """
    if xb.is_floating_point():
        target = dtype
    else:  # integers into a module without floats of its own (a softmax, say): torch's default floats
        target = None if ids or xb.dtype == _torch().bool else dtype or _torch().get_default_dtype()
    if target is not None and xb.dtype != target:
        return xb.to(device=device, dtype=target)
    return xb.to(device)


def _to_numpy(tensor: Any) -> Any:
    """Return a tensor on the CPU as numpy; bfloat16 (which numpy has not) as float32, exactly.

    A structure of tensors (a tuple, list or dict a module returns) comes back as the same
    structure of arrays; a leaf that is not a tensor is returned as it is.
    """
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        return map_structure(_to_numpy, tensor) if is_structure(tensor) else tensor
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()


def _numpy_dtype(dtype: Any) -> np.dtype:
    """Return the numpy dtype weights of a tensor ``dtype`` travel in (float32 for bfloat16)."""
    torch = _torch()
    if dtype == torch.bfloat16:
        return np.dtype(np.float32)
    return torch.empty((), dtype=dtype).numpy().dtype


def _input_features(model: Any) -> int | None:
    """Return how many features a module's first layer takes, when that layer is a ``Linear``; else None.

    The first layer is the first submodule (in registration order) that holds parameters of its own.
    A module starting with anything else (an embedding taking token ids, a convolution) gives None.
    """
    torch = _torch()
    for module in model.modules():
        if next(module.parameters(recurse=False), None) is None:
            continue
        linear = isinstance(module, torch.nn.Linear) or getattr(module, "original_name", "") == "Linear"
        n = getattr(module, "in_features", None) if linear else None
        return n if isinstance(n, int) and n > 0 else None
    return None


def _one_sample(model: Any, data: Any) -> bool:
    """Whether ``data`` is one sample for a module whose first layer is ``Linear(n, k)``.

    :func:`.arrays.is_one_sample`; a module whose first layer is not a ``Linear`` layer gets a 1-D
    input as a batch, as before.
    """
    return is_one_sample(data, _input_features(model), array_types=(np.ndarray, _torch().Tensor),
                         takes="the model's first layer takes")


def _batch_of_one(data: Any) -> Any:
    """Return one 1-D sample as a batch of shape ``(1, n)``."""
    return [data] if isinstance(data, list) else data[None]


def _cpu(out: Any) -> Any:
    """Move an output (a tensor, or a structure of them) to the CPU."""
    torch = _torch()
    if is_structure(out):
        return map_structure(lambda leaf: leaf.cpu() if isinstance(leaf, torch.Tensor) else leaf, out)
    return out.cpu()


def _cat_leaves(parts: list[Any]) -> Any:
    """Join one output of a structure over every batch along axis 0 (None stays None)."""
    torch = _torch()
    if all(part is None for part in parts):
        return None
    if not all(isinstance(part, torch.Tensor) and part.ndim > 0 for part in parts):
        kinds = sorted({"a 0-d tensor" if isinstance(part, torch.Tensor) else type(part).__name__
                        for part in parts if not (isinstance(part, torch.Tensor) and part.ndim > 0)})
        raise DataError(f"each output of the module must be a tensor with one row per sample, got "
                        f"{' and '.join(kinds)}; return tensors of shape (n, ...) from forward")
    return torch.cat(parts)


class _TensorBatches:
    """Mini-batches of in-memory tensors by slicing, re-iterable once per epoch.

    A ``DataLoader`` over a ``TensorDataset`` indexes every sample and collates them one by one;
    for arrays already in memory, slicing (or one gather per batch when shuffling) yields the
    same batches at a fraction of the per-batch cost. The shuffle order is a fresh
    ``torch.randperm`` per epoch, from ``generator`` (seeded) or torch's global generator.
    """

    def __init__(self, tensors: list[Any], *, batch_size: int, shuffle: bool, generator: Any = None) -> None:
        self.tensors = tensors
        self.batch_size = batch_size  # checked by the caller (check_batch_size)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self) -> Any:
        torch = _torch()
        n, size = len(self.tensors[0]), self.batch_size
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, size):
            if order is None:
                yield tuple(t[start:start + size] for t in self.tensors)
            else:
                index = order[start:start + size]
                yield tuple(t[index] for t in self.tensors)


class _ModuleCalls(EstimatorCalls):
    """How :class:`TorchBackend` drives a ``torch.nn.Module``: a training loop, state-dict weights, files."""

    native = True

    def _device(self, backend: TorchBackend, override: str | None = None) -> str:
        if override or backend.device:
            return str(override or backend.device)
        torch = _torch()
        return "cuda" if backend.use_cuda and torch.cuda.is_available() else "cpu"

    @staticmethod
    def _make_loss(spec: Any, y_sample: Any = None) -> Any:
        torch = _torch()
        if spec is None:
            integer = y_sample is not None and not torch.is_floating_point(y_sample)
            return torch.nn.CrossEntropyLoss() if integer else torch.nn.MSELoss()
        if isinstance(spec, str):
            name = LOSSES.get(spec.strip().lower())
            if name is None:
                raise ParameterError(f"unknown loss {spec!r}; use one of {', '.join(sorted(LOSSES))}, "
                                     f"a torch loss object or a callable")
            return getattr(torch.nn, name)()
        if isinstance(spec, type):
            return spec()
        if callable(spec):
            return spec
        raise ParameterError(f"loss must be a name, a torch loss or a callable, got {type(spec).__name__}")

    def _make_optimizer(self, spec: Any, model: Any, lr: float | None) -> Any:
        torch = _torch()
        params = [p for p in model.parameters() if p.requires_grad]
        if isinstance(spec, torch.optim.Optimizer):
            return spec
        if spec is None:
            spec = "sgd"
        if isinstance(spec, str):
            name = OPTIMIZERS.get(spec.strip().lower())
            if name is None:
                raise ParameterError(f"unknown optimizer {spec!r}; use one of "
                                     f"{', '.join(sorted(OPTIMIZERS))}, "
                                     f"a torch optimizer, class or factory")
            spec = getattr(torch.optim, name)
            if lr is None and name == "SGD":
                lr = 0.01
        if isinstance(spec, type):
            return spec(params, lr=lr) if lr is not None else spec(params)
        if callable(spec):
            return spec(params)
        raise ParameterError(f"optimizer must be a name, an optimizer, a class or a factory, "
                             f"got {type(spec).__name__}")

    @staticmethod
    def _tensor(value: Any, *, features: bool) -> Any:
        torch = _torch()
        if isinstance(value, torch.Tensor):
            return value
        arr = numeric_array(value, features=False,
                            hint="decode files (for example a data source's paths) into arrays first, "
                                 "or pass a torch Dataset/DataLoader")
        if features and arr.dtype.kind in "fb" and arr.dtype != np.float32:
            arr = arr.astype(np.float32)  # integers stay integers: token ids for an embedding
        return torch.from_numpy(np.ascontiguousarray(arr))

    def _loader(self, data: Any, y: Any, *, batch_size: int, shuffle: bool, seed: int | None,
                need_labels: bool) -> Any:
        torch = _torch()
        from torch.utils.data import DataLoader, Dataset

        if isinstance(data, DataLoader):
            return data
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        if isinstance(data, Dataset) and y is None:
            return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
        x, labels = split_xy(data, y)
        if labels is None and need_labels:
            raise DataError("training and evaluation need labels: pass (x, y), a data source with .x/.y, y=, "
                            "or a torch Dataset/DataLoader yielding (x, y)")
        tensors = [self._tensor(x, features=True)]
        if labels is not None:
            tensors.append(self._tensor(labels, features=False))
            if len(tensors[1]) != len(tensors[0]):
                raise DataError(f"x has {len(tensors[0])} samples but y has {len(tensors[1])}")
        return _TensorBatches(tensors, batch_size=batch_size, shuffle=shuffle, generator=generator)

    @staticmethod
    def _batch(batch: Any) -> tuple[Any, Any]:
        if isinstance(batch, (list, tuple)):
            return batch[0], (batch[1] if len(batch) > 1 else None)
        if isinstance(batch, dict):
            return batch["x"], batch.get("y")
        return batch, None

    @staticmethod
    def _match_target(loss_fn: Any, out: Any, yb: Any) -> Any:
        torch = _torch()
        if type(loss_fn).__name__ in _CLASSIFICATION_LOSSES:
            return yb.long() if torch.is_floating_point(yb) else yb
        if not torch.is_floating_point(yb):
            yb = yb.to(out.dtype)
        if yb.shape != out.shape and yb.numel() == out.numel():
            yb = yb.reshape(out.shape)
        return yb

    @staticmethod
    def _whole_outputs(loss_fn: Any, out: Any) -> bool:
        """Whether the loss gets the module's structure of outputs as it is (a callable of the user's).

        A torch loss takes one tensor, so a structure of outputs (a tuple, list or dict) with one
        raises :class:`ParameterError`: the loss over several outputs is the user's to define.
        """
        if not is_structure(out):
            return False
        if isinstance(loss_fn, _torch().nn.modules.loss._Loss):
            raise ParameterError(f"the module returns {describe_structure(out)}, and the loss "
                                 f"{type(loss_fn).__name__} takes one tensor: pass loss= a callable "
                                 f"loss(outputs, targets) that takes the {type(out).__name__}, or make "
                                 f"forward return one tensor")
        return True

    @staticmethod
    def _correct(out: Any, yb: Any) -> int | None:
        torch = _torch()
        if out.ndim == 2 and out.shape[1] > 1 and not torch.is_floating_point(yb):
            return int((out.argmax(dim=1) == yb).sum().item())
        return None

    def train(self, backend: TorchBackend, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Run the training loop on the module."""
        torch = _torch()
        unknown = sorted(set(kwargs) - _TRAIN_OPTIONS)
        if unknown:
            warnings.warn(f"TorchBackend.train ignores {unknown}; it takes {sorted(_TRAIN_OPTIONS)}",
                          SednaWarning, stacklevel=3)
        opt = {name: kwargs.get(name, getattr(backend, name, None)) for name in
               ("loss", "optimizer", "epochs", "batch_size", "proximal_mu", "seed", "shuffle")}
        lr = kwargs.get("learning_rate", kwargs.get("lr", backend.learning_rate))
        epochs, batch_size, lr, mu, seed = training_options(
            opt["epochs"], opt["batch_size"], learning_rate=lr, proximal_mu=opt["proximal_mu"],
            seed=opt["seed"], seed_low=None)  # torch.manual_seed takes negative seeds
        if seed is not None:
            torch.manual_seed(seed)
        device = self._device(backend, kwargs.get("device"))
        model = _placed(backend.estimator, device)
        loader = self._loader(train_data, kwargs.get("y"), batch_size=batch_size,
                              shuffle=bool(opt["shuffle"]), seed=seed, need_labels=True)
        first = next(iter(loader), None)
        if first is None:
            raise DataError("the training data is empty")
        loss_fn = self._make_loss(opt["loss"], self._batch(first)[1])
        optimizer = self._make_optimizer(opt["optimizer"], model, lr)
        dtype, ids = _float_dtype(model), _takes_ids(model)
        start = [p.detach().clone() for p in model.parameters() if p.requires_grad] if mu > 0 else []
        history: dict[str, Any] = {"loss": []}
        num_samples = 0
        for epoch in range(epochs):
            model.train()
            epoch_pass = EpochMetrics()
            for batch in loader:
                xb, yb = self._batch(batch)
                if yb is None:
                    raise DataError("the training DataLoader must yield (x, y) pairs")
                xb, yb = _features(xb, device, dtype, ids), yb.to(device)
                optimizer.zero_grad()
                out = model(xb)
                whole = self._whole_outputs(loss_fn, out)
                target = yb if whole else self._match_target(loss_fn, out, yb)
                data_loss = loss_fn(out, target)
                loss = data_loss
                if mu > 0:
                    prox = sum(((p - p0) ** 2).sum() for p, p0 in
                               zip((p for p in model.parameters() if p.requires_grad), start))
                    loss = data_loss + (mu / 2.0) * prox
                loss.backward()
                optimizer.step()
                epoch_pass.add(float(data_loss.detach()), len(xb),
                               None if whole else self._correct(out.detach(), target))
            if epoch == 0:
                num_samples = epoch_pass.seen
            extend_history(history, epoch_pass.metrics())
            if valid_data is not None:
                metrics = self._evaluate(backend, valid_data, loss_fn, device, batch_size)
                extend_history(history, metrics, "val_")
        history["num_samples"] = num_samples
        backend.has_load = True
        return history

    def _outputs(self, backend: TorchBackend, data: Any, batch_size: int | None = None,
                 device: str | None = None) -> Any:
        torch = _torch()
        dev = self._device(backend, device)
        model = _placed(backend.estimator, dev)
        source = not isinstance(data, (torch.Tensor, np.ndarray, list)) and hasattr(data, "x") \
            and hasattr(data, "y")
        x = data.x if source else data
        loader = self._loader(x, None, batch_size=check_batch_size(
            backend.batch_size if batch_size is None else batch_size), shuffle=False,
                              seed=None, need_labels=False)
        if model.training:  # eval() walks every submodule; a model already in eval mode is left as is
            model.eval()
        outs, dtype, ids = [], _float_dtype(model), _takes_ids(model)
        with torch.no_grad():
            for batch in loader:
                xb, _ = self._batch(batch)
                outs.append(_cpu(model(_features(xb, dev, dtype, ids))))
        if not outs:
            return torch.empty(0)
        if is_structure(outs[0]):  # a tuple, list or dict of outputs: each joined over the batches
            return join_batches(outs, _cat_leaves)
        return torch.cat(outs)

    def predict(self, backend: TorchBackend, data: Any, **kwargs: Any) -> Any:
        """Return the module's outputs as a numpy array (one sample's outputs for one 1-D sample).

        A module returning a tuple, list or dict of tensors gets the same structure of arrays.
        """
        if _one_sample(backend.estimator, data):
            return first_row(self.predict(backend, _batch_of_one(data), **kwargs))
        return _to_numpy(self._outputs(backend, data, kwargs.get("batch_size"), kwargs.get("device")))

    def predict_proba(self, backend: TorchBackend, data: Any, **kwargs: Any) -> Any:
        """Return the softmax (or sigmoid) of the outputs (one sample's probabilities for one 1-D sample)."""
        torch = _torch()
        if _one_sample(backend.estimator, data):
            return self.predict_proba(backend, _batch_of_one(data), **kwargs)[0]
        out = single_output(self._outputs(backend, data, kwargs.get("batch_size"), kwargs.get("device")))
        if out.ndim == 2 and out.shape[1] == 1 or out.ndim == 1:
            p = torch.sigmoid(out.reshape(-1))
            return _to_numpy(torch.stack([1 - p, p], dim=1))
        return _to_numpy(torch.softmax(out, dim=1))

    def _evaluate(self, backend: TorchBackend, data: Any, loss_fn: Any, device: str, batch_size: int,
                  y: Any = None) -> dict[str, float]:
        torch = _torch()
        model = _placed(backend.estimator, device)
        loader = self._loader(data, y, batch_size=batch_size, shuffle=False, seed=None, need_labels=True)
        model.eval()
        stats, dtype, ids = EpochMetrics(), _float_dtype(model), _takes_ids(model)
        with torch.no_grad():
            for batch in loader:
                xb, yb = self._batch(batch)
                if yb is None:
                    raise DataError("evaluation data must yield (x, y) pairs")
                xb, yb = _features(xb, device, dtype, ids), yb.to(device)
                if loss_fn is None:
                    loss_fn = self._make_loss(backend.loss, yb)
                out = model(xb)
                if self._whole_outputs(loss_fn, out):
                    stats.add(float(loss_fn(out, yb)), len(xb), None)
                    continue
                target = self._match_target(loss_fn, out, yb)
                stats.add(float(loss_fn(out, target)), len(xb), self._correct(out, target))
        if stats.seen == 0:
            raise DataError("the evaluation data is empty")
        return stats.metrics()

    def evaluate(self, backend: TorchBackend, data: Any, **kwargs: Any) -> Any:
        """Return the loss (and accuracy) on labelled data."""
        spec = kwargs.get("loss", backend.loss)
        loss_fn = self._make_loss(spec) if spec is not None else None
        return self._evaluate(backend, data, loss_fn, self._device(backend, kwargs.get("device")),
                              check_batch_size(kwargs.get("batch_size", backend.batch_size)),
                              y=kwargs.get("y"))

    def get_weights(self, backend: TorchBackend) -> list[np.ndarray]:
        """Return the state_dict tensors as numpy arrays."""
        return [_to_numpy(t).copy() for t in backend.estimator.state_dict().values()]

    def set_weights(self, backend: TorchBackend, weights: Sequence[Any]) -> None:
        """Load numpy arrays into the state_dict."""
        torch = _torch()
        state = backend.estimator.state_dict()
        if len(weights) != len(state):
            raise BackendError(f"{type(backend.estimator).__name__} has {len(state)} state_dict entries, "
                               f"got {len(weights)} arrays")
        new = {}
        for (key, old), value in zip(state.items(), weights):
            arr = np.asarray(value)
            if tuple(arr.shape) != tuple(old.shape):
                raise BackendError(f"weight {key!r} has shape {tuple(old.shape)}, got {arr.shape}")
            # rounded into integer buffers (a mean of counters), native byte order for torch
            arr = cast_to_layer(arr, _numpy_dtype(old.dtype))
            new[key] = torch.as_tensor(arr).to(dtype=old.dtype, device=old.device)
        backend.estimator.load_state_dict(new, strict=True)

    def save_file(self, backend: TorchBackend, path: str) -> None:
        """Write the state_dict to ``path``."""
        torch = _torch()
        torch.save(backend.estimator.state_dict(), path)

    def load_file(self, backend: TorchBackend, path: str, **kwargs: Any) -> Any:
        """Read a state_dict from ``path`` (weights only) into the module."""
        torch = _torch()
        try:
            device = self._device(backend, kwargs.get("device"))
            state = torch.load(path, map_location=device, weights_only=True)
        except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            raise BackendError(f"cannot read {path!r} as a torch state_dict: {exc}") from exc
        if not isinstance(state, dict):
            raise BackendError(f"{path!r} does not hold a state_dict (got {type(state).__name__}); save the "
                               f"model with TorchBackend.save or torch.save(model.state_dict(), path)")
        try:
            backend.estimator.load_state_dict(state, strict=bool(kwargs.get("strict", True)))
        except RuntimeError as exc:
            raise BackendError(f"{path!r} does not fit {type(backend.estimator).__name__}: {exc}") from exc
        return backend.estimator


_MODULE_CALLS = _ModuleCalls()


class TorchBackend(EstimatorBackend):
    """Train and serve a ``torch.nn.Module`` (or drive a Sedna-style estimator declared as ``TORCH``).

    For a ``torch.nn.Module``, :meth:`train` runs a real loop (Sedna's did nothing): mini-batches
    of ``batch_size`` for ``epochs`` epochs, with ``loss`` and ``optimizer`` given as objects,
    classes or names, and an optional FedProx proximal term. Weights are the ``state_dict``
    tensors as numpy arrays, in ``state_dict`` order; files hold the ``state_dict`` and are read
    with ``torch.load(weights_only=True)`` (no arbitrary pickle). Any other estimator is driven
    like :class:`~sedna_lib.backends.EstimatorBackend`.

    Every training option can also be passed to :meth:`train`, where it wins for that call.

    Parameters
    ----------
    estimator : torch.nn.Module, class or factory of one, or a Sedna-style estimator
        The model.
    loss : str, torch loss, class or callable, default=None
        A name from :data:`LOSSES` (``'cross_entropy'``, ``'mse'``, ...), a loss module, a
        loss class, or ``loss(outputs, targets) -> tensor``. ``None``: cross-entropy for integer
        labels, mean squared error otherwise.
    optimizer : str, torch optimizer, class or factory, default=None
        A name from :data:`OPTIMIZERS` (``'sgd'``, ``'adam'``, ...), an optimizer bound to the
        model's parameters, an optimizer class, or ``factory(params) -> optimizer``.
        ``None``: SGD. A name or class gets a new optimizer each :meth:`train` call.
    learning_rate : float, default=None
        Learning rate for a named or class optimizer; ``None``: 0.01 for SGD, the optimizer's
        default otherwise.
    epochs : int, default=1
        Passes over the training data per :meth:`train` call.
    batch_size : int, default=32
        Mini-batch size for numpy/tensor data (a ``DataLoader`` keeps its own).
    device : str, default=None
        ``'cpu'``, ``'cuda'``, ...; ``None``: ``'cuda'`` when ``use_cuda`` and a GPU is
        available, else ``'cpu'``.
    proximal_mu : float, default=0.0
        FedProx coefficient: :meth:`train` adds ``mu / 2 * ||w - w_start||^2``, where ``w_start``
        are the weights when the call starts.
    seed : int, default=None
        Seeds torch and the shuffling of mini-batches.
    shuffle : bool, default=True
        Shuffle numpy/tensor training data each epoch.
    **options : object
        The :class:`~sedna_lib.backends.Backend` options (``model_save_path``, ...).

    References
    ----------
    .. [1] T. Li, A. K. Sahu, M. Zaheer, M. Sanjabi, A. Talwalkar, V. Smith, "Federated
       Optimization in Heterogeneous Networks", MLSys 2020, https://arxiv.org/abs/1812.06127

    Examples
    --------
    >>> import numpy as np, torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> backend = TorchBackend(net, loss="cross_entropy", optimizer="adam", learning_rate=0.05,
    ...                        epochs=20, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    >>> history = backend.train((x, (x[:, 0] > 0).astype("int64")))
    >>> history["loss"][-1] < history["loss"][0]
    True
    """

    framework = "pytorch"
    requires = ("torch", _INSTALL)

    def __init__(self, estimator: Any, *, loss: Any = None, optimizer: Any = None,
                 learning_rate: float | None = None, epochs: int = 1, batch_size: int = 32,
                 device: str | None = None, proximal_mu: float = 0.0, seed: int | None = None,
                 shuffle: bool = True, **options: Any) -> None:
        super().__init__(estimator, **options)
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.proximal_mu = proximal_mu
        self.seed = seed
        self.shuffle = shuffle

    def _choose_calls(self) -> EstimatorCalls:
        """Drive a ``torch.nn.Module`` natively, any other estimator through its own methods."""
        return _MODULE_CALLS if framework_of(self._instance()) == "torch" else super()._choose_calls()

    def train(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Train the module (or call a Sedna-style estimator's ``train``).

        Parameters
        ----------
        train_data : object
            ``(x, y)`` arrays or tensors, a data source with ``.x``/``.y``, ``x`` with ``y=``, a
            torch ``Dataset`` or a ``DataLoader`` yielding ``(x, y)``.
        valid_data : object, default=None
            Evaluated after each epoch (``val_loss``/``val_accuracy`` in the history).
        **kwargs : object
            Per-call overrides of ``loss``, ``optimizer``, ``learning_rate`` (or ``lr``),
            ``epochs``, ``batch_size``, ``device``, ``proximal_mu``, ``seed``, ``shuffle``, and
            ``y``. Other keys are ignored with a :class:`~sedna_lib.exceptions.SednaWarning`.

        Returns
        -------
        dict
            ``{"loss": [per epoch], "accuracy": [...], "val_loss": [...], "val_accuracy": [...],
            "num_samples": int}`` (accuracy entries for classification only).

        Raises
        ------
        DataError
            If the data has no labels or is not numeric.
        ParameterError
            If the loss or optimizer is unknown, or a training option is out of range (checked
            before any training): ``epochs`` and ``batch_size`` whole numbers >= 1, ``learning_rate``
            a finite number > 0, ``proximal_mu`` a finite number >= 0, ``seed`` a whole number.
        """
        return self._calls.train(self, train_data, valid_data, **kwargs)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Run the module on ``data`` and return its raw outputs.

        Parameters
        ----------
        data : array-like, tensor, Dataset, DataLoader or data source
            Inputs (a ``DataLoader`` yielding ``(x, y)`` uses ``x``). For a module whose first
            layer is ``Linear(n, k)`` with ``n > 1``, a 1-D vector of ``n`` values is one sample
            (as scikit-learn's backend takes it); other modules get a 1-D input as a batch.
        **kwargs : object
            ``batch_size``, ``device``.

        Returns
        -------
        numpy.ndarray
            The outputs (logits for a classifier; see :meth:`predict_proba`): one row per sample,
            or the one sample's outputs for a 1-D sample.

        Raises
        ------
        DataError
            If a 1-D vector's length is not the ``n`` features such a first layer takes.
        """
        return self._calls.predict(self, data, **kwargs)

    def predict_proba(self, data: Any, **kwargs: Any) -> Any:
        """Return class probabilities: softmax of the outputs (sigmoid for a single output).

        Parameters
        ----------
        data : array-like, tensor, Dataset, DataLoader or data source
            Inputs; a 1-D sample as for :meth:`predict`.
        **kwargs : object
            ``batch_size``, ``device``.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Probabilities; of shape (n_classes,) for a 1-D sample.

        Raises
        ------
        DataError
            As for :meth:`predict`.
        """
        return self._calls.predict_proba(self, data, **kwargs)

    def evaluate(self, data: Any, **kwargs: Any) -> Any:
        """Compute the loss (and accuracy, for classification) on labelled data.

        Parameters
        ----------
        data : object
            As for :meth:`train`.
        **kwargs : object
            ``y``, ``loss``, ``batch_size``, ``device``.

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float}`` (accuracy for classification only).

        Raises
        ------
        DataError
            If the data has no labels.
        """
        return self._calls.evaluate(self, data, **kwargs)

    def get_weights(self) -> list[np.ndarray]:
        """Return the ``state_dict`` tensors as numpy arrays, in ``state_dict`` order.

        Returns
        -------
        list of numpy.ndarray
            Copies on the CPU, with the tensors' dtypes (buffers such as BatchNorm's
            ``num_batches_tracked`` stay integer).
        """
        return self._calls.get_weights(self)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load numpy arrays into the ``state_dict``, in ``state_dict`` order.

        Parameters
        ----------
        weights : sequence of array-like
            As :meth:`get_weights` returns them; each is cast to its tensor's dtype.

        Raises
        ------
        BackendError
            If the number or shapes of the arrays do not match the model.
        """
        self._calls.set_weights(self, weights)
