"""Knowledge managers: the cloud publishes the knowledge base, the edge mirrors it, saving unseen samples."""

from __future__ import annotations

import functools
import json
import logging
import operator as _operator
import os
import shutil
import tempfile
import time
import urllib.parse
from typing import Any, Callable

from .._json import json_safe
from .._json import loads as json_loads
from ..base import check_number
from ..context import Context, resolve
from ..exceptions import ParameterError, ProtocolError, RemoteError, TransportError, TransportTimeout
from ..job import check_writable
from ..storage import StorageRouter
from ..transport._requests import check_retries
from ..transport.kb_index import sha256_file
from .index import is_json_index, load_samples, loads_index, read_index, save_samples, write_index

__all__ = ["BaseKnowledgeManagement", "CloudKnowledgeManagement", "EdgeKnowledgeManagement", "INDEX_NAME",
           "push_kb"]

logger = logging.getLogger(__name__)

INDEX_NAME = "index.pkl"  # the name Sedna's control plane copies and deploys; the content is JSON

_OPERATORS = {">": _operator.gt, ">=": _operator.ge, "<": _operator.lt, "<=": _operator.le,
              "==": _operator.eq, "!=": _operator.ne}


_is_remote = StorageRouter.is_remote

_RETRY_STATUSES = (502, 503, 504)  # a gateway says the KB server is away: worth another try


