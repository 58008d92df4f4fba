"""Sedna's ``sedna.core.incremental_learning``: ``IncrementalLearning`` under Sedna's conventions.

The engine is the native :mod:`sedna_lib.incremental_learning`; this class adds Sedna's job base
(:class:`~sedna_lib.compat.core.base.SednaJob`: the ``config`` attributes and
``get_hem_algorithm_from_config``). The module serves the native package's other names too.
"""

from __future__ import annotations

from ...incremental_learning import *  # noqa: F401,F403 - Sedna's module also gives the feature's other names
from ...incremental_learning import IncrementalLearning as _NativeIncrementalLearning
from ...incremental_learning import __all__ as _native_all
from .base import SednaJob

__all__ = list(_native_all)


class IncrementalLearning(SednaJob, _NativeIncrementalLearning):
    """Sedna's ``IncrementalLearning``: the native job with Sedna's job base.

    See :class:`sedna_lib.incremental_learning.IncrementalLearning` for the parameters.
    """
