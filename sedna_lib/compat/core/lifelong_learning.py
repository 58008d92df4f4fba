"""Sedna's ``sedna.core.lifelong_learning``: ``LifelongLearning`` under Sedna's conventions.

The engine is the native :mod:`sedna_lib.lifelong_learning`; this class adds Sedna's job base
(:class:`~sedna_lib.compat.core.base.SednaJob`). The module serves the native package's other names too.
"""

from __future__ import annotations

from ...lifelong_learning import *  # noqa: F401,F403 - Sedna's module also gives the feature's other names
from ...lifelong_learning import LifelongLearning as _NativeLifelongLearning
from ...lifelong_learning import __all__ as _native_all
from .base import SednaJob

__all__ = list(_native_all)


class LifelongLearning(SednaJob, _NativeLifelongLearning):
    """Sedna's ``LifelongLearning``: the native job with Sedna's job base.

    See :class:`sedna_lib.lifelong_learning.LifelongLearning` for the parameters.
    """
