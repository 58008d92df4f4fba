"""Sedna's ``sedna.core.base``: ``JobBase`` with Sedna's ``config`` attributes and class methods.

The native job base (:class:`sedna_lib.job.JobBase`) holds the engine: context, wrapped estimator,
identity, model path and LocalController reports. This face adds what a Sedna script expects of it:
``job.config`` is Sedna's ``BaseConfig`` view (the job's ``config`` dict over the configuration,
writable, ``to_json``...), and :meth:`JobBase.get_hem_algorithm_from_config` reads the deployment's
miner. The feature faces (``sedna_lib.compat.core.joint_inference``...) put :class:`SednaJob` in front
of the native feature classes.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ..._lazy import lazy_attributes
from ...context import resolve
from ...job import JobBase as _NativeJobBase
from ...job import resolve_callback
from ..config import EnvConfig

__all__ = ["JobBase", "ModelLoadingThread", "resolve_callback"]  # noqa: F822 - from the module __getattr__

LOGGER = logging.getLogger("sedna")

# Sedna exports ModelLoadingThread from its job base; it belongs to incremental learning's hot update.
__getattr__, __dir__ = lazy_attributes(__name__, {
    "ModelLoadingThread": "sedna_lib.incremental_learning.hot_update:ModelLoadingThread"})


class SednaJob:
    """What Sedna's job base adds to a native job: its ``config`` view and its class methods.

    A mixin placed before the native feature class (``class JointInference(SednaJob,
    native.JointInference)``); it defines no constructor, so the feature's own runs.
    """

    def _config_view(self, config: Mapping[str, Any] | None) -> EnvConfig:
        """Sedna's ``BaseConfig`` attributes for this job, with ``config`` on top."""
        return EnvConfig(config, config=self.context.config)

    @classmethod
    def get_hem_algorithm_from_config(cls, **param: Any) -> dict[str, Any]:
        """Return the miner the deployment configures (``HEM_NAME``/``HEM_PARAMETERS``).

        Sedna's class method: it has no job, so it reads the environment.

        Parameters
        ----------
        **param : object
            Parameters that override the deployment's (Sedna's rule: code wins over the CRD).

        Returns
        -------
        dict
            ``{"method": name, "param": {...}}``, or ``{}`` when ``HEM_NAME`` is unset.

        Raises
        ------
        ConfigError
            If ``HEM_PARAMETERS`` is malformed.
        """
        hem = resolve(None).config.hem
        if not hem:
            return {}
        overridden = sorted(set(param) & set(hem["param"]))
        if overridden:
            LOGGER.info("HEM parameters %s from the code override the deployment's", overridden)
        hem["param"].update(param)
        return hem


class JobBase(SednaJob, _NativeJobBase):
    """Sedna's ``JobBase``: the native job base with Sedna's ``config`` attributes.

    Parameters
    ----------
    estimator : object
        The user's model or estimator (class, factory or instance).
    config : dict, default=None
        Job settings that shadow the environment for this job only (Sedna merged them into a
        process-wide ``BaseConfig``); readable and writable as ``self.config.<key>``.
    context : Context, default=None
        Configuration, registry and storage; the environment's context when omitted.

    Attributes
    ----------
    config : EnvConfig
        Sedna's ``BaseConfig`` attributes for this job, with ``config`` on top.

    Examples
    --------
    >>> from sedna_lib.config import Config
    >>> from sedna_lib.context import Context
    >>> job = JobBase(None, {"agg_uri": "ws://agg"}, context=Context(Config(service_name="svc")))
    >>> job.job_name, job.config.agg_uri, job.config.get("transmitter")
    ('svc', 'ws://agg', 'ws')
    """