class BaseKnowledgeManagement:
    """What both knowledge managers share: the context, the estimators and the KB client.

    Parameters
    ----------
    config : mapping, default=None
        Sedna's job config (``ll_kb_server``, ``output_url``, ...); overrides the context.
    seen_estimator : SeenTaskLearning, default=None
        The seen-task learner.
    unseen_estimator : UnseenTaskProcessing, default=None
        The unseen-task processor.
    context : Context, default=None
        Configuration and storage; the environment's context when omitted (a
        ``LifelongLearning`` job passes its own).
    backoff : float, default=0.5
        Seconds before the first retry of a KB server that refused the connection (or whose
        gateway answered 502/503/504) while the cloud side publishes, doubled for each further
        one; ``SEDNA_MAX_RETRIES`` bounds the retries. The edge side does not retry: it keeps
        serving its deployed models and checks the index again at its next poll.
    """

    def __init__(self, config: Any = None, seen_estimator: Any = None, unseen_estimator: Any = None, *,
                 context: Context | None = None, backoff: float = 0.5) -> None:
        self.config = dict(config or {})
        self.seen_estimator = seen_estimator
        self.unseen_estimator = unseen_estimator
        self.context = resolve(context)
        self.backoff = backoff
        self._kb_client: Any = None

    @property
    def ctx(self) -> Context:
        """The context the knowledge manager works in."""
        return self.context

    @property
    def kb_server(self) -> str | None:
        """The knowledge-base server URL (``KB_SERVER``), or None to work without one."""
        return self.config.get("ll_kb_server") or self.ctx.config.kb_server

    @property
    def kb_client(self) -> Any:
        """The :class:`~sedna_lib.transport.kb.KBClient`, or None without a server."""
        if self._kb_client is None and self.kb_server:
            from ..transport.kb import KBClient

            cfg = self.ctx.config
            self._kb_client = KBClient(self.kb_server, token=cfg.auth_token,
                                       connect_timeout=cfg.connect_timeout_s,
                                       timeout=max(cfg.request_timeout, 30.0), verify=cfg.tls_ca or True)
        return self._kb_client

    def close(self) -> None:
        """Close the KB client's HTTP session (and its kept-alive connections); safe to call twice.

        A later request to the knowledge base opens a new session.
        """
        if self._kb_client is not None:
            self._kb_client.close()

    def fetch(self, url: str, dst: str) -> str:
        """Copy a file (local path, knowledge-base URL, ``s3://`` or ``http(s)://``) to the local ``dst``.

        Parameters
        ----------
        url : str
            Where the file is.
        dst : str
            Local destination.

        Returns
        -------
        str
            ``dst``.

        Raises
        ------
        StorageError
            If the file cannot be fetched.
        """
        if self._on_kb_server(url):
            return self.kb_client.download(url, dst)
        return self.ctx.storage.download(url, dst)

    def read_index_bytes(self, url: str) -> bytes:
        """Fetch the raw index.

        Parameters
        ----------
        url : str
            Local path or URL.

        Returns
        -------
        bytes
            File content.
        """
        if self._on_kb_server(url):
            return self.kb_client.read_bytes(url)
        return self.ctx.storage.read_bytes(url)

    def _on_kb_server(self, url: str) -> bool:
        """Whether ``url`` is a file of the knowledge-base server (fetched with its token)."""
        return (str(url).startswith(("http://", "https://")) and self.kb_client is not None
                and url.startswith(self.kb_client.kbserver))

    def load_index(self, url: str, workdir: str) -> dict:
        """Read an index and make its models and samples local (under ``workdir``).

        Parameters
        ----------
        url : str
            Where the index is.
        workdir : str
            Local folder for the files.

        Returns
        -------
        dict
            The index with local model paths and loaded samples.

        Raises
        ------
        DataError
            If the index is a pickle and ``SEDNA_LEGACY_PICKLE`` is off, or is invalid; with the
            switch on, Sedna's pickled index is read through the allow-list of its own classes.
        """
        if not _is_remote(url) and os.path.isfile(url):
            index = read_index(url, allow_pickle=bool(self.ctx.config.legacy_pickle))
        else:
            data = self.read_index_bytes(url)
            if self.ctx.config.legacy_pickle and not is_json_index(data):
                from ..transport.kb_legacy import loads_legacy_index

                index = loads_legacy_index(data)  # an original knowledge base's index, through the allow-list
            else:
                index = loads_index(data)
        base = os.path.dirname(os.path.abspath(url)) if not _is_remote(url) else None
        for kind in ("seen_task", "unseen_task"):
            for group in (index.get(kind) or {}).get("task_groups", []) or []:
                model = group.model
                if model is not None and isinstance(model.model, str):
                    model.model = self._localize(model.model, base, os.path.join(workdir, kind))
                    self._verify(model.model, getattr(model, "sha256", None),
                                 f"model of task {group.entry!r}")
                samples_url = getattr(group, "samples_url", None)
                if samples_url and getattr(group, "samples", None) is None:
                    local = self._localize(samples_url, base, os.path.join(workdir, kind))
                    self._verify(local, getattr(group, "samples_sha256", None),
                                 f"samples of task {group.entry!r}")
                    group.samples = load_samples(local)
        return index

    def _verify(self, path: str, digest: str | None, what: str) -> None:
        """Check a fetched file against its index digest (IntegrityError); an index without one is logged."""
        from ..transport.kb_index import verify_sha256

        if digest is None:
            if not self.ctx.config.legacy_pickle:
                logger.warning("the knowledge-base index gives no sha256 for the %s (%s): it is loaded "
                               "unverified", what, path)
            return
        verify_sha256(path, digest, what=what)

    def _localize(self, ref: str, base: str | None, folder: str) -> str:
        if not _is_remote(ref):
            path = ref if os.path.isabs(ref) or base is None else os.path.join(base, ref)
            if os.path.isfile(path):
                return path
        if "files=" in ref:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(ref).query)
            name = os.path.basename(query.get("files", [""])[0])
        else:
            name = os.path.basename(ref)
        return self.fetch(ref, os.path.join(folder, name))


