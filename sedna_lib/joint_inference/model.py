"""solar_corona's face of joint inference: ``load_model(...)`` and the ``JointModel`` it returns."""

from __future__ import annotations

from typing import Any, Callable

from ..backends.loaders import load_estimator
from ..base import InferenceResult
from ..config import MiningMode
from ..context import Context, resolve
from .cloud import get_big_model_endpoint
from .edge import JointInference

__all__ = ["JointModel", "load_model"]


# -- the solar_corona face ---------------------------------------------------------------------

def _one_sample(data: Any) -> bool:
    """Whether ``data`` is one sample: a document (a string) or a 1-D vector of numbers.

    Anything else is a batch: a 2-D array, a list of documents, a DataFrame.
    """
    import numpy as np

    if isinstance(data, (str, bytes)):
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

        if isinstance(data, (str, bytes)):  # one document: a text pipeline takes a list of them
            return self.model.predict_proba([data], **kwargs)[0]
        if _one_sample(data):
            return self.model.predict_proba(np.asarray(data).reshape(1, -1), **kwargs)[0]
        return self.model.predict_proba(data, **kwargs)


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
            (before ``post_fun``); ``cloud`` the big model's answer, or None.

        Raises
        ------
        DataError
            If the miner cannot read what ``post_fun`` returned.
        """
        joint = self.joint
        if not joint._started:
            joint._start_on_use()
        mode = joint._mode
        if mode is None:
            mode = joint._mode = MiningMode(joint.config.get("mining_mode", joint.context.config.mining_mode))
        data = self.pre_fun(x) if self.pre_fun is not None else x
        # a classifier's one document goes to the cloud's classifier as a list of one, one label comes back
        # (a language model's prompt, also a string, goes as it is)
        document = self.answer_fun is not None and isinstance(x, (str, bytes))
        details = joint._infer(data, [x] if document else x, self.post_fun, self.post_fun, mode, {},
                               "post_fun", cloud_callback=False)
        if details.cloud is not None and self.answer_fun is not None and _one_sample(x):
            details = details._replace(result=_only(details.result))
        if self.answer_fun is not None and details.cloud is None:  # the edge's probabilities: its labels
            details = details._replace(result=self.answer_fun(details.result))
        self.last_result = details
        return details

    def predict(self, x: Any) -> Any:
        """Predict one input through the edge, and the cloud when the miner says it is hard.

        Parameters
        ----------
        x : object
            The raw input.

        Returns
        -------
        object
            The cloud's answer for a hard sample, else the edge's post-processed result.
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
        Pre-processing of each input for the edge model (the cloud gets the raw input).
    post_fun : callable, default=None
        Local post-processing of the edge model's output (NMS for a detector); the miner reads
        what it returns, and it is the answer for an easy sample. A hard sample is answered by
        the cloud as the cloud answers. For a classifier given without ``post_fun``, the miner
        reads the probabilities and the edge answers with their labels (the cloud as it answers).
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
        is unknown or the endpoint is not an http(s) URL.
    """
    ctx = resolve(context)
    estimator = load_estimator(model_path)
    answer_fun = None
    if hasattr(estimator, "predict_proba") and not isinstance(estimator, type):
        classes = getattr(estimator, "classes_", None)
        estimator = _ProbabilityModel(estimator)  # a classifier: mine its confidences
        if post_fun is None and classes is not None:
            answer_fun = _ClassLabel(classes)  # ...and answer with labels, as the cloud does
    cloud = big_model_endpoint if big_model_endpoint is not None else get_big_model_endpoint(ctx)
    joint = JointInference(estimator, cloud_offload_algorithm, context=ctx, cloud=cloud, report=report,
                           **options)
    return JointModel(joint, pre_fun, post_fun, answer_fun)


class _ClassLabel:
    """Turn the edge's class probabilities into labels: one label for a vector, an array for a batch's rows.

    Only the edge's answer goes through it; the cloud answers with labels of its own, kept as they are.
    """

    def __init__(self, classes: Any) -> None:
        self.classes = classes

    def __call__(self, probabilities: Any) -> Any:
        import numpy as np

        p = np.asarray(probabilities)
        if p.ndim == 1:
            return _plain(self.classes[int(np.argmax(p))])
        if p.ndim == 2:
            return np.asarray(self.classes)[np.argmax(p, axis=1)]
        return probabilities


def _only(answer: Any) -> Any:
    """Return the cloud's answer to a batch of one as the answer to that one sample."""
    import numpy as np

    if isinstance(answer, (list, tuple, np.ndarray)) and len(answer) == 1:
        return _plain(answer[0])
    return answer


def _plain(value: Any) -> Any:
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value  # a plain int/str label
