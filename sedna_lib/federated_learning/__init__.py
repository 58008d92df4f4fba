"""Federated learning on a trainer: ``FederatedLearning(estimator).train(...)``, and the V2 trainer.

Sedna's classes of the same names (``sedna.core.federated_learning``) are the faces over these, in
:mod:`sedna_lib.compat.core.federated_learning`.

To simulate N clients with no server, call :func:`sedna_lib.collaborative_training.simulate`; the
submodule :mod:`sedna_lib.federated_learning.simulate` holds its engines and is not callable.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Callable

from ..backends import files
from ..base import Aggregator
from ..context import Context, resolve
from ..exceptions import ParameterError
from ..job import JobBase, check_writable, resolve_callback
from ..transport.lc import OwnerKind
from .client import RoundOutcome, connect_to_aggregator, run_client
from .fit import aggregator_from, client_for, path_name

__all__ = ["FederatedLearning", "FederatedLearningV2"]

logger = logging.getLogger(__name__)


_FINE_TUNED_FRAMEWORKS = ("keras", "tensorflow")
"""Backends that start from the model already at ``MODEL_URL``/``MODEL_NAME`` (Sedna's Keras backend did)."""


def _now(when: float | None = None) -> str:
    moment = datetime.datetime.now() if when is None else datetime.datetime.fromtimestamp(when)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class FederatedLearning(JobBase):
    """A federated trainer: train locally, upload weights, continue from the aggregate, round by round.

    Nothing connects in the constructor (Sedna's did): :meth:`train` (or :meth:`register`)
    connects to ``{AGG_PROTOCOL}://{AGG_IP}:{AGG_PORT}/{aggregation}``, retrying for
    ``CONNECT_TIMEOUT`` seconds, so inference-only use needs no aggregator. Reports to the
    LocalController carry ``ownerKind: federatedlearningjob``.

    Parameters
    ----------
    estimator : object
        The model (Keras, torch, scikit-learn with weights, or a Sedna-style estimator).
    aggregation : str or Aggregator, default='FedAvg'
        The aggregator's registered name (also the server's URL path) or an instance.
    config : dict, default=None
        Job settings that shadow the context's configuration.
    context : Context, default=None
        Configuration; the environment's context when omitted.
    report : bool, default=True
        Whether each round is reported to the LocalController (``LC_SERVER``). Outside a Sedna
        cluster there is none: ``report=False`` turns the reports off, as it does for the other jobs.

    Attributes
    ----------
    aggregation : Aggregator
        The client's copy of the algorithm (its ``client_config``, e.g. FedProx's mu, applies).
    rounds_ : list of RoundOutcome
        What each round returned, after :meth:`train`.
    fine_tuned_from_ : str or None
        The model file loaded before round 1 (Keras family, ``MODEL_URL``/``MODEL_NAME``), after
        :meth:`train`.
    """

    job_kind = OwnerKind.FEDERATED_LEARNING_JOB.value

    def __init__(self, estimator: Any, aggregation: str | Aggregator = "FedAvg", *,
                 config: dict | None = None, context: Context | None = None, report: bool = True) -> None:
        super().__init__(estimator, config, context=context)
        self.report = report
        name = aggregation if isinstance(aggregation, str) else type(aggregation).__name__
        self.aggregation_name = name or "FedAvg"
        self.aggregation = aggregator_from(aggregation or "FedAvg", self.context)
        self.client_: Any = None

    def register(self, timeout: float | None = None) -> Any:
        """Connect to the aggregation server (Sedna's method name).

        Parameters
        ----------
        timeout : float, default=None
            Seconds to keep trying (``CONNECT_TIMEOUT`` by default).

        Returns
        -------
        AggregationClient
            The connected client.

        Raises
        ------
        ParameterError
            If ``timeout`` is not a finite number >= 0.
        TransportTimeout
            If the server is not reachable in time.
        """
        if self.client_ is None:
            self.client_ = client_for(self.context, self.aggregation_name, client_id=self.worker_name,
                                      job_name=self.job_name)
        if timeout is not None:
            self.client_.connect_timeout = timeout  # checked by connect (float() failed on text, unclearly)
        if not self.client_.is_connected:
            connect_to_aggregator(self.client_)  # says once when it waits
        return self.client_

    def train(self, train_data: Any, valid_data: Any = None,
              post_process: Callable[..., Any] | str | None = None, **kwargs: Any) -> Any:
        """Run federated rounds until the server ends the job.

        A Keras (or TensorFlow) model first loads the model already at ``MODEL_URL``/``MODEL_NAME``
        when that file exists, as Sedna's Keras backend does. Each round:
        ``estimator.train(train_data, valid_data, **kwargs)``, upload the weights, apply the
        aggregate, save the model, and report ``kind: train`` to the LocalController (``status:
        running``, ``completed`` after the last round; ``ownerInfo.startTime`` is the round's start).

        Parameters
        ----------
        train_data, valid_data : object
            Local data (a datasource, ``(x, y)``, a loader).
        post_process : callable or str, default=None
            Applied to the backend at the end (a callable, or a registered callback name).
        **kwargs : object
            Training options (``epochs``, ``batch_size``, ...).

        Returns
        -------
        object
            ``post_process(estimator)`` or the estimator (the backend).

        Raises
        ------
        ConfigError
            If ``MODEL_URL`` names a location that cannot be written (checked before connecting).
        TransportError
            If the aggregator cannot be reached or the connection is lost for good.
        RemoteError, AggregationError
            If the server refuses this trainer's update.
        """
        callback = resolve_callback(post_process, registry_=self.context.registry)
        self._check_model_output()
        self.fine_tuned_from_ = self._fine_tune()
        client = self.register()
        self.rounds_: list[RoundOutcome] = []

        def on_round(outcome: RoundOutcome) -> None:
            self.rounds_.append(outcome)
            results = None
            try:
                path = self.estimator.save()
                results = self.estimator.model_info(path, result=outcome.train_result,
                                                    relpath=self.context.config.data_path_prefix)
            except (OSError, ValueError, TypeError) as exc:  # no MODEL_URL: report without a model entry
                logger.info("round %d: model not saved (%s)", outcome.round_number, exc)
            info = {"currentRound": outcome.round_number, "sampleCount": outcome.total_sample,
                    "startTime": _now(outcome.started_at), "updateTime": _now()}
            self.report_task_info(info, "completed" if outcome.is_last else "running", results)
            logger.info("federated round %d done (%d samples)%s", outcome.round_number, outcome.total_sample,
                        "; job complete" if outcome.is_last else "")

        try:
            run_client(self.estimator, client, train_data, valid_data, train_kwargs=kwargs,
                       aggregator=self.aggregation, on_round=on_round)
        finally:
            client.close()
        return callback(self.estimator) if callback else self.estimator

    def _check_model_output(self) -> None:
        """Check, before connecting, that each round's model can be written where ``MODEL_URL`` says.

        Raises
        ------
        ConfigError
            If the folder ``MODEL_URL`` names (or holds the file it names) cannot be created or written.
        """
        backend = self.estimator
        if not getattr(backend, "model_save_path", None) or files.is_remote(backend.model_save_path):
            return  # no MODEL_URL (rounds are reported without a model entry), or an upload target
        check_writable(files.save_target("", backend.model_save_path, None, lambda: backend.model_name)[0],
                       "MODEL_URL")

    def _fine_tune(self) -> str | None:
        """Load the model already at ``MODEL_URL``/``MODEL_NAME`` before round 1 (Keras), as Sedna does.

        Sedna's Keras backend loads ``<MODEL_URL>/<MODEL_NAME>`` into the estimator before training when
        the file exists (``estimator.load_weights(path)``), so a job continues from a model already
        there. A missing file is no error: training starts from the estimator as built. A sedna_lib
        server that holds a global model still sends it when the trainer joins, and that wins.

        Returns
        -------
        str or None
            The file loaded, or None.
        """
        import os

        backend = self.estimator
        if (not getattr(backend, "fine_tune", False) or getattr(backend, "framework", "") not in
                _FINE_TUNED_FRAMEWORKS or not getattr(backend, "model_save_path", None)):
            return None
        folder, file_name = backend._save_dir()
        path = os.path.join(folder, file_name or backend.model_name)
        if not os.path.isfile(path):
            return None
        estimator = backend._instance()
        native = getattr(backend, "native", False)
        load_weights = getattr(estimator, "load_weights", None)
        if not native and callable(load_weights):
            load_weights(path)
        else:
            backend.load(model_url=path)
        logger.info("fine-tuning from %s", path)
        return path

    def close(self) -> None:
        """Close the aggregator connection and the LocalController client."""
        if self.client_ is not None:
            self.client_.close()
        super().close()


def _as_arrays(x: Any, y: Any) -> tuple[Any, Any]:
    """Return ``(x, y)`` arrays, gathering them from a loader of ``(x, y)`` batches when ``y`` is None."""
    if y is not None:
        return x, y
    import numpy as np

    xs, ys = [], []
    try:
        for batch in x:
            xs.append(np.asarray(batch[0]))
            ys.append(np.asarray(batch[1]))
    except (TypeError, IndexError, KeyError):
        raise ParameterError("a one-shot aggregator (MistNet) needs the trainset as (x, y) arrays, or a "
                             "loader of (x, y) batches") from None
    if not xs:
        raise ParameterError("the trainset is empty")
    join = np.stack if ys[0].ndim == 0 else np.concatenate  # single samples, or batches
    return join(xs), join(ys)


class FederatedLearningV2:
    """The V2 trainer (Sedna's Plato adapter), run by sedna_lib itself.

    Parameters
    ----------
    data : object, default=None
        Has ``trainset`` (``(x, y)`` or a loader) when ``customized``, or ``x``/``y``.
    estimator : object, default=None
        Has ``model`` and a ``hyperparameters`` dict (``epochs``, ``batch_size``, ...).
    aggregation : Aggregator, default=None
        ``FedAvgV2()``, ``MistNet(...)`` or any aggregator (FedAvg when omitted).
    transmitter : object, default=None
        ``WSTransmitter`` or ``S3Transmitter``.
    context : Context, default=None
        Configuration; the environment's context when omitted.
    """

    def __init__(self, data: Any = None, estimator: Any = None, aggregation: Any = None,
                 transmitter: Any = None, *, context: Context | None = None) -> None:
        self.data = data
        self.estimator = estimator
        self.aggregation = aggregation
        self.transmitter = transmitter
        self.context = resolve(context)

    def _trainset(self) -> tuple[Any, Any]:
        data = self.data
        if data is None:
            raise ParameterError("FederatedLearningV2 needs data with a trainset (or x and y)")
        trainset = getattr(data, "trainset", None)
        if trainset is not None:
            return (trainset, None) if not isinstance(trainset, tuple) else trainset
        return getattr(data, "x", None), getattr(data, "y", None)

    def train(self) -> Any:
        """Train: MistNet uploads privatised features once; other aggregators run federated rounds.

        Returns
        -------
        object
            The model.

        Raises
        ------
        TransportError
            If the aggregator cannot be reached.
        """
        ctx = self.context
        aggregator = aggregator_from(self.aggregation, ctx)
        name = path_name(self.aggregation, ctx)
        model = getattr(self.estimator, "model", self.estimator)
        client = client_for(ctx, name, job_name=ctx.config.job_name)
        try:
            if getattr(aggregator, "one_shot", False) and hasattr(aggregator, "client_update"):
                x, y = _as_arrays(*self._trainset())
                update = aggregator.client_update(model, x, y, client_id=client.client_id)
                client.connect()
                client.send_update(update.weights, update.num_samples, round_number=1)
                client.recv_weights()
                return model
            from ..backends import set_backend

            backend = set_backend(model, context=ctx)
            hyper = dict(getattr(self.estimator, "hyperparameters", {}) or {})
            names = ("epochs", "batch_size", "learning_rate", "loss", "optimizer", "seed")
            kwargs = {k: hyper[k] for k in names if k in hyper}
            x, y = self._trainset()
            run_client(backend, client, (x, y) if y is not None else x, None, train_kwargs=kwargs,
                       aggregator=aggregator)
            return model
        finally:
            client.close()
