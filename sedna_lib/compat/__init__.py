"""Sedna-flavoured faces of sedna_lib (BaseConfig, ClassFactory, FileOps, ...), aliased as ``sedna.*``."""
