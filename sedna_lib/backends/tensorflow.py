"""The TensorFlow and Keras backends: real fit (FedProx too), numpy weights, Keras files."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .._json import json_safe
from ..exceptions import BackendError, DataError, ParameterError
from .arrays import (cast_like, first_row, is_one_sample, is_structure, leaves, map_structure,
                     numeric_array, single_output, split_xy)
from .base import _import, check_batch_size, framework_of, training_options
from .estimator import EstimatorBackend, EstimatorCalls
from .files import remove_path_prefix
from .history import EpochMetrics, extend_history

__all__ = ["TensorFlowBackend", "KerasBackend"]

_INSTALL = "sedna_lib[tensorflow]"

_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
_CLASSIFICATION = {"cross_entropy", "crossentropy", "sparse_categorical_crossentropy"}
_REGRESSION = {"mse": "mean_squared_error", "mean_squared_error": "mean_squared_error",
               "mae": "mean_absolute_error", "l1": "mean_absolute_error",
               "mean_absolute_error": "mean_absolute_error", "huber": "huber"}
_KERAS_EXTENSIONS = (".keras", ".h5", ".hdf5")


def _keras() -> Any:
    _import("tensorflow", _INSTALL)
    return _import("keras", _INSTALL)


def _tf() -> Any:
    return _import("tensorflow", _INSTALL)


def _is_dataset(data: Any) -> bool:
    return type(data).__module__.startswith("tensorflow") and hasattr(data, "element_spec")


def _input_features(model: Any) -> int | None:
    """Return how many features a model with one input of shape ``(None, n)`` takes; else None."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):  # not built yet, or no single input
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 0:
        return shape[1]
    return None


def _one_sample(model: Any, data: Any) -> bool:
    """Whether ``data`` is one sample for a model of input ``(None, n)`` (:func:`.arrays.is_one_sample`)."""
    return is_one_sample(data, _input_features(model))


_HINT = "decode files into arrays first or pass a tf.data.Dataset"


def _inputs(model: Any) -> list[Any]:
    """Return a model's symbolic inputs (empty for a model without them, such as an unbuilt subclass)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return []
    return list(inputs) if isinstance(inputs, (list, tuple)) else []


def _ranks(model: Any, data: Any) -> list[int] | None:
    """Return how many axes each part of ``data`` has more than the model's input it goes to.

    ``data`` matches a model of several inputs when it is a list or tuple with one part per input,
    each of the input's rank (a batch: 0 more) or one axis fewer (one sample: -1), or a dict (the
    inputs by name). None when it does not match: then it is one array, or ``(x, y)``.
    """
    inputs = _inputs(model)
    if isinstance(data, dict):
        return [] if "x" not in data else None
    if len(inputs) < 2 or not isinstance(data, (list, tuple)) or len(data) != len(inputs):
        return None
    ranks = []
    for part, spec in zip(data, inputs):
        try:
            ranks.append(np.ndim(part) - len(spec.shape))
        except (TypeError, ValueError):  # ragged: not one input's array
            return None
    return ranks if all(r in (0, -1) for r in ranks) and len(set(ranks)) == 1 else None


def _outputs_of(model: Any) -> list[Any]:
    """Return a model's symbolic outputs (empty for a model without them, such as an unbuilt subclass)."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return []
    return list(outputs) if isinstance(outputs, (list, tuple)) else []


def _features(model: Any, x: Any) -> Any:
    """Return features as float32 arrays: one array, or each array of a structure of the model's inputs."""
    if _ranks(model, x) is not None:
        return map_structure(lambda part: numeric_array(part, features=True, hint=_HINT), x)
    return numeric_array(x, features=True, hint=_HINT)


def _labels(model: Any, y: Any) -> Any:
    """Return labels as arrays: one array, or a list, tuple or dict of them for a model of several outputs."""
    outputs = _outputs_of(model)
    several = len(outputs) > 1 and (isinstance(y, dict) or
                                    isinstance(y, (list, tuple)) and len(y) == len(outputs))
    return map_structure(np.asarray, y) if several else np.asarray(y)


