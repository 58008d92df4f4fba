"""Preset algorithms shipped with sedna_lib, found by the registry through entry points."""
