"""Storage: local paths, S3 (through minio) and HTTP, behind one interface."""
