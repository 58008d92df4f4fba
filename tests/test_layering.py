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
              "starlette", "pandas", "kafka", "cv2", "transformers", "numba"}
TOP_LEVEL_FRAMEWORK_ALLOWED: dict[str, set[str]] = {
    "sedna_lib.backends.torch": {"torch"},
    "sedna_lib.backends.tensorflow": {"tensorflow", "keras"},
    "sedna_lib.backends.sklearn": {"sklearn"},
    # the compiled loops' own module, imported only by _kernels.compiled() when numba is installed
    "sedna_lib.algorithms.aggregation._compiled": {"numba"},
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
# Presets that are transport adapters rather than algorithms (Sedna's S3 transmitter is built from credentials
# alone, so it builds its own storage), inside the function that needs it.
ADAPTERS_MAY_IMPORT = {"sedna_lib.algorithms.transmitter.transmitters": ("sedna_lib.config", "sedna_lib.storage")}


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
    # importlib.import_module("sedna_lib.x") is an import too, wherever it appears
    for call in ast.walk(tree):
        if (isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
                and getattr(call.func, "attr", getattr(call.func, "id", None)) == "import_module"
                and call.args[0].value.split(".")[0] in ("sedna_lib", "sedna")):
            yield call.args[0].value, False, call.lineno


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
            allowed = ALGORITHMS_MAY_IMPORT + ADAPTERS_MAY_IMPORT.get(name, ())
            if module.startswith("sedna_lib") and not module.startswith(allowed):
                problems.append(f"{where}: algorithms use only sedna_lib.base and sedna_lib.exceptions")
            if top and not (module.startswith(ALGORITHMS_MAY_IMPORT) or _root(module) in sys.stdlib_module_names
                            or _root(module) in TOP_LEVEL_FRAMEWORK_ALLOWED.get(name, ())):
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


# -- the floors of the house ---------------------------------------------------------------------

ROOT_MODULE_LIMIT = 18
FEATURES = ("sedna_lib.joint_inference", "sedna_lib.federated_learning", "sedna_lib.incremental_learning",
            "sedna_lib.lifelong_learning", "sedna_lib.multi_edge_inference", "sedna_lib.llm", "sedna_lib.pipeline")
# A feature that is an extension of another one may import it (language-model routing runs on the
# joint-inference edge); any other pair shares its pieces through a lower floor.
EXTENDS = {"sedna_lib.llm": {"sedna_lib.joint_inference"}}
# Where a process starts: these may read the environment into a Context and import any floor.
ENTRY_POINTS = ("sedna_lib.config", "sedna_lib.context", "sedna_lib.cli", "sedna_lib.demo", "sedna_lib.compat",
                "sedna")
# Modules below the Sedna face that still import it, and what of it they use. This list only shrinks: a module
# that stops importing compat must leave it (the test says so), and no other module may join it.
COMPAT_BELOW_THE_FACE: dict[str, str] = {}


def _within(module, prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _feature(module):
    return next((f for f in FEATURES if _within(module, (f,))), None)


def test_the_root_of_the_package_holds_at_most_18_modules():
    modules = sorted(p.name for p in (ROOT / "sedna_lib").glob("*.py"))

    assert len(modules) <= ROOT_MODULE_LIMIT, (f"{len(modules)} modules at the root of sedna_lib/ "
                                               f"(at most {ROOT_MODULE_LIMIT}): {modules}; "
                                               f"put feature code in its package")


def test_import_module_strings_count_as_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import importlib\n\ndef f():\n    return importlib.import_module('sedna_lib.compat.config')\n")

    assert ("sedna_lib.compat.config", False, 4) in list(_imports("sedna_lib.probe", probe, False))


def test_the_sedna_face_is_the_top_floor():
    """Nothing below compat/ imports it (sedna/ and the entry points sit above it)."""
    importers = {}
    for name, path, is_package in MODULES:
        if not name.startswith("sedna_lib") or name == "sedna_lib" or _within(name, ENTRY_POINTS):
            continue
        used = [f"{path.relative_to(ROOT)}:{line} imports {module}" for module, _, line in
                _imports(name, path, is_package) if _within(module, ("sedna_lib.compat",))]
        if used:
            importers[name] = used
    joined = {name: used for name, used in importers.items() if name not in COMPAT_BELOW_THE_FACE}
    left = sorted(set(COMPAT_BELOW_THE_FACE) - set(importers))

    assert not joined, f"these import the Sedna face from below it; move the shared piece down a floor: {joined}"
    assert not left, f"{left} no longer import compat: remove them from COMPAT_BELOW_THE_FACE"


def test_features_import_no_other_feature():
    problems = []
    for name, path, is_package in MODULES:
        feature = _feature(name)
        if feature is None:
            continue
        for module, _, line in _imports(name, path, is_package):
            other = _feature(module)
            if other and other != feature and other not in EXTENDS.get(feature, ()):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")

    assert not problems, "a feature imports another feature; share the piece through a lower floor:\n" + \
        "\n".join(problems)


def _from_env_calls(path):
    """Yield the lines that call ``from_env()`` (``Config.from_env``, ``Context.from_env``, any alias)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "from_env":
            yield node.lineno


def test_the_environment_is_read_into_a_context_at_the_entry_points_only():
    below = [path for name, path, _ in MODULES
             if name.startswith("sedna_lib") and not _within(name, ENTRY_POINTS)]
    calls = [f"{path.relative_to(ROOT)}:{line}" for path in below for line in _from_env_calls(path)]

    assert not calls, (f"from_env() below the entry points: {calls}; a public function or constructor "
                       f"takes context=None and calls sedna_lib.context.resolve(context) once, code below "
                       f"takes the context it is given")


def test_from_env_calls_are_found(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..config import Config as C\n\n"
                     "def build(context=None):\n    return context or C.from_env()\n")

    assert list(_from_env_calls(probe)) == [4]


# Modules that call context.resolve()/resolve_config() below a public entry (in a private helper or method, or
# on something other than the caller's own argument), with how often. Counts only go down.
RESOLVE_BELOW_THE_ENTRY = {"sedna_lib.servers.aggregation": 1}


def _resolve_calls_below_the_entry(path):
    """Yield (line, function) for each resolve()/resolve_config() not on a public function's own argument."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.asname or alias.name for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "context"
             for alias in node.names if alias.name in ("resolve", "resolve_config")}

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call) and getattr(child.func, "id", None) in names:
                params = set()
                if func is not None:
                    params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
                public = func is not None and (func.name == "__init__" or not func.name.startswith("_"))
                arg = child.args[0] if child.args else None
                if not (public and isinstance(arg, ast.Name) and arg.id in params):
                    yield child.lineno, func.name if func is not None else "<module>"
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            yield from visit(child, inner)

    yield from visit(tree, None)


