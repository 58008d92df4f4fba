"""Pure numpy aggregation math, apart from any protocol: each function takes and returns layer lists.

A *model* here is a list of numpy arrays (one per layer, in the backend's order); an *update* is
such a list plus the number of samples that produced it. Nothing in this module knows about
clients, rounds or transports, so each function is tested alone.

References
----------
.. [1] McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized
   Data", AISTATS 2017, https://arxiv.org/abs/1602.05629
.. [2] Hsu et al., "Measuring the Effects of Non-Identical Data Distribution for Federated
   Visual Classification", 2019, https://arxiv.org/abs/1909.06335
.. [3] Reddi et al., "Adaptive Federated Optimization", ICLR 2021, https://arxiv.org/abs/2003.00295
.. [4] Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
   Descent", NeurIPS 2017
.. [5] Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates",
   ICML 2018, https://arxiv.org/abs/1803.01498
.. [6] Wang et al., "Locally Differentially Private Protocols for Frequency Estimation",
   USENIX Security 2017 (symmetric unary encoding)
.. [7] El Mhamdi, Guerraoui and Rouault, "The Hidden Vulnerability of Distributed Learning in
   Byzantium", ICML 2018, https://arxiv.org/abs/1802.07927 (Bulyan)
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from sedna_lib.base import cast_to_layer
from sedna_lib.exceptions import AggregationError

from . import _kernels

__all__ = [
    "as_layers", "check_layers", "check_finite", "check_result_finite", "one_blas_thread", "blas_may_thread",
    "accumulator_dtype",
    "new_accumulator", "start_accumulator", "accumulate", "blocked_mean", "can_block", "finish_layers",
    "weighted_average",
    "fedavgm_step", "fedopt_step", "flatten", "unflatten", "krum_scores", "krum",
    "coordinate_median", "trimmed_mean", "pairwise_sq_distances", "multi_krum_select", "multi_krum",
    "bulyan_select", "bulyan", "binarize", "randomized_response", "sue_probabilities",
]

Layers = list  # list of numpy.ndarray


def as_layers(weights: Any) -> list[np.ndarray]:
    """Turn a model's weights (arrays, or the nested lists Sedna's JSON carries) into arrays.

    Parameters
    ----------
    weights : sequence of array-like
        One entry per layer: a list (or tuple) of numpy arrays or nested lists of numbers.

    Returns
    -------
    list of numpy.ndarray
        Arrays; lists become float64 arrays, arrays are kept as they are (no copy), numpy scalars
        become 0-d arrays of their own dtype.

    Raises
    ------
    AggregationError
        If ``weights`` is None, not a sequence of layers, or one numeric numpy array of any shape (it
        would be read as one layer per row or value: wrap a single layer as ``[array]``); or if a layer
        is None, text, a masked array (its mask cannot be averaged: pass ``layer.filled(...)`` or plain
        arrays), ragged, not numeric, or a nested list holding a None.
    """
    if weights is None:
        raise AggregationError("weights is None, not a list of layer arrays; a backend returning None "
                               "cannot be federated")
    if isinstance(weights, np.ndarray) and weights.dtype.kind in "biufc":
        raise AggregationError(f"weights must be a list of layer arrays, got one numpy array of shape "
                               f"{weights.shape}; wrap a single layer as [array] (a list of arrays, "
                               "not one array with a row per layer)")
    if isinstance(weights, (str, bytes, dict)) or not hasattr(weights, "__iter__"):
        raise AggregationError(f"weights must be a list of layer arrays (one numpy array or nested list of "
                               f"numbers per layer), got {type(weights).__name__}")
    layers = []
    for i, layer in enumerate(weights):
        if isinstance(layer, np.ma.MaskedArray):
            raise AggregationError(f"layer {i} is a numpy masked array; its mask cannot be aggregated "
                                   "(masked values would be averaged in): send plain arrays, e.g. "
                                   "layer.filled(0)")
        if isinstance(layer, np.ndarray):
            arr = layer
        elif isinstance(layer, np.generic):  # a 0-d layer that became a numpy scalar keeps its dtype
            arr = np.asarray(layer)
        elif layer is None or isinstance(layer, (str, bytes, dict)):
            what = "None" if layer is None else f"a {type(layer).__name__}"
            raise AggregationError(f"layer {i} is {what}, not an array of numbers; weights must be a list "
                                   "of layer arrays (numpy arrays or nested lists of numbers)")
        else:
            try:
                arr = np.asarray(layer, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise AggregationError(f"layer {i} is not a numeric (rectangular) array: {exc}") from None
            _refuse_none_in(layer, arr, i)
        if arr.dtype.kind not in "biuf":
            raise AggregationError(f"layer {i} has dtype {arr.dtype}; only numeric layers can be aggregated")
        layers.append(arr)
    return layers


def _refuse_none_in(layer: Any, arr: np.ndarray, i: int) -> None:
    """Refuse a nested-list layer holding a None, which ``np.asarray(..., float64)`` turned into a NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        if arr.size == 0 or not np.isnan(np.add.reduce(arr, axis=None)):
            return  # no NaN in the layer (a NaN or an inf - inf makes the sum NaN): the one pass it costs
    if not np.isnan(arr).any():
        return
    values = np.empty(arr.shape, dtype=object)  # the original entries, to tell a None from a NaN
    values[...] = layer
    where = next((idx for idx, v in np.ndenumerate(values) if v is None), None)
    if where is not None:
        raise AggregationError(f"layer {i} holds a None at index {list(where)}, not an array of numbers; "
                               "every entry of a layer must be a number")


def layer_names(aggregator: Any, update: Any) -> list[str] | None:
    """Return the layer names error messages use: the update's own, else the aggregator's ``names_``."""
    return getattr(update, "names", None) or getattr(aggregator, "names_", None)


def check_layers(layers: Sequence[np.ndarray], shapes: Sequence[tuple[int, ...]],
                 names: Sequence[str] | None = None, *, who: str = "update") -> None:
    """Check that ``layers`` has exactly the expected number of layers and shapes.

    An empty layer takes the expected empty shape (JSON's nested lists write an empty ``(0, 3)`` array as
    ``[]``); in a list, it is replaced by the reshaped view.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The update's layers.
    shapes : sequence of tuple of int
        The expected shapes (from the round's template).
    names : sequence of str, default=None
        Layer names, used in the message when known.
    who : str, default='update'
        Who sent it, for the message.

    Raises
    ------
    AggregationError
        Naming the first layer whose shape differs, or the layer counts.
    """
    if len(layers) != len(shapes):
        raise AggregationError(f"{who} has {len(layers)} layers but the model has {len(shapes)}; "
                               "every client must train the same architecture")
    for i, (layer, shape) in enumerate(zip(layers, shapes)):
        if tuple(layer.shape) != tuple(shape):
            if layer.size == 0 and int(np.prod(shape)) == 0 and isinstance(layers, list):
                layers[i] = layer.reshape(shape)  # an empty (0, 3) layer arrives from JSON as [] (0,)
                continue
            raise AggregationError(f"{who}: {_label(i, names)} has shape {tuple(layer.shape)}, "
                                   f"expected {tuple(shape)}")