class CloudKnowledgeManagement(BaseKnowledgeManagement):
    """Publish the knowledge base: model and sample files to ``OUTPUT_URL`` and the KB server, then the index.

    Parameters
    ----------
    config : mapping, default=None
        Sedna's job config; ``output_url`` overrides ``OUTPUT_URL``.
    seen_estimator, unseen_estimator : object, default=None
        The learners.
    context : Context, default=None
        Configuration and storage; the environment's context when omitted (a
        ``LifelongLearning`` job passes its own).
    backoff : float, default=0.5
        Seconds before the first retry of a KB server that is away, doubled for each further
        one (``SEDNA_MAX_RETRIES`` retries at most).
    """

    @property
    def output_url(self) -> str:
        """Where the knowledge base is written: ``OUTPUT_URL``, else ``<SEDNA_WORK_DIR>/lifelong/output``."""
        return self.config.get("output_url") or self.ctx.config.output_url or os.path.join(
            self.ctx.config.work_dir, "lifelong", "output")

    def check_output(self) -> None:
        """Check that :attr:`output_url` can be written (a local folder; remote ones are not probed).

        Raises
        ------
        ConfigError
            If the folder cannot be created or written; it names ``OUTPUT_URL``, or
            ``SEDNA_WORK_DIR`` when the default folder under it is used.
        """
        variable = "OUTPUT_URL" if (self.config.get("output_url") or self.ctx.config.output_url) \
            else "SEDNA_WORK_DIR"
        check_writable(self.output_url, variable, folder=True)

    @property
    def task_index_url(self) -> str:
        """The published index: ``<output_url>/index.pkl``."""
        return self.ctx.storage.join(self.output_url, INDEX_NAME)

    def update_kb(self, task_index: dict | str) -> str:
        """Publish a knowledge base: first to the output folder, then to the KB server.

        Every model file and every task group's samples are written to
        ``<output_url>/<seen_task|unseen_task>/`` and the JSON index naming them to
        ``<output_url>/index.pkl``: that folder alone is a complete knowledge base, which an edge
        can deploy (``MODEL_URLS``). When ``KB_SERVER`` is set the files are then uploaded to the
        KB server, the index naming their KB URLs is posted to it and replaces the one in the
        output folder. A KB server that refuses the JSON index (an original Sedna one) gets it
        again in Sedna's pickled format when ``SEDNA_LEGACY_PICKLE=true``; an index the server
        refuses is logged and the output folder's index still names the uploaded files, as
        Sedna does. A refused connection (or a gateway's 502/503/504) is tried again up to
        ``SEDNA_MAX_RETRIES`` times, :attr:`backoff` seconds apart, doubled each time.

        Parameters
        ----------
        task_index : dict or str
            The in-memory index, or a local index file.

        Returns
        -------
        str
            Where the published index is (``<output_url>/index.pkl``).

        Raises
        ------
        TransportError
            If the KB server cannot be reached or refuses a file. The knowledge base is then in
            the output folder, naming its files there, and the message says so and names
            :func:`push_kb`, which publishes it to the KB server later without training again.
        """
        index = read_index(task_index) if isinstance(task_index, str) else task_index
        index = dict(index)
        index["create_time"] = str(time.time())
        with tempfile.TemporaryDirectory(prefix="sedna_lib_kb_") as tmp:
            files = self._save(index, tmp)
            local_index = write_index(index, os.path.join(tmp, INDEX_NAME))
            saved = self.ctx.storage.upload(local_index, self.task_index_url)
            if self.kb_client is None:
                return saved
            return self._push(index, files, tmp)

    def push(self) -> str:
        """Publish the knowledge base saved in the output folder to the KB server (see :func:`push_kb`).

        Returns
        -------
        str
            Where the published index is (``<output_url>/index.pkl``), now naming the files on the
            KB server.

        Raises
        ------
        ConfigError
            If no KB server is set (``KB_SERVER``).
        StorageNotFoundError
            If the output folder holds no index.
        IntegrityError
            If a saved file no longer matches the SHA-256 its index gives.
        TransportError
            If the KB server cannot be reached or refuses a file; the saved index is left as it was.
        """
        from ..exceptions import ConfigError
        from .index import loads_index

        if self.kb_client is None:
            raise ConfigError("no knowledge-base server to publish to: set KB_SERVER (or pass kb_server)",
                              variable="KB_SERVER")
        source = self.task_index_url
        if _is_remote(source):
            index, base = loads_index(self.ctx.storage.read_bytes(source)), None
        else:
            index = read_index(source, allow_pickle=bool(self.ctx.config.legacy_pickle))
            base = os.path.dirname(os.path.abspath(source))
        with tempfile.TemporaryDirectory(prefix="sedna_lib_kb_") as tmp:
            files = []
            for kind in ("seen_task", "unseen_task"):
                for group in (index.get(kind) or {}).get("task_groups", []) or []:
                    model = group.model
                    if model is not None and isinstance(model.model, str) and self._saved_here(model.model):
                        local = self._localize(model.model, base, os.path.join(tmp, kind))
                        self._verify(local, getattr(model, "sha256", None), f"model of task {group.entry!r}")
                        model.sha256 = sha256_file(local)
                        name = os.path.basename(local)
                        files.append((model, "model", local, f"{kind}-{model.sha256[:16]}-{name}"))
                    samples_url = getattr(group, "samples_url", None)
                    if isinstance(samples_url, str) and self._saved_here(samples_url):
                        local = self._localize(samples_url, base, os.path.join(tmp, kind))
                        self._verify(local, getattr(group, "samples_sha256", None),
                                     f"samples of task {group.entry!r}")
                        group.samples_sha256 = sha256_file(local)
                        files.append((group, "samples_url", local, f"{kind}-{os.path.basename(local)}"))
            return self._push(index, files, tmp)

    def _saved_here(self, ref: str) -> bool:
        """Whether ``ref`` is a file of the output folder (a local path, or a URL under a remote one)."""
        if self._on_kb_server(ref):
            return False
        return not _is_remote(ref) or ref.startswith(self.output_url.rstrip("/") + "/")

    def _save(self, index: dict, tmp: str) -> list[tuple[Any, str, str, str]]:
        """Write the models and samples of ``index`` to the output folder; the index names them there.

        Returns ``(holder, attribute, local file, name on the KB server)`` for each file written.
        """
        storage = self.ctx.storage
        stamp = index["create_time"].replace(".", "")
        files = []
        for kind in ("seen_task", "unseen_task"):
            part = index.get(kind) or {"task_groups": [], "extractor": None}
            index[kind] = part
            for group in part.get("task_groups", []) or []:
                model = group.model
                if model is not None and isinstance(model.model, str) and not _is_remote(model.model):
                    local, name = model.model, os.path.basename(model.model)
                    model.sha256 = sha256_file(local)  # the edge verifies what it fetches
                    model.model = storage.upload(local, storage.join(self.output_url, kind, name))
                    # named by content on the KB: a published model is never overwritten
                    files.append((model, "model", local, f"{kind}-{model.sha256[:16]}-{name}"))
                if getattr(group, "samples", None) is not None:
                    name = f"train_{_safe(group.entry)}-{stamp}.sample"
                    local = save_samples(group.samples, os.path.join(tmp, name))
                    group.samples_sha256 = sha256_file(local)
                    group.samples_url = storage.upload(local, storage.join(self.output_url, kind, name))
                    files.append((group, "samples_url", local, f"{kind}-{name}"))
        return files

    def _push(self, index: dict, files: list[tuple[Any, str, str, str]], tmp: str) -> str:
        """Upload ``files``, post the index naming them to the KB server, and write it to the output folder.

        On failure the index in memory names the output folder's files again, and the error
        raised says where the knowledge base is saved and how to publish it.
        """
        client = self.kb_client
        saved = [(holder, attr, getattr(holder, attr)) for holder, attr, _, _ in files]
        self._attempts = 0
        try:
            for holder, attr, local, name in files:
                setattr(holder, attr, self._retried(functools.partial(client.upload_file, local, name)))
            local_index = write_index(index, os.path.join(tmp, "kb", INDEX_NAME))
            self._post_index(index, local_index, tmp)
        except TransportError as exc:
            for holder, attr, value in saved:
                setattr(holder, attr, value)
            raise self._not_published(exc, files) from exc
        return self.ctx.storage.upload(local_index, self.task_index_url)

    def _post_index(self, index: dict, local_index: str, tmp: str) -> None:
        """Post the index (``/update``); again pickled for an original Sedna KB that refuses JSON."""
        client = self.kb_client

        def update(path: str) -> str | None:
            url = client.update_db(path)  # None when it failed: logged, the reason in last_error_
            if url is None and _kb_away(client.last_error_):
                raise client.last_error_
            return url

        if self._retried(functools.partial(update, local_index)) is None and self.ctx.config.legacy_pickle:
            # an original Sedna knowledge base takes only its own pickled index
            from ..transport.kb_index import index_to_json
            from ..transport.kb_legacy import dumps_legacy_index

            legacy = os.path.join(tmp, "legacy", INDEX_NAME)
            os.makedirs(os.path.dirname(legacy))
            with open(legacy, "wb") as fh:
                fh.write(dumps_legacy_index(index_to_json(index)))
            if self._retried(functools.partial(update, legacy)) is not None:
                logger.info("the knowledge base took the index in Sedna's pickled format")

    def _retried(self, call: Callable[[], Any]) -> Any:
        """Run one KB call; a KB server that is away is tried again, at most ``SEDNA_MAX_RETRIES`` times."""
        max_retries, backoff = check_retries(self.ctx.config.max_retries, self.backoff)
        attempt = 0
        while True:
            self._attempts = attempt + 1
            try:
                return call()
            except TransportError as exc:
                if isinstance(exc, TransportTimeout) or not _kb_away(exc) or attempt >= max_retries:
                    raise
                delay = backoff * 2 ** attempt
                logger.warning("knowledge-base server %s: %s; retrying in %.3g s (retry %d of %d)",
                               self.kb_server, exc, delay, attempt + 1, max_retries)
                time.sleep(delay)  # bounded backoff between retries
                attempt += 1

    def _not_published(self, exc: TransportError, files: list[tuple[Any, str, str, str]]) -> TransportError:
        """Return the error of a failed push: what failed, where the knowledge base is, how to publish it."""
        models = sum(1 for _, attr, _, _ in files if attr == "model")
        attempts = self._attempts
        message = (f"the knowledge base could not be published to the KB server {self.kb_server} "
                   f"({exc}; {attempts} attempt{'s' if attempts != 1 else ''}). It is saved in "
                   f"{self.output_url}: index {self.task_index_url}, {models} model file(s) and "
                   f"{len(files) - models} samples file(s), nothing needs training again. An edge can "
                   f"deploy that index as it is (MODEL_URLS); once the KB server is reachable, "
                   f"sedna_lib.lifelong_learning.push_kb({self.output_url!r}) publishes it there "
                   "(KB_SERVER names the server)")
        if isinstance(exc, RemoteError):
            return RemoteError(message, url=exc.url, status_code=exc.status_code)
        for cls in (TransportTimeout, ProtocolError):
            if isinstance(exc, cls):
                return cls(message, url=exc.url)
        return TransportError(message, url=exc.url)

    def publish_evaluated(self, source_url: str, drop: list[str]) -> str:
        """Write the evaluated index to ``<output_url>/index.pkl``, with the ``drop`` groups marked dropped.

        With a KB server the groups are dropped there (``/update/status``) and the server's
        republished index is copied; without one (or if the server cannot be reached, which is
        logged, as Sedna did) the index at ``source_url`` is marked here.

        Parameters
        ----------
        source_url : str
            The index that was evaluated (``MODEL_URLS``).
        drop : list of str
            Task groups to drop.

        Returns
        -------
        str
            Where the index was written.

        Raises
        ------
        StorageError
            If the index cannot be read or written.
        """
        from ..exceptions import TransportError
        from ..transport.kb_index import apply_status, is_json_index

        data = None
        client = self.kb_client
        if client is not None:
            try:
                data = client.read_bytes(client.update_task_status(",".join(drop), 0))
            except TransportError as exc:
                logger.error("the knowledge base could not drop %s (%s); publishing the evaluated index "
                             "as it was read", drop, exc)
        if data is None:
            data = self.read_index_bytes(source_url)
            if is_json_index(data):
                doc = apply_status(json_loads(data), {name: False for name in drop})
                data = json.dumps(doc).encode("utf-8")
        target = self.task_index_url
        self.ctx.storage.write_bytes(target, data)
        return target

    def evaluate_tasks(self, tasks_detail: list, **kwargs: Any) -> list[str]:
        """Name the task groups to drop: those whose score fails ``score <OPERATOR> MODEL_THRESHOLD``.

        With the defaults (``>`` and 0.1) a task is kept when every score is above 0.1. (Sedna
        dropped the tasks for which the comparison held, i.e. the good ones.)

        Parameters
        ----------
        tasks_detail : list of Task
            Tasks with ``scores``.
        **kwargs : object
            ``operator``/``model_threshold`` overrides.

        Returns
        -------
        list of str
            Entries of the models to drop.

        Raises
        ------
        ParameterError
            If the operator is unknown, or the threshold is not a finite number.
        """
        cfg = self.ctx.config
        op_name = str(kwargs.get("operator", cfg.operator)).strip()
        # a NaN threshold fails every comparison: every model would be dropped
        threshold = check_number("model_threshold", kwargs.get("model_threshold", cfg.model_threshold))
        op = _OPERATORS.get(op_name)
        if op is None:
            raise ParameterError(f"OPERATOR must be one of {sorted(_OPERATORS)}, got {op_name!r}")
        drop = []
        for task in tasks_detail:
            scores = getattr(task, "scores", {}) or {}
            if any(not op(float(v), threshold) for v in scores.values()):
                drop.append(str(getattr(task.model, "entry", task.entry)))
        return sorted(set(drop))


