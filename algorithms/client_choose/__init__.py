"""Client selection for federated rounds."""

from .simple import SimpleClientChoose

__all__ = ["SimpleClientChoose"]
