"""Contract checks for plugin authors: run them on your backend, miner or aggregator in your own tests."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

__all__ = ["check_aggregator", "check_backend", "check_hard_example_miner", "make_classification_data"]


# -- backends -----------------------------------------------------------------------------------

def make_classification_data(n_samples: int = 96, n_features: int = 4, *,
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Make a small, seeded, linearly separable two-class problem.

    Parameters
    ----------
    n_samples : int, default=96
        Number of samples.
    n_features : int, default=4
        Number of float32 features.
    seed : int, default=0
        Seed of the generator.

    Returns
    -------
    x : numpy.ndarray of shape (n_samples, n_features), float32
        Features.
    y : numpy.ndarray of shape (n_samples,), int64
        Labels in {0, 1}.

    Examples
    --------
    >>> x, y = make_classification_data(10)
    >>> x.shape, x.dtype.name, sorted(set(y.tolist())) == [0, 1]
    ((10, 4), 'float32', True)
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _outputs(backend: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(backend.predict(x), dtype=np.float64)


def check_backend(backend_factory: Callable[[], Any], data: tuple[Any, Any] | None = None) -> None:
    """Check that a backend keeps the sedna_lib backend contract.

    The factory must return a *fresh* backend (an untrained model of the same architecture)
    each call. The checks train it, predict, evaluate, read and write weights, save and load
    through a temporary folder, and describe the saved model for the LocalController.

    Parameters
    ----------
    backend_factory : callable
        ``backend_factory() -> Backend``.
    data : tuple of (x, y), default=None
        Training data the model accepts; by default :func:`make_classification_data`
        (4 float32 features, labels 0/1), so the model must take 4 inputs and 2 classes.

    Raises
    ------
    AssertionError
        Naming the first broken rule.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sedna_lib.backends import SklearnBackend
    >>> check_backend(lambda: SklearnBackend(LogisticRegression()))
    """
    from .backends.base import Backend
    from .exceptions import SednaError, StorageNotFoundError

    x, y = data if data is not None else make_classification_data()
    backend = backend_factory()
    name = type(backend).__name__
    assert isinstance(backend, Backend), f"{name} is not a sedna_lib.backends.Backend"
    assert isinstance(backend.framework, str), f"{name}.framework must be a str"
    assert isinstance(backend.model_name, str) and backend.model_name, \
        f"{name}.model_name must be a file name"
    assert backend.has_load is False, f"{name}.has_load must be False before train/load"

    # train / predict / evaluate
    backend.train((x, y))
    assert backend.has_load is True, f"{name}.train must set has_load"
    pred = backend.predict(x)
    assert len(pred) == len(x), f"{name}.predict returned {len(pred)} rows for {len(x)} samples"
    metrics = backend.evaluate((x, y))
    assert isinstance(metrics, Mapping) and metrics, f"{name}.evaluate must return a non-empty dict"
    for key, value in metrics.items():
        assert isinstance(key, str) and np.isscalar(value), f"{name}.evaluate: {key!r} is not a scalar"
    json.dumps({k: float(v) for k, v in metrics.items()})

    # weights: numpy arrays, a faithful round trip, refused when malformed
    weights = backend.get_weights()
    assert isinstance(weights, list) and weights, f"{name}.get_weights must return a non-empty list"
    assert all(isinstance(w, np.ndarray) for w in weights), f"{name}.get_weights must return numpy arrays"
    before = _outputs(backend, x)
    backend.set_weights([np.zeros_like(w) for w in weights])
    backend.set_weights(weights)
    assert np.allclose(_outputs(backend, x), before, atol=1e-5), \
        f"{name}.set_weights(get_weights()) changed the predictions"
    again = backend.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(again, weights)), \
        f"{name} weights differ after a round trip"
    try:
        backend.set_weights(weights[:-1])
    except (SednaError, ValueError):
        pass
    else:
        raise AssertionError(f"{name}.set_weights accepted {len(weights) - 1} arrays for "
                             f"{len(weights)} weights")

    # save / load
    with tempfile.TemporaryDirectory() as folder:
        path = backend.save(folder)
        assert isinstance(path, str) and os.path.exists(path), \
            f"{name}.save must return the saved file's path"
        fresh = backend_factory()
        fresh.load(path)
        assert fresh.has_load is True, f"{name}.load must set has_load"
        assert np.allclose(_outputs(fresh, x), before, atol=1e-5), f"{name} predicts differently after load"
        missing = os.path.join(folder, "missing", fresh.model_name)
        try:
            backend_factory().load(missing)
        except StorageNotFoundError:
            pass
        else:
            raise AssertionError(f"{name}.load of a missing file must raise StorageNotFoundError")

        # model_info for the LocalController
        info = backend.model_info(path, relpath=folder, result={"accuracy": np.float32(0.5)})
        assert isinstance(info, list) and info, f"{name}.model_info must return a non-empty list"
        first = info[0]
        assert set(first) >= {"format", "url", "metrics"}, \
            f"{name}.model_info entries need format/url/metrics"
        assert not first["url"].startswith(folder), f"{name}.model_info must strip relpath from the url"
        assert first["format"] == os.path.splitext(path)[1].lstrip(".").lower(), \
            f"{name}.model_info format must be the file extension"
        json.dumps(info)


# -- hard-example miners ------------------------------------------------------------------------

def _miner_samples(kind: str, n: int, rng: np.random.Generator) -> list[Any]:
    if kind == "detections":
        out = []
        for _ in range(n):
            boxes = rng.uniform(0, 1, size=(int(rng.integers(0, 5)), 6))
            out.append(boxes)
        return out
    if kind == "generation":  # what an edge language model gives (see sedna_lib.llm.Generation)
        words = ["paris", "lyon", "nice", "lille"]
        out = []
        for i in range(n):
            length = int(rng.integers(1, 6))
            top = [dict(zip(words, np.log(rng.dirichlet(np.ones(4) * 0.5)))) for _ in range(length)]
            answers = [words[int(j)] for j in rng.integers(0, 4, size=4)]
            out.append({"prompt": f"query {i}", "text": answers[0], "samples": answers[1:],
                        "token_logprobs": [max(t.values()) for t in top], "top_logprobs": top,
                        "reference": words[int(rng.integers(0, 4))]})
        return out
    if kind == "query":
        words = ["module", "function", "sqrt", "join", "path", "what", "which", "defines"]
        return [" ".join(words[int(j)] for j in rng.integers(0, len(words), size=int(rng.integers(1, 6))))
                for _ in range(n)]
    return list(rng.dirichlet(np.ones(5) * 0.5, size=n))


def _prepared(miner: Any, samples: list[Any], rng: np.random.Generator) -> Any:
    """Train a miner that learns from logged outcomes (``fit(samples, hard)``) on synthetic ones."""
    if callable(getattr(miner, "fit", None)):
        miner = miner.clone().fit(samples, rng.random(len(samples)) < 0.4)
    return miner


def check_hard_example_miner(miner: Any, *, n_samples: int = 400, seed: int = 0) -> None:
    """Check that a hard-example miner keeps the contract every built-in keeps.

    The checks: it is a :class:`~sedna_lib.base.HardExampleMiner` whose parameters round-trip
    through ``get_params``/``clone``; one sample gives a Python ``bool``; a batch gives a boolean
    array of the batch's length, equal to the one-by-one decisions (for deterministic miners);
    an empty batch and an empty sample do not fail; a score-based miner's scores are finite
    floats, and with ``upload_ratio=0.3`` it flags 30 % of a stream (within 3 points).

    Parameters
    ----------
    miner : HardExampleMiner
        The miner to check (it is cloned, never changed).
    n_samples : int, default=400
        Stream length for the checks.
    seed : int, default=0
        Seed of the synthetic inputs.

    Raises
    ------
    AssertionError
        Naming the broken rule.

    Examples
    --------
    >>> from sedna_lib.registry import default_registry
    >>> check_hard_example_miner(default_registry.create("hard_example_mining", "CrossEntropy"))
    """
    from .base import HardExampleMiner

    assert isinstance(miner, HardExampleMiner), f"{type(miner).__name__} must subclass HardExampleMiner"
    params = miner.get_params()
    twin = miner.clone()
    assert type(twin) is type(miner) and twin.get_params() == params, "clone() must keep the parameters"
    rng = np.random.default_rng(seed)
    kind = getattr(miner, "input_kind", "any")
    samples = _miner_samples(kind, n_samples, rng)
    miner = _prepared(miner, samples, rng)

    single = miner.clone()(samples[0])
    assert isinstance(single, bool), f"miner(sample) must return a bool, got {type(single).__name__}"
    batch = miner.clone().is_hard(samples)
    assert isinstance(batch, np.ndarray) and batch.dtype == bool and batch.shape == (n_samples,), (
        f"is_hard(batch) must return a bool array of shape ({n_samples},), "
        f"got {getattr(batch, 'shape', batch)}")
    assert miner.clone().is_hard([]).shape == (0,), "is_hard([]) must return an empty array"
    assert isinstance(miner.clone()([]), bool), "an empty sample must be decided, not fail"
    deterministic = "seed" not in params and params.get("upload_ratio") is None
    if deterministic:
        one_by_one = miner.clone()
        assert batch.tolist() == [one_by_one(s) for s in samples], "batch and one-by-one decisions differ"
    if getattr(miner, "scored", False):
        scores = miner.clone().score(samples)
        assert scores.shape == (n_samples,) and np.all(np.isfinite(scores)), "score() must give finite floats"
        if "upload_ratio" in params:
            budget = miner.clone().set_params(upload_ratio=0.3)
            flags = [budget(s) for s in samples]
            assert abs(np.mean(flags) - 0.3) <= 0.03, \
                f"upload_ratio=0.3 flagged {np.mean(flags):.3f} of the stream"


# -- aggregators ----------------------------------------------------------------------------------

def check_aggregator(aggregator: Any, *, n_clients: int = 5, seed: int = 0) -> None:
    """Check the federated aggregator contract; raise ``AssertionError`` naming the broken rule.

    Rules: parameters round-trip through ``get_params``/``clone``; a round of identical updates
    returns that model with the same shapes and dtypes (for averaging rules); ``aggregate``
    equals ``begin_round``/``add``/``finish``; a mismatched shape raises ``AggregationError``
    naming the layer; an empty round raises ``AggregationError``; ``client_config`` is a dict.
    One-shot aggregators (MistNet) are checked on ``[features, labels]`` uploads instead.

    Parameters
    ----------
    aggregator : Aggregator
        An instance (it is cloned, never modified).
    n_clients : int, default=5
        Updates per round.
    seed : int, default=0
        Seed of the synthetic updates.
    """
    from .base import Aggregator, ClientUpdate
    from .exceptions import AggregationError

    assert isinstance(aggregator, Aggregator), \
        f"{type(aggregator).__name__} must subclass sedna_lib.base.Aggregator"
    params = aggregator.get_params()
    assert aggregator.clone().get_params() == params, "clone() must keep the parameters"
    assert isinstance(aggregator.clone().client_config(), dict), "client_config() must return a dict"
    rng = np.random.default_rng(seed)
    if aggregator.one_shot:
        agg = aggregator.clone()
        agg.begin_round(None)
        for i in range(n_clients):
            weights = [rng.integers(0, 2, (4, 6)).astype(np.uint8), rng.integers(0, 3, 4)]
            agg.add(ClientUpdate(weights, 4, f"c{i}"))
        agg.finish()
        assert agg.total_samples_ == 4 * n_clients, "total_samples_ must count every uploaded sample"
        return
    shapes = [(3, 4), (4,), ()]
    base = [rng.normal(size=s).astype(np.float32) for s in shapes]
    same = [ClientUpdate([w.copy() for w in base], 10, f"c{i}") for i in range(n_clients)]
    out = aggregator.clone().aggregate(same)
    assert [np.shape(w) for w in out] == shapes, "the result must keep each layer's shape"
    assert [np.asarray(w).dtype for w in out] == [np.float32] * 3, "the result must keep each layer's dtype"
    assert all(np.allclose(o, b, atol=1e-5) for o, b in zip(out, base)), \
        "identical updates from the first round must aggregate to that model"
    updates = [ClientUpdate([rng.normal(size=s) for s in shapes], int(rng.integers(1, 50)), f"c{i}")
               for i in range(n_clients)]
    whole = aggregator.clone().aggregate(updates)
    streamed = aggregator.clone()
    streamed.begin_round(None)
    for u in updates:
        streamed.add(u)
    parts = streamed.finish()
    assert all(np.allclose(a, b) for a, b in zip(whole, parts)), \
        "aggregate() must equal begin_round/add/finish"
    assert streamed.total_samples_ == sum(u.num_samples for u in updates), \
        "total_samples_ must sum num_samples"
    bad = aggregator.clone()
    bad.begin_round(None)
    bad.add(updates[0])
    try:
        bad.add(ClientUpdate([np.zeros((3, 5)), np.zeros(4), np.zeros(())], 1, "bad"))
    except AggregationError as exc:
        assert "layer 0" in str(exc), f"the shape error must name the layer, got {exc}"
    else:
        raise AssertionError("a mismatched layer shape must raise AggregationError")
    empty = aggregator.clone()
    empty.begin_round(None)
    try:
        empty.finish()
    except AggregationError:
        pass
    else:
        raise AssertionError("finishing a round with no update must raise AggregationError")
