"""solar_corona's face of joint inference: ``load_model(...)`` and the ``JointModel`` it returns."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .._json import is_series
from ..backends.loaders import load_estimator
from ..base import InferenceResult
from ..config import MiningMode
from ..context import Context, resolve
from ..exceptions import ConfigError, DataError
from .cloud import get_big_model_endpoint
from .edge import JointInference, check_endpoint

__all__ = ["JointModel", "load_model"]


# -- the solar_corona face ---------------------------------------------------------------------

def _record(data: Any) -> bool:
    """Whether ``data`` is one sample a model takes in a list of one: a document or a mapping (a record)."""
    return isinstance(data, (str, bytes, Mapping))


def _one_sample(data: Any) -> bool:
    """Whether ``data`` is one sample.

    One sample is a document (a string), a record (a mapping), a DataFrame's row (a Series) or a
    1-D vector of numbers. Anything else is a batch: a 2-D array, a list of documents or records, a DataFrame.
    """
    import numpy as np

    if _record(data) or is_series(data):
        return True
    if np.ndim(data) != 1:
        return False
    try:
        return np.asarray(data).dtype.kind in "biuf"
    except (TypeError, ValueError):  # ragged or mixed: not a feature vector
        return False


class _ProbabilityModel:
    """Expose a classifier's ``predict_proba`` as ``predict``: miners read confidences, not labels."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, **kwargs: Any) -> Any:
        """Return class probabilities for ``data`` (a vector for one sample, a row per sample of a batch)."""
        import numpy as np

        if _record(data):  # one document or record: a text pipeline or a DictVectorizer takes a list of them
            p = self.model.predict_proba([data], **kwargs)
        elif is_series(data):  # a DataFrame's row: a table of one row
            p = self.model.predict_proba(data.to_frame().T.infer_objects(), **kwargs)
        elif _one_sample(data):
            p = self.model.predict_proba(np.asarray(data).reshape(1, -1), **kwargs)
        else:
            return _rows(self.model.predict_proba(data, **kwargs), _n_samples(data))
        outputs = _outputs(p)
        if outputs is not None:  # a multi-output model: the one row of each output
            _rows(p, 1)
            return type(p)(output[0] for output in outputs)
        try:
            if len(p) == 1:  # the common case, checked without more calls
                return p[0]
        except TypeError:
            pass
        return _rows(p, 1)[0]


def _outputs(answer: Any) -> list[Any] | None:
    """Return the arrays of a multi-output model's answer (a list or tuple of 2-D+ arrays), or None."""
    if not isinstance(answer, (list, tuple)) or not answer:
        return None
    if all(len(getattr(part, "shape", ())) >= 2 for part in answer):
        return list(answer)
    return None


def _n_samples(data: Any) -> int | None:
    """Return the number of samples of a batch (its first dimension), or None when it has none.

    One document, record (mapping) or DataFrame row (Series) is one sample.
    """
    if _record(data) or is_series(data):
        return 1
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    try:
        return len(data)
    except TypeError:
        return None


def _rows(probabilities: Any, n: int | None) -> Any:
    """Check that the edge model answered one row of probabilities per sample; return them.

    A multi-output model's answer (a list or tuple of arrays) has its rows on the leading axis of each array.
    """
    import numpy as np

    outputs = _outputs(probabilities)
    if outputs is not None:
        for output in outputs:
            _rows(output, n)
        return probabilities
    rows = np.shape(probabilities)[0] if np.ndim(probabilities) else None
    if n is not None and rows != n:
        got = "no rows" if rows is None else f"{rows} row" + ("" if rows == 1 else "s")
        raise DataError(f"the edge model returned {got} for {n} sample" + ("" if n == 1 else "s") +
                        ": predict_proba must return one row of class probabilities per sample")
    return probabilities