def _kb_away(exc: BaseException | None) -> bool:
    """Whether a KB call failed because the server is away (no connection, no answer, a gateway's 502-504).

    A server that answered (an error status, a malformed reply) is not away: asking again gets
    the same answer.
    """
    if isinstance(exc, RemoteError):
        return exc.status_code in _RETRY_STATUSES
    return isinstance(exc, TransportError) and not isinstance(exc, ProtocolError)


def push_kb(output_url: str, kb_server: str | None = None, *, context: Context | None = None,
            backoff: float = 0.5) -> str:
    """Publish a knowledge base saved in an output folder to a KB server, without training again.

    A training whose KB server could not be reached leaves the whole knowledge base in its
    ``OUTPUT_URL`` (models, samples, ``index.pkl`` naming them there) and says so. Once the
    server is reachable this uploads those files (each checked against the SHA-256 its index
    gives), posts the index naming them on the server, and writes that index to
    ``<output_url>/index.pkl``, as a training with the server up would have. Files already on the
    server are left as they are, so it can be run again.

    Parameters
    ----------
    output_url : str
        The training's output folder (``OUTPUT_URL``), local or ``s3://``.
    kb_server : str, default=None
        The KB server's base URL; ``KB_SERVER`` of the context when omitted.
    context : Context, default=None
        Configuration (token, timeouts, ``SEDNA_MAX_RETRIES``) and storage; the environment's
        context when omitted.
    backoff : float, default=0.5
        Seconds before the first retry of a server that is away, doubled for each further one.

    Returns
    -------
    str
        ``<output_url>/index.pkl``.

    Raises
    ------
    ConfigError
        If no KB server is given or set.
    StorageNotFoundError
        If ``output_url`` holds no index.
    IntegrityError
        If a saved file no longer matches its index.
    TransportError
        If the KB server cannot be reached or refuses a file; the saved index is left as it was.

    Examples
    --------
    >>> push_kb("/output/lifelong", kb_server="http://kb:9020")  # doctest: +SKIP
    '/output/lifelong/index.pkl'
    """
    manager = CloudKnowledgeManagement({"output_url": output_url, "ll_kb_server": kb_server},
                                       context=context, backoff=backoff)
    return manager.push()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in str(name)) or "task"


