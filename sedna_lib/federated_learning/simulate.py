"""The simulation's engines, not its entry point: call ``sedna_lib.collaborative_training.simulate``.

This module holds that function's parts: in-process or Ray runners, the FedBuff event loop,
federated evaluation. Client work runs in this process or as Ray tasks; the asynchronous loop
models uneven client speeds in simulated time.

``from sedna_lib.federated_learning import simulate`` gives this module, which cannot be called;
the function is :func:`sedna_lib.collaborative_training.simulate` (defined in
:mod:`sedna_lib.federated_learning.fit`).
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .client import count_samples, local_round
from ..base import Aggregator, ClientUpdate, check_number
from ..exceptions import BackendUnavailableError, ParameterError, TransportError

__all__ = ["InProcessRunner", "RayRunner", "make_runner", "federated_evaluation", "run_buffered_async"]

logger = logging.getLogger(__name__)


class InProcessRunner:
    """Run each client's local round on one shared backend, in this process, one after another.

    Parameters
    ----------
    backend : Backend
        The model; its weights are set to the client's starting model before each local round.
    client_data : sequence
        One training set per client.
    train_kwargs : dict or None
        Options for ``backend.train``.
    """

    def __init__(self, backend: Any, client_data: Sequence[Any], train_kwargs: dict | None) -> None:
        self.backend = backend
        self.client_data = client_data
        self.train_kwargs = train_kwargs

    def train(self, i: int, weights: list, config: dict) -> list:
        """Train client ``i`` from ``weights``; return the backend's live weights (use them at once)."""
        self.backend.set_weights(weights)
        local_round(self.backend, self.client_data[i], None, self.train_kwargs, config)
        return self.backend.get_weights()

    def map(self, indices: Sequence[int], weights: list, config: dict) -> Iterator[tuple[int, list]]:
        """Yield ``(i, trained weights)`` for each client in order, training each when it is reached."""
        for i in indices:
            yield i, self.train(i, weights, config)

    def submit(self, i: int, weights: list, config: dict) -> Any:
        """Queue client ``i``'s local round (it runs at :meth:`fetch`)."""
        return (i, weights, config)

    def fetch(self, handle: Any) -> list:
        """Run a queued local round and return its weights (live: use before the next call)."""
        return self.train(*handle)

    def close(self) -> None:
        """Nothing to release."""


def _ray_local_round(backend: Any, weights: list, data: Any, train_kwargs: dict | None, config: dict) -> list:
    """One client's local round inside a Ray worker (the backend is that worker's own copy)."""
    backend.set_weights(weights)
    local_round(backend, data, None, train_kwargs, config)
    return [np.array(w, copy=True) for w in backend.get_weights()]


def _ray_local_rounds(backend: Any, weights: list, data_refs: list, train_kwargs: dict | None,
                      config: dict) -> list:
    """Several clients' local rounds, one after another, in one Ray task (each from ``weights``)."""
    import ray

    out = []
    for data in ray.get(list(data_refs)):
        out.append(_ray_local_round(backend, weights, data, train_kwargs, config))
    return out


_RAY_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "accelerator_type")


def _ray_options(resources: dict | None) -> dict:
    """Return a client task's Ray options: one CPU unless ``resources`` says otherwise, checked.

    Raises
    ------
    ParameterError
        If a key is unknown, or a CPU, GPU or memory amount is not a finite number >= 0.
    """
    if resources is not None and not isinstance(resources, dict):
        raise ParameterError(f"client_resources must be a dict such as {{'num_cpus': 1, 'num_gpus': 0.5}}, "
                             f"got {resources!r}")
    options = {"num_cpus": 1, **(resources or {})}
    unknown = set(options) - set(_RAY_KEYS)
    if unknown:
        raise ParameterError(f"client_resources has unknown keys {sorted(unknown)}; use "
                             f"{', '.join(_RAY_KEYS[:-1])} or {_RAY_KEYS[-1]}")
    for key in ("num_cpus", "num_gpus", "memory"):
        if options.get(key) is not None:
            check_number(f"client_resources[{key!r}]", options[key], 0)
    if options.get("resources") is not None and not isinstance(options["resources"], dict):
        raise ParameterError(f"client_resources['resources'] must be a dict of custom resource amounts, got "
                             f"{options['resources']!r}")
    return options