class JointModel:
    """solar_corona's edge-cloud model: ``predict(x)`` runs pre -> edge -> post -> miner -> (cloud).

    Built by :func:`load_model`. The order is the one the KubeEdge-AI proposal describes:

    1. ``pre_fun(x)`` prepares the raw input for the edge model (resize, normalise...);
    2. the edge model predicts;
    3. ``post_fun`` post-processes the edge's output locally (NMS for a detector...);
    4. the miner reads what ``post_fun`` returned (boxes for IBT) and decides;
    5. a hard sample goes to the big model as the **raw input** ``x``: the cloud is its own
       service, with its own pre- and post-processing, and its answer is returned as it is;
       an easy sample (or a hard one the cloud could not answer) gets the edge's post-processed
       result.

    Parameters
    ----------
    joint : JointInference
        The joint-inference job doing the work.
    pre_fun : callable, default=None
        Applied to the raw input before the edge model (the cloud gets the raw input).
    post_fun : callable, default=None
        Applied to the edge model's output; the miner reads its result.
    answer_fun : callable, default=None
        Applied to the final answer, the edge's or the cloud's (:func:`load_model` sets it for a
        classifier given without ``post_fun``: the miner reads probabilities, the answer is a label).

    Attributes
    ----------
    last_result : InferenceResult or None
        Details of the latest prediction (hard or not, raw edge output and cloud answer).
    """

    def __init__(self, joint: JointInference, pre_fun: Callable[[Any], Any] | None = None,
                 post_fun: Callable[[Any], Any] | None = None,
                 answer_fun: Callable[[Any], Any] | None = None) -> None:
        self.joint = joint
        self.pre_fun = pre_fun
        self.post_fun = post_fun
        self.answer_fun = answer_fun
        self.last_result: InferenceResult | None = None

    def predict_details(self, x: Any) -> InferenceResult:
        """Predict and return every part: ``(is_hard, result, edge, cloud)``.

        Parameters
        ----------
        x : object
            The raw input.

        Returns
        -------
        InferenceResult
            ``result`` is the answer ``predict`` gives; ``edge`` the edge model's raw output
            (before ``post_fun``); ``cloud`` the big model's answer, or None. For a batch given to a
            classifier without ``post_fun`` (a 2-D array, a list of documents, a DataFrame), each
            sample is decided on its own: ``is_hard`` is a boolean array with one value per sample,
            ``result`` the labels in the batch's order (the cloud's for the hard samples it
            answered), ``edge`` the probabilities (one row per sample; under mining-then-inference
            a row of NaN for a sample the cloud answered, the edge model not having run on it), and
            ``cloud`` a list with the cloud's answer for each sample it answered and None for the
            others, or None when it answered none. Any other input is one sample, decided as a whole.

        Raises
        ------
        DataError
            If the miner cannot read what ``post_fun`` returned, or a classifier's ``predict_proba``
            returns a number of rows other than the number of samples.
        """
        joint = self.joint
        joint._enter()  # counted in while running: close() waits for it before the last report
        try:
            return self._details(x)
        finally:
            joint._leave()

    def _details(self, x: Any) -> InferenceResult:
        """Predict and return every part (for :meth:`predict_details`, which counts the call in and out)."""
        joint = self.joint
        mode = joint._mode
        if mode is None:
            mode = joint._mode = MiningMode(joint.config.get("mining_mode", joint.context.config.mining_mode))
        one = self.answer_fun is not None and _one_sample(x)
        if self.answer_fun is not None and not one:  # a classifier's batch: routed per sample
            details = self._predict_batch(x, mode)
            self.last_result = details
            return details
        data = self.pre_fun(x) if self.pre_fun is not None else x
        # a classifier's one document or record goes to the cloud's classifier as a list of one, one label
        # comes back (a language model's prompt, also a string, goes as it is; a Series as a one-row table)
        document = self.answer_fun is not None and _record(x)
        details = joint._infer(data, [x] if document else x, self.post_fun, self.post_fun, mode, {},
                               "post_fun", cloud_callback=False)
        if details.cloud is not None and one:
            details = details._replace(result=_only(details.result))
        if self.answer_fun is not None and details.cloud is None:  # the edge's probabilities: its labels
            details = details._replace(result=self.answer_fun(details.result))
        self.last_result = details
        return details

    def _predict_batch(self, x: Any, mode: MiningMode) -> InferenceResult:
        """Route each sample of a classifier's batch: easy rows at the edge, each hard row to the cloud."""
        import numpy as np

        joint = self.joint
        miner = joint.miner
        data = self.pre_fun(x) if self.pre_fun is not None else x
        n = _n_samples(x)
        if n is None:
            raise DataError(f"a batch must have a length or a shape, got {type(x).__name__}")
        edge = None
        if mode is MiningMode.MINING_THEN_INFERENCE:
            if miner is None:
                raise ConfigError("MINING_MODE is mining-then-inference but no hard-example miner is set; "
                                  "set HEM_NAME or pass hard_example_mining", variable="HEM_NAME")
            hard = _mask(miner, data, n)
        else:
            edge = joint.estimator.predict(data)
            hard = np.zeros(n, dtype=bool) if miner is None else _mask(miner, edge, n)
        hard_rows = np.flatnonzero(hard)
        answered = []  # (row, the cloud's answer) for each hard row the cloud answered
        for i in hard_rows.tolist():  # one request per hard sample: each is queued or dead-lettered alone
            answer = joint._offload(_take(x, [i]), None, None, {})
            if answer is not None:
                answered.append((i, _only(answer)))
        if edge is None:  # mining-then-inference: the edge runs only on the rows the cloud did not answer
            labels = np.empty(n, dtype=object)
            rest = np.setdiff1d(np.arange(n), [i for i, _ in answered])
            if len(rest):
                part = np.asarray(joint.estimator.predict(_take(data, rest)), dtype=float)
                edge = np.full((n,) + part.shape[1:], np.nan)
                edge[rest] = part
                labels[rest] = list(self.answer_fun(part))
            for i, answer in answered:
                labels[i] = answer
            result = _uniform(labels)
        else:
            result = _merge(self.answer_fun(edge), answered)
        cloud = None
        if answered:
            cloud = [None] * n
            for i, answer in answered:
                cloud[i] = answer
        joint._tally_batch(n, len(hard_rows), len(answered))
        return InferenceResult(hard, result, edge, cloud)

    def predict(self, x: Any) -> Any:
        """Predict one input through the edge, and the cloud when the miner says it is hard.

        Parameters
        ----------
        x : object
            The raw input.

        Returns
        -------
        object
            The cloud's answer for a hard sample, else the edge's post-processed result. For a
            classifier's batch, the labels of its samples in order, each sample routed on its own
            (see :meth:`predict_details`).
        """
        return self.predict_details(x).result

    __call__ = predict

    @property
    def stats(self) -> dict[str, int]:
        """Counts of inferences, hard examples, cloud successes and failures, queued examples."""
        return self.joint.stats

    def close(self) -> None:
        """Stop background work and close connections."""
        self.joint.close()

    def __enter__(self) -> JointModel:
        """Return the model, for a ``with`` block."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close at the end of the ``with`` block."""
        self.close()