def check_finite(layers: Sequence[np.ndarray], names: Sequence[str] | None = None, *,
                 who: str = "update") -> None:
    """Refuse an update with a NaN or an infinity in any floating-point layer.

    One BLAS reduction per layer (``np.dot(x, x)``, memory-bound, no temporary, on one thread:
    :func:`one_blas_thread`): a NaN or an infinity makes it non-finite. Only then is the layer
    scanned element-wise, so a sum of squares that merely overflowed (huge but finite values) is
    not mistaken for one.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The update's layers.
    names : sequence of str, default=None
        Layer names, used in the message when known.
    who : str, default='update'
        Who sent it, for the message.

    Raises
    ------
    AggregationError
        Naming the first layer that holds a NaN or an infinity, and how many values are bad.

    Examples
    --------
    >>> try:
    ...     check_finite([np.ones(3), np.array([1.0, np.nan])], ["w", "b"])
    ... except AggregationError as exc:
    ...     print(str(exc)[:60])
    update: layer 1 ('b') has 1 non-finite value(s) (NaN or Inf)
    """
    if blas_may_thread(layers):
        with one_blas_thread():
            _check_finite(layers, names, who)
    else:
        _check_finite(layers, names, who)


def _check_finite(layers: Sequence[np.ndarray], names: Sequence[str] | None, who: str) -> None:
    found = _first_non_finite(layers)
    if found is not None:
        i, bad = found
        raise AggregationError(f"{who}: {_label(i, names)} has {bad} non-finite value(s) (NaN or Inf); "
                               "the client's training diverged or its weights are corrupt, so the update "
                               "is refused")


def _label(i: int, names: Sequence[str] | None) -> str:
    return f"layer {i}" + (f" ({names[i]!r})" if names and i < len(names) and names[i] else "")


def _first_non_finite(layers: Sequence[np.ndarray]) -> tuple[int, int] | None:
    """Return ``(index, count)`` of the first floating-point layer holding a NaN or an infinity, else None."""
    for i, layer in enumerate(layers):
        if layer.dtype.kind not in "fc" or layer.size == 0:
            continue
        if layer.flags.c_contiguous and layer.dtype.kind == "f" and layer.dtype.itemsize >= 4:
            flat = layer.reshape(-1)
            with np.errstate(over="ignore", invalid="ignore"):
                if np.isfinite(np.dot(flat, flat)):
                    continue
        bad = int(layer.size - np.count_nonzero(np.isfinite(layer)))
        if bad:
            return i, bad
    return None


def check_result_finite(layers: Sequence[np.ndarray], names: Sequence[str] | None = None) -> None:
    """Refuse a round's result with a NaN or an infinity in a floating-point layer (an overflow).

    Every update was checked finite before it was added, so a non-finite result means the weighted
    sum (or a server step) went past the float range: values or sample counts too large. One BLAS
    reduction per layer of the result (one pass over the model, not one per update), as
    :func:`check_finite` does.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The result's layers.
    names : sequence of str, default=None
        Layer names, used in the message when known.

    Raises
    ------
    AggregationError
        Naming the first layer that is not finite.
    """
    if blas_may_thread(layers):
        with one_blas_thread():
            found = _first_non_finite(layers)
    else:
        found = _first_non_finite(layers)
    if found is not None:
        i, bad = found
        raise AggregationError(f"{_label(i, names)} of the round's result is not finite: {bad} value(s) "
                               "overflowed the float range (NaN or Inf) although every update was finite; "
                               "the updates' values or sample counts are too large to average, so no model "
                               "is made")


def accumulator_dtype(dtype: np.dtype) -> np.dtype:
    """Return the dtype sums are kept in: float64 (float32 and float16 layers are summed in float64 too).

    A float32 running sum loses digits with every update and overflows where the mean would
    not (a finite ``1e38`` times a sample count); float64 keeps the mean exact to float32's
    precision, and the result is cast back to the layer's dtype.

    Parameters
    ----------
    dtype : numpy.dtype
        A layer's dtype.

    Returns
    -------
    numpy.dtype
        The accumulator dtype (complex layers keep a complex128 sum).
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return np.dtype(np.complex128)
    return np.dtype(np.float64)


def new_accumulator(template: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Allocate zeroed sums shaped like ``template``.

    Parameters
    ----------
    template : sequence of numpy.ndarray
        Layers giving shapes and dtypes.

    Returns
    -------
    list of numpy.ndarray
        Zeros, in :func:`accumulator_dtype`.
    """
    return [np.zeros(np.shape(t), dtype=accumulator_dtype(np.asarray(t).dtype)) for t in template]


