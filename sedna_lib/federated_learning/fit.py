"""Collaborative training (federated learning), solar_corona's face: ``fit`` with peers, or simulate them.

``fit`` trains a TensorFlow/Keras or PyTorch model (or any estimator with weights) on local data
for a number of federated rounds against the aggregation server named by the environment
(``AGG_IP``, ``AGG_PORT``, ``WORKER_NAME``, ...), and returns the trained model. ``simulate``
runs N clients in one process, with no server, through the same client and aggregator code.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .client import (RoundOutcome, check_classes, connect_to_aggregator, count_samples, has_prepare_update,
                     run_client)
from ..base import Aggregator, ClientUpdate, cast_to_layer, check_count, check_number
from ..context import Context
from ..context import resolve as resolve_context
from ..backends.arrays import split_xy
from ..backends.base import Backend
from ..exceptions import DataError, ParameterError
from .simulate import federated_evaluation, make_runner, run_buffered_async
from ..observability.progress import progress as progress_report
from ..registry import Kind
from ..transport.secagg import MIN_MEMBERS

__all__ = ["fit", "simulate", "SimulationResult", "aggregator_from", "client_for", "path_name"]

logger = logging.getLogger(__name__)


def aggregator_from(aggregation: str | Aggregator | None, context: Context | None = None) -> Aggregator:
    """Return an aggregator instance for a registered name (or the instance itself).

    Parameters
    ----------
    aggregation : str or Aggregator or None
        ``FedAvg``, ``FedProx``, ... (None: ``AGGREGATION_ALGORITHM`` or FedAvg).
        ``AGGREGATION_PARAMETERS`` configure the algorithm ``AGGREGATION_ALGORITHM`` names.
    context : Context, default=None
        The registry and configuration to use.

    Returns
    -------
    Aggregator
        The instance.

    Raises
    ------
    NotRegisteredError
        If the name is unknown.
    ParameterError
        If ``AGGREGATION_PARAMETERS`` names a parameter the aggregator does not have.
    """
    if isinstance(aggregation, Aggregator):
        return aggregation
    ctx = resolve_context(context)
    name = aggregation or ctx.config.aggregation_algorithm or "FedAvg"
    params = ctx.config.aggregation_parameters if (not aggregation or aggregation ==
                                                   ctx.config.aggregation_algorithm) else {}
    return ctx.registry.create(Kind.AGGREGATION, str(name), **params)


def path_name(aggregation: str | Aggregator | None, context: Context) -> str:
    """Return the aggregator's name in the server URL, derived as the server derives it.

    Parameters
    ----------
    aggregation : str or Aggregator or None
        A registered name (used as it is), an instance (its class name, as the server uses), or
        None (``AGGREGATION_ALGORITHM`` or ``FedAvg``).
    context : Context
        Configuration.

    Returns
    -------
    str
        The URL path segment.
    """
    if isinstance(aggregation, Aggregator):
        return type(aggregation).__name__
    return str(aggregation or context.config.aggregation_algorithm or "FedAvg")


def client_for(context: Context, aggregation: str, *, client_id: str | None = None,
               job_name: str = "") -> Any:
    """Build the :class:`~sedna_lib.transport.ws.AggregationClient` a deployed trainer uses.

    Parameters
    ----------
    context : Context
        ``AGG_PROTOCOL``, ``AGG_IP``, ``AGG_PORT``, ``CONNECT_TIMEOUT``, ``WORKER_NAME``,
        ``SEDNA_AUTH_TOKEN``, ``SEDNA_TLS_CA`` and ``AGG_MAX_MESSAGE_BYTES`` come from it.
    aggregation : str
        The aggregator's name (the URL path).
    client_id : str, default=None
        Overrides ``WORKER_NAME``.
    job_name : str, default=''
        Sent with updates.

    Returns
    -------
    AggregationClient
        Not yet connected.
    """
    from ..transport.ws import AggregationClient

    cfg = context.config
    url = f"{cfg.agg_protocol or 'ws'}://{cfg.agg_ip}:{int(cfg.agg_port)}/{aggregation}"
    return AggregationClient(url, client_id if client_id is not None else (cfg.worker_name or ""),
                             token=cfg.auth_token, ca_file=cfg.tls_ca, connect_timeout=cfg.connect_timeout,
                             job_name=job_name, max_message_bytes=cfg.agg_max_message_bytes)


def _resolve(obj: Any, framework: str) -> Any:
    resolve = getattr(obj, "resolve", None)
    return resolve(framework) if callable(resolve) and hasattr(obj, "sedna_lib_kind") else obj


class _LCRounds:
    """Per-round LocalController reports of a deployed trainer (``kind: train``, as FederatedLearning's)."""

    def __init__(self, context: Context) -> None:
        from ..transport.lc import LCClient

        cfg = context.config
        self.config = cfg
        self.client = LCClient(cfg.lc_server, timeout=(cfg.connect_timeout_s, cfg.request_timeout),
                               max_retries=max(0, cfg.max_retries))
        self.started = _now()

    def __call__(self, outcome: RoundOutcome) -> None:
        from ..transport.lc import Report

        cfg = self.config
        info = {"currentRound": outcome.round_number, "sampleCount": outcome.total_sample,
                "startTime": _now(outcome.started_at) if outcome.started_at else self.started,
                "updateTime": _now()}
        self.client.send(cfg.worker_name or cfg.job_name,
                         Report(name=cfg.worker_name or cfg.job_name, namespace=cfg.namespace or cfg.job_name,
                                owner_name=cfg.job_name, owner_kind="federatedlearningjob", kind="train",
                                status="completed" if outcome.is_last else "running", owner_info=info))

    def close(self) -> None:
        self.client.close()


def _now(when: float | None = None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def fit(train_loader: Any, test_loader: Any = None, model: Any = None, loss: Any = None, metric: Any = None,
        optimizer: Any = None, batch_size: int | str | None = None, epochs: int | str | None = None,
        aggregation_algorithm: str | Aggregator | None = None, *, context: Context | None = None,
        client_id: str | None = None, progress: bool = True,
        on_round: Callable[[RoundOutcome], None] | None = None, rounds_hint: int | None = None,
        seed: int | None = None) -> Any:
    """Train ``model`` federatedly on local data and return it (``collaborative_training.fit``).

    Each round trains locally for ``epochs`` epochs with the framework's own loss and optimizer
    (FedProx's proximal term is added inside the loop when the aggregator asks for it), sends
    the weights to the aggregation server, and continues from the aggregated model, until the
    server ends the job. The server is found from the environment as a deployed worker's is.
    When ``JOB_NAME`` is set (a trainer of a FederatedLearningJob), each round is reported to
    the LocalController (``LC_SERVER``) as :class:`~sedna_lib.federated_learning.FederatedLearning`
    reports it, without model entries.

    Parameters
    ----------
    train_loader : object
        Local training data: ``(x, y)``, a torch ``DataLoader``, a ``tf.data.Dataset``, a
        datasource.
    test_loader : object, default=None
        Evaluated after each round (shown on the progress bar).
    model : object
        A ``torch.nn.Module``, a Keras model, or an estimator with weights.
    loss, metric, optimizer : object, default=None
        ``sedna_lib.losses``/``metrics``/``optimizers`` objects, or the framework's own.
    batch_size, epochs : int or str, default=None
        Local training options (strings from ``get_parameters`` are accepted).
    aggregation_algorithm : str or Aggregator, default=None
        ``FedAvg``, ``FedProx``, ... (None: ``AGGREGATION_ALGORITHM`` or FedAvg).
    context : Context, default=None
        Configuration; the environment's context when omitted.
    client_id : str, default=None
        Overrides ``WORKER_NAME``.
    progress : bool, default=True
        Report each round with its metrics: a ``tqdm`` bar on stderr when it is a terminal (one
        update per round), else one INFO log line per round of this module's logger (shown once
        logging is configured: ``configure_logging()`` or ``SEDNA_LOG_LEVEL=INFO``). An aggregator
        not reachable after a few seconds is said once, as a WARNING, whatever ``progress`` is.
    on_round : callable, default=None
        Called with each round's :class:`~sedna_lib.federated_learning.client.RoundOutcome`.
    rounds_hint : int, default=None
        Total rounds, for the progress bar (``exit_round`` from the environment otherwise).
    seed : int, default=None
        Seeds local training (batch order, dropout): round ``r`` uses ``seed + r``, so a job
        repeats exactly, also with several trainers in one process.

    Returns
    -------
    object
        The trained model (the same object as ``model`` for torch and Keras).

    Raises
    ------
    ParameterError
        If ``model`` is missing, ``epochs``/``batch_size`` is not an integer or ``seed`` not a whole
        number.
    TransportError
        If the aggregation server cannot be reached.
    """
    if model is None:
        raise ParameterError("fit needs a model (a torch.nn.Module, a Keras model or an estimator with "
                             "weights)")
    ctx = resolve_context(context)
    from ..backends import set_backend

    backend = set_backend(model, context=ctx)
    aggregator = aggregator_from(aggregation_algorithm, ctx)
    name = path_name(aggregation_algorithm, ctx)
    kwargs = _train_kwargs(backend, loss, optimizer, metric, batch_size, epochs)
    if seed is not None:  # any whole number (the backend checks its range): int() made 2.5 a 2, True a 1
        kwargs["seed"] = check_count("seed", seed, -2 ** 63)
    client = client_for(ctx, name, client_id=client_id, job_name=ctx.config.job_name)
    total = rounds_hint or ctx.config.exit_round
    bar = progress_report(total, "round", logger=logger) if progress else None
    lc = _LCRounds(ctx) if ctx.config.job_name else None

    def report(outcome: RoundOutcome) -> None:
        metrics = backend.evaluate(test_loader, **_eval_kwargs(kwargs)) if test_loader is not None else None
        if bar is not None:
            shown = {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float))} \
                if isinstance(metrics, dict) else {}
            bar.step(max(outcome.round_number - bar.n, 1), samples=outcome.total_sample, **shown)
        else:
            logger.debug("round %d: %s", outcome.round_number, metrics)
        if lc is not None:
            lc(outcome)
        if on_round is not None:
            on_round(outcome)

    try:
        connect_to_aggregator(client)
        run_client(backend, client, train_loader, None, train_kwargs=kwargs, aggregator=aggregator,
                   on_round=report, eval_data=test_loader)
    finally:
        client.close()
        if bar is not None:
            bar.close()
        if lc is not None:
            lc.close()
    return getattr(backend, "model", None) or _model_of(backend, model)


