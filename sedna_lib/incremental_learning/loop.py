"""The local incremental-learning loop: infer, mine within a budget, label, retrain, evaluate, deploy."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TextIO

import numpy as np

from .._json import is_series, is_table
from ..base import check_number
from ..context import resolve
from ..exceptions import BackendError, DataError, ParameterError
from .hard_examples import HardExampleStore, spool_for
from .hot_update import ModelSlot, clone_estimator, write_model_config
from ..observability.progress import progress as progress_report
from ..registry import AlgorithmSpec, Kind, build_algorithm
from ..storage.local import atomic_path

__all__ = ["IncrementalLoop", "RoundRecord", "run_rounds", "score_metric"]

logger = logging.getLogger(__name__)

_EPS = 1e-9


@dataclass(frozen=True)
class RoundRecord:
    """What one round of the loop did; :meth:`to_dict` is the JSON written per round.

    Attributes
    ----------
    round : int
        1-based round number.
    stream_samples : int
        Unlabelled samples the serving model saw this round.
    uploaded : int
        Hard examples uploaded for labelling. The budget caps the stream so far: the uploads of
        rounds 1..r never exceed ``floor(upload_budget x samples of rounds 1..r)``.
    upload_fraction : float
        ``uploaded / stream_samples``, the exact fraction.
    labelled_total : int
        Size of the labelled training set after this round.
    metric : str
        The deploy metric's name.
    metric_before : float
        The serving model's metric on the eval set at the start of the round.
    metric_candidate : float
        The retrained model's metric.
    metric_after : float
        The serving model's metric after the deploy decision.
    deployed : bool
        Whether the candidate replaced the serving model (it improved by at least ``min_delta``).
    model_version : str
        Version of the serving model after the round.
    seconds : float
        Wall time of the round.
    hard_example_batch : str or None
        The batch folder the hard examples were saved to, if saved.
    hard_examples_pending : int
        Hard examples not uploaded yet when the round ended (the output was unreachable for
        ``upload_timeout`` seconds), this round's and any left from before; they wait in the
        spool folder and the next round, or the next run on the same spool, uploads them.
    """

    round: int
    stream_samples: int
    uploaded: int
    upload_fraction: float
    labelled_total: int
    metric: str
    metric_before: float
    metric_candidate: float
    metric_after: float
    deployed: bool
    model_version: str
    seconds: float
    hard_example_batch: str | None = None
    hard_examples_pending: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict.

        Returns
        -------
        dict
            Field name to value.
        """
        return dataclasses.asdict(self)


def score_metric(name: str | Callable[[Any, Any], float], y_true: Any, y_pred: Any) -> float:
    """Compute a deploy metric (higher is better).

    Parameters
    ----------
    name : {'accuracy', 'f1', 'macro_f1'} or callable
        ``'f1'`` is the binary F1 of the positive class (the larger label); ``'macro_f1'`` the
        unweighted mean over classes. A callable gets ``(y_true, y_pred)``.
    y_true, y_pred : array-like of shape (n_samples,)
        Labels.

    Returns
    -------
    float
        The score.

    Raises
    ------
    ParameterError
        If the name is unknown.

    Examples
    --------
    >>> score_metric("accuracy", [0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    >>> round(score_metric("f1", [0, 1, 1, 0], [0, 1, 0, 0]), 3)
    0.667
    """
    if callable(name):
        return float(name(y_true, y_pred))
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.shape != yp.shape:
        raise DataError(f"y_true has shape {yt.shape} but y_pred has shape {yp.shape}")
    if name == "accuracy":
        return float(np.mean(yt == yp)) if yt.size else 0.0
    if name in ("f1", "macro_f1"):
        classes = np.unique(yt) if name == "macro_f1" else np.unique(yt)[-1:]
        scores = []
        for c in classes:
            tp = np.sum((yp == c) & (yt == c))
            fp = np.sum((yp == c) & (yt != c))
            fn = np.sum((yp != c) & (yt == c))
            scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
        return float(np.mean(scores)) if scores else 0.0
    raise ParameterError(f"unknown metric {name!r}; use 'accuracy', 'f1', 'macro_f1' "
                         f"or a callable(y_true, y_pred)")