def start_accumulator(layers: Sequence[np.ndarray], weight: float,
                      template: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Return ``weight * layers`` as new running sums: the first update, with no zeroed sum to add it to.

    The same values as :func:`accumulate` into :func:`new_accumulator`'s zeros, in one pass
    (no zero-fill, no read of the zeros).

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The first update.
    weight : float
        Its weight.
    template : sequence of numpy.ndarray, default=None
        Layers whose dtypes choose the accumulator dtypes (default: ``layers``).

    Returns
    -------
    list of numpy.ndarray
        C-ordered sums in :func:`accumulator_dtype`.
    """
    like = layers if template is None else template
    out = []
    for t, layer in zip(like, layers):
        dtype = accumulator_dtype(np.asarray(t).dtype)
        a = np.empty(np.shape(layer), dtype=dtype)
        layer = np.asarray(layer)
        if layer.dtype == dtype or not a.flags.c_contiguous or a.size <= _BLOCK:
            np.multiply(layer, weight, out=a, dtype=dtype, casting="unsafe")  # widened before the product
        else:  # a mixed-dtype multiply casts through numpy's own buffer: widen a block, scale it in place
            flat, src = a.reshape(-1), layer.reshape(-1)
            for start in range(0, flat.size, _BLOCK):
                view = flat[start:start + _BLOCK]
                view[...] = src[start:start + _BLOCK]
                view *= weight
        out.append(a)
    return out


def finish_layers(sums: list, dtypes: Sequence[Any], divisor: float | None = None) -> list:
    """Turn float64 sums into the layers, ``cast_to_layer(sum / divisor, dtype)``, in the sums' own memory.

    ``sums`` is consumed: its items are replaced by the results and their values overwritten. A
    layer whose dtype is a float at most half as wide as its sum (float32 and float16 layers of a
    float64 sum) is divided and cast block by block into the first bytes of the sum's buffer, which
    is then shrunk to the layer's size: no second model-sized buffer, so finishing a float32 model
    needs the sums' two model copies where dividing and then casting into a new array needed three.
    The values are those of dividing the sum in place and then casting it, bit for bit. Any other
    layer is divided in place and cast by :func:`sedna_lib.base.cast_to_layer`.

    Parameters
    ----------
    sums : list of numpy.ndarray
        The running sums (float64, C-ordered, owning their memory for the in-place path); replaced
        item by item.
    dtypes : sequence of numpy.dtype
        Each layer's dtype.
    divisor : float, default=None
        What every sum is divided by (None: no division).

    Returns
    -------
    list of numpy.ndarray
        ``sums``, now holding the layers.
    """
    for i, dtype in enumerate(dtypes):
        dtype = np.dtype(dtype)
        a = sums[i]
        sums[i] = None  # the only reference left is ``a``: its buffer can be shrunk below
        if not _narrows(a, dtype):
            if divisor is not None:
                a /= divisor
            sums[i] = cast_to_layer(a, dtype)
            continue
        shape, n = a.shape, a.size
        _divide_cast_down(a, dtype, divisor)
        try:  # keep only the result's bytes; refused if something else still refers to the sum
            a.resize((-(-n * dtype.itemsize // a.itemsize),), refcheck=True)
        except ValueError:  # pragma: no cover - the sums are the aggregator's own
            pass
        sums[i] = a.reshape(-1).view(np.uint8)[:n * dtype.itemsize].view(dtype).reshape(shape)
    return sums


def _narrows(a: Any, dtype: np.dtype) -> bool:
    """Whether :func:`finish_layers` can write ``a`` cast to ``dtype`` over ``a``'s own buffer."""
    return (isinstance(a, np.ndarray) and a.dtype == np.float64 and dtype.kind == "f"
            and 2 * dtype.itemsize <= a.itemsize and a.flags.c_contiguous and a.flags.owndata
            and a.flags.writeable and a.size >= _NARROW_MIN)


_NARROW_HEAD = 1 << 10
"""Elements of a layer :func:`finish_layers` casts through a buffer of their own (4 KiB of float32)."""

_NARROW_MIN = 1 << 16
"""The smallest layer :func:`finish_layers` casts over its sum's memory (smaller ones: a new array)."""


def _divide_cast_down(a: np.ndarray, dtype: np.dtype, divisor: float | None) -> None:
    """Write ``(a / divisor).astype(dtype)`` into ``a``'s first ``a.size * dtype.itemsize`` bytes.

    The result's elements ``[i, j)`` land on sum elements below ``j / 2``, all read already when
    ``j <= 2 i``: so after a small head (through its own buffer, written last) the blocks double
    up to :data:`_BLOCK` elements, each no longer than the part done before it.
    """
    src = a.reshape(-1)
    dst = src.view(np.uint8)[:src.size * dtype.itemsize].view(dtype)
    head = np.empty(min(_NARROW_HEAD, src.size), dtype=dtype)
    _divide_into(head, src[:head.size], divisor)
    start = head.size
    while start < src.size:
        stop = min(start + min(start, _BLOCK), src.size)
        _divide_into(dst[start:stop], src[start:stop], divisor)
        start = stop
    dst[:head.size] = head


def _divide_into(out: np.ndarray, src: np.ndarray, divisor: float | None) -> None:
    if divisor is not None:  # in place, then a plain cast-copy (a dividing cast goes through numpy's buffer)
        src /= divisor
    np.copyto(out, src, casting="same_kind")


_BLOCK = 1 << 18
"""Elements per block in :func:`accumulate` (2 MiB of float64, in the last-level cache).

Measured on float32 updates of 1.2 M parameters: 64 Ki-element blocks (in the core's own cache)
were 1.5 times slower than 256 Ki ones (fewer calls, longer streams for the prefetchers).
"""

_AXPY: list = []
_BLAS_POOLS: list = []


class _Depth(threading.local):
    n = 0  # one_blas_thread nesting, per thread


_DEPTH = _Depth()


def _daxpy():
    """Return BLAS ``daxpy`` (``y += a x`` in place, one pass), imported on first use (slow import)."""
    if not _AXPY:
        from scipy.linalg.blas import daxpy

        _AXPY.append(daxpy)
    return _AXPY[0]


def _blas_pools() -> list:
    """Return the thread pools of the BLAS libraries numpy and scipy loaded (threadpoolctl), found once."""
    if not _BLAS_POOLS:
        _daxpy()  # scipy's BLAS must be loaded for the controller to see it
        try:
            from threadpoolctl import ThreadpoolController

            pools = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        except Exception:  # noqa: BLE001 - no control: the calls run on the library's own threads
            pools = []
        _BLAS_POOLS.append(pools)
    return _BLAS_POOLS[0]


_THREADED = 1 << 13
"""Vectors shorter than this never reach a BLAS worker thread (OpenBLAS hands out ``axpy`` and ``dot``
from about 10,000 elements), so :func:`blas_may_thread` lets small updates skip the thread limits."""


def blas_may_thread(layers: Sequence[Any]) -> bool:
    """Return whether a layer of ``layers`` is long enough for BLAS to split its call across threads.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        An update.

    Returns
    -------
    bool
        True when :func:`one_blas_thread` is worth entering (its cost is a few microseconds).
    """
    if _DEPTH.n:
        return False  # already inside one_blas_thread
    for layer in layers:
        size = layer.size if isinstance(layer, np.ndarray) else np.size(layer)
        if size >= _THREADED:
            return True
    return False


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the enclosed BLAS calls (the finiteness check's dot, the sum's axpy) on one thread.

    They are memory-bound, so a second thread gains little, and on a busy machine each call
    that hands half of its vector to a BLAS worker waits for that worker to get a core: with
    2 cores under load, a round of 10 updates took 50 times longer. Nested uses cost nothing;
    the previous thread counts are restored on exit.
    """
    if _DEPTH.n:
        _DEPTH.n += 1
        try:
            yield
        finally:
            _DEPTH.n -= 1
        return
    pools = _blas_pools()
    before = [pool.num_threads for pool in pools]
    for pool, n in zip(pools, before):
        if n is not None and n != 1:
            pool.set_num_threads(1)
    _DEPTH.n = 1
    try:
        yield
    finally:
        _DEPTH.n = 0
        for pool, n in zip(pools, before):
            if n is not None and n != 1:
                pool.set_num_threads(n)


def accumulate(acc: list[np.ndarray], layers: Sequence[np.ndarray], weight: float,
               scratch: dict | None = None) -> None:
    """Add ``weight * layers`` into ``acc`` in place, with no model-sized temporary.

    A float64 layer is added by one BLAS ``axpy`` (the update is read once, the running sum
    read and written once, no scratch). A float32 layer is widened block by block into a reusable
    float64 buffer (at most 2 MiB, no bigger than the layer), then added by ``axpy``. Other layers
    (integer, complex, non-contiguous) form the product block by block in the buffer. Calls with
    a layer long enough for BLAS to use its worker threads run in :func:`one_blas_thread`.

    Rounding: ``axpy`` uses fused multiply-adds where the CPU has them, so a float64 element
    may be rounded once (``fl(acc + weight * x)``) instead of twice (``fl(acc + fl(weight * x))``);
    both are within one unit in the last place of the exact sum. For float32 layers and integer
    weights below 2**29 the product is exact in float64 and the two are identical.

    Parameters
    ----------
    acc : list of numpy.ndarray
        Running sums (modified in place).
    layers : sequence of numpy.ndarray
        The update.
    weight : float
        Its weight (a sample count for FedAvg).
    scratch : dict, default=None
        Reusable block buffers, one per accumulator dtype; pass the same dict every call.
    """
    scratch = {} if scratch is None else scratch
    if blas_may_thread(layers):
        with one_blas_thread():
            _accumulate(acc, layers, float(weight), scratch)
    else:
        _accumulate(acc, layers, float(weight), scratch)


def _accumulate(acc: list[np.ndarray], layers: Sequence[np.ndarray], weight: float, scratch: dict,
                size: int | None = None) -> None:
    size = _kernels.update_size(layers) if size is None else size  # given when ``layers`` are part of one
    for a, layer in zip(acc, layers):
        if a.size == 0:
            continue
        layer = np.asarray(layer)
        blas = (a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable
                and layer.flags.c_contiguous and layer.dtype.kind == "f")
        if blas and _kernels.takes(layer, size):  # one compiled pass (float32 widened on the way)
            _kernels.fold(a, layer, weight)
            continue
        if blas and layer.dtype == np.float64 and layer.flags.aligned:
            _axpy(layer.reshape(-1), a.reshape(-1), weight)
            continue
        buf = scratch.get(a.dtype)
        if buf is None or buf.size < min(a.size, _BLOCK):
            buf = np.empty(min(a.size, _BLOCK), dtype=a.dtype)  # no bigger than the layers need
            scratch[a.dtype] = buf
        if blas:  # float32/float16 (or a float64 layer off its alignment): widen a cached block, axpy it
            flat, src = a.reshape(-1), layer.reshape(-1)
            for start in range(0, flat.size, _BLOCK):
                stop = min(start + _BLOCK, flat.size)
                view = buf[:stop - start]
                view[...] = src[start:stop]
                _axpy(view, flat[start:stop], weight)
            continue
        if weight == 1:
            np.add(a, layer, out=a, casting="unsafe")
            continue
        if a.size <= _BLOCK:  # one block: no slicing
            view = buf[:a.size].reshape(a.shape)
            _scaled(view, layer, weight)
            a += view
            continue
        if not a.flags.c_contiguous:  # not an accumulator we allocated: one full-size product
            a += np.multiply(layer, weight, dtype=a.dtype, casting="unsafe")
            continue
        flat = a.reshape(-1)
        src = layer.reshape(-1)
        for start in range(0, flat.size, _BLOCK):
            stop = min(start + _BLOCK, flat.size)
            view = buf[:stop - start]
            _scaled(view, src[start:stop], weight)
            flat[start:stop] += view


def _axpy(x: np.ndarray, y: np.ndarray, weight: float) -> None:
    """``y += weight * x`` for contiguous float64 vectors, in place."""
    out = _daxpy()(x, y, y.size, weight)
    if out is not y:  # the wrapper worked on a copy (it does not for contiguous writeable float64)
        y[...] = out


def _scaled(out: np.ndarray, src: np.ndarray, weight: float) -> None:
    """Write ``weight * src`` into ``out`` (a cached block), widening ``src`` first when it is narrower."""
    if src.dtype == out.dtype:
        np.multiply(src, weight, out=out)
    else:  # a plain cast-copy then an in-place multiply beats a mixed-dtype multiply's buffered casting
        out[...] = src
        out *= weight


_MEAN_BLOCK = 1 << 17
"""Elements per block in :func:`blocked_mean` (1 MiB of float64 sums, kept in cache while every update's
block is added to them). Measured on 1.2 M-parameter updates: 32-64 Ki blocks were as fast for float64
and up to 1.3 times slower for float32 (more Python calls per element)."""


def blocked_mean(updates: Sequence[Sequence[np.ndarray]], weights: Sequence[float], total: float | None,
                 out_dtypes: Sequence[np.dtype], scratch: dict | None = None, *,
                 block: int | None = None) -> list[np.ndarray] | None:
    """Return ``sum_k weights[k] * updates[k]`` (divided by ``total`` unless None), block-major.

    The round's updates are all at hand, so each layer is walked one cache-sized block at a time
    and every update's block is added to that block's sums while they are in cache: each update
    byte is read once from memory and each result byte written once (the running sum of
    :func:`accumulate` reads and writes the whole sum per update, after a separate finiteness read).
    The operations per element are those of :func:`start_accumulator`, then :func:`accumulate`
    per update in order, then the division: the same numbers as the running sum, bit for bit.

    The block's sums are checked once all updates are in (``dot(sums, zeros)`` is NaN exactly when a
    sum is NaN or infinite; it cannot overflow). A NaN or an infinity in an update makes the sum
    non-finite, and so does a sum of finite updates that overflowed: either way None is returned, and the
    caller folds the updates in one by one, which names the update holding a NaN or an infinity, or the
    layer whose result overflowed (:func:`check_result_finite`).

    Parameters
    ----------
    updates : sequence of sequence of numpy.ndarray
        The updates: C-contiguous, aligned, real floating-point layers of the same shapes.
    weights : sequence of float
        One positive weight per update.
    total : float or None
        Divisor of the sums (the sum of weights for a mean); None leaves the sums undivided.
    out_dtypes : sequence of numpy.dtype
        Floating-point dtype of each result layer; the sums are kept in float64 and cast block by block.
    scratch : dict, default=None
        Reusable block buffers; pass the same dict every call.
    block : int, default=None
        Elements per block (default ``_MEAN_BLOCK``).

    Returns
    -------
    list of numpy.ndarray or None
        The result layers, or None when a block's sum is not finite: an update holds a NaN or an infinity,
        or the sum of finite updates overflowed (the caller names the update or the layer).
    """
    scratch = {} if scratch is None else scratch
    block = _MEAN_BLOCK if block is None else block
    if blas_may_thread(updates[0]):
        with one_blas_thread():
            return _blocked_mean(updates, [float(w) for w in weights], total, out_dtypes, scratch, block)
    return _blocked_mean(updates, [float(w) for w in weights], total, out_dtypes, scratch, block)


def _block_buffers(scratch: dict, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bufs = scratch.get("blocked")
    if bufs is None or bufs[0].size < n:
        bufs = (np.empty(n), np.empty(n), np.zeros(n))  # sums, widened update, zeros for the check
        scratch["blocked"] = bufs
    return bufs


def _blocked_mean(updates: Sequence[Sequence[np.ndarray]], weights: list[float], total: float | None,
                  out_dtypes: Sequence[np.dtype], scratch: dict, block: int) -> list[np.ndarray] | None:
    out = []
    axpy = _daxpy()
    w0, rest = weights[0], list(zip(updates[1:], weights[1:]))
    whole = _kernels.update_size(updates[0])  # every update has the same shapes
    for i, dtype in enumerate(out_dtypes):
        first = updates[0][i]
        result = np.empty(first.shape, dtype=dtype)
        out.append(result)
        size = first.size
        if size == 0:
            continue
        compiled = [_kernels.takes(u[i], whole) for u in updates]
        if all(compiled) and all(u[i].dtype == first.dtype for u in updates):
            if not _kernels.weighted_sum([u[i] for u in updates], weights,
                                         1.0 if total is None else float(total), result, scratch):
                return None
            continue
        if any(compiled):  # float32 and float64 updates of one layer: the running sum's own steps
            if not _layer_by_updates([u[i] for u in updates], weights, total, result, scratch, whole):
                return None
            continue
        step = min(size, block)
        sums_buf, wide_buf, zeros = _block_buffers(scratch, step)
        dst = result.reshape(-1)
        direct = result.dtype == np.float64  # sum straight into the result, else in a float64 block
        srcs = [(u[i].reshape(-1), w, u[i].dtype == np.float64) for u, w in rest]
        src0 = first.reshape(-1)
        for start in range(0, size, step):
            stop = min(start + step, size)
            n = stop - start
            sums = dst[start:stop] if direct else sums_buf[:n]
            np.multiply(src0[start:stop], w0, out=sums, dtype=np.float64, casting="unsafe")
            for src, w, f64 in srcs:
                if f64:
                    axpy(src[start:stop], sums, n, w)
                else:
                    wide = wide_buf[:n]
                    wide[...] = src[start:stop]
                    axpy(wide, sums, n, w)
            with np.errstate(invalid="ignore", over="ignore"):
                finite = np.isfinite(np.dot(sums, zeros[:n]))
            if not finite:  # a NaN or an infinity in an update, or an overflow: named by the caller
                return None
            if total is not None:
                np.divide(sums, total, out=sums)
            if not direct:
                dst[start:stop] = sums
    return out


def _layer_by_updates(layers: Sequence[np.ndarray], weights: list[float], total: float | None,
                      result: np.ndarray, scratch: dict, whole: int) -> bool:
    """One layer of :func:`_blocked_mean` summed update by update, exactly as the running sum does it."""
    try:
        check_finite(layers)
    except AggregationError:
        return False  # the caller lets add() refuse the update by name
    (acc,) = start_accumulator([layers[0]], weights[0])
    for layer, w in zip(layers[1:], weights[1:]):
        _accumulate([acc], [layer], w, scratch, whole)
    if _first_non_finite([acc]) is not None:
        return False  # an overflow of finite updates: the caller names the layer
    if total is not None:
        acc /= total
    result[...] = acc
    return True


def can_block(layers: Sequence[np.ndarray]) -> bool:
    """Return whether :func:`blocked_mean` takes ``layers`` (C-contiguous, aligned, real floating point)."""
    return all(a.dtype.kind == "f" and a.flags.c_contiguous and a.flags.aligned for a in layers)


def weighted_average(results: Sequence[tuple[Sequence[np.ndarray], float]]) -> list[np.ndarray]:
    """Sample-weighted mean of updates, layer by layer (FedAvg [1]_).

    Parameters
    ----------
    results : sequence of (layers, num_samples)
        The updates.

    Returns
    -------
    list of numpy.ndarray
        ``sum_k n_k w_k / sum_k n_k`` per layer, in the accumulator dtype.

    Raises
    ------
    AggregationError
        If there is no update, the shapes differ, or the sample total is not positive.

    Examples
    --------
    >>> out = weighted_average([([np.array([1., 2.]), np.array([3.])], 1),
    ...                         ([np.array([3., 4.]), np.array([5.])], 3)])
    >>> [layer.tolist() for layer in out]
    [[2.5, 3.5], [4.5]]
    """
    if not results:
        raise AggregationError("no updates to aggregate")
    first = as_layers(results[0][0])
    shapes = [a.shape for a in first]
    acc: list[np.ndarray] | None = None
    total = 0.0
    scratch: dict = {}
    for k, (layers, n) in enumerate(results):
        layers = as_layers(layers)
        check_layers(layers, shapes, who=f"update {k}")
        if n < 0:
            raise AggregationError(f"update {k} has a negative sample count {n}")
        if acc is None:
            acc = start_accumulator(layers, float(n))
        else:
            accumulate(acc, layers, float(n), scratch)
        total += float(n)
    if total <= 0:
        raise AggregationError("the updates' sample counts add up to 0; cannot weight them")
    for a in acc:
        a /= total
    return acc


def fedavgm_step(global_weights: Sequence[np.ndarray], average: Sequence[np.ndarray],
                 momentum: Sequence[np.ndarray] | None, *, server_learning_rate: float = 1.0,
                 server_momentum: float = 0.9,
                 overwrite: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One server step of FedAvg with server momentum (FedAvgM [2]_).

    With pseudo-gradient ``d = x - avg``: ``v = beta * v + d`` and ``x = x - lr * v``.

    Parameters
    ----------
    global_weights : sequence of numpy.ndarray
        The current global model ``x``.
    average : sequence of numpy.ndarray
        The clients' weighted average (float arrays).
    momentum : sequence of numpy.ndarray or None
        The previous momentum ``v`` (None: zeros).
    server_learning_rate : float, default=1.0
        Server step size.
    server_momentum : float, default=0.9
        Momentum ``beta``.
    overwrite : bool, default=False
        Work in ``average``'s and ``momentum``'s own memory (their values are overwritten and the
        returned lists hold them): the step then needs no model-sized temporary.

    Returns
    -------
    new_weights : list of numpy.ndarray
        The new global model.
    new_momentum : list of numpy.ndarray
        The new momentum.
    """
    if not overwrite:
        average = [np.array(a) for a in average]
        momentum = None if momentum is None else [np.array(v) for v in momentum]
    new_w, new_v = [], []
    for i, (x, d) in enumerate(zip(global_weights, average)):
        np.subtract(x, d, out=d)  # d = x - avg
        if momentum is None:  # v = d: the average's buffer becomes the momentum
            v, w = d, np.multiply(d, server_learning_rate, out=np.empty_like(d))  # 0-d: an array
        else:
            v, w = momentum[i], d
            v *= server_momentum
            v += d
            np.multiply(v, server_learning_rate, out=w)
        np.subtract(x, w, out=w)
        new_v.append(v)
        new_w.append(w)
    return new_w, new_v


