"""Sedna's ``sedna.core.joint_inference``: ``JointInference`` and ``BigModelService``, Sedna's way.

The engine is the native :mod:`sedna_lib.joint_inference`; these classes add Sedna's job base
(:class:`~sedna_lib.compat.core.base.SednaJob`: the ``config`` attributes and
``get_hem_algorithm_from_config``). The module serves the native package's other names too.
"""

from __future__ import annotations

from ...joint_inference import *  # noqa: F401,F403 - Sedna's module also gives the feature's other names
from ...joint_inference import __all__ as _native_all
from ...joint_inference.cloud import BigModelService as _NativeBigModelService
from ...joint_inference.edge import JointInference as _NativeJointInference
from .base import SednaJob

__all__ = list(_native_all)


class JointInference(SednaJob, _NativeJointInference):
    """Sedna's ``JointInference``: the native edge job with Sedna's job base.

    See :class:`sedna_lib.joint_inference.JointInference` for the parameters; both of Sedna's
    signatures (0.4.1's and 0.6's) work, and ``self.config`` is Sedna's ``BaseConfig`` view.
    """


class BigModelService(SednaJob, _NativeBigModelService):
    """Sedna's ``BigModelService``: the native cloud service with Sedna's job base.

    See :class:`sedna_lib.joint_inference.BigModelService` for the parameters.
    """
