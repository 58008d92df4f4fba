"""Architecture rules, checked on the source: who reads the environment, who imports what, import cost."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = {"sedna_lib": ROOT / "sedna_lib", "sedna_lib.algorithms": ROOT / "algorithms", "sedna": ROOT / "sedna"}

# Heavy or optional third-party packages: imported lazily (inside functions), except at top level of
# the adapter modules listed here, which exist to wrap them.
FRAMEWORKS = {"torch", "tensorflow", "keras", "sklearn", "minio", "websockets", "fastapi", "uvicorn",
              "starlette", "pandas", "kafka", "cv2", "transformers"}
TOP_LEVEL_FRAMEWORK_ALLOWED: dict[str, set[str]] = {
    "sedna_lib.backends.torch": {"torch"},
    "sedna_lib.backends.tensorflow": {"tensorflow", "keras"},
    "sedna_lib.backends.sklearn": {"sklearn"},
    "sedna_lib.storage.s3": {"minio"},
}

# Layers of the core (lower imports nothing above it at module level); every other module is a
# feature-level module (layer 6).
LAYERS = {
    "sedna_lib.exceptions": 0, "sedna_lib._version": 0, "sedna_lib._lazy": 0, "sedna_lib._json": 0,
    "sedna_lib.config": 1,
    "sedna_lib.registry": 2, "sedna_lib.base": 2,
    "sedna_lib.context": 3,
    "sedna_lib.storage": 4, "sedna_lib.backends": 4, "sedna_lib.transport": 4, "sedna_lib.observability": 4,
    "sedna_lib.servers": 5,
}
ENV_READERS = {"sedna_lib.config"}
ALGORITHMS_MAY_IMPORT = ("sedna_lib.base", "sedna_lib.exceptions", "sedna_lib.algorithms", "numpy")


def _modules():
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            if package == "sedna_lib" and parts[:1] == ["algorithms"]:
                continue
            yield name, path, path.name == "__init__.py"


MODULES = list(_modules())


def _imports(name, path, is_package):
    """Yield (imported module, is_top_level, line) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if is_package else name.rpartition(".")[0]

    def absolute(node):
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        module = node.module or ""
        if node.level:
            module = f"{base}.{module}" if module else base
            return [f"{module}.{a.name}" if not node.module else module for a in node.names]
        return [module]

    def visit(nodes, top):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(node.body, False)
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for module in absolute(node):
                    yield module, top, node.lineno
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    yield from visit(children, top)

    yield from visit(tree.body, True)


def _layer(module):
    best = None
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            best = layer
    return 6 if best is None else best


def _root(module):
    return module.split(".")[0]


@pytest.mark.parametrize("name, path, is_package", MODULES, ids=[m[0] for m in MODULES])
def test_module_follows_the_layering_rules(name, path, is_package):
    problems = []
    for module, top, line in _imports(name, path, is_package):
        where = f"{path.relative_to(ROOT)}:{line} imports {module}"
        if name.startswith("sedna_lib") and (module == "sedna" or module.startswith("sedna.")):
            problems.append(f"{where}: sedna_lib must not import the sedna alias package")
        if top and _root(module) in FRAMEWORKS and _root(module) not in TOP_LEVEL_FRAMEWORK_ALLOWED.get(name, ()):
            problems.append(f"{where} at module level: import it inside the function that needs it")
        if name.startswith("sedna_lib.algorithms"):
            if module.startswith("sedna_lib") and not module.startswith(ALGORITHMS_MAY_IMPORT):
                problems.append(f"{where}: algorithms use only sedna_lib.base and sedna_lib.exceptions")
            if top and not (module.startswith(ALGORITHMS_MAY_IMPORT) or _root(module) in sys.stdlib_module_names):
                problems.append(f"{where} at module level: algorithms import numpy and the standard library; "
                                f"import frameworks inside functions")
        elif (top and name.startswith("sedna_lib") and module.startswith("sedna_lib")
              and name not in ("sedna_lib",) and _layer(module) > _layer(name)):
            problems.append(f"{where}: layer {_layer(name)} module imports a layer {_layer(module)} module "
                            f"at module level (imports point down)")
    assert not problems, "\n".join(problems)


def _env_uses(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
                and node.attr in {"environ", "environb", "getenv", "putenv", "unsetenv"}):
            yield node.lineno
        if isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                a.name in {"environ", "environb", "getenv", "putenv", "unsetenv"} for a in node.names):
            yield node.lineno


def test_only_the_config_module_reads_the_environment():
    offenders = [f"{path.relative_to(ROOT)}:{line}" for name, path, _ in MODULES if name not in ENV_READERS
                 for line in _env_uses(path)]

    assert not offenders, f"os.environ/getenv outside sedna_lib/config.py: {offenders}"


_IMPORT_PROBE = """
import sys, time, json
start = time.perf_counter()
import sedna_lib
elapsed = time.perf_counter() - start
heavy = sorted(m for m in {frameworks} if m in sys.modules)
print(json.dumps({{"elapsed": elapsed, "heavy": heavy}}))
"""


def test_import_sedna_lib_is_light_and_imports_no_framework():
    code = _IMPORT_PROBE.format(frameworks=sorted(FRAMEWORKS | {"requests", "yaml"}))
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True, cwd=ROOT).stdout) for _ in range(3)]

    assert runs[0]["heavy"] == [], f"import sedna_lib imported {runs[0]['heavy']}"
    assert min(r["elapsed"] for r in runs) < 0.3, f"import sedna_lib took {[r['elapsed'] for r in runs]} s"
