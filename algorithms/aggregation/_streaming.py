"""Shared round bookkeeping: a streaming weighted mean and a buffer for the robust aggregators."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedna_lib.base import Aggregator, cast_to_layer
from sedna_lib.exceptions import AggregationError

from . import _math


def _unpack(update: Any) -> tuple[list[np.ndarray], float, str]:
    try:
        weights, n = update.weights, update.num_samples
    except AttributeError:
        raise AggregationError("an update needs 'weights' and 'num_samples', got "
                               f"{type(update).__name__}") from None
    who = getattr(update, "client_id", "") or "update"
    who = f"update from {who!r}" if who != "update" else who
    try:
        n = float(n)
    except OverflowError:  # an int beyond float64's range
        raise AggregationError(f"{who}: num_samples is too large (beyond a float's 1.8e308); it must be "
                               "a finite count >= 0") from None
    except (TypeError, ValueError):
        raise AggregationError(f"{who}: num_samples must be a number, got {n!r}") from None
    if not np.isfinite(n) or n < 0:
        raise AggregationError(f"{who}: num_samples must be a finite count >= 0, got {n!r}")
    return _math.as_layers(weights), n, who


def _add_count(total: float, n: float, who: str) -> float:
    """Return the round's sample total with ``n`` added, refusing one that is no longer finite."""
    new = total + n
    if not np.isfinite(new):
        raise AggregationError(f"{who}: num_samples {n!r} is too large: the round's total sample count "
                               "is no longer a finite number, so the updates cannot be weighted")
    return new


class StreamingMean(Aggregator):
    """A sample-weighted running mean kept in place; subclasses post-process it in :meth:`_server_step`."""

    streaming = True
    linear = True
    _step_gives_away = False
    """Whether :meth:`_server_step` returns arrays nothing else refers to (then cast over their own memory).

    Read from the class that defines the ``_server_step`` in use: a subclass that overrides the step
    without saying so again gets its results copied."""

    def begin_round(self, template: list | None = None) -> None:
        """Start a round; see :meth:`sedna_lib.base.Aggregator.begin_round`.

        Raises
        ------
        ParameterError
            If a parameter is out of its range (:meth:`_check_params`, here before any client trains).
        """
        self._check_params()
        self._template = None if template is None else _math.as_layers(template)
        self._acc: list[np.ndarray] | None = None
        self._shapes = None if self._template is None else [a.shape for a in self._template]
        self._dtypes = None if self._template is None else [a.dtype for a in self._template]
        self._total = 0.0
        self._count = 0
        self._scratch: dict = getattr(self, "_scratch", {})  # small block buffers, kept across rounds
        self.names_: list[str] | None = getattr(self, "names_", None)

    def add(self, update: Any) -> None:
        """Fold one update into the running sum; see :meth:`sedna_lib.base.Aggregator.add`."""
        if not hasattr(self, "_total"):
            self.begin_round(None)
        layers, n, who = _unpack(update)
        names = _math.layer_names(self, update)
        # the round's shapes come from its template or its first accepted update: a refused one sets nothing
        _math.check_layers(layers, self._shapes or [a.shape for a in layers], names, who=who)
        total = _add_count(self._total, n, who)
        if _math.blas_may_thread(layers):
            with _math.one_blas_thread():
                self._fold(layers, n, names, who)
        else:
            self._fold(layers, n, names, who)
        if self._shapes is None:
            self._shapes = [a.shape for a in layers]
        self._total = total
        self._count += 1

    def _fold(self, layers: list[np.ndarray], n: float, names: list[str] | None, who: str) -> None:
        # the whole update is checked before any of it is added: a refused one leaves no trace
        _math.check_finite(layers, names, who=who)
        # the widest dtype seen wins: Sedna's JSON peers (float64) and binary float32 peers give float64
        self._dtypes = [a.dtype for a in layers] if self._dtypes is None else [
            d if d == a.dtype else np.promote_types(d, a.dtype) for d, a in zip(self._dtypes, layers)]
        if self._acc is None:  # the first update starts the sums (no zeroed sums to add it to)
            self._acc = _math.start_accumulator(layers, n, self._template)
        else:
            _math.accumulate(self._acc, layers, n, self._scratch)

    def aggregate(self, updates: Any) -> list:
        """Aggregate a whole round at once; see :meth:`sedna_lib.base.Aggregator.aggregate`.

        With every update at hand, float layers are summed block by block across the updates
        (:func:`~._math.blocked_mean`: each update read once from memory), giving the same numbers
        as folding them in one at a time with :meth:`add`, bit for bit, and the same errors: a
        round with anything :meth:`add` would refuse (a NaN or an infinity, a wrong shape, a bad
        sample count) goes through :meth:`add` update by update, which names the culprit.
        """
        updates = list(updates)
        plan = self._blocked_plan(updates) if updates else None
        if plan is None:
            return super().aggregate(updates)
        unpacked, template, dtypes, total = plan
        self.begin_round(template)
        scratch = self._scratch
        ns = [n for _, n in unpacked]
        layers = [ls for ls, _ in unpacked]
        fused = type(self)._server_step is StreamingMean._server_step  # the mean is the model
        out = _math.blocked_mean(layers, ns, total if fused else None,
                                 dtypes if fused else [np.dtype(np.float64)] * len(dtypes), scratch)
        if out is None:  # a NaN or an infinity in an update, or an overflow: add() and finish() name it
            return super().aggregate(updates)
        self._dtypes = dtypes
        self._total = total
        self._count = len(unpacked)
        if not fused:  # the sums, then finish() as after add()
            self._acc = out
            return self.finish()
        self.global_weights_ = out
        self.total_samples_ = int(total)
        self.round_ = getattr(self, "round_", 0) + 1
        self._acc = None
        del self._total
        return out

    def _blocked_plan(self, updates: list) -> tuple | None:
        """Return what :meth:`aggregate` needs to sum ``updates`` block by block (None: use add())."""
        cls = type(self)
        own = ("begin_round", "add", "_fold", "finish")
        if any(getattr(cls, m) is not getattr(StreamingMean, m) for m in own):
            return None  # a subclass that changes the folding keeps its own path
        template = getattr(self, "global_weights_", None)
        try:
            template = None if template is None else _math.as_layers(template)
            unpacked = [_unpack(u)[:2] for u in updates]
        except AggregationError:
            return None
        first = unpacked[0][0]
        shapes = [a.shape for a in (template if template is not None else first)]
        if template is not None and any(t.dtype.kind not in "biuf" for t in template):
            return None
        dtypes = [a.dtype for a in (template if template is not None else first)]
        for layers, n in unpacked:
            if (n <= 0 or len(layers) != len(shapes) or not _math.can_block(layers)
                    or any(a.shape != s for a, s in zip(layers, shapes))):
                return None
            dtypes = [d if d == a.dtype else np.promote_types(d, a.dtype) for d, a in zip(dtypes, layers)]
        if any(d.kind != "f" for d in dtypes):
            return None
        total = 0.0
        for _, n in unpacked:
            total += n
        if not np.isfinite(total):  # add() names the update that made it overflow
            return None
        return unpacked, template, dtypes, total

    def finish(self) -> list:
        """Return the new global model; see :meth:`sedna_lib.base.Aggregator.finish`."""
        if not getattr(self, "_count", 0) or self._acc is None:
            raise AggregationError("no client update was added this round")
        if self._total <= 0:
            raise AggregationError("the round's sample counts add up to 0; cannot weight the updates")
        average, self._acc = self._acc, None
        dtypes = self._dtypes or [a.dtype for a in average]
        if type(self)._server_step is StreamingMean._server_step:  # the mean is the model
            result = _math.finish_layers(average, dtypes, self._total)
        else:
            for a in average:
                a /= self._total
            result = self._server_step(average)
            if _gives_away(type(self)):  # its own arrays: cast in their memory once nothing else holds them
                if result is not average:
                    average.clear()
                result = _math.finish_layers(result, dtypes)
            else:
                result = [cast_to_layer(r, d) for r, d in zip(result, dtypes)]
        # every update was finite: a non-finite layer here is an overflow of the sum or of the server step
        _math.check_result_finite(result, getattr(self, "names_", None))
        self.global_weights_ = result
        self.total_samples_ = int(self._total)
        self.round_ = getattr(self, "round_", 0) + 1
        del self._total
        return result

    def _server_step(self, average: list[np.ndarray]) -> list[np.ndarray]:
        return average

    def _check_params(self) -> dict[str, Any]:
        """Return the parameters, checked (none here); a subclass's server step calls it again before use.

        Raises
        ------
        ParameterError
            If a parameter is out of range.
        """
        return {}