def fedopt_step(global_weights: Sequence[np.ndarray], average: Sequence[np.ndarray],
                m: Sequence[np.ndarray] | None, v: Sequence[np.ndarray] | None, *, variant: str,
                eta: float = 0.01, beta_1: float = 0.9, beta_2: float = 0.99,
                tau: float = 1e-3,
                overwrite: bool = False) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """One adaptive server step (FedAdagrad, FedAdam, FedYogi [3]_).

    With ``delta = avg - x``: ``m = b1 m + (1 - b1) delta``; ``v`` is updated by the variant
    (adagrad ``v + delta^2``, adam ``b2 v + (1 - b2) delta^2``, yogi
    ``v - (1 - b2) delta^2 sign(v - delta^2)``); then ``x = x + eta m / (sqrt(v) + tau)``.
    Each layer is stepped block by block, so the temporaries are a cache-sized block each.

    Parameters
    ----------
    global_weights, average : sequence of numpy.ndarray
        The current global model and the clients' weighted average (float arrays).
    m, v : sequence of numpy.ndarray or None
        First and second moments from the previous round (None: zeros; ``v`` starts at
        ``tau**2`` as in the paper).
    variant : {'adagrad', 'adam', 'yogi'}
        The second-moment rule.
    eta, beta_1, beta_2, tau : float
        Server learning rate, moment decays and adaptivity.
    overwrite : bool, default=False
        Work in ``average``'s, ``m``'s and ``v``'s own memory (their values are overwritten and the
        returned lists hold them): the step then needs no model-sized temporary.

    Returns
    -------
    new_weights, new_m, new_v : list of numpy.ndarray
        The new global model and moments.

    Raises
    ------
    ValueError
        If ``variant`` is unknown.
    """
    if variant not in ("adagrad", "adam", "yogi"):
        raise ValueError(f"variant must be 'adagrad', 'adam' or 'yogi', got {variant!r}")
    if not overwrite:
        average = [np.array(a) for a in average]
        m = None if m is None else [np.array(a) for a in m]
        v = None if v is None else [np.array(a) for a in v]
    out_m, out_v = [], []
    for i, (x, w) in enumerate(zip(global_weights, average)):
        mi = np.empty_like(w) if m is None else m[i]
        vi = np.full_like(w, tau ** 2) if v is None else v[i]
        x, flat = np.asarray(x).reshape(-1), w.reshape(-1)
        for start in range(0, max(flat.size, 1), _BLOCK):
            block = slice(start, start + _BLOCK)
            _fedopt_block(x[block], flat[block], mi.reshape(-1)[block], vi.reshape(-1)[block], variant,
                          first=m is None, eta=eta, beta_1=beta_1, beta_2=beta_2, tau=tau)
        out_m.append(mi)
        out_v.append(vi)
    return average, out_m, out_v