def _model_of(backend: Any, model: Any) -> Any:
    instance = getattr(backend, "_instance", None)
    return instance() if callable(instance) else model


def _as_int(value: Any, name: str) -> int | None:
    """Return ``value`` as a whole number >= 1 (text as the environment gives it), or None if unset."""
    if value is None or value == "":
        return None
    return check_count(name, value)  # 2.5 epochs or True as a batch size are refused, not truncated


def _train_kwargs(backend: Any, loss: Any, optimizer: Any, metric: Any, batch_size: Any, epochs: Any) -> dict:
    framework = str(getattr(backend, "framework", "") or "")
    fw = "torch" if "torch" in framework else ("keras" if framework in ("keras", "tensorflow") else framework)
    kwargs: dict[str, Any] = {}
    if loss is not None:
        kwargs["loss"] = _resolve(loss, fw)
    if optimizer is not None:
        kwargs["optimizer"] = _resolve(optimizer, fw)
    if metric is not None and fw == "keras":
        kwargs["metrics"] = [_resolve(metric, fw)]
    for key, value in (("batch_size", batch_size), ("epochs", epochs)):
        value = _as_int(value, key)
        if value is not None:
            kwargs[key] = value
    return kwargs


def _eval_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k in ("loss", "batch_size")}


def _check_shard(i: int, data: Any) -> None:
    """Refuse client ``i``'s training set when it is None, empty, uneven or not finite (arrays only).

    Raises
    ------
    DataError
        Naming the client and what is wrong.
    """
    who = f"client_data[{i}] (client-{i})"
    if data is None:
        raise DataError(f"{who} is None; give each client a training set such as (x, y)")
    x, y = split_xy(data)
    n_x, n_y = _length(x), _length(y)
    if n_x is not None and n_y is not None and n_x != n_y:
        raise DataError(f"{who} has {n_x} inputs but {n_y} labels; give one label per input")
    if n_x == 0:
        raise DataError(f"{who} holds no samples; give each client at least one")
    for what, values in (("inputs", x), ("labels", y)):
        if isinstance(values, (np.ndarray, list)):
            try:
                arr = np.asarray(values)
            except ValueError:  # ragged lists: the backend says what it makes of them
                continue
            if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                raise DataError(f"{who}: its {what} hold NaN or infinite values; drop or fill those samples")