def load_model(model_path: Any, pre_fun: Callable[[Any], Any] | None = None,
               post_fun: Callable[[Any], Any] | None = None, *, cloud_offload_algorithm: Any = None,
               big_model_endpoint: Any = None, context: Context | None = None, report: bool = False,
               **options: Any) -> JointModel:
    """Configure an edge-cloud model (solar_corona's ``load_model``).

    Parameters
    ----------
    model_path : str or object
        The edge model: a local file (``.pkl``/``.joblib`` scikit-learn, ``.pt`` torch, ``.keras``
        Keras), or a model/estimator object. None (what ``context.get_model_path()`` returns
        when ``MODEL_URL`` and ``MODEL_PATH`` are unset) is refused at once. A classifier with
        ``predict_proba`` answers with class probabilities, which the miner reads.
    pre_fun : callable, default=None
        Pre-processing of each input for the edge model (the cloud gets the raw input); for a
        classifier's batch it must keep one row per sample, in order.
    post_fun : callable, default=None
        Local post-processing of the edge model's output (NMS for a detector); the miner reads
        what it returns, and it is the answer for an easy sample. A hard sample is answered by
        the cloud as the cloud answers. For a classifier given without ``post_fun``, the miner
        reads the probabilities and the edge answers with their labels (``classes_``, or the
        column indices for a model without ``classes_``; the cloud as it answers), and each sample
        of a batch is routed on its own: only the hard ones go to the cloud, one request each.
        With ``post_fun``, the input is one sample, whatever its shape.
    cloud_offload_algorithm : HardExampleMiner or str or dict, default=None
        The miner (``joint_inference.IBT(upload_ratio=0.5)``); ``HEM_NAME`` if omitted.
    big_model_endpoint : str or InferenceClient, default=None
        The cloud endpoint (``http://host:port/service``); :func:`get_big_model_endpoint` if omitted.
        An endpoint ending in ``/v1`` is an OpenAI-compatible API root (a language model's cloud,
        reached by :class:`~sedna_lib.transport.openai.OpenAIClient`).
    context : Context, default=None
        Configuration; the process environment if omitted.
    report : bool, default=False
        Send counts to a LocalController (only inside a Sedna deployment).
    **options : object
        Other :class:`JointInference` keywords (``offload_dir``, ``on_offloaded``, ...).

    Returns
    -------
    JointModel
        The model; call ``predict(x)``.

    Raises
    ------
    StorageNotFoundError
        If ``model_path`` names a missing file.
    ConfigError
        If ``model_path`` is None (no model: set ``MODEL_URL`` or ``MODEL_PATH``), the file type
        is unknown, the endpoint is not an http(s) URL, or ``HEM_NAME`` is malformed.
    NotRegisteredError
        If ``cloud_offload_algorithm`` (or ``HEM_NAME``) names no registered miner.
    ParameterError
        If the miner's parameters are unknown or ill-typed.
    """
    ctx = resolve(context)
    estimator = load_estimator(model_path)
    answer_fun = None
    if hasattr(estimator, "predict_proba") and not isinstance(estimator, type):
        classes = getattr(estimator, "classes_", None)
        estimator = _ProbabilityModel(estimator)  # a classifier: mine its confidences
        if post_fun is None:
            answer_fun = _ClassLabel(classes)  # ...and answer with labels, as the cloud does
    cloud = big_model_endpoint if big_model_endpoint is not None else get_big_model_endpoint(ctx)
    if isinstance(cloud, str):
        check_endpoint(cloud)
    joint = JointInference(estimator, cloud_offload_algorithm, context=ctx, cloud=cloud, report=report,
                           **options)
    joint.miner  # noqa: B018 - built now: an unknown name or bad parameters fail here, not in predict
    return JointModel(joint, pre_fun, post_fun, answer_fun)