def _rows(value: Any, what: str) -> int:
    """Return the number of samples of an array, or of the arrays of a structure (all the same)."""
    if not is_structure(value):
        return len(value)
    counts = {len(part) for part in leaves(value)}
    if len(counts) != 1:
        raise DataError(f"the {what} arrays must have one row per sample each, got {sorted(counts)} rows")
    return counts.pop()


def _to_arrays(out: Any) -> Any:
    """Return what a model gave as numpy: one array, or the structure of arrays Keras returns."""
    return map_structure(np.asarray, out) if is_structure(out) else np.asarray(out)


class _KerasCalls(EstimatorCalls):
    """How :class:`TensorFlowBackend` drives a Keras model: compile and fit, numpy weights, Keras files."""

    native = True

    def extension(self, backend: TensorFlowBackend) -> str:
        """Return ``.keras``: a Keras model is saved in Keras' own format."""
        return ".keras"

    def _softmax_output(self, backend: TensorFlowBackend) -> bool:
        layers = getattr(backend.estimator, "layers", None) or []
        activation = getattr(layers[-1], "activation", None) if layers else None
        return getattr(activation, "__name__", "") in ("softmax", "sigmoid")

    def _make_loss(self, backend: TensorFlowBackend, spec: Any, y: Any) -> Any:
        keras = _keras()
        if is_structure(y):  # labels for several outputs: the first tells classification
            y = leaves(y)[0] if leaves(y) else None
        if spec is None:
            integer = y is not None and np.asarray(y).dtype.kind in "iub"
            spec = "cross_entropy" if integer else "mse"
        if isinstance(spec, str):
            name = spec.strip().lower()
            if name in _CLASSIFICATION:
                logits = not self._softmax_output(backend)
                return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
            name = _REGRESSION.get(name, name)
            try:
                return keras.losses.get(name)
            except ValueError as exc:
                raise ParameterError(f"unknown loss {spec!r}: {exc}") from exc
        return spec

    def _make_optimizer(self, spec: Any, lr: float | None) -> Any:
        keras = _keras()
        if spec is None:
            spec = "sgd"
        if isinstance(spec, str):
            name = _OPTIMIZERS.get(spec.strip().lower())
            if name is None:
                raise ParameterError(f"unknown optimizer {spec!r}; use one of "
                                     f"{', '.join(sorted(_OPTIMIZERS))} or a keras optimizer")
            cls = getattr(keras.optimizers, name)
            return cls(learning_rate=lr) if lr is not None else cls()
        if isinstance(spec, type):
            return spec(learning_rate=lr) if lr is not None else spec()
        return spec

    def _ensure_compiled(self, backend: TensorFlowBackend, y: Any = None, *, loss: Any = None,
                         optimizer: Any = None, lr: float | None = None,
                         metrics: list[Any] | None = None) -> Any:
        model = backend.estimator
        compiled = bool(getattr(model, "compiled", False)) and getattr(model, "optimizer", None) is not None
        if compiled and loss is None and optimizer is None and lr is None and metrics is None:
            return model
        spec = loss if loss is not None else backend.loss
        outputs = _outputs_of(model)
        if spec is None and compiled and len(outputs) > 1:  # keep the losses compiled per output
            spec = getattr(model, "loss", None)
        if len(outputs) > 1 and not is_structure(spec):
            raise ParameterError(f"the model has {len(outputs)} outputs, and a loss over all of them is not "
                                 f"defined: pass loss= a list (or a dict by output name), one per output")
        loss_obj = spec if is_structure(spec) else self._make_loss(backend, spec, y)
        if optimizer is None and compiled and lr is None and backend.optimizer is None:
            opt = model.optimizer
        else:
            opt = self._make_optimizer(optimizer if optimizer is not None else backend.optimizer,
                                       lr if lr is not None else backend.learning_rate)
        metrics = metrics if metrics is not None else backend.metrics
        if metrics is None and len(outputs) > 1:
            metrics = []  # per output, as Keras takes them, only when given
        if metrics is None:
            described = f"{type(loss_obj).__name__} {loss_obj}".lower()
            is_cls = "crossentropy" in described
            metrics = ["accuracy"] if is_cls else []
        model.compile(optimizer=opt, loss=loss_obj, metrics=list(metrics))
        return model

    @staticmethod
    def _arrays(model: Any, data: Any, y: Any, need_labels: bool) -> tuple[Any, Any]:
        x, labels = split_xy(data, y)
        if labels is None and need_labels:
            raise DataError("training and evaluation need labels: pass (x, y), a data source with .x/.y, y=, "
                            "or a tf.data.Dataset of (x, y)")
        x = _features(model, x)
        if labels is not None:
            labels = _labels(model, labels)
            n, m = _rows(x, "input"), _rows(labels, "label")
            if m != n:
                raise DataError(f"x has {n} samples but y has {m}")
        return x, labels

    def train(self, backend: TensorFlowBackend, train_data: Any, valid_data: Any = None,
              **kwargs: Any) -> Any:
        """Compile the model if needed and fit it (a FedProx loop when ``proximal_mu > 0``)."""
        keras = _keras()
        lr = kwargs.get("learning_rate", kwargs.get("lr"))  # given here, it recompiles the model
        epochs, batch_size, checked_lr, mu, seed = training_options(
            kwargs.get("epochs", backend.epochs), kwargs.get("batch_size", backend.batch_size),
            learning_rate=backend.learning_rate if lr is None else lr,
            proximal_mu=kwargs.get("proximal_mu", backend.proximal_mu), seed=kwargs.get("seed", backend.seed))
        lr = None if lr is None else checked_lr
        if seed is not None:
            keras.utils.set_random_seed(seed)
        shuffle = bool(kwargs.get("shuffle", backend.shuffle))
        if _is_dataset(train_data):
            x, y, num_samples = train_data, None, None
            compiled = bool(getattr(backend.estimator, "compiled", False))
            sample_y = None if compiled else next(iter(train_data))[1].numpy()
        else:
            x, y = self._arrays(backend.estimator, train_data, kwargs.get("y"), need_labels=True)
            num_samples, sample_y = _rows(x, "input"), y
        model = self._ensure_compiled(backend, sample_y, loss=kwargs.get("loss"),
                                      optimizer=kwargs.get("optimizer"), lr=lr, metrics=kwargs.get("metrics"))
        validation = None
        if valid_data is not None:
            validation = valid_data if _is_dataset(valid_data) \
                else self._arrays(backend.estimator, valid_data, None, True)
        if mu > 0:
            history = self._fit_proximal(backend, model, x, y, validation, epochs=epochs,
                                         batch_size=batch_size, shuffle=shuffle, mu=mu, seed=seed)
            num_samples = history.pop("_num_samples")
        else:
            fit_kwargs: dict[str, Any] = {"epochs": epochs, "verbose": kwargs.get("verbose", 0),
                                          "validation_data": validation}
            if kwargs.get("callbacks") is not None:
                fit_kwargs["callbacks"] = kwargs["callbacks"]
            if y is None:
                result = model.fit(x, shuffle=False, **fit_kwargs)
            else:
                result = model.fit(x, y, batch_size=batch_size, shuffle=shuffle, **fit_kwargs)
            history = {k: [float(v) for v in vals] for k, vals in result.history.items()}
            if num_samples is None:
                num_samples = int(sum(int(np.shape(b[0])[0]) for b in x))
        history["num_samples"] = int(num_samples)
        backend.has_load = True
        return history

    def _fit_proximal(self, backend: TensorFlowBackend, model: Any, x: Any, y: Any, validation: Any, *,
                      epochs: int, batch_size: int, shuffle: bool, mu: float,
                      seed: int | None) -> dict[str, Any]:
        tf = _tf()
        if y is None:
            dataset = x
        else:
            # tf.data reads a list as one tensor: the inputs or outputs of a structure go as a tuple
            dataset = tf.data.Dataset.from_tensor_slices(
                tuple(tuple(part) if isinstance(part, list) else part for part in (x, y)))
            if shuffle:
                dataset = dataset.shuffle(_rows(x, "input"), seed=seed, reshuffle_each_iteration=True)
            dataset = dataset.batch(batch_size)
        variables = model.trainable_variables
        start = [tf.identity(tf.convert_to_tensor(v)) for v in variables]
        optimizer = model.optimizer

        def step(xb: Any, yb: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                data_loss = model.compute_loss(x=xb, y=yb, y_pred=pred, training=True)
                prox = tf.add_n([tf.reduce_sum(tf.square(tf.convert_to_tensor(v) - v0))
                                 for v, v0 in zip(variables, start)])
                total = data_loss + (mu / 2.0) * prox
            grads = tape.gradient(total, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return data_loss, pred

        history: dict[str, Any] = {"loss": []}
        num_samples = 0
        for epoch in range(epochs):
            epoch_pass = EpochMetrics()
            for xb, yb in dataset:
                data_loss, pred = step(xb, yb)
                hits = None
                if is_structure(pred) or is_structure(yb):  # several outputs: no one accuracy
                    epoch_pass.add(float(data_loss), int(tf.shape(leaves(xb)[0])[0]), None)
                    continue
                pred_np, y_np = np.asarray(pred), np.asarray(yb)
                if pred_np.ndim == 2 and pred_np.shape[1] > 1 and y_np.dtype.kind in "iu":
                    hits = int(np.sum(pred_np.argmax(axis=1) == y_np.reshape(-1)))
                epoch_pass.add(float(data_loss), int(tf.shape(leaves(xb)[0])[0]), hits)
            if epoch == 0:
                num_samples = epoch_pass.seen
            extend_history(history, epoch_pass.metrics())
            if validation is not None:
                extend_history(history, self._scores(backend, validation), "val_")
        history["_num_samples"] = num_samples
        return history

    def _outputs(self, backend: TensorFlowBackend, data: Any, batch_size: int | None) -> Any:
        if _is_dataset(data):
            return _to_arrays(backend.estimator.predict(data, verbose=0))
        data = data.x if hasattr(data, "x") and hasattr(data, "y") else data
        if _ranks(backend.estimator, data) is not None:  # the inputs of a model of several, not (x, y)
            x = _features(backend.estimator, data)
        else:
            x, _ = self._arrays(backend.estimator, data, None, False)
        batch_size = check_batch_size(backend.batch_size if batch_size is None else batch_size)
        if _rows(x, "input") <= batch_size:
            # One batch: calling the model skips Model.predict's per-call setup (a data adapter,
            # callbacks, a compiled loop), which costs far more than a small forward pass.
            keras = _keras()
            out = backend.estimator(x, training=False)
            return _to_arrays(keras.tree.map_structure(keras.ops.convert_to_numpy, out))
        return _to_arrays(backend.estimator.predict(x, batch_size=batch_size, verbose=0))

    @staticmethod
    def _sample(model: Any, data: Any) -> Any:
        """Return ``data`` as a batch of one when it is one sample (of one input or of each), else None."""
        if _one_sample(model, data):
            return np.asarray(data)[None]
        if len(_inputs(model)) > 1 and _ranks(model, data) == [-1] * len(_inputs(model)):
            return map_structure(lambda part: np.asarray(part)[None], data)
        return None

    def predict(self, backend: TensorFlowBackend, data: Any, **kwargs: Any) -> Any:
        """Return the model's outputs (one sample's outputs for one 1-D sample).

        A model of several outputs gets them as Keras gives them (a list or dict of arrays).
        """
        batch = self._sample(backend.estimator, data)
        if batch is not None:
            return first_row(self.predict(backend, batch, **kwargs))
        return self._outputs(backend, data, kwargs.get("batch_size"))

    def predict_proba(self, backend: TensorFlowBackend, data: Any, **kwargs: Any) -> Any:
        """Return class probabilities (one sample's probabilities for one 1-D sample)."""
        batch = self._sample(backend.estimator, data)
        if batch is not None:
            return self.predict_proba(backend, batch, **kwargs)[0]
        out = single_output(self._outputs(backend, data, kwargs.get("batch_size")))
        if out.ndim == 1 or out.shape[1] == 1:
            p = out.reshape(-1) if self._softmax_output(backend) else 1.0 / (1.0 + np.exp(-out.reshape(-1)))
            return np.stack([1 - p, p], axis=1)
        if self._softmax_output(backend):
            return out
        z = np.exp(out - out.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _scores(self, backend: TensorFlowBackend, data: Any, y: Any = None) -> dict[str, float]:
        if _is_dataset(data):
            result = backend.estimator.evaluate(data, verbose=0, return_dict=True)
        else:
            x, labels = data if isinstance(data, tuple) and y is None and isinstance(data[0], np.ndarray) \
                else self._arrays(backend.estimator, data, y, True)
            self._ensure_compiled(backend, labels)
            result = backend.estimator.evaluate(x, labels, batch_size=backend.batch_size, verbose=0,
                                                return_dict=True)
        return {k: float(v) for k, v in json_safe(result).items()}

    def evaluate(self, backend: TensorFlowBackend, data: Any, **kwargs: Any) -> Any:
        """Evaluate with the compiled loss and metrics."""
        if _is_dataset(data):
            self._ensure_compiled(backend, next(iter(data))[1].numpy())
        return self._scores(backend, data, kwargs.get("y"))

    def get_weights(self, backend: TensorFlowBackend) -> list[np.ndarray]:
        """Return ``model.get_weights()`` (copies)."""
        return [np.array(w, copy=True) for w in backend.estimator.get_weights()]

    def set_weights(self, backend: TensorFlowBackend, weights: Sequence[Any]) -> None:
        """Load numpy arrays with ``model.set_weights``."""
        model = backend.estimator
        model.set_weights(cast_like(type(model).__name__, weights, model.get_weights()))

    def save_file(self, backend: TensorFlowBackend, path: str) -> None:
        """Write the model (or its weights) in a Keras format."""
        if path.endswith(".weights.h5"):
            backend.estimator.save_weights(path)
        elif path.lower().endswith(_KERAS_EXTENSIONS):
            backend.estimator.save(path)
        else:
            raise BackendError(f"a Keras model is saved as .keras, .h5 or .weights.h5, not {path!r}; set "
                               f"MODEL_NAME (or model_name=) to e.g. 'model.keras'")

    def load_file(self, backend: TensorFlowBackend, path: str, **kwargs: Any) -> Any:
        """Read a Keras file into the model (or load the model it holds, in safe mode)."""
        if not path.lower().endswith(_KERAS_EXTENSIONS):
            raise BackendError(f"a Keras model is loaded from .keras, .h5 or .weights.h5, not {path!r}")
        model = backend.estimator
        if path.endswith(".weights.h5") or getattr(model, "built", False):
            try:
                model.load_weights(path)
            except (ValueError, OSError) as exc:
                raise BackendError(f"cannot load weights from {path!r} into {type(model).__name__}: "
                                   f"{exc}") from exc
            return model
        keras = _keras()
        try:
            backend.estimator = keras.saving.load_model(path, custom_objects=kwargs.get("custom_objects"),
                                                        safe_mode=True)
        except (ValueError, OSError, TypeError) as exc:
            raise BackendError(f"cannot load a Keras model from {path!r}: {exc}") from exc
        return backend.estimator


_KERAS_CALLS = _KerasCalls()


class TensorFlowBackend(EstimatorBackend):
    """Train and serve a Keras model under TensorFlow (or drive a Sedna-style TF estimator).

    For a Keras ``Model``, :meth:`train` compiles the model if it is not compiled yet (or when
    ``loss``/``optimizer`` are given), then fits it for ``epochs`` with ``batch_size``; numpy
    arrays, ``(x, y)`` tuples, data sources and ``tf.data.Dataset`` objects are accepted. With
    ``proximal_mu > 0`` a FedProx training loop adds ``mu / 2 * ||w - w_start||^2``. Weights
    are ``model.get_weights()`` (numpy arrays; Sedna returned nested lists or nothing). Files are
    Keras' own formats: ``.keras`` (default), ``.h5``, or ``.weights.h5`` for weights only; no
    pickle is involved. Any other estimator is driven like Sedna's TFBackend: ``train(
    train_data=..., valid_data=...)``, ``predict(data=...)``, with a ``.pb`` default file name.

    Parameters
    ----------
    estimator : keras.Model, class or factory of one, or a Sedna-style estimator
        The model. An instance is used as it is (never called to "instantiate" it).
    loss : str or keras loss, default=None
        ``'cross_entropy'``/``'sparse_categorical_crossentropy'`` (logits are detected from the
        last layer's activation), ``'mse'``, ``'mae'``, any Keras loss name or object. ``None``:
        keep the compiled loss, else sparse cross-entropy for integer labels and MSE otherwise.
    optimizer : str or keras optimizer, default=None
        ``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``, ``'adagrad'`` or an optimizer object.
        ``None``: keep the compiled optimizer, else SGD.
    learning_rate : float, default=None
        Learning rate for a named optimizer; ``None``: Keras' default.
    metrics : list, default=None
        Compile metrics; ``None``: ``['accuracy']`` for classification.
    epochs : int, default=1
        Epochs per :meth:`train` call.
    batch_size : int, default=32
        Batch size for arrays (a ``tf.data.Dataset`` keeps its own batching).
    proximal_mu : float, default=0.0
        FedProx coefficient (see :class:`~sedna_lib.backends.TorchBackend`).
    seed : int, default=None
        Passed to ``keras.utils.set_random_seed`` at the start of :meth:`train`.
    shuffle : bool, default=True
        Shuffle arrays each epoch.
    **options : object
        The :class:`~sedna_lib.backends.Backend` options (``model_save_path``, ...).

    References
    ----------
    .. [1] T. Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020,
       https://arxiv.org/abs/1812.06127
    """

    framework = "tensorflow"
    requires = ("tensorflow", _INSTALL)

    def __init__(self, estimator: Any, *, loss: Any = None, optimizer: Any = None,
                 learning_rate: float | None = None, metrics: list[Any] | None = None, epochs: int = 1,
                 batch_size: int = 32, proximal_mu: float = 0.0, seed: int | None = None,
                 shuffle: bool = True, **options: Any) -> None:
        super().__init__(estimator, **options)
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.proximal_mu = proximal_mu
        self.seed = seed
        self.shuffle = shuffle

    def _choose_calls(self) -> EstimatorCalls:
        """Drive a Keras model natively, any other estimator through its own methods."""
        return _KERAS_CALLS if framework_of(self._instance()) == "keras" else super()._choose_calls()

    def train(self, train_data: Any, valid_data: Any = None, **kwargs: Any) -> Any:
        """Fit the Keras model (or call a Sedna-style estimator's ``train``).

        Parameters
        ----------
        train_data : object
            ``(x, y)``, a data source with ``.x``/``.y``, ``x`` with ``y=``, or a
            ``tf.data.Dataset`` of ``(x, y)`` batches.
        valid_data : object, default=None
            Passed as ``validation_data``.
        **kwargs : object
            Per-call ``loss``, ``optimizer``, ``learning_rate``, ``metrics``, ``epochs``,
            ``batch_size``, ``proximal_mu``, ``seed``, ``shuffle``, ``y``, ``verbose``, ``callbacks``.

        Returns
        -------
        dict
            Keras' ``History.history`` (``loss``, ``accuracy``, ``val_...``, lists per epoch)
            plus ``num_samples``.

        Raises
        ------
        DataError
            If labels are missing or the data is not numeric.
        ParameterError
            If the loss or optimizer is unknown, or a training option is out of range (checked
            before any training): ``epochs`` and ``batch_size`` whole numbers >= 1, ``learning_rate``
            a finite number > 0, ``proximal_mu`` a finite number >= 0, ``seed`` a whole number.
        """
        return self._calls.train(self, train_data, valid_data, **kwargs)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Return the model's outputs (or call a Sedna-style estimator's ``predict(data=...)``).

        Parameters
        ----------
        data : array-like, tf.data.Dataset or data source
            Inputs. For a model whose input has shape ``(None, n)`` with ``n > 1``, a 1-D vector
            of ``n`` values is one sample (as scikit-learn's backend takes it).
        **kwargs : object
            ``batch_size``.

        Returns
        -------
        numpy.ndarray
            The model outputs: one row per sample, or the one sample's outputs for a 1-D sample.

        Raises
        ------
        DataError
            If a 1-D vector's length is not the ``n`` features such an input takes.
        """
        return self._calls.predict(self, data, **kwargs)

    def predict_proba(self, data: Any, **kwargs: Any) -> Any:
        """Return class probabilities (the outputs if the last layer is softmax, else their softmax).

        Parameters
        ----------
        data : array-like, tf.data.Dataset or data source
            Inputs; a 1-D sample as for :meth:`predict`.
        **kwargs : object
            ``batch_size``.

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
        """Evaluate the model with its compiled loss and metrics.

        Parameters
        ----------
        data : object
            ``(x, y)``, a data source, ``x`` with ``y=``, or a ``tf.data.Dataset``.
        **kwargs : object
            ``y``.

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float, ...}``.

        Raises
        ------
        DataError
            If labels are missing.
        """
        return self._calls.evaluate(self, data, **kwargs)

    def get_weights(self) -> list[np.ndarray]:
        """Return ``model.get_weights()``: a list of numpy arrays.

        Returns
        -------
        list of numpy.ndarray
            The weights, in Keras' order.
        """
        return self._calls.get_weights(self)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load numpy arrays with ``model.set_weights``.

        Parameters
        ----------
        weights : sequence of array-like
            As :meth:`get_weights` returns them (nested lists are accepted too).

        Raises
        ------
        BackendError
            If the number or shapes of the arrays do not match the model.
        """
        self._calls.set_weights(self, weights)

    def model_info(self, model: str, relpath: str | None = None, result: Any = None) -> list[dict[str, Any]]:
        """Describe a saved model; a ``.pb`` file also reports its folder as a ``ckpt`` entry (as Sedna does).

        Parameters
        ----------
        model : str
            Path or URL of the model file.
        relpath : str, default=None
            Prefix (``DATA_PATH_PREFIX``) to strip.
        result : dict, default=None
            Metrics.

        Returns
        -------
        list of dict
            ``[{"format", "url", "metrics"}]``, plus ``{"format": "ckpt", "url": folder, ...}``
            for ``.pb`` models.
        """
        info = super().model_info(model, relpath, result)
        if info[0]["format"] == "pb":
            folder = remove_path_prefix(os.path.dirname(model), relpath)
            info.append({"format": "ckpt", "url": folder, "metrics": info[0]["metrics"]})
        return info


class KerasBackend(TensorFlowBackend):
    """Train and serve a Keras model; :class:`TensorFlowBackend` with ``framework='keras'``.

    Sedna's KerasBackend skipped its parent's setup and failed on first use; this one shares
    all of :class:`TensorFlowBackend`'s behaviour and only changes the default file name
    (``model_finetune_keras.keras`` for a Keras model, ``model_finetune_keras.pb`` for a
    Sedna-style estimator).

    Parameters
    ----------
    estimator : keras.Model, class or factory of one, or a Sedna-style estimator
        The model.
    **options : object
        As for :class:`TensorFlowBackend`.
    """

    framework = "keras"
