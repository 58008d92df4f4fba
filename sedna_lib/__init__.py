"""sedna_lib: edge-cloud collaborative AI for the training and inference scripts you already have.

Importing this package imports no ML framework; feature modules load on first attribute access.
"""

from __future__ import annotations

from ._lazy import lazy_attributes
from ._version import __version__
from .config import Config
from .context import Context
from .exceptions import (
    AggregationError,
    BackendError,
    BackendUnavailableError,
    ConfigError,
    DataError,
    DuplicateRegistrationError,
    IntegrityError,
    NotFittedError,
    NotRegisteredError,
    ParameterError,
    PluginLoadError,
    ProtocolError,
    RegistryError,
    RemoteError,
    SednaError,
    SednaWarning,
    StorageError,
    StorageNotFoundError,
    StoragePermissionError,
    TransportError,
    TransportTimeout,
)
from .registry import Kind, Registry, register

# No handler, not even a NullHandler: with nothing configured, WARNING and above reach stderr
# through logging.lastResort as the standard library intends; INFO lines need configure_logging().

# Feature modules and top-level functions, imported on first use (PEP 562) so that
# `import sedna_lib` stays light: name -> "module" or "module:attribute".
_LAZY = {
    "context": "sedna_lib.context",
    "registry": "sedna_lib.registry",
    "backends": "sedna_lib.backends",
    "storage": "sedna_lib.storage",
    "datasources": "sedna_lib.datasources",
    "joint_inference": "sedna_lib.joint_inference",
    "collaborative_training": "sedna_lib.collaborative_training",
    "federated_learning": "sedna_lib.federated_learning",
    "incremental_learning": "sedna_lib.incremental_learning",
    "lifelong_learning": "sedna_lib.lifelong_learning",
    "multi_edge_inference": "sedna_lib.multi_edge_inference",
    "pipeline": "sedna_lib.pipeline",
    "losses": "sedna_lib.losses",
    "metrics": "sedna_lib.metrics",
    "optimizers": "sedna_lib.optimizers",
    "testing": "sedna_lib.testing",
    "algorithms": "sedna_lib.algorithms",
    "set_backend": "sedna_lib.backends:set_backend",
    "load_model": "sedna_lib.joint_inference:load_model",
    "save_model": "sedna_lib.models:save_model",
    "load_train_dataset": "sedna_lib.datasources:load_train_dataset",
    "load_eval_dataset": "sedna_lib.datasources:load_eval_dataset",
}

__all__ = [
    "__version__",
    "Config",
    "Context",
    "Kind",
    "Registry",
    "register",
    "AggregationError",
    "BackendError",
    "BackendUnavailableError",
    "ConfigError",
    "DataError",
    "DuplicateRegistrationError",
    "IntegrityError",
    "NotFittedError",
    "NotRegisteredError",
    "ParameterError",
    "PluginLoadError",
    "ProtocolError",
    "RegistryError",
    "RemoteError",
    "SednaError",
    "SednaWarning",
    "StorageError",
    "StorageNotFoundError",
    "StoragePermissionError",
    "TransportError",
    "TransportTimeout",
    *_LAZY,
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
