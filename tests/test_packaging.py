"""setup.cfg lists every package of the tree (setuptools' find cannot see algorithms/ as sedna_lib.algorithms)."""

from __future__ import annotations

import configparser
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _declared():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return {line.strip() for line in parser["options"]["packages"].splitlines() if line.strip()}


def _on_disk():
    found = set()
    for prefix, folder in (("sedna_lib", "sedna_lib"), ("sedna_lib.algorithms", "algorithms"), ("sedna", "sedna")):
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            if prefix == "sedna_lib" and rel[:1] == ("algorithms",):
                continue
            found.add(".".join((prefix, *rel)))
    return found


def test_every_package_folder_is_listed_in_setup_cfg():
    missing = sorted(_on_disk() - _declared())

    assert not missing, f"add to setup.cfg [options] packages: {missing}"


def test_every_listed_package_exists():
    stale = sorted(_declared() - _on_disk())

    assert not stale, f"setup.cfg lists packages with no __init__.py: {stale}"


def test_algorithms_folder_is_mapped_to_sedna_lib_algorithms():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg", encoding="utf-8")

    assert "sedna_lib.algorithms = algorithms" in parser["options"]["package_dir"]
