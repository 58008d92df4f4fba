"""The demo runs with only the extras ``make demo`` installs: every other extra's packages unimportable.

``make demo`` installs ``sedna_lib[<its extras>]`` into ``.venv-demo`` (see the Makefile); the test reads those
extras there, and makes every package that only the other extras bring (PyTorch, TensorFlow, transformers,
Ray, ...) refuse to import while the whole demo runs.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import pathlib
import re
import subprocess
import sys

import pytest

from sedna_lib.demo.__main__ import NEXT

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """The distributions ``names`` pull in, themselves included (installed ones only, extras left out)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def demo_extras() -> list[str]:
    """The extras the Makefile's demo environment installs."""
    found = re.search(r"^\$\(DEMO_VENV\)/\.installed:.*?-e '\.\[([\w,]+)\]'", (ROOT / "Makefile").read_text(),
                      re.M | re.S)
    assert found, "the Makefile's demo environment installs -e '.[extras]'"
    return found.group(1).split(",")


def blocked_modules() -> list[str]:
    """Top-level modules of the distributions that only the extras outside the demo's bring."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    extras = {k: [_name(r) for r in v.splitlines() if r.strip() and not r.strip().startswith("%")]
              for k, v in cfg["options.extras_require"].items()}
    base = [_name(r) for r in cfg["options"]["install_requires"].splitlines() if r.strip()]
    allowed = _closure(set(base) | {d for e in demo_extras() for d in extras[e]})
    others = {d for e, dists in extras.items() if e not in demo_extras() for d in dists} - allowed
    modules = {"torch", "tensorflow", "keras"}
    for module, dists in importlib.metadata.packages_distributions().items():
        if any(_name(d) in others for d in dists) and not any(_name(d) in allowed for d in dists):
            modules.add(module)
    return sorted(m for m in modules if m.isidentifier())


def test_demo_extras_leave_out_the_frameworks_and_dev_tools():
    assert not {"all", "dev", "torch", "tensorflow", "llm", "ray"} & set(demo_extras())
    assert {"torch", "tensorflow", "keras"} <= set(blocked_modules())


@pytest.mark.integration
@pytest.mark.slow
def test_whole_demo_runs_with_only_the_demo_extras(tmp_path):
    code = f"""import sys
BLOCKED = set({blocked_modules()!r})
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)
sys.meta_path.insert(0, _NotInstalled())
from sedna_lib.demo.__main__ import main
sys.exit(main(['--workdir', {str(tmp_path)!r}]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.count("\n== ") == 5
    assert "test accuracy" in done.stdout and "Demo finished" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1] == NEXT  # where to go next, as the README shows
