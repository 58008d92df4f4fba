"""The compiled loops of :mod:`._kernels` (numba; imported only through :func:`._kernels.compiled`).

Every loop computes, per element and in this order, the operations of the numpy path it replaces:
``s = w0 * x0`` (widened to float64 first), then ``s = s + w * x`` per update, then ``s / total``,
each rounded once to float64 (no fused multiply-add: numba does not contract without fast-math),
so the running sum (:func:`fold`, one update at a time) and the round at once (``start*`` and
``add*``, then ``end*`` or :func:`finish`, on one cache-sized block at a time, driven by
:func:`._kernels.weighted_sum`) give the same bits. Updates are passed as separate arguments, up to
four per pass over the block's sums, so no list of arrays crosses into compiled code (numba's typed
lists compile their own methods in every process, which would cost more than the round).
"""

from __future__ import annotations

import numba
import numpy as np

_OPTS = dict(nogil=True, cache=True, error_model="numpy", boundscheck=False)

f64 = np.float64


@numba.njit(**_OPTS)
def fold(acc, src, w):  # pragma: no cover - compiled
    """Add ``w * src`` to ``acc`` in place, in one pass (``src`` float32 or float64, widened per element)."""
    for j in range(acc.size):
        acc[j] += w * f64(src[j])


@numba.njit(**_OPTS)
def start1(a, x1, w1):  # pragma: no cover - compiled
    """Set ``a = w1 x1``: a block's first pass (``a`` float64; each ``x`` float32 or float64, widened)."""
    for j in range(a.size):
        a[j] = w1 * f64(x1[j])


@numba.njit(**_OPTS)
def start2(a, x1, w1, x2, w2):  # pragma: no cover - compiled
    """Set ``a = w1 x1 + w2 x2``."""
    for j in range(a.size):
        a[j] = w1 * f64(x1[j]) + w2 * f64(x2[j])


@numba.njit(**_OPTS)
def start3(a, x1, w1, x2, w2, x3, w3):  # pragma: no cover - compiled
    """Set ``a = (w1 x1 + w2 x2) + w3 x3``."""
    for j in range(a.size):
        a[j] = (w1 * f64(x1[j]) + w2 * f64(x2[j])) + w3 * f64(x3[j])


@numba.njit(**_OPTS)
def start4(a, x1, w1, x2, w2, x3, w3, x4, w4):  # pragma: no cover - compiled
    """Set ``a = ((w1 x1 + w2 x2) + w3 x3) + w4 x4``."""
    for j in range(a.size):
        a[j] = ((w1 * f64(x1[j]) + w2 * f64(x2[j])) + w3 * f64(x3[j])) + w4 * f64(x4[j])


@numba.njit(**_OPTS)
def add2(a, x1, w1, x2, w2):  # pragma: no cover - compiled
    """Set ``a = (a + w1 x1) + w2 x2``: one pass over ``a`` for two updates."""
    for j in range(a.size):
        a[j] = (a[j] + w1 * f64(x1[j])) + w2 * f64(x2[j])


@numba.njit(**_OPTS)
def add3(a, x1, w1, x2, w2, x3, w3):  # pragma: no cover - compiled
    """Set ``a = ((a + w1 x1) + w2 x2) + w3 x3``."""
    for j in range(a.size):
        a[j] = ((a[j] + w1 * f64(x1[j])) + w2 * f64(x2[j])) + w3 * f64(x3[j])


@numba.njit(**_OPTS)
def add4(a, x1, w1, x2, w2, x3, w3, x4, w4):  # pragma: no cover - compiled
    """Set ``a = (((a + w1 x1) + w2 x2) + w3 x3) + w4 x4``."""
    for j in range(a.size):
        a[j] = (((a[j] + w1 * f64(x1[j])) + w2 * f64(x2[j])) + w3 * f64(x3[j])) + w4 * f64(x4[j])


@numba.njit(**_OPTS)
def finish(out, a, total):  # pragma: no cover - compiled
    """Write ``out = a / total``; return whether every sum is finite (``out`` is written either way)."""
    bad = False
    for j in range(a.size):
        s = a[j]
        bad |= not np.isfinite(s)
        out[j] = s / total
    return not bad


@numba.njit(**_OPTS)
def end1(out, a, x1, w1, total):  # pragma: no cover - compiled
    """Write ``out = (a + w1 x1) / total`` (the block's last pass; ``a`` is left as it was).

    Returns whether every sum is finite; ``out`` is written either way. The ``end*`` loops fuse the
    last :func:`fold` / ``add*`` pass of a block with :func:`finish`: the same operations in the
    same order, one pass over the block's sums fewer.
    """
    bad = False
    for j in range(a.size):
        s = a[j] + w1 * f64(x1[j])
        bad |= not np.isfinite(s)
        out[j] = s / total
    return not bad


@numba.njit(**_OPTS)
def end2(out, a, x1, w1, x2, w2, total):  # pragma: no cover - compiled
    """Write ``out = ((a + w1 x1) + w2 x2) / total``; see :func:`end1`."""
    bad = False
    for j in range(a.size):
        s = (a[j] + w1 * f64(x1[j])) + w2 * f64(x2[j])
        bad |= not np.isfinite(s)
        out[j] = s / total
    return not bad


@numba.njit(**_OPTS)
def end3(out, a, x1, w1, x2, w2, x3, w3, total):  # pragma: no cover - compiled
    """Write ``out = (((a + w1 x1) + w2 x2) + w3 x3) / total``; see :func:`end1`."""
    bad = False
    for j in range(a.size):
        s = ((a[j] + w1 * f64(x1[j])) + w2 * f64(x2[j])) + w3 * f64(x3[j])
        bad |= not np.isfinite(s)
        out[j] = s / total
    return not bad


@numba.njit(**_OPTS)
def end4(out, a, x1, w1, x2, w2, x3, w3, x4, w4, total):  # pragma: no cover - compiled
    """Write ``out = ((((a + w1 x1) + w2 x2) + w3 x3) + w4 x4) / total``; see :func:`end1`."""
    bad = False
    for j in range(a.size):
        s = (((a[j] + w1 * f64(x1[j])) + w2 * f64(x2[j])) + w3 * f64(x3[j])) + w4 * f64(x4[j])
        bad |= not np.isfinite(s)
        out[j] = s / total
    return not bad