def _length(values: Any) -> int | None:
    """Return ``len(values)``, or None when it has none (a stream, a ``tf.data`` of unknown size)."""
    if values is None or isinstance(values, (str, bytes)):
        return None
    try:
        return len(values)
    except TypeError:
        return None


def _checked_weights(weights: Any) -> list:
    """Return ``initial_weights`` as a list after checking that every layer is finite numbers.

    Raises
    ------
    ParameterError
        Naming the first layer that is not numeric or holds NaN or an infinity.
    """
    out = list(weights)
    for k, layer in enumerate(out):
        try:
            arr = np.asarray(layer)
            finite = arr.dtype.kind in "biu" or (arr.dtype.kind in "fc" and bool(np.isfinite(arr).all()))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise ParameterError(f"initial_weights[{k}] holds NaN or infinite values (or is not numeric); "
                                 "give finite starting weights, or None for the model's own")
    return out


@dataclass
class SimulationResult:
    """What :func:`simulate` produced.

    Attributes
    ----------
    weights : list of numpy.ndarray
        The final global model.
    history : list of dict
        Per round: ``round``, ``clients``, ``total_sample``, ``seconds``, ``epsilon`` (differentially
        private aggregators: the privacy spent so far) and the evaluation metrics.
    """

    weights: list
    history: list = field(default_factory=list)