class RayRunner:
    """Run clients' local rounds as Ray tasks, each with its own copy of the backend.

    Parameters
    ----------
    backend : Backend
        The model, shipped once to Ray's object store (it must pickle).
    client_data : sequence
        One training set per client, each put in the object store once.
    train_kwargs : dict or None
        Options for ``backend.train``.
    address : str, default=None
        An existing Ray cluster (``ray://host:10001`` or ``auto``); None starts a local Ray
        (shut down again by :meth:`close`) unless one is already running in this process.
    resources : dict, default=None
        Ray resources per client task (``{'num_cpus': 1, 'num_gpus': 0.25}``); default one CPU.

    Raises
    ------
    BackendUnavailableError
        If Ray is not installed.
    ParameterError
        If ``resources`` are malformed (checked before Ray starts), or a client's resources exceed
        what the whole cluster has (its tasks would wait forever).
    TransportError
        If the cluster at ``address`` cannot be joined.
    """

    def __init__(self, backend: Any, client_data: Sequence[Any], train_kwargs: dict | None, *,
                 address: str | None = None, resources: dict | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise BackendUnavailableError.missing("ray (for the ray engine)", "sedna_lib[ray]",
                                                  error=exc) from None
        options = _ray_options(resources)  # checked before a local Ray is started for nothing
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            except Exception as exc:  # noqa: BLE001 - Ray's own errors, for a cluster it cannot reach
                if address is None:
                    raise
                raise TransportError(f"could not join the Ray cluster at {address!r} ({type(exc).__name__}: "
                                     f"{exc}); check ray_address (ray://host:10001, or 'auto' on a node "
                                     "of the cluster)") from exc
            self._started = True
        try:
            self._prepare(options, backend, client_data)
        except BaseException:  # a local Ray started here is not left running behind the error
            self.close()
            raise
        self.train_kwargs = train_kwargs

    def _prepare(self, options: dict, backend: Any, client_data: Sequence[Any]) -> None:
        """Check that the cluster can run a client task, and put the backend and the data in its store."""
        ray = self._ray
        available = ray.cluster_resources()
        asked = {}
        for key, ray_key in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
            # a NaN passed the comparison below and failed later in int(); True asked for 1
            wanted = asked[key] = (0.0 if options.get(key) is None
                                   else check_number(f"client_resources[{key!r}]", options[key], 0))
            if wanted > float(available.get(ray_key, 0)):
                have = float(available.get(ray_key, 0))
                raise ParameterError(f"client_resources asks {key}={wanted:g} per client but the Ray cluster "
                                     f"has {have:g} {ray_key}; no client task could ever be scheduled")
        self._task = ray.remote(_ray_local_round).options(**options)
        self._batch_task = ray.remote(_ray_local_rounds).options(**options)
        # clients of a synchronous round go in batches: a few tasks per slot the cluster has, so that
        # Ray's per-task cost (milliseconds) is paid per batch, not per client
        slots = float(available.get("CPU", 1)) / max(asked["num_cpus"], 1e-9)
        if asked["num_gpus"] > 0:
            slots = min(slots, float(available.get("GPU", 0)) / asked["num_gpus"])
        self._batches = max(1, int(slots)) * 4
        self._backend = ray.put(backend)
        self._data = [ray.put(d) for d in client_data]

    def map(self, indices: Sequence[int], weights: list, config: dict) -> Iterator[tuple[int, list]]:
        """Start the round's clients in a few batch tasks at once, then yield ``(i, weights)`` in order.

        Each batch task trains its clients one after another on its own copy of the backend, each
        from ``weights``; about four batches per slot of the cluster keep every slot busy.
        """
        ref = self._ray.put(weights)
        indices = list(indices)
        parts = np.array_split(np.asarray(indices, dtype=np.int64), min(len(indices), self._batches))
        chunks = [list(c) for c in parts if len(c)]
        handles = [(chunk, self._batch_task.remote(self._backend, ref, [self._data[i] for i in chunk],
                                                   self.train_kwargs, config)) for chunk in chunks]
        for chunk, handle in handles:
            for i, trained in zip(chunk, self._ray.get(handle)):
                yield int(i), trained

    def submit(self, i: int, weights: Any, config: dict) -> Any:
        """Start client ``i``'s local round as a Ray task; return its object reference."""
        return self._task.remote(self._backend, weights, self._data[i], self.train_kwargs, config)

    def fetch(self, handle: Any) -> list:
        """Wait for a task and return its trained weights."""
        return self._ray.get(handle)

    def close(self) -> None:
        """Shut down the local Ray this runner started (a cluster given by address is left alone)."""
        if self._started:
            self._ray.shutdown()


def make_runner(engine: str, backend: Any, client_data: Sequence[Any], train_kwargs: dict | None, *,
                ray_address: str | None = None, client_resources: dict | None = None) -> Any:
    """Return the runner for ``engine`` ('inprocess' or 'ray').

    Raises
    ------
    ParameterError
        If the engine is unknown.
    """
    if engine == "inprocess":
        if ray_address is not None or client_resources is not None:
            raise ParameterError("ray_address and client_resources apply to engine='ray' only")
        return InProcessRunner(backend, client_data, train_kwargs)
    if engine == "ray":
        return RayRunner(backend, client_data, train_kwargs, address=ray_address, resources=client_resources)
    raise ParameterError(f"engine must be 'inprocess' or 'ray', got {engine!r}")


def federated_evaluation(backend: Any, weights: list, eval_data: Sequence[Any]) -> dict:
    """Evaluate ``weights`` on every client's data and average the metrics by sample count.

    Parameters
    ----------
    backend : Backend
        The model (its weights are set to ``weights``).
    weights : list of numpy.ndarray
        The global model.
    eval_data : sequence
        One evaluation set per client (None: that client does not evaluate).

    Returns
    -------
    dict
        ``{metric: sample-weighted mean, ..., 'num_samples': total, 'clients': count}``; only
        numeric metrics every evaluating client reported are kept.
    """
    backend.set_weights(weights)
    sums: dict[str, float] = {}
    seen: list[set] = []
    total = 0
    clients = 0
    for data in eval_data:
        if data is None:
            continue
        n = count_samples(data)
        metrics = backend.evaluate(data)
        if not isinstance(metrics, dict) or n <= 0:
            continue
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float, np.number))}
        for k, v in numeric.items():
            sums[k] = sums.get(k, 0.0) + n * v
        seen.append(set(numeric))
        total += n
        clients += 1
    keys = set.intersection(*seen) if seen else set()
    out: dict[str, Any] = {k: sums[k] / total for k in sorted(keys)}
    out.update(num_samples=total, clients=clients)
    return out