class EdgeKnowledgeManagement(BaseKnowledgeManagement):
    """Mirror the knowledge base on the edge, and keep the unseen samples for labelling.

    Parameters
    ----------
    config : mapping, default=None
        Sedna's job config; ``edge_output_url`` overrides ``EDGE_OUTPUT_URL``.
    seen_estimator, unseen_estimator : object, default=None
        The learners.
    context : Context, default=None
        Configuration and storage; the environment's context when omitted (a
        ``LifelongLearning`` job passes its own).
    """

    @property
    def edge_output_url(self) -> str:
        """The edge folder (``EDGE_OUTPUT_URL``, default ``/var/lib/sedna/kb``)."""
        return self.config.get("edge_output_url") or self.ctx.config.edge_output_url

    @property
    def unseen_dir(self) -> str:
        """Where unseen samples are saved (``<edge folder>/unseen_samples``)."""
        return os.path.join(self.edge_output_url, "unseen_samples")

    def update_kb(self, task_index_url: str) -> dict:
        """Fetch an index and its files into a new version folder on the edge.

        Parameters
        ----------
        task_index_url : str
            The cloud index (local path, KB URL, ``s3://``).

        Returns
        -------
        dict
            The index with local paths, also written to ``<edge folder>/index.pkl``.

        Raises
        ------
        TransportError
            If the KB server cannot be reached; the files fetched so far are removed, and the
            edge folder keeps the versions it had.
        """
        versions = os.path.join(self.edge_output_url, "versions")
        version = os.path.join(versions, f"{time.time_ns()}")
        try:
            index = self.load_index(task_index_url, version)
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)  # a version fetched in part is never served
            raise
        write_index(index, os.path.join(self.edge_output_url, INDEX_NAME))
        self._prune(versions, keep=2)
        return index

    @staticmethod
    def _prune(folder: str, keep: int) -> None:
        """Remove all but the ``keep`` newest version folders (the served one is the newest)."""
        if not os.path.isdir(folder):
            return
        names = sorted((n for n in os.listdir(folder) if n.isdigit()), key=int)
        for name in names[:-keep]:
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)

    def save_unseen_samples(self, samples: Any, post_process: Callable[..., Any] | None = None) -> list[str]:
        """Save unseen samples for labelling.

        A ``post_process(sample, save_dir)`` callable saves each sample itself (Sedna's hook).
        Otherwise a sample that is a file path is copied; anything else is written as JSON.

        Parameters
        ----------
        samples : data source or sequence
            The unseen samples (``samples.x`` when a data source).
        post_process : callable, default=None
            Custom saver.

        Returns
        -------
        list of str
            The files written (empty when a custom saver is used).
        """
        rows = samples.x if hasattr(samples, "x") else samples
        if rows is None or len(rows) == 0:
            return []
        os.makedirs(self.unseen_dir, exist_ok=True)
        if callable(post_process):
            for sample in _rows(rows):
                post_process(sample, self.unseen_dir)
            return []
        written = []
        stamp = time.time_ns()
        for i, sample in enumerate(_rows(rows)):
            if isinstance(sample, str) and os.path.isfile(sample):
                dst = os.path.join(self.unseen_dir, f"{stamp}-{i}-{os.path.basename(sample)}")
                shutil.copyfile(sample, dst)
            else:
                dst = os.path.join(self.unseen_dir, f"{stamp}-{i}.json")
                with open(dst, "w", encoding="utf-8") as fh:
                    json.dump({"x": json_safe(sample)}, fh)
            written.append(dst)
        return written


def _rows(x: Any) -> Any:
    if type(x).__name__ == "DataFrame":
        return [row.to_dict() for _, row in x.iterrows()]
    return list(x)