def _fedopt_block(x: np.ndarray, w: np.ndarray, m: np.ndarray, v: np.ndarray, variant: str, *,
                  first: bool, eta: float, beta_1: float, beta_2: float, tau: float) -> None:
    """:func:`fedopt_step` on one block: ``w`` holds the average, then the new weights (one block temp)."""
    delta = np.subtract(w, x, out=w)
    step = np.multiply(delta, 1 - beta_1)
    if first:
        m[...] = step
    else:
        m *= beta_1
        m += step
    d2 = np.multiply(delta, delta, out=step)
    if variant == "adagrad":
        v += d2
    elif variant == "adam":
        v *= beta_2
        d2 *= 1 - beta_2
        v += d2
    else:
        sign = np.subtract(v, d2, out=w)  # delta is no longer needed: its block holds the sign
        np.sign(sign, out=sign)
        d2 *= 1 - beta_2
        d2 *= sign
        v -= d2
    denom = np.sqrt(v, out=step)
    denom += tau
    np.multiply(m, eta, out=w)
    w /= denom
    w += x


def flatten(layers: Sequence[np.ndarray], dtype: Any = np.float64) -> np.ndarray:
    """Concatenate layers into one vector.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The model.
    dtype : dtype, default=float64
        Output dtype.

    Returns
    -------
    numpy.ndarray of shape (n_params,)
        The parameters.
    """
    if not layers:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.ravel(a).astype(dtype, copy=False) for a in layers])


