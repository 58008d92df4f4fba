"""The library passes flake8 (line length, numpy docstrings), so `tox -e lint` and `make lint` stay green."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_library_is_flake8_clean():
    pytest.importorskip("flake8")
    pytest.importorskip("flake8_docstrings")
    done = subprocess.run([sys.executable, "-m", "flake8", "sedna_lib", "algorithms", "sedna"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
