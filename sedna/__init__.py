"""The drop-in face: unchanged Sedna worker scripts import ``sedna.*`` and get sedna_lib.

Every Sedna module path is an alias of one sedna_lib module: ``sedna.common.config`` *is*
``sedna_lib.compat.config`` (the same module object), so classes, registrations and pickles that
name ``sedna.*`` all resolve to sedna_lib. The table below is the whole mapping; a path that is
only a prefix of others (``sedna.core``) is an empty package.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

from sedna_lib import __version__
from sedna_lib.compat.log import Logger as _Logger

__all__ = ["__version__", "ALIASES"]

ALIASES: dict[str, str] = {
    # common
    "sedna.common.config": "sedna_lib.compat.config",
    "sedna.common.class_factory": "sedna_lib.compat.class_factory",
    "sedna.common.file_ops": "sedna_lib.compat.file_ops",
    "sedna.common.log": "sedna_lib.compat.log",
    "sedna.common.utils": "sedna_lib.compat.utils",
    "sedna.common.constant": "sedna_lib.compat.constant",
    # backends
    "sedna.backend": "sedna_lib.compat.backend",
    "sedna.backend.base": "sedna_lib.compat.backend.base",
    "sedna.backend.tensorflow": "sedna_lib.compat.backend.tensorflow",
    "sedna.backend.torch": "sedna_lib.compat.backend.torch",
    "sedna.backend.mindspore": "sedna_lib.compat.backend.mindspore",
    # data sources
    "sedna.datasources": "sedna_lib.datasources",
    "sedna.datasources.obs": "sedna_lib.datasources.obs",
    "sedna.datasources.obs.connector": "sedna_lib.datasources.obs.connector",
    # service clients
    "sedna.service.client": "sedna_lib.compat.client",
    # core features
    "sedna.core.base": "sedna_lib.compat.core.base",
    # -- joint inference (feature section) --
    "sedna.algorithms.hard_example_mining": "sedna_lib.algorithms.hard_example_mining",
    "sedna.algorithms.hard_example_mining.hard_example_mining":
        "sedna_lib.algorithms.hard_example_mining.hard_example_mining",
    "sedna.core.joint_inference": "sedna_lib.compat.core.joint_inference",
    "sedna.core.joint_inference.joint_inference": "sedna_lib.compat.core.joint_inference",
    "sedna.service.server": "sedna_lib.compat.server",
    "sedna.service.server.inference": "sedna_lib.servers.inference",
    # -- federated learning (feature section) --
    "sedna.core.federated_learning": "sedna_lib.compat.core.federated_learning",
    "sedna.core.federated_learning.federated_learning": "sedna_lib.compat.core.federated_learning",
    "sedna.service.server.aggregation": "sedna_lib.compat.server.aggregation",
    "sedna.algorithms.aggregation": "sedna_lib.algorithms.aggregation",
    "sedna.algorithms.aggregation.aggregation": "sedna_lib.algorithms.aggregation.aggregation",
    "sedna.algorithms.client_choose": "sedna_lib.algorithms.client_choose",
    "sedna.algorithms.transmitter": "sedna_lib.algorithms.transmitter",
    # -- incremental learning (feature section) --
    "sedna.core.incremental_learning": "sedna_lib.compat.core.incremental_learning",
    "sedna.core.incremental_learning.incremental_learning": "sedna_lib.compat.core.incremental_learning",
    # -- lifelong learning (feature section) --
    "sedna.core.lifelong_learning": "sedna_lib.compat.core.lifelong_learning",
    "sedna.core.lifelong_learning.lifelong_learning": "sedna_lib.compat.core.lifelong_learning",
    "sedna.core.lifelong_learning.knowledge_management": "sedna_lib.lifelong_learning.knowledge_management",
    "sedna.core.lifelong_learning.knowledge_management.base_knowledge_management":
        "sedna_lib.lifelong_learning.knowledge_management",
    "sedna.core.lifelong_learning.knowledge_management.cloud_knowledge_management":
        "sedna_lib.lifelong_learning.knowledge_management",
    "sedna.core.lifelong_learning.knowledge_management.edge_knowledge_management":
        "sedna_lib.lifelong_learning.knowledge_management",
    "sedna.algorithms.seen_task_learning": "sedna_lib.lifelong_learning",
    "sedna.algorithms.seen_task_learning.artifact": "sedna_lib.lifelong_learning.artifact",
    "sedna.algorithms.seen_task_learning.seen_task_learning":
        "sedna_lib.lifelong_learning.seen_task_learning",
    "sedna.algorithms.unseen_task_processing": "sedna_lib.lifelong_learning.unseen_task_processing",
    "sedna.algorithms.unseen_task_detect": "sedna_lib.algorithms.lifelong.unseen",
    "sedna.algorithms.multi_task_learning": "sedna_lib.lifelong_learning.multi_task_learning",
    # Sedna 0.6's module of each lifelong-learning algorithm (scripts and pickles may name them)
    **{f"sedna.algorithms.seen_task_learning.{path}": f"sedna_lib.algorithms.lifelong.{target}"
       for path, target in [
           ("task_definition", "task_definition"), ("task_definition.task_definition", "task_definition"),
           ("task_definition.task_definition_by_origin", "task_definition"),
           ("task_allocation", "task_allocation"), ("task_allocation.task_allocation", "task_allocation"),
           ("task_allocation.task_allocation_by_origin", "task_allocation"),
           ("task_allocation.task_allocation_stream", "task_allocation"),
           ("task_relation_discovery", "task_relation"),
           ("task_relation_discovery.task_relation_discovery", "task_relation"),
           ("task_remodeling", "task_remodeling"), ("task_remodeling.task_remodeling", "task_remodeling"),
           ("inference_integration", "inference_integrate"),
           ("inference_integration.inference_integrate", "inference_integrate"),
           ("task_update_decision", "task_update_decision"),
           ("task_update_decision.task_update_decision_finetune", "task_update_decision")]},
    **{f"sedna.algorithms.{path}": "sedna_lib.algorithms.lifelong.unseen" for path in [
        "unseen_task_detect.unseen_task_detect", "unseen_task_detection",
        "unseen_task_detection.unseen_sample_recognition",
        "unseen_task_detection.unseen_sample_recognition.unseen_sample_recognition",
        "unseen_task_detection.unseen_sample_re_recognition",
        "unseen_task_detection.unseen_sample_re_recognition.unseen_sample_re_recognition",
        "unseen_task_processing.unseen_task_allocation",
        "unseen_task_processing.unseen_task_allocation.unseen_task_allocation"]},
    "sedna.algorithms.unseen_task_detection.unseen_sample_recognition.unseen_sample_detection":
        "sedna_lib.lifelong_learning.unseen_sample_detection",
    "sedna.algorithms.unseen_task_processing.unseen_task_processing":
        "sedna_lib.lifelong_learning.unseen_task_processing",
    "sedna.algorithms.multi_task_learning.multi_task_learning":
        "sedna_lib.lifelong_learning.multi_task_learning",
    "sedna.algorithms.multi_task_learning.task_jobs.artifact": "sedna_lib.lifelong_learning.artifact",
    "sedna.service.server.knowledgeBase.server": "sedna_lib.servers.knowledge_base",
    "sedna.service.run_kb": "sedna_lib.servers.knowledge_base",
    # -- multi-edge inference (feature section) --
    "sedna.core.multi_edge_inference": "sedna_lib.multi_edge_inference",
    "sedna.core.multi_edge_inference.components": "sedna_lib.multi_edge_inference.components",
    "sedna.core.multi_edge_inference.components.detector":
        "sedna_lib.multi_edge_inference.components.detector",
    "sedna.core.multi_edge_inference.components.feature_extraction":
        "sedna_lib.multi_edge_inference.components.feature_extraction",
    "sedna.core.multi_edge_inference.components.reid": "sedna_lib.multi_edge_inference.components.reid",
    "sedna.core.multi_edge_inference.plugins": "sedna_lib.multi_edge_inference.plugins",
    "sedna.core.multi_edge_inference.plugins.registered": "sedna_lib.multi_edge_inference.plugins.registered",
    "sedna.core.multi_edge_inference.data_classes": "sedna_lib.multi_edge_inference.data_classes",
    "sedna.core.multi_edge_inference.utils": "sedna_lib.multi_edge_inference.utils",
    "sedna.service.multi_edge_inference.server": "sedna_lib.servers.multi_edge",
    "sedna.service.multi_edge_inference.interface": "sedna_lib.transport.multi_edge",
    "sedna.datasources.kafka.kafka_manager": "sedna_lib.datasources.kafka",
    "sedna.algorithms.reid": "sedna_lib.algorithms.reid",
    "sedna.algorithms.reid.multi_img_matching": "sedna_lib.algorithms.reid.multi_img_matching",
    "sedna.algorithms.reid.close_contact_estimation": "sedna_lib.algorithms.reid.close_contact_estimation",
}


def _is_prefix(name: str) -> bool:
    prefix = name + "."
    return any(alias.startswith(prefix) for alias in ALIASES)


class _AliasLoader(importlib.abc.Loader):
    """Return the sedna_lib module itself (or an empty package for pure prefixes).

    The import system stamps the alias's spec on the module it gets; the module keeps its own
    (``__spec__`` names ``sedna_lib...``), so that its relative imports, which Python resolves from
    ``__spec__.parent``, stay inside sedna_lib.
    """

    def __init__(self, target: str | None) -> None:
        self.target = target
        self._own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.target is None:
            module = types.ModuleType(spec.name, f"Alias package {spec.name} of sedna_lib.")
            module.__path__ = []
            return module
        module = importlib.import_module(self.target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run (the target module is already imported): give the module its own spec back."""
        if self._own_spec is not None:
            module.__spec__ = self._own_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Find ``sedna.*`` names in :data:`ALIASES`."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 (importlib protocol)
        if not fullname.startswith("sedna."):
            return None
        target = ALIASES.get(fullname)
        is_package = _is_prefix(fullname)
        if target is None and not is_package:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(target), is_package=is_package)


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())

# A Sedna script got a console handler at INFO from Sedna's LOGGER; it gets the same here.
_Logger()
