"""The documentation site builds strictly, its generated pages are current, and the API reference is complete."""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Pages with a generated block, and the docs/ script that generates it.
GENERATED = {"configuration.md": "_gen_config_table", "algorithms.md": "_gen_algorithms",
             "observability.md": "_gen_metrics_table"}


@pytest.fixture
def docs_script(monkeypatch):
    """Import a ``docs/_*.py`` script by module name (docs/ is put on ``sys.path`` for the test)."""
    monkeypatch.syspath_prepend(str(DOCS))

    def load(name: str):
        sys.modules.pop(name, None)
        return importlib.import_module(name)

    return load


@pytest.mark.parametrize(("page", "script"), sorted(GENERATED.items()))
def test_committed_generated_page_matches_its_generator(page, script, docs_script):
    gen = docs_script(script)
    text = (DOCS / page).read_text(encoding="utf-8")

    assert gen.updated(text) == text, f"docs/{page} is stale: run python docs/{script}.py"


def test_splice_without_markers_raises_value_error(docs_script):
    generated = docs_script("_generated")

    with pytest.raises(ValueError, match="markers"):
        generated.splice("no markers here", "<!-- BEGIN -->", "<!-- END -->", "block")


def test_algorithm_registry_page_lists_every_registered_name(docs_script):
    from sedna_lib.registry import Kind, Registry

    listing = docs_script("_gen_algorithms").render()

    registry = Registry()
    missing = [(kind.value, name) for kind in Kind for name in registry.names(kind)
               if f"### `{name}`" not in listing]
    assert not missing


def _public_modules() -> set[str]:
    found = set()
    for base, package in ((ROOT / "sedna_lib", "sedna_lib"), (ROOT / "algorithms", "sedna_lib.algorithms")):
        for path in base.rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            if any(p.startswith("_") for p in parts[:-1]) or (parts[-1].startswith("_") and parts[-1] != "__init__"):
                continue
            if parts[0] == "demo" or (package == "sedna_lib.algorithms" and parts[-1] != "__init__"):
                continue  # the demo is a script; algorithm modules are documented through their package
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found.add(".".join((package, *parts)))
    return found


def test_api_reference_documents_every_public_module():
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M))

    assert _public_modules() - documented - {"sedna_lib"} == set()


@pytest.mark.slow
def test_site_builds_in_strict_mode(built_site):
    site, problems = built_site

    assert problems is None, problems
    assert (site / "api" / "config" / "index.html").is_file()


def test_getting_started_first_script_runs_and_prints_what_the_page_shows(tmp_path):
    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "getting-started.md").read_text()
    code, shown = re.search(r"## A first script.*?```python\n(.*?)```\s*```text\n(.*?)```", page, re.S).groups()
    script = tmp_path / "first.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == shown.strip()
