"""Sedna's ``sedna.common.constant``: resource kinds, statuses and knowledge-base names (wire values)."""

from __future__ import annotations

import enum

from ..transport.lc import OwnerKind

__all__ = ["K8sResourceKind", "K8sResourceKindStatus", "KBResourceConstant"]


K8sResourceKind = OwnerKind  # one definition: the LocalController reporter's


class K8sResourceKindStatus(str, enum.Enum):
    """The ``status`` of a report."""

    COMPLETED = "completed"
    FAILED = "failed"
    RUNNING = "running"


class KBResourceConstant(enum.Enum):
    """Names and defaults of the lifelong-learning knowledge base (they appear in index files)."""

    MIN_TRAIN_SAMPLE = 10
    KB_INDEX_NAME = "index.pkl"
    TASK_EXTRACTOR_NAME = "task_attr_extractor.pkl"
    SEEN_TASK = "seen_task"
    UNSEEN_TASK = "unseen_task"
    TASK_GROUPS = "task_groups"
    EXTRACTOR = "extractor"
    EDGE_KB_DIR = "/var/lib/sedna/kb"
