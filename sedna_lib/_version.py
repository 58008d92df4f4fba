"""The version of sedna_lib."""

__version__ = "0.1.0"