class _ClassLabel:
    """Turn the edge's class probabilities into labels: one label for a vector, an array for a batch's rows.

    Only the edge's answer goes through it; the cloud answers with labels of its own, kept as they are.
    """

    def __init__(self, classes: Any) -> None:
        self.classes = classes  # None: the labels are the columns' indices

    def __call__(self, probabilities: Any) -> Any:
        import numpy as np

        p = np.asarray(probabilities)
        if p.ndim == 1:
            best = int(np.argmax(p))
            return best if self.classes is None else _plain(self.classes[best])
        if p.ndim == 2:
            best = np.argmax(p, axis=1)
            return best if self.classes is None else np.asarray(self.classes)[best]
        return probabilities


def _mask(miner: Any, results: Any, n: int) -> Any:
    """Ask the miner about each sample of a batch; return a boolean mask of length ``n``."""
    import numpy as np

    is_hard = getattr(miner, "is_hard", None)
    if is_hard is not None:
        mask = np.asarray(is_hard(results), dtype=bool).reshape(-1)
    else:  # a plain callable f(result) -> bool decides one sample at a time
        mask = np.fromiter((bool(miner(row)) for row in results), dtype=bool)
    if mask.shape != (n,):
        raise DataError(f"the miner {type(miner).__name__} decided {mask.size} samples of a batch of {n}")
    return mask


def _take(batch: Any, rows: Any) -> Any:
    """Return the given rows of a batch, as a batch of the same kind (a DataFrame, an array, a list)."""
    import numpy as np

    if hasattr(batch, "iloc"):
        return batch.iloc[list(rows)]
    if isinstance(batch, (list, tuple)):
        return [batch[i] for i in rows]
    if hasattr(batch, "shape") and hasattr(batch, "__getitem__"):  # numpy, a sparse matrix
        return batch[np.asarray(rows, dtype=np.intp)]
    return np.asarray(batch)[np.asarray(rows, dtype=np.intp)]


def _uniform(labels: Any) -> Any:
    """Return an object array of labels as a plain array when they are all of one type."""
    import numpy as np

    if len({type(label) for label in labels}) == 1:
        plain = np.asarray(labels.tolist())
        if plain.ndim == 1:
            return plain
    return labels


def _merge(labels: Any, answered: list[tuple[int, Any]]) -> Any:
    """Put the cloud's answers into the edge's labels at their rows (an object array if the types differ)."""
    import numpy as np

    if not answered:
        return labels
    rows = [i for i, _ in answered]
    values = np.asarray([answer for _, answer in answered])
    out = labels.copy()
    if values.ndim == 1 and np.can_cast(values.dtype, out.dtype, "safe"):
        out[rows] = values
        return out
    out = out.astype(object)
    for i, answer in answered:
        out[i] = answer
    return out


def _only(answer: Any) -> Any:
    """Return the cloud's answer to a batch of one as the answer to that one sample."""
    import numpy as np

    if isinstance(answer, (list, tuple, np.ndarray)) and len(answer) == 1:
        return _plain(answer[0])
    return answer


def _plain(value: Any) -> Any:
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value  # a plain int/str label