def test_a_context_is_resolved_where_a_users_call_enters_only():
    found = {}
    for name, path, _ in MODULES:
        if name.startswith("sedna_lib") and not _within(name, ENTRY_POINTS):
            calls = list(_resolve_calls_below_the_entry(path))
            if calls:
                found[name] = calls
    grown = {name: calls for name, calls in found.items()
             if len(calls) > RESOLVE_BELOW_THE_ENTRY.get(name, 0)}
    shrunk = {name: len(found.get(name, ())) for name, n in RESOLVE_BELOW_THE_ENTRY.items()
              if len(found.get(name, ())) < n}

    assert not grown, (f"resolve() below a public entry (module: [(line, function)]): {grown}; resolve "
                       f"the caller's context=None once in the public function or constructor, pass it down")
    assert not shrunk, (f"fewer resolve() calls below the entry than recorded: "
                        f"lower RESOLVE_BELOW_THE_ENTRY to {shrunk}")


def test_resolving_in_a_helper_or_on_an_attribute_is_found(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..context import resolve as _r, resolve_config\n\n"
                     "def build(context=None):\n    return _r(context)\n\n"
                     "def _helper(context):\n    return _r(context)\n\n"
                     "class Piece:\n    def start(self, config=None):\n"
                     "        return resolve_config(self.config)\n")

    assert list(_resolve_calls_below_the_entry(probe)) == [(7, "_helper"), (11, "start")]


def _env_writes(path):
    """Yield the lines that change the process environment (assignment, deletion, mutators, putenv)."""
    mutators = {"update", "setdefault", "pop", "popitem", "clear", "putenv", "unsetenv"}

    def is_environ(node):
        return isinstance(node, ast.Attribute) and node.attr in {"environ", "environb"}

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else (
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
            yield node.lineno
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                (node.func.attr in mutators and is_environ(node.func.value))
                or (node.func.attr in {"putenv", "unsetenv"}
                    and getattr(node.func.value, "id", None) == "os")):
            yield node.lineno


def test_nothing_in_the_library_writes_the_environment():
    writers = [f"{path.relative_to(ROOT)}:{line}" for _, path, _ in MODULES for line in _env_writes(path)]

    assert not writers, f"the library changes os.environ (pass a Config or Context instead): {writers}"


def test_environment_writes_are_found(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nos.environ['A'] = '1'\ndel os.environ['A']\nos.environ.update(B='2')\n"
                     "os.putenv('C', '3')\nos.environ.get('D')\n")

    assert sorted(_env_writes(probe)) == [2, 3, 4, 5]


_READERS = {"from_env", "resolve", "resolve_config", "current", "get_parameter", "get_parameters",
            "get_model_path"}


def _import_time_reads(path):
    """Yield (line, call) for configuration reads that run when the module is imported (outside functions)."""
    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                # the body runs when called; decorators and default values run at import
                evaluated = [*getattr(child, "decorator_list", []), *child.args.defaults,
                             *(d for d in child.args.kw_defaults if d is not None)]
                for part in evaluated:
                    yield from visit(ast.Expression(part))
                continue
            if isinstance(child, ast.Call):
                func = child.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called in _READERS:
                    yield child.lineno, called
            yield from visit(child)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")))


def test_no_module_reads_its_configuration_when_imported():
    """A module-level ``Config.from_env()`` would freeze one process-wide configuration at import."""
    reads = [f"{path.relative_to(ROOT)}:{line} {called}()" for _, path, _ in MODULES
             for line, called in _import_time_reads(path)]

    assert not reads, f"configuration read at import time; read it when the entry point is called: {reads}"


def test_import_time_reads_are_found(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..config import Config\nfrom ..context import resolve\n\n"
                     "DEFAULTS = Config.from_env()\n\nclass Piece:\n    context = resolve(None)\n\n"
                     "    def build(self, context=None):\n        return resolve(context)\n\n"
                     "def run(config=resolve_config(None)):\n    return config\n")

    assert list(_import_time_reads(probe)) == [(4, "from_env"), (7, "resolve"), (12, "resolve_config")]
