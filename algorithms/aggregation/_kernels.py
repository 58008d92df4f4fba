"""Compiled weighted sums for large float layers, when numba is installed (the ``fast`` extra).

A weighted mean of model updates is memory-bound: the floor is one read of every update byte.
numpy runs each operation as its own pass, so a float32 update summed in float64 costs a widening
pass and an ``axpy`` pass per cached block, and a round at once re-reads the block's sums once per
update. The loops in :mod:`._compiled` widen and add in one pass and add four updates per pass
over the sums, the last pass writing the mean (measured on 1.2 M-parameter updates: within 1.0-1.3
times one read of the same updates, where the numpy path took 1.2-3.5 times; ``docs/benchmarks.md``, F4).

Which path a layer takes depends only on the layer (its dtype and layout), on the size of its update
(all layers together) and on whether the compiled loops are on, never on the other updates of the
round, so the running sum and the round at once take the same path for the same layer and give the
same bits. Every eligible layer of a large update takes them, its small layers (biases) too: a
compiled call costs a fraction of a microsecond, where the numpy path costs a few calls per update.
Without numba (or with :func:`disabled`) every layer takes the numpy path, as before.

The first use in a process imports numba and loads the loops from numba's cache (about 0.3 s);
the very first use on a machine compiles them (a few seconds, once: the cache is kept next to this
module, or in ``NUMBA_CACHE_DIR`` where that is not writable).
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from typing import Any, Iterator, Sequence

import numpy as np

MIN_SIZE = 1 << 15
"""Updates with fewer elements (all layers together) take the numpy path: on a small model the first
round's import of numba would cost more than the loops ever save."""

_CHUNK_BYTES = 1 << 20
"""Bytes of each update read per block in :func:`weighted_sum` (1 MiB: 128 Ki float64 or 256 Ki float32
elements). Measured on 10 float32 updates: 64 Ki-element blocks were 1.15 times slower (each switch to
the next update's array restarts the hardware prefetcher)."""

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_lock = threading.Lock()
_state: dict[str, Any] = {"on": None, "module": None}


def available() -> bool:
    """Return whether the compiled loops can be used (numba is installed and its JIT is not disabled)."""
    if _state["on"] is None:
        with _lock:
            if _state["on"] is None:
                _state["on"] = _numba_usable()
    return bool(_state["on"])


def _numba_usable() -> bool:
    if importlib.util.find_spec("numba") is None:
        return False
    try:
        from numba import config
    except Exception:  # noqa: BLE001 - a broken numba install: the numpy path
        return False
    return not config.DISABLE_JIT  # interpreted loops would be far slower than numpy


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Use the numpy path inside the block (for comparisons: benchmarks and tests); process-wide."""
    before = available()
    _state["on"] = False
    try:
        yield
    finally:
        _state["on"] = before


def compiled():
    """Return :mod:`._compiled` (imports numba on first use)."""
    if _state["module"] is None:
        with _lock:
            if _state["module"] is None:
                from . import _compiled

                _state["module"] = _compiled
    return _state["module"]


def update_size(layers: Sequence[Any]) -> int:
    """Return the number of elements of an update (all its layers), the size :func:`takes` asks for."""
    return sum(int(np.size(a)) for a in layers)


def takes(layer: np.ndarray, size: int) -> bool:
    """Return whether ``layer`` (an update's layer) is summed by the compiled loops.

    Parameters
    ----------
    layer : numpy.ndarray
        A layer of an update.
    size : int
        Elements in the whole update (:func:`update_size`).

    Returns
    -------
    bool
        True for a C-contiguous, aligned float32 or float64 layer of an update of at least
        :data:`MIN_SIZE` elements, when the compiled loops are on.
    """
    return (size >= MIN_SIZE and layer.dtype in _FLOATS and layer.flags.c_contiguous
            and layer.flags.aligned and available())


def fold(acc: np.ndarray, layer: np.ndarray, weight: float) -> None:
    """Add ``weight * layer`` to ``acc`` in one pass (``acc``: a C-contiguous float64 sum)."""
    compiled().fold(acc.reshape(-1), layer.reshape(-1), float(weight))


def weighted_sum(layers: Sequence[np.ndarray], weights: Sequence[float], total: float, out: np.ndarray,
                 scratch: dict) -> bool:
    """Write ``sum_k weights[k] * layers[k] / total`` into ``out``, block by block across the layers.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        One layer from each update, all of one dtype (:func:`takes` true for each) and one shape.
    weights : sequence of float
        One weight per layer.
    total : float
        The divisor (1.0 leaves the sums as they are: the division is exact).
    out : numpy.ndarray
        C-contiguous float32 or float64 result, shaped like the layers.
    scratch : dict
        Reusable buffers; pass the same dict every call.

    Returns
    -------
    bool
        False when a block's sum is not finite (``out`` is then incomplete): an update holds a NaN
        or an infinity, or the sum of finite updates overflowed.
    """
    mod = compiled()
    srcs = [a.reshape(-1) for a in layers]
    ws = [float(w) for w in weights]
    groups = [(srcs[g:g + 4], ws[g:g + 4]) for g in range(0, len(srcs), 4)]
    first = (mod.start1, mod.start2, mod.start3, mod.start4)[len(groups[0][0]) - 1]
    middle = [((mod.fold, mod.add2, mod.add3, mod.add4)[len(xs) - 1], xs, gw) for xs, gw in groups[1:-1]]
    last = (mod.end1, mod.end2, mod.end3, mod.end4)[len(groups[-1][0]) - 1] if len(groups) > 1 else None
    block = _CHUNK_BYTES // layers[0].dtype.itemsize
    sums = scratch.get("compiled")
    if sums is None or sums.size < block:
        sums = scratch["compiled"] = np.empty(block)
    flat = out.reshape(-1)
    size, total = flat.size, float(total)
    for lo in range(0, size, block):
        hi = min(lo + block, size)
        a = sums[:hi - lo]
        first(a, *_block_args(groups[0], lo, hi))
        for add, xs, gw in middle:
            add(a, *_block_args((xs, gw), lo, hi))
        if last is None:
            finite = mod.finish(flat[lo:hi], a, total)
        else:
            finite = last(flat[lo:hi], a, *_block_args(groups[-1], lo, hi), total)
        if not finite:  # a NaN or an infinity in an update, or an overflow of finite ones
            return False
    return True


def _block_args(group: tuple[list[np.ndarray], list[float]], lo: int, hi: int) -> list:
    """``x1[lo:hi], w1, x2[lo:hi], w2, ...``: one group's arguments for a compiled loop."""
    args: list = []
    for x, w in zip(*group):
        args += (x[lo:hi], w)
    return args