def simulate(backend: Any, client_data: Sequence[Any], aggregation: str | Aggregator = "FedAvg",
             rounds: int = 10, *, train_kwargs: dict | None = None, chooser: Any = None,
             evaluate: Callable[[Any, int], dict] | None = None, initial_weights: Any = None,
             context: Context | None = None,
             on_round: Callable[[dict], None] | None = None, client_eval_data: Sequence[Any] | None = None,
             evaluate_every: int = 1, client_speeds: Sequence[float] | None = None,
             concurrency: int | None = None, secure_aggregation: bool = False, engine: str = "inprocess",
             ray_address: str | None = None, client_resources: dict | None = None) -> SimulationResult:
    """Simulate federated training of N clients, with no server.

    In-process (``engine='inprocess'``), the clients share one backend (its weights are reset
    to the global model before each local round), so memory does not grow with the number of
    clients; with ``engine='ray'`` each local round is a Ray task with its own copy of the
    backend. The aggregator and the local round are the same code the deployed client and
    server run. An asynchronous aggregator (``FedBuff``) runs buffered asynchronous rounds over
    simulated client speeds instead of synchronous rounds.

    Parameters
    ----------
    backend : Backend or object
        The wrapped model (``sedna_lib.backends.set_backend(model)``); a bare model (a
        ``torch.nn.Module``, a Keras model, an estimator with weights) is wrapped here, as
        :func:`fit` wraps it.
    client_data : sequence
        One training set per client (``(x, y)``, a datasource, a torch ``DataLoader``, ...);
        arrays are checked before any training.
    aggregation : str or Aggregator, default='FedAvg'
        The aggregator.
    rounds : int, default=10
        Rounds to run (for an asynchronous aggregator: server steps, one per full buffer).
    train_kwargs : dict, default=None
        Options for ``backend.train``.
    chooser : SimpleClientChoose, default=None
        Picks the clients of each round (all by default; synchronous rounds only).
    evaluate : callable, default=None
        ``evaluate(backend, round) -> dict`` after each round (the backend holds the global
        model): the centralised evaluation.
    initial_weights : list of numpy.ndarray, default=None
        Starting model (the backend's current weights by default).
    context : Context, default=None
        Registry for names.
    on_round : callable, default=None
        Called with each round's history entry.
    client_eval_data : sequence, default=None
        One evaluation set per client (None entries skip a client): every ``evaluate_every``
        rounds each client evaluates the global model on its own data and the metrics, averaged
        by sample count, go to the round's entry under ``'federated'``.
    evaluate_every : int, default=1
        Rounds between federated evaluations.
    client_speeds : sequence of float, default=None
        Simulated seconds one local round takes, per client: the history gains ``sim_time``
        (a synchronous round lasts as long as its slowest client; asynchronous clients report
        when they finish). All 1.0 by default.
    concurrency : int, default=None
        Asynchronous aggregators: clients training at once (all by default).
    secure_aggregation : bool, default=False
        Average each round through secure aggregation
        (:mod:`~sedna_lib.federated_learning.secure_aggregation`): the aggregator only sees the masked
        sum's average. Needs a linear aggregator (the FedAvg family) and the ``secagg`` extra.
    engine : {'inprocess', 'ray'}, default='inprocess'
        Where client work runs. ``'ray'`` needs the ``ray`` extra.
    ray_address : str, default=None
        ``engine='ray'``: an existing cluster's address (None: a local Ray, started and stopped here).
    client_resources : dict, default=None
        ``engine='ray'``: Ray resources per client task, e.g. ``{'num_cpus': 1, 'num_gpus': 0.5}``.

    Returns
    -------
    SimulationResult
        The final weights and the per-round history.

    Raises
    ------
    ParameterError
        If ``backend`` is None, ``client_data`` is empty, ``rounds`` < 1, a client speed is not a
        finite positive number, ``initial_weights`` are not finite, or the options do not fit together.
    DataError
        If a client's data is None, holds no samples, has more or fewer labels than inputs, holds NaN or
        infinite values, or (a fitted scikit-learn classifier) lacks classes the model knows.
    """
    if backend is None:
        raise ParameterError("simulate needs a model: a torch.nn.Module, a Keras model or an estimator with "
                             "weights, or one wrapped with sedna_lib.backends.set_backend(model)")
    if not client_data:
        raise ParameterError("simulate needs at least one client's data")
    rounds = check_count("rounds", rounds)
    evaluate_every = check_count("evaluate_every", evaluate_every)
    if client_eval_data is not None and len(client_eval_data) != len(client_data):
        raise ParameterError(f"client_eval_data has {len(client_eval_data)} entries for {len(client_data)} "
                             "clients; give one per client (None to skip one)")
    if client_speeds is not None:
        if len(client_speeds) != len(client_data):
            raise ParameterError(f"client_speeds needs one positive duration per client "
                                 f"({len(client_data)}), got {len(client_speeds)}")
        for i, speed in enumerate(client_speeds):  # a NaN passes 'speed <= 0' and breaks the event loop
            check_number(f"client_speeds[{i}] (simulated seconds per local round)", speed, 0, low_open=True)
    aggregator = aggregator_from(aggregation, context or Context())
    if secure_aggregation and not aggregator.linear:
        raise ParameterError("secure aggregation reveals only the round's average; "
                             f"{type(aggregator).__name__} needs more (use FedAvg, FedAvgM, FedProx, "
                             "FedAdam, FedYogi or FedAdagrad)")
    if secure_aggregation and len(client_data) < MIN_MEMBERS:
        raise ParameterError("secure aggregation hides each update in the sum of two at least; simulate "
                             f"{len(client_data)} client with secure_aggregation=False, or more clients")
    if aggregator.asynchronous and (chooser is not None or secure_aggregation):
        raise ParameterError(f"{type(aggregator).__name__} is asynchronous: chooser and "
                             "secure_aggregation "
                             "apply to synchronous rounds")
    if concurrency is not None:
        concurrency = check_count("concurrency", concurrency)
    for i, data in enumerate(client_data):
        _check_shard(i, data)
    if not isinstance(backend, Backend):  # a bare model is wrapped, as fit() wraps it
        from ..backends import set_backend

        backend = set_backend(backend, context=context)
    global_weights = (_checked_weights(initial_weights) if initial_weights is not None
                      else [w.copy() for w in backend.get_weights()])
    for i, data in enumerate(client_data):
        check_classes(backend, data, f"client_data[{i}] (client-{i})")
    sizes = [count_samples(d) for d in client_data]
    ids = [f"client-{i}" for i in range(len(client_data))]
    position = {cid: i for i, cid in enumerate(ids)}
    prepares = has_prepare_update(aggregator)
    speeds = [float(s) for s in client_speeds] if client_speeds is not None else [1.0] * len(ids)
    history: list[dict] = []
    runner = make_runner(engine, backend, client_data, train_kwargs, ray_address=ray_address,
                         client_resources=client_resources)

    def record(entry: dict, r: int, weights: list) -> None:
        if getattr(aggregator, "epsilon_", None) is not None:
            entry["epsilon"] = float(aggregator.epsilon_)
        if client_eval_data is not None and r % int(evaluate_every) == 0:
            entry["federated"] = federated_evaluation(backend, weights, client_eval_data)
        backend.set_weights(weights)
        if evaluate is not None:
            entry.update(evaluate(backend, r) or {})
        history.append(entry)
        if on_round is not None:
            on_round(entry)

    try:
        if aggregator.asynchronous:
            started = time.perf_counter()

            def on_update(step: int, sim_time: float, weights: list) -> None:
                nonlocal started
                entry = {"round": step, "clients": int(getattr(aggregator, "buffer_size", 0)),
                         "total_sample": int(getattr(aggregator, "total_samples_", 0)),
                         "seconds": time.perf_counter() - started, "sim_time": sim_time,
                         "staleness": float(getattr(aggregator, "mean_staleness_", 0.0))}
                record(entry, step, weights)
                started = time.perf_counter()

            global_weights = run_buffered_async(
                runner, aggregator, global_weights, sizes, ids, int(rounds), speeds=speeds,
                concurrency=int(concurrency or len(ids)),
                prepare=aggregator.prepare_update if prepares else None,
                on_update=on_update)
            return SimulationResult(global_weights, history)
        sim_time = 0.0
        for r in range(1, int(rounds) + 1):
            started = time.perf_counter()
            chosen = chooser.choose(ids, r) if chooser is not None else ids
            aggregator.begin_round(global_weights)
            config = aggregator.client_config()
            kept: list = []
            for i, trained in runner.map([position[cid] for cid in chosen], global_weights, config):
                if prepares:  # DP: the client clips (and noises) its update before it leaves
                    sent, metrics = aggregator.prepare_update(trained, global_weights, config)
                    update = ClientUpdate([np.array(w, copy=True) for w in sent], sizes[i], ids[i], metrics)
                else:
                    copy = not aggregator.streaming or secure_aggregation or engine != "inprocess"
                    update = ClientUpdate([np.array(w, copy=True) for w in trained] if copy else trained,
                                          sizes[i], ids[i])
                if secure_aggregation:
                    kept.append((update.client_id, update.weights, update.num_samples))
                else:
                    aggregator.add(update)
            if secure_aggregation:
                from .secure_aggregation import secure_weighted_average

                average, total = secure_weighted_average(kept, round_label=str(r).encode())
                dtypes = [np.result_type(*(w[k] for _, w, _ in kept)) for k in range(len(average))]
                average = [cast_to_layer(a, d) for a, d in zip(average, dtypes)]  # the layers' own dtypes
                aggregator.add(ClientUpdate(average, total, "secure-sum"))
            global_weights = aggregator.finish()
            sim_time += max(speeds[position[cid]] for cid in chosen)
            entry = {"round": r, "clients": len(chosen),
                     "total_sample": int(getattr(aggregator, "total_samples_", 0)),
                     "seconds": time.perf_counter() - started}
            if client_speeds is not None:
                entry["sim_time"] = sim_time
            record(entry, r, global_weights)
            if aggregator.one_shot:
                break
    finally:
        runner.close()
    return SimulationResult(global_weights, history)