def unflatten(vector: np.ndarray, template: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Split a vector back into layers shaped like ``template``.

    Parameters
    ----------
    vector : numpy.ndarray of shape (n_params,)
        The parameters.
    template : sequence of numpy.ndarray
        Layers giving the shapes.

    Returns
    -------
    list of numpy.ndarray
        The layers (views into ``vector``).
    """
    out, pos = [], 0
    for t in template:
        n = int(np.prod(np.shape(t), dtype=np.int64))
        out.append(vector[pos:pos + n].reshape(np.shape(t)))
        pos += n
    return out


def _stack(updates: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    if not updates:
        raise AggregationError("no updates to aggregate")
    first = as_layers(updates[0])
    shapes = [a.shape for a in first]
    for k, u in enumerate(updates[1:], start=1):
        check_layers(as_layers(u), shapes, who=f"update {k}")
    # float32 models stack as float32 (the values exactly, half the bytes): the rules widen a block of
    # columns at a time where they compute; anything else stacks as float64
    narrow = all(a.dtype == np.float32 for u in updates for a in as_layers(u))
    out = np.empty((len(updates), sum(a.size for a in first)), dtype=np.float32 if narrow else np.float64)
    for k, u in enumerate(updates):  # one copy of each update, written straight into its row
        pos = 0
        for a in as_layers(u):
            out[k, pos:pos + a.size] = a.reshape(-1)
            pos += a.size
    return out


def krum_scores(points: np.ndarray, num_byzantine: int) -> np.ndarray:
    """Krum score of each row: the sum of squared distances to its ``n - f - 2`` nearest rows [4]_.

    Parameters
    ----------
    points : numpy.ndarray of shape (n_updates, n_params)
        Flattened updates.
    num_byzantine : int
        ``f``, the number of adversarial updates tolerated.

    Returns
    -------
    numpy.ndarray of shape (n_updates,)
        Scores; lower is more central.
    """
    n = points.shape[0]
    dist = pairwise_sq_distances(points)
    k = max(n - num_byzantine - 2, 1)
    scores = np.empty(n)
    for i in range(n):
        others = np.delete(dist[i], i)
        scores[i] = np.sum(np.partition(others, min(k, others.size) - 1)[:k]) if others.size else 0.0
    return scores


def krum(updates: Sequence[Sequence[np.ndarray]], *, num_byzantine: int = 0,
         num_selected: int = 1) -> list[np.ndarray]:
    """(Multi-)Krum: average the ``m`` updates with the lowest Krum scores [4]_.

    Parameters
    ----------
    updates : sequence of layer lists
        The updates.
    num_byzantine : int, default=0
        ``f``; Krum needs ``n > 2 f + 2`` updates (``n >= 2 f + 3``), as :func:`multi_krum` does.
    num_selected : int, default=1
        ``m`` in ``[1, n]``; 1 is Krum, more is Multi-Krum.

    Returns
    -------
    list of numpy.ndarray
        The selected update (or the mean of the selected ones).

    Raises
    ------
    AggregationError
        If there is no update, the shapes differ, there are too few updates for ``f`` or ``m`` is
        not in ``[1, n]``.
    """
    points = _stack(updates)
    n = points.shape[0]
    _check_f(n, num_byzantine, 2 * num_byzantine + 3, "Krum", "n > 2 f + 2")
    if not 1 <= num_selected <= n:
        raise AggregationError(f"num_selected must be in [1, {n}] for {n} updates, got {num_selected}")
    scores = krum_scores(points, num_byzantine)
    chosen = np.argsort(scores, kind="stable")[:num_selected]
    return unflatten(_rows_mean(points, chosen), as_layers(updates[0]))


def coordinate_median(updates: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Coordinate-wise median of the updates [5]_.

    Parameters
    ----------
    updates : sequence of layer lists
        The updates.

    Returns
    -------
    list of numpy.ndarray
        The median model.

    Raises
    ------
    AggregationError
        If there is no update or the shapes differ.
    """
    points = _stack(updates)
    points.sort(axis=0)  # in the stack's own memory; a column sort is several times faster than np.median
    n = points.shape[0]
    # a new array (in float64), never a view: a row would keep the whole stack alive as long as the model
    middle = (points[n // 2].astype(np.float64) if n % 2
              else (points[n // 2 - 1].astype(np.float64) + points[n // 2]) / 2.0)
    return unflatten(middle, as_layers(updates[0]))


def trimmed_mean(updates: Sequence[Sequence[np.ndarray]], *, beta: float = 0.1) -> list[np.ndarray]:
    """Coordinate-wise beta-trimmed mean: drop the ``beta`` share at each end, average the rest [5]_.

    Parameters
    ----------
    updates : sequence of layer lists
        The updates.
    beta : float, default=0.1
        Share trimmed at each end, in [0, 0.5).

    Returns
    -------
    list of numpy.ndarray
        The trimmed-mean model.

    Raises
    ------
    AggregationError
        If there is no update, the shapes differ, or ``beta`` is out of range.
    """
    if not 0 <= beta < 0.5:
        raise AggregationError(f"beta must be in [0, 0.5), got {beta}")
    points = _stack(updates)
    n = points.shape[0]
    cut = int(np.floor(beta * n))
    if n - 2 * cut <= 0:
        cut = (n - 1) // 2
    points.sort(axis=0)  # in the stack's own memory (np.sort would copy it)
    part = points[cut:n - cut]
    return unflatten(part.mean(axis=0, dtype=np.float64), as_layers(updates[0]))


def binarize(features: np.ndarray) -> np.ndarray:
    """Binarise activations: 1 where positive, else 0 (MistNet's unary encoding).

    Parameters
    ----------
    features : numpy.ndarray
        Activations.

    Returns
    -------
    numpy.ndarray of uint8
        Bits, same shape.
    """
    return (np.asarray(features) > 0).astype(np.uint8)


def sue_probabilities(epsilon: float | None) -> tuple[float, float]:
    """Keep and flip probabilities of symmetric unary encoding for a budget ``epsilon`` [6]_.

    A true 1 is reported as 1 with probability ``p = e^(eps/2) / (e^(eps/2) + 1)``; a true 0 is
    reported as 1 with probability ``q = 1 - p``. ``None`` or ``inf`` means no noise.

    Parameters
    ----------
    epsilon : float or None
        The local differential-privacy budget.

    Returns
    -------
    p, q : float
        The two probabilities.
    """
    if epsilon is None or np.isinf(epsilon):
        return 1.0, 0.0
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive (or None/inf for no noise), got {epsilon}")
    e = np.exp(epsilon / 2.0)
    return float(e / (e + 1.0)), float(1.0 / (e + 1.0))


def randomized_response(bits: np.ndarray, epsilon: float | None, rng: np.random.Generator) -> np.ndarray:
    """Perturb bits with symmetric unary encoding (epsilon-LDP per feature vector) [6]_.

    Parameters
    ----------
    bits : numpy.ndarray of {0, 1}
        Binarised features.
    epsilon : float or None
        Budget; None or inf returns the bits unchanged.
    rng : numpy.random.Generator
        Randomness source.

    Returns
    -------
    numpy.ndarray of uint8
        The reported bits.
    """
    p, q = sue_probabilities(epsilon)
    bits = np.asarray(bits, dtype=np.uint8)
    if q == 0.0:
        return bits.copy()
    u = rng.random(bits.shape)
    return np.where(bits == 1, u < p, u < q).astype(np.uint8)


def pairwise_sq_distances(points: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``points``.

    Parameters
    ----------
    points : numpy.ndarray of shape (n_updates, n_params)
        Flattened updates.

    Returns
    -------
    numpy.ndarray of shape (n_updates, n_updates)
        ``D[i, j] = ||p_i - p_j||^2`` (clipped at 0 against rounding; zero diagonal).
    """
    if points.dtype == np.float64:
        sq = np.einsum("ij,ij->i", points, points)
        gram = points @ points.T
    else:  # in float64, a block of columns at a time (a float32 Gram matrix loses the distances' digits)
        gram = np.zeros((points.shape[0], points.shape[0]))
        for start in range(0, points.shape[1], _GRAM_COLUMNS):
            block = points[:, start:start + _GRAM_COLUMNS].astype(np.float64)
            gram += block @ block.T
        sq = np.diag(gram).copy()
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0)  # 2.0 * gram: (2.0 * points) is a copy
    np.fill_diagonal(dist, 0.0)
    return dist


_GRAM_COLUMNS = 1 << 16
"""Columns of a float32 stack widened at a time for its Gram matrix."""


def _scores_from(dist: np.ndarray, num_byzantine: int) -> np.ndarray:
    n = dist.shape[0]
    if n == 1:
        return np.zeros(1)
    k = min(max(n - num_byzantine - 2, 1), n - 1)
    off = dist[~np.eye(n, dtype=bool)].reshape(n, n - 1)  # each row without its own zero
    return np.partition(off, k - 1, axis=1)[:, :k].sum(axis=1)


def _check_f(n: int, num_byzantine: int, need: int, rule: str, formula: str) -> None:
    if num_byzantine < 0:
        raise AggregationError(f"num_byzantine must be >= 0, got {num_byzantine}")
    if n < need:
        raise AggregationError(f"{rule} with num_byzantine={num_byzantine} needs at least {need} updates "
                               f"({formula}), got {n}; lower num_byzantine or wait for more clients")


def multi_krum_select(points: np.ndarray, *, num_byzantine: int,
                      num_selected: int | None = None) -> np.ndarray:
    """Return the indices of the ``m`` rows with the lowest Krum scores (Multi-Krum [4]_).

    Each row's score is the sum of squared distances to its ``n - f - 2`` nearest other rows;
    scores are computed once, on all ``n`` rows, and the ``m`` lowest are kept.

    Parameters
    ----------
    points : numpy.ndarray of shape (n_updates, n_params)
        Flattened updates.
    num_byzantine : int
        ``f``, adversarial updates tolerated; needs ``n >= 2 f + 3``.
    num_selected : int, default=None
        ``m``, rows kept (None: ``n - f``).

    Returns
    -------
    numpy.ndarray of int
        The kept rows, lowest score first (ties: lower index first).

    Raises
    ------
    AggregationError
        If ``n < 2 f + 3`` or ``m`` is not in ``[1, n]``.
    """
    n = points.shape[0]
    _check_f(n, num_byzantine, 2 * num_byzantine + 3, "Multi-Krum", "n >= 2 f + 3")
    m = n - num_byzantine if num_selected is None else int(num_selected)
    if not 1 <= m <= n:
        raise AggregationError(f"num_selected must be in [1, {n}] for {n} updates, got {num_selected}")
    scores = _scores_from(pairwise_sq_distances(points), num_byzantine)
    return np.argsort(scores, kind="stable")[:m]


def multi_krum(updates: Sequence[Sequence[np.ndarray]], *, num_byzantine: int,
               num_selected: int | None = None) -> list[np.ndarray]:
    """Multi-Krum: the plain mean of the ``m`` updates with the lowest Krum scores [4]_.

    Parameters
    ----------
    updates : sequence of layer lists
        The updates.
    num_byzantine : int
        ``f``; needs ``n >= 2 f + 3``.
    num_selected : int, default=None
        ``m`` (None: ``n - f``).

    Returns
    -------
    list of numpy.ndarray
        The mean of the selected updates, in float64.

    Raises
    ------
    AggregationError
        If there is no update, the shapes differ, or there are too few updates for ``f``.
    """
    points = _stack(updates)
    chosen = multi_krum_select(points, num_byzantine=num_byzantine, num_selected=num_selected)
    return unflatten(_rows_mean(points, chosen), as_layers(updates[0]))


def bulyan_select(points: np.ndarray, *, num_byzantine: int) -> np.ndarray:
    """Bulyan's first stage: pick ``theta = n - 2 f`` rows by Krum, one at a time [7]_.

    Each step runs Krum on the rows not yet picked (scores recomputed on that set, with the
    same ``f``) and moves the winner to the selection.

    Parameters
    ----------
    points : numpy.ndarray of shape (n_updates, n_params)
        Flattened updates.
    num_byzantine : int
        ``f``; Bulyan needs ``n >= 4 f + 3``.

    Returns
    -------
    numpy.ndarray of int
        The ``theta`` selected rows, in the order picked.

    Raises
    ------
    AggregationError
        If ``n < 4 f + 3``.
    """
    n = points.shape[0]
    _check_f(n, num_byzantine, 4 * num_byzantine + 3, "Bulyan", "n >= 4 f + 3")
    dist = pairwise_sq_distances(points)
    remaining = list(range(n))
    picked: list[int] = []
    for _ in range(n - 2 * num_byzantine):
        sub = dist[np.ix_(remaining, remaining)]
        best = int(np.argmin(_scores_from(sub, num_byzantine)))  # argmin: the lowest index wins ties
        picked.append(remaining.pop(best))
    return np.asarray(picked, dtype=np.int64)


def bulyan(updates: Sequence[Sequence[np.ndarray]], *, num_byzantine: int) -> list[np.ndarray]:
    """Bulyan: Krum-select ``theta = n - 2 f`` updates, then trim around the median [7]_.

    Per coordinate, the ``beta = theta - 2 f`` selected values closest to that coordinate's
    median are averaged.

    Parameters
    ----------
    updates : sequence of layer lists
        The updates.
    num_byzantine : int
        ``f``; needs ``n >= 4 f + 3``.

    Returns
    -------
    list of numpy.ndarray
        The aggregated model, in float64.

    Raises
    ------
    AggregationError
        If there is no update, the shapes differ, or ``n < 4 f + 3``.

    Examples
    --------
    >>> ups = [[np.array([v])] for v in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0)]
    >>> bulyan(ups, num_byzantine=1)[0].tolist()
    [3.0]
    """
    points = _stack(updates)
    rows = bulyan_select(points, num_byzantine=num_byzantine)
    beta = rows.size - 2 * num_byzantine
    middle = np.empty(points.shape[1])
    for start in range(0, points.shape[1], _COLUMNS):  # coordinate-wise: a block of columns at a time
        selected = points[rows, start:start + _COLUMNS].astype(np.float64, copy=False)
        median = np.median(selected, axis=0)
        closest = np.argsort(np.abs(selected - median), axis=0, kind="stable")[:beta]
        middle[start:start + _COLUMNS] = np.take_along_axis(selected, closest, axis=0).mean(axis=0)
    return unflatten(middle, as_layers(updates[0]))


_COLUMNS = 1 << 13
"""Columns of the stacked updates the robust rules work on at a time (their temporaries: a few rows of it)."""


def _rows_mean(points: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``points[rows].mean(axis=0)`` a block of columns at a time, without copying the rows whole."""
    out = np.empty(points.shape[1])
    for start in range(0, points.shape[1], _COLUMNS):
        out[start:start + _COLUMNS] = points[rows, start:start + _COLUMNS].mean(axis=0, dtype=np.float64)
    return out