def run_buffered_async(runner: Any, aggregator: Aggregator, global_weights: list, sizes: Sequence[int],
                       ids: Sequence[str], updates: int, *, speeds: Sequence[float], concurrency: int,
                       prepare: Callable[[list, list, dict], tuple[list, dict]] | None,
                       on_update: Callable[[int, float, list], None]) -> list:
    """Run buffered asynchronous training (FedBuff) over simulated client speeds.

    Time is simulated: client ``i`` needs ``speeds[i]`` seconds per local round. ``concurrency``
    clients train at once; when one finishes (earliest simulated time first), its change from the
    model it started from is added with its staleness, and it (or the next waiting client)
    starts again from the current model. When the aggregator's buffer is full the model moves on.

    Parameters
    ----------
    runner : InProcessRunner or RayRunner
        Where local rounds run.
    aggregator : Aggregator
        An asynchronous aggregator (``full`` tells when to step).
    global_weights : list of numpy.ndarray
        The starting model.
    sizes, ids : sequence
        Each client's sample count and name.
    updates : int
        Server steps to run.
    speeds : sequence of float
        Simulated seconds per local round, per client.
    concurrency : int
        Clients training at once.
    prepare : callable or None
        The aggregator's ``prepare_update`` (client-side DP), or None.
    on_update : callable
        ``on_update(step, simulated_time, weights)`` after each server step.

    Returns
    -------
    list of numpy.ndarray
        The final model.
    """
    config = aggregator.client_config()
    version = 0
    x = global_weights
    heap: list = []
    seq = 0
    waiting = deque(range(len(ids)))

    def start(t: float) -> None:
        nonlocal seq
        i = waiting.popleft()
        heapq.heappush(heap, (t + float(speeds[i]), seq, i, version, x, runner.submit(i, x, config)))
        seq += 1

    for _ in range(min(concurrency, len(ids))):
        start(0.0)
    aggregator.begin_round(x)
    while version < updates:
        t, _, i, started_version, x0, handle = heapq.heappop(heap)
        trained = runner.fetch(handle)
        metrics: dict = {}
        if prepare is not None:
            trained, metrics = prepare(trained, x0, config)
        delta = [np.asarray(w, dtype=np.float64) - np.asarray(r, dtype=np.float64)
                 for w, r in zip(trained, x0)]
        metrics = {**metrics, "staleness": version - started_version}
        aggregator.add(ClientUpdate(delta, sizes[i], ids[i], metrics))
        waiting.append(i)
        if aggregator.full:
            x = aggregator.finish()
            version += 1
            on_update(version, t, x)
            if version < updates:
                aggregator.begin_round(x)
        if version < updates:
            start(t)
    return x