def _improves(candidate: float, serving: float, min_delta: float) -> bool:
    # Metric differences are float sums: 0.57 - 0.56 < 0.01 in binary, so a gain of exactly
    # ``min_delta`` is accepted within a relative tolerance; a worse model never is.
    gain = candidate - serving
    tol = _EPS * max(1.0, abs(candidate), abs(serving))
    return gain >= 0.0 and gain >= min_delta - tol


def _finite(value: Any, name: str, what: str) -> float:
    """Return ``value`` as a float, or raise ParameterError if it is no number or not finite (NaN, inf)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number {what}, got {value!r}") from None
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be a finite number {what}, got {value!r}")
    return number


def _is_table(x: Any) -> bool:
    """Return whether ``x`` is a pandas DataFrame or Series (rows are taken by position, ``.iloc``)."""
    return is_table(x) or is_series(x)


def _samples(x: Any) -> Any:
    """Return the inputs ``x`` in the container the model is trained on.

    A pandas DataFrame or Series is kept as it is (a pipeline may select its columns by name);
    anything else (a list, a torch tensor, ...) becomes a numpy array, as before.
    """
    return x if _is_table(x) else np.asarray(x)


def _take(x: Any, rows: Any) -> Any:
    """Return the rows ``rows`` (positions) of ``x``, in its own container."""
    return x.iloc[rows] if _is_table(x) else x[rows]


def _join(first: Any, second: Any) -> Any:
    """Append the samples ``second`` to ``first`` (tables stay tables, with a fresh 0..n-1 index)."""
    if _is_table(first):
        import pandas as pd

        return pd.concat([first, _samples(second)], ignore_index=True)
    return np.concatenate([first, second])


def _labels_from(pred: Any, classes: Any = None) -> np.ndarray:
    arr = np.asarray(pred)
    if arr.ndim == 2 and arr.dtype.kind == "f":
        idx = np.argmax(arr, axis=1)
        return np.asarray(classes)[idx] if classes is not None else idx
    return arr.ravel() if arr.ndim > 1 and arr.shape[-1] == 1 else arr


class IncrementalLoop:
    """Run incremental learning locally: the model gets better the more it is used.

    Each round: the serving model predicts a batch of the stream (infer); a hard-example miner
    picks at most ``upload_budget`` of it (mine); a labeller labels them (label); a new model is
    trained on every label gathered so far (retrain); both models are scored on held-out data
    (evaluate); the new one serves only if its metric is at least ``min_delta`` better
    (deploy). A deployed model is therefore never worse than the one it replaces on that data.

    Inputs that are pandas DataFrames stay DataFrames throughout (rows are taken by position), so
    a pipeline that selects columns by name works; a labeller gets the chosen rows as a
    DataFrame, and hard examples are kept as one-row tables. Lists and tensors become arrays.

    Parameters
    ----------
    estimator : object
        The model: a scikit-learn estimator, torch module or Keras model (class or instance),
        or a Sedna-style estimator. Each round trains a fresh copy.
    miner : str or HardExampleMiner, default='Margin'
        A registered miner name or an instance. Miners that score samples rank them and the
        ``k`` hardest are uploaded; others flag samples and the first ``k`` flagged are uploaded.
    miner_params : dict, default=None
        Parameters for a miner given by name.
    upload_budget : float, default=0.2
        Largest fraction of the stream uploaded for labelling, in (0, 1]. Each round uploads
        ``floor(upload_budget x samples seen so far)`` minus what earlier rounds uploaded, so the
        exact fraction never exceeds the budget and rounding leftovers carry over (20 % of
        64-sample rounds uploads 12, 13, 13, 13, 13).
    labeler : callable, default=None
        ``labeler(samples, predictions) -> labels``: the labelling step. When None the stream's
        ground-truth labels are used (experiments).
    metric : {'accuracy', 'f1', 'macro_f1'} or callable, default='accuracy'
        The deploy metric, higher is better.
    min_delta : float, default=0.01
        Smallest improvement that deploys the new model (>= 0).
    train_kwargs : dict, default=None
        Options for the backend's ``train`` (epochs, batch_size, ...).
    output_dir : str, default=None
        Where ``rounds.json`` and the deployed models go; nothing is written when None.
    hard_example_output : str, default=None
        Folder or ``s3://`` URL where each round's hard examples are saved (batch ``round-NNNN``).
        Its storage must be configured (``S3_ENDPOINT_URL`` for ``s3://``): :meth:`start` checks.
    spool_dir : str, default=None
        Where hard examples wait until they are uploaded; ``SEDNA_HARD_EXAMPLE_SPOOL``, else
        ``<SEDNA_WORK_DIR>/hard_examples_spool`` (one sub-folder per output). It survives the
        run: what could not be uploaded is uploaded by the next run on the same folder.
    upload_timeout : float, default=10.0
        Seconds the end of a round waits for its hard examples to be uploaded.
    hot_update_config : str, default=None
        A ``model_config.json`` written in the LocalController's format at every deploy, so a
        separate inference process (``MODEL_HOT_UPDATE``) picks the new model up. Needs
        ``output_dir`` (the deployed models are saved there).
    progress : bool or file, default=True
        Report each round's result: a bar on a terminal (stderr, or the given file), else one
        line per round (an INFO log line, or a line on the given file), plus "kept the old model:
        +0.0018 < min_delta 0.01" when a round does not deploy. False: nothing.
    context : Context, default=None
        Registry, storage and configuration; built from the environment when None.

    Attributes
    ----------
    records_ : list of RoundRecord
        One per round run so far.
    slot_ : ModelSlot
        The serving backend.
    initial_metric_ : float
        The initial model's metric.
    labelled_x_ : numpy.ndarray or pandas.DataFrame
        The labelled inputs so far: a DataFrame (index 0..n-1) when the initial inputs are one,
        else an array.
    labelled_y_ : numpy.ndarray
        Their labels.
    seen_, uploaded_ : int
        Stream samples seen and uploaded so far (the budget's running account).
    run_id_ : str
        A token of this run, part of every hard-example id (``r<round>-<run_id_>-<index>``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> x, y = load_iris(return_X_y=True)
    >>> order = np.random.default_rng(0).permutation(len(y)); x, y = x[order], y[order]
    >>> loop = IncrementalLoop(LogisticRegression(max_iter=500), upload_budget=0.3, progress=False)
    >>> records = loop.run((x[:15], y[:15]), (x[15:105], y[15:105]), (x[105:], y[105:]), rounds=3)
    >>> [r.uploaded for r in records]
    [9, 9, 9]
    >>> all(r.metric_after >= r.metric_before for r in records)
    True
    """

    def __init__(self, estimator: Any, *, miner: Any = "Margin",
                 miner_params: Mapping[str, Any] | None = None, upload_budget: float = 0.2,
                 labeler: Callable[[Any, Any], Any] | None = None,
                 metric: str | Callable[[Any, Any], float] = "accuracy", min_delta: float = 0.01,
                 train_kwargs: Mapping[str, Any] | None = None, output_dir: str | None = None,
                 hard_example_output: str | None = None, hot_update_config: str | None = None,
                 progress: bool | TextIO = True, context: Any = None, spool_dir: str | None = None,
                 upload_timeout: float = 10.0) -> None:
        self.estimator = estimator
        self.miner = miner
        self.miner_params = miner_params
        self.upload_budget = upload_budget
        self.labeler = labeler
        self.metric = metric
        self.min_delta = min_delta
        self.train_kwargs = train_kwargs
        self.output_dir = output_dir
        self.hard_example_output = hard_example_output
        self.hot_update_config = hot_update_config
        self.progress = progress
        self.context = context
        self.spool_dir = spool_dir
        self.upload_timeout = upload_timeout
        self._env_context: Any = None if context is not None else resolve(context)

    # -- validation and helpers -------------------------------------------------------------------
    def _check(self) -> None:
        check_number("upload_budget", self.upload_budget, 0, 1, low_open=True)
        if _finite(self.min_delta, "min_delta", ">= 0 (a deployed model must never be worse)") < 0:
            raise ParameterError(f"min_delta must be >= 0 (a deployed model must never be worse), "
                                 f"got {self.min_delta!r}")
        if self.upload_timeout is not None and _finite(self.upload_timeout, "upload_timeout",
                                                       "seconds, >= 0") < 0:
            raise ParameterError(f"upload_timeout must be seconds, >= 0, got {self.upload_timeout!r}")
        if self.hot_update_config and not self.output_dir:
            raise ParameterError("hot_update_config needs output_dir: deployed models are saved there")

    def _ctx(self) -> Any:
        """Return ``context``, else the environment's context read when the loop was built."""
        return self.context if self.context is not None else self._env_context

    def _spool_dir(self) -> str:
        root = self.spool_dir or self._ctx().config.hard_example_spool_dir
        return spool_for(root, self.hard_example_output or "")

    def _miner(self) -> Any:
        if self.miner is None or not isinstance(self.miner, str):
            return self.miner
        return build_algorithm(self._ctx().registry, Kind.HARD_EXAMPLE_MINING,
                               AlgorithmSpec((self.miner, dict(self.miner_params or {}))))

    def _new_backend(self) -> Any:
        from ..backends import set_backend

        ctx = self._ctx()
        return set_backend(clone_estimator(self.estimator), ctx.config, context=ctx)

    def _scores(self, backend: Any, x: Any) -> Any:
        try:
            return backend.predict_proba(x)
        except (BackendError, NotImplementedError, AttributeError):
            return backend.predict(x)

    def _predict_labels(self, backend: Any, x: Any) -> np.ndarray:
        pred = backend.predict(x)
        est = getattr(backend, "estimator", None)
        return _labels_from(pred, getattr(est, "classes_", None))

    def _evaluate(self, backend: Any, eval_data: tuple[Any, Any]) -> float:
        x, y = eval_data
        return score_metric(self.metric, np.asarray(y), self._predict_labels(backend, x))

    def _train(self, x: Any, y: np.ndarray) -> Any:
        backend = self._new_backend()
        backend.train((x, y), **dict(self.train_kwargs or {}))
        return backend

    def _allowance(self, n: int) -> int:
        # The budget caps the fraction of the whole stream: a round may upload what keeps
        # uploaded / seen <= upload_budget, so rounding never overshoots and leftovers carry over.
        cap = int(np.floor(float(self.upload_budget) * (self.seen_ + n) + _EPS))
        return max(0, min(cap - self.uploaded_, n))

    def _select(self, miner: Any, outputs: Any, n: int) -> np.ndarray:
        k = self._allowance(n)
        if k == 0 or miner is None:
            return np.arange(k)
        if getattr(miner, "scored", False):
            scores = np.asarray(miner.score(outputs), dtype=float)
            return np.sort(np.argsort(-scores, kind="stable")[:k])
        flags = np.asarray(miner.is_hard(outputs), dtype=bool)
        return np.flatnonzero(flags)[:k]

    def _write_records(self) -> None:
        if not self.output_dir:
            return
        doc = {"metric": self._metric_name(),
               "upload_budget": self.upload_budget, "min_delta": self.min_delta,
               "miner": self.miner if isinstance(self.miner, str) or self.miner is None else repr(self.miner),
               "initial_metric": self.initial_metric_, "rounds": [r.to_dict() for r in self.records_]}
        path = os.path.join(self.output_dir, "rounds.json")
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)

    def _deploy(self, backend: Any, version: str) -> None:
        self.slot_.swap(backend, version=version)
        if not self.output_dir:
            return
        folder = os.path.join(self.output_dir, "models", version)
        saved = backend.save(os.path.join(folder, backend.model_name))
        if self.hot_update_config:
            write_model_config(self.hot_update_config, saved, version)

    # -- the loop --------------------------------------------------------------------------------
    def start(self, initial: tuple[Any, Any], eval_data: tuple[Any, Any]) -> IncrementalLoop:
        """Train and deploy the initial model on the first labelled data.

        Parameters
        ----------
        initial : tuple of array-like
            ``(x, y)``, the labels available before the loop.
        eval_data : tuple of array-like
            ``(x, y)``, held out: the deploy decision is made on it.

        Returns
        -------
        IncrementalLoop
            ``self``.

        Raises
        ------
        ParameterError
            If a parameter is out of range.
        ConfigError
            If ``hard_example_output`` is a URL its storage is not configured for (an ``s3://``
            output with no ``S3_ENDPOINT_URL``), before any training.
        """
        self._check()
        if self.hard_example_output and "://" in self.hard_example_output:
            self._ctx().storage.check(self.hard_example_output)
        x, y = _samples(initial[0]), np.asarray(initial[1])
        if len(x) != len(y) or len(x) == 0:
            raise DataError(f"initial data needs as many labels as samples (got {len(x)} samples, "
                            f"{len(y)} labels)")
        self.labelled_x_, self.labelled_y_ = x, y
        # in sample ids: two runs writing one round folder (one finishing the other's uploads) never collide
        self.run_id_ = uuid.uuid4().hex[:8]
        self.records_: list[RoundRecord] = []
        self.seen_, self.uploaded_ = 0, 0
        self.miner_ = self._miner()
        backend = self._train(x, y)
        self.slot_ = ModelSlot(backend, version="round-0000")
        self.initial_metric_ = self._evaluate(backend, eval_data)
        self._deploy(backend, "round-0000")
        self._eval_data = eval_data
        self._write_records()
        self._report: Any = None  # opened by run() (which knows the rounds) or the first step()
        return self

    def _open_report(self, total: int | None) -> Any:
        """Start the per-round report (None when ``progress`` is False)."""
        if self.progress is False:
            return None
        stream = None if self.progress is True else self.progress
        report = progress_report(total, "round", logger=logger, stream=stream)
        report.note("initial model: %s %.4f on %d held-out samples", self._metric_name(),
                    self.initial_metric_, len(self._eval_data[1]))
        return report

    def _say(self, record: RoundRecord) -> None:
        """Report one round: its numbers, and why the old model stays when it does."""
        if self._report is None:
            self._report = self._open_report(None)
        report = self._report
        if report is None:
            return
        gain = record.metric_candidate - record.metric_before
        report.step(uploaded=f"{record.uploaded}/{record.stream_samples}",
                    **{record.metric: round(record.metric_after, 4)},
                    model=record.model_version)
        if record.deployed:
            report.note("round %d: deployed %s: %s %.4f -> %.4f (%+.4f >= min_delta %s)", record.round,
                        record.model_version, record.metric, record.metric_before, record.metric_candidate,
                        gain, self.min_delta)
        elif record.uploaded == 0:
            report.note("round %d: kept the old model: no hard examples to learn from", record.round)
        else:
            report.note("round %d: kept the old model: %+.4f < min_delta %s", record.round, gain,
                        self.min_delta)

    def step(self, batch: Any) -> RoundRecord:
        """Run one round on a batch of the stream.

        Parameters
        ----------
        batch : array-like or tuple
            The round's inputs, or ``(x, y)`` with ground truth (needed when there is no labeler).

        Returns
        -------
        RoundRecord
            What the round did.

        Raises
        ------
        DataError
            If no labeler is set and the batch has no labels, or the labeler returns the wrong
            number of labels.
        """
        started = time.perf_counter()
        number = len(self.records_) + 1
        if isinstance(batch, tuple) and len(batch) == 2:
            x, y_true = _samples(batch[0]), np.asarray(batch[1])
        else:
            x, y_true = _samples(batch), None
        serving = self.slot_.get()
        if len(x):
            outputs = self._scores(serving, x)
            chosen = self._select(self.miner_, outputs, len(x))
        else:  # an empty batch (a stream split into more rounds than it has samples): nothing to mine
            outputs, chosen = np.zeros((0,)), []
        batch_name, pending = None, 0
        if self.hard_example_output and len(chosen):
            batch_name = f"round-{number:04d}"
            remote = "://" in self.hard_example_output
            store = HardExampleStore(self.hard_example_output, batch=batch_name,
                                     storage=self._ctx().storage if remote else None,
                                     spool_dir=self._spool_dir())
            store.start()
            try:
                for i in chosen:
                    # a table's row stays a one-row table: its columns and types are kept with it
                    store.put(_take(x, [i]) if _is_table(x) else x[i], np.asarray(outputs)[i],
                              sample_id=f"r{number:04d}-{self.run_id_}-{int(i):06d}")
            finally:
                store.close(timeout=self.upload_timeout)
            pending = store.pending
        if self.labeler is not None:
            labels = np.asarray(self.labeler(_take(x, chosen), np.asarray(outputs)[chosen]))
        elif y_true is not None:
            labels = y_true[chosen]
        else:
            raise DataError("no labeler given and the stream batch has no labels; pass labeler=... "
                            "or (x, y) batches")
        if len(labels) != len(chosen):
            raise DataError(f"the labeler returned {len(labels)} labels for {len(chosen)} samples")
        self.seen_ += len(x)
        self.uploaded_ += len(chosen)
        if len(chosen):
            self.labelled_x_ = _join(self.labelled_x_, _take(x, chosen))
            labels = labels.astype(self.labelled_y_.dtype, copy=False)
            self.labelled_y_ = np.concatenate([self.labelled_y_, labels])
        before = self._evaluate(serving, self._eval_data)
        candidate = self._train(self.labelled_x_, self.labelled_y_) if len(chosen) else None
        cand_metric = self._evaluate(candidate, self._eval_data) if candidate is not None else before
        deployed = candidate is not None and _improves(cand_metric, before, float(self.min_delta))
        version = self.slot_.version
        if deployed:
            version = f"round-{number:04d}"
            self._deploy(candidate, version)
        record = RoundRecord(round=number, stream_samples=len(x), uploaded=len(chosen),
                             upload_fraction=len(chosen) / len(x) if len(x) else 0.0,
                             labelled_total=len(self.labelled_y_), metric=self._metric_name(),
                             metric_before=before, metric_candidate=cand_metric,
                             metric_after=cand_metric if deployed else before, deployed=deployed,
                             model_version=version, seconds=time.perf_counter() - started,
                             hard_example_batch=batch_name, hard_examples_pending=pending)
        self.records_.append(record)
        self._write_records()
        self._say(record)
        return record

    def _metric_name(self) -> str:
        return self.metric if isinstance(self.metric, str) else getattr(self.metric, "__name__", "custom")

    def run(self, initial: tuple[Any, Any], stream: Any, eval_data: tuple[Any, Any], *,
            rounds: int | None = None) -> list[RoundRecord]:
        """Train the initial model, then run one round per stream batch.

        Parameters
        ----------
        initial : tuple of array-like
            ``(x, y)`` labelled before the loop.
        stream : iterable or tuple
            An iterable of batches (arrays, or ``(x, y)`` tuples), or one ``(x, y)`` pair (or an
            array, or a pandas DataFrame) split by rows into ``rounds`` equal batches.
        eval_data : tuple of array-like
            ``(x, y)`` held out for the deploy decision.
        rounds : int, default=None
            Number of rounds when ``stream`` is one pair or array (required then).

        Returns
        -------
        list of RoundRecord
            One per round.

        Raises
        ------
        ParameterError
            If ``rounds`` is missing or not positive for a single-array stream.
        """
        self.start(initial, eval_data)
        batches = self._batches(stream, rounds)
        self._report = self._open_report(len(batches) if hasattr(batches, "__len__") else None)
        try:
            for batch in batches:
                self.step(batch)
        finally:
            if self._report is not None:
                self._report.close()
        return list(self.records_)

    @staticmethod
    def _batches(stream: Any, rounds: int | None) -> Iterable[Any]:
        def whole(part: Any) -> bool:  # one array or table of samples, not an iterable of batches
            return isinstance(part, np.ndarray) or _is_table(part)

        pair = isinstance(stream, tuple) and len(stream) == 2 and whole(stream[0])
        single = whole(stream) or pair
        if not single:
            return stream
        if not rounds or rounds < 1:
            raise ParameterError(f"rounds must be a positive int to split one stream array, got {rounds!r}")
        idx = np.array_split(np.arange(len(stream[0] if pair else stream)), rounds)
        if pair:
            return [(_take(stream[0], i), np.asarray(stream[1])[i]) for i in idx]
        return [_take(stream, i) for i in idx]


def run_rounds(estimator: Any, initial: tuple[Any, Any], stream: Any, eval_data: tuple[Any, Any], *,
               rounds: int | None = None, **options: Any) -> list[RoundRecord]:
    """Run the local incremental-learning loop (see :class:`IncrementalLoop`) and return its records.

    Parameters
    ----------
    estimator : object
        The model to improve.
    initial : tuple of array-like
        ``(x, y)`` labelled before the loop.
    stream : iterable or tuple
        Batches, or one ``(x, y)`` pair split into ``rounds``.
    eval_data : tuple of array-like
        ``(x, y)`` held out for the deploy decision.
    rounds : int, default=None
        Rounds, when ``stream`` is one pair.
    **options : object
        :class:`IncrementalLoop` parameters (miner, upload_budget, labeler, metric, min_delta,
        output_dir, ...).

    Returns
    -------
    list of RoundRecord
        One per round.
    """
    return IncrementalLoop(estimator, **options).run(initial, stream, eval_data, rounds=rounds)
