"""Storage: local paths, S3 (through minio) and HTTP, behind one interface."""

from __future__ import annotations

from ._archive import is_archive, make_tar, safe_extract
from .base import Storage, split_scheme
from .http import HTTPStorage
from .local import LocalStorage, atomic_path, strip_file_scheme
from .router import StorageRouter
from .s3 import S3Storage, parse_endpoint

__all__ = [
    "Storage",
    "LocalStorage",
    "S3Storage",
    "HTTPStorage",
    "StorageRouter",
    "split_scheme",
    "strip_file_scheme",
    "atomic_path",
    "parse_endpoint",
    "safe_extract",
    "make_tar",
    "is_archive",
]