def _gives_away(cls: type) -> bool:
    owner = next(c for c in cls.__mro__ if "_server_step" in vars(c))
    return bool(vars(owner).get("_step_gives_away", False))


class BufferedRound(Aggregator):
    """Keeps every update of the round (needed by Krum, median and trimmed mean)."""

    streaming = False

    def begin_round(self, template: list | None = None) -> None:
        """Start a round; see :meth:`sedna_lib.base.Aggregator.begin_round`.

        Raises
        ------
        ParameterError
            If a parameter is out of range (checked here, before any client trains).
        """
        self._round_params = (self.get_params(), self._check_params() or {})  # checked once a round
        self._updates: list[list[np.ndarray]] = []
        self._ns: list[float] = []
        self._total = 0.0
        self._shapes = None if template is None else [np.shape(a) for a in template]

    def add(self, update: Any) -> None:
        """Keep one update; see :meth:`sedna_lib.base.Aggregator.add`."""
        if not hasattr(self, "_updates"):
            self.begin_round(None)
        layers, n, who = _unpack(update)
        names = _math.layer_names(self, update)
        _math.check_layers(layers, self._shapes or [a.shape for a in layers], names, who=who)
        _math.check_finite(layers, names, who=who)
        total = _add_count(self._total, n, who)
        if self._shapes is None:  # from the first accepted update: a refused one sets nothing
            self._shapes = [a.shape for a in layers]
        self._updates.append(layers)
        self._ns.append(n)
        self._total = total

    def finish(self) -> list:
        """Combine the kept updates; see :meth:`sedna_lib.base.Aggregator.finish`."""
        updates = getattr(self, "_updates", None)
        if not updates:
            raise AggregationError("no client update was added this round")
        dtypes = [a.dtype for a in updates[0]]
        raw, checked = self._round_params
        if raw != self.get_params():  # set_params during the round: the new values are checked before use
            checked = self._check_params() or {}
        result = [cast_to_layer(r, d) for r, d in zip(self._combine(updates, self._ns, **checked), dtypes)]
        self.global_weights_ = result
        self.total_samples_ = int(sum(self._ns))
        self.round_ = getattr(self, "round_", 0) + 1
        del self._updates
        return result

    def _check_params(self) -> dict[str, Any]:
        """Return the parameters :meth:`_combine` takes, checked (none here).

        Raises
        ------
        ParameterError
            If a parameter is out of range.
        """
        return {}

    def _combine(self, updates: list[list[np.ndarray]], ns: list[float], **params: Any) -> list[np.ndarray]:
        """Combine the round's updates with the parameters :meth:`_check_params` returned."""
        raise NotImplementedError
