"""The container images and Sedna manifests refer to files, extras, objects and variables that exist."""

from __future__ import annotations

import configparser
import importlib.util
import json
import pathlib
import re
import shlex
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BASE_DOCKERFILE = ROOT / "docker" / "Dockerfile"
EXAMPLE_FOLDERS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and list(p.rglob("*.py")))
DOCKERFILES = [BASE_DOCKERFILE] + [folder / "Dockerfile" for folder in EXAMPLE_FOLDERS
                                   if (folder / "Dockerfile").exists()]
MANIFESTS = sorted(EXAMPLES.glob("*/manifests/*.yaml"))

# -- a small Dockerfile parser ------------------------------------------------------------------


def parse_dockerfile(path: pathlib.Path) -> list[tuple[str, str]]:
    """Return ``(INSTRUCTION, arguments)`` pairs; comments dropped, continuation lines joined."""
    instructions, pending = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, f"{path}: the last instruction ends with a continuation"
    return instructions


def copy_sources(args: str) -> list[str] | None:
    """The sources of a COPY/ADD (None for ``--from=`` copies, which read another stage)."""
    words = shlex.split(args)
    if any(w.startswith("--from=") for w in words):
        return None
    words = [w for w in words if not w.startswith("--")]
    if words and words[0].startswith("["):
        words = json.loads(args[args.index("["):])
    return words[:-1]


def image_files(dockerfile: pathlib.Path) -> dict[str, pathlib.Path]:
    """Map each file an example image copies (its path under the working directory) to its source."""
    files = {}
    for keyword, args in parse_dockerfile(dockerfile):
        sources = copy_sources(args) if keyword == "COPY" else None
        if not sources:
            continue
        dest = shlex.split(args)[-1]
        for source in sources:
            name = pathlib.PurePath(source).name
            target = name if dest in (".", "./") else (dest + name if dest.endswith("/") else dest)
            files[str(pathlib.PurePosixPath(target))] = dockerfile.parent / source
    return files


def build_context(dockerfile: pathlib.Path) -> pathlib.Path:
    """The base image builds from the repository root; an example image from its own folder."""
    return ROOT if dockerfile == BASE_DOCKERFILE else dockerfile.parent


def setup_extras() -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    return set(parser["options.extras_require"])


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split the instructions into build stages (the ARGs before the first FROM form stage 0's preamble)."""
    result = [[]]
    for instruction in instructions:
        if instruction[0] == "FROM" and any(i[0] == "FROM" for i in result[-1]):
            result.append([])
        result[-1].append(instruction)
    return result


def _id(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))


# -- Dockerfiles ----------------------------------------------------------------------------------

def test_every_example_folder_has_a_dockerfile():
    missing = [_id(f) for f in EXAMPLE_FOLDERS if not (f / "Dockerfile").exists()]

    assert not missing


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_id)
def test_every_copy_source_exists_in_the_build_context(dockerfile):
    context = build_context(dockerfile)

    sources = [s for kw, args in parse_dockerfile(dockerfile) if kw in ("COPY", "ADD")
               for s in (copy_sources(args) or [])]

    assert sources
    assert [s for s in sources if not (context / s).exists()] == []


def test_the_base_image_context_lets_every_copied_path_through_dockerignore():
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}

    copied = {s.rstrip("/") for kw, args in parse_dockerfile(BASE_DOCKERFILE) if kw == "COPY"
              for s in (copy_sources(args) or [])}

    assert copied <= allowed
    assert ".venv" not in allowed


def test_the_base_image_is_a_slim_cpu_python_with_known_extras_and_a_non_root_user():
    instructions = parse_dockerfile(BASE_DOCKERFILE)
    args = dict(a.partition("=")[::2] for kw, a in instructions if kw == "ARG" and "=" in a)
    runtime = stages(instructions)[-1]

    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert set(args["EXTRAS"].split(",")) <= setup_extras()
    assert {"torch", "tensorflow", "server"} <= setup_extras()  # the documented build arguments
    assert "download.pytorch.org/whl/cpu" in args["TORCH_INDEX_URL"]
    user = [a for kw, a in runtime if kw == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    # the runtime stage installs nothing: the environment is copied from the build stage
    installs = re.compile(r"pip install|apt-get install|apk add")
    assert not [a for kw, a in runtime if kw == "RUN" and installs.search(a)]
    assert any(kw == "COPY" and "--from=build" in a for kw, a in runtime)


@pytest.mark.parametrize("dockerfile", DOCKERFILES[1:], ids=_id)
def test_an_example_image_builds_on_the_base_and_runs_one_of_its_scripts(dockerfile):
    instructions = parse_dockerfile(dockerfile)
    copied = image_files(dockerfile)
    labels = " ".join(a for kw, a in instructions if kw == "LABEL")
    extras = re.search(r'io\.sedna-lib\.extras="([^"]*)"', labels)
    [cmd] = [json.loads(a) for kw, a in instructions if kw == "CMD"]

    assert instructions[0][0] == "ARG" and instructions[0][1].startswith("BASE=sedna-lib:")
    assert ("FROM", "${BASE}") in instructions
    assert extras and set(filter(None, extras.group(1).split(","))) <= setup_extras()
    assert cmd[0] == "python" and cmd[1] in copied
    copied_sources = set(copied.values())
    for source in copied_sources:  # each script's own helper modules are copied beside it
        for module in re.findall(r"^(?:from|import) (\w+)", source.read_text(encoding="utf-8"), re.M):
            helper = source.parent / f"{module}.py"
            assert not helper.exists() or helper in copied_sources, f"{source.name} imports {module}"


# -- manifests ------------------------------------------------------------------------------------

TEMPLATE = ("template", "spec", "containers")
REQUIRED = {
    "Model": [("spec", "url"), ("spec", "format")],
    "Dataset": [("spec", "url"), ("spec", "format"), ("spec", "nodeName")],
    "JointInferenceService": [("spec", "edgeWorker", "model", "name"),
                              ("spec", "edgeWorker", "hardExampleMining", "name"),
                              ("spec", "edgeWorker", *TEMPLATE), ("spec", "cloudWorker", "model", "name"),
                              ("spec", "cloudWorker", *TEMPLATE)],
    "FederatedLearningJob": [("spec", "aggregationWorker", "model", "name"),
                             ("spec", "aggregationWorker", *TEMPLATE),
                             ("spec", "trainingWorkers")],
    "IncrementalLearningJob": [("spec", "initialModel", "name"), ("spec", "dataset", "name"),
                               ("spec", "trainSpec", *TEMPLATE), ("spec", "trainSpec", "trigger"),
                               ("spec", "evalSpec", *TEMPLATE), ("spec", "deploySpec", "model", "name"),
                               ("spec", "deploySpec", "model", "hotUpdateEnabled"),
                               ("spec", "deploySpec", "model", "pollPeriodSeconds"),
                               ("spec", "deploySpec", "trigger"),
                               ("spec", "deploySpec", "hardExampleMining", "name"),
                               ("spec", "deploySpec", *TEMPLATE), ("spec", "outputDir")],
    "LifelongLearningJob": [("spec", "dataset", "name"), ("spec", "trainSpec", *TEMPLATE),
                            ("spec", "trainSpec", "trigger"), ("spec", "evalSpec", *TEMPLATE),
                            ("spec", "deploySpec", *TEMPLATE), ("spec", "outputDir")],
}


def _documents(folder: pathlib.Path) -> list[dict]:
    return [doc for path in sorted((folder / "manifests").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _walk(node, key):
    """Every value stored under ``key`` anywhere in ``node``."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)


def _jobs(folder):
    return [d for d in _documents(folder) if d["kind"] not in ("Model", "Dataset")]


def _containers(doc):
    return [c for containers in _walk(doc["spec"], "containers") for c in containers]


def _worker_containers(doc):
    """``(worker kind, container)`` for each container of a job, by the part of the spec that holds it."""
    kinds = {(k.crd, k.role): name for name, k in _contract().GM_ENVIRONMENT.items()}
    for role, part in doc["spec"].items():
        for container in _containers({"spec": part}) if isinstance(part, (dict, list)) else []:
            yield kinds[(doc["kind"], role)], container


MANIFEST_FOLDERS = sorted({p.parent.parent for p in MANIFESTS})


@pytest.mark.parametrize("path", MANIFESTS, ids=_id)
def test_a_manifest_holds_sedna_objects_with_the_fields_of_their_kind(path):
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]

    assert documents
    for doc in documents:
        assert doc["apiVersion"] == "sedna.io/v1alpha1"
        assert doc["kind"] in REQUIRED, doc["kind"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        for field in REQUIRED[doc["kind"]]:
            assert _get(doc, field) not in (None, "", []), f"{doc['kind']} {doc['metadata']['name']}: {field}"


@pytest.mark.parametrize("folder", MANIFEST_FOLDERS, ids=_id)
def test_jobs_reference_models_and_datasets_defined_beside_them(folder):
    documents = _documents(folder)
    defined = {(d["kind"], d["metadata"]["name"]) for d in documents}

    for job in _jobs(folder):
        for key, kind in (("model", "Model"), ("initialModel", "Model"), ("dataset", "Dataset")):
            for ref in _walk(job["spec"], key):
                assert (kind, ref["name"]) in defined, f"{job['metadata']['name']} refers to a missing {kind}"


@pytest.mark.parametrize("folder", MANIFEST_FOLDERS, ids=_id)
def test_containers_run_scripts_of_the_example_image(folder):
    copied = image_files(folder / "Dockerfile")
    image = "sedna-lib-example-" + folder.name.replace("_", "-") + ":"

    containers = [c for job in _jobs(folder) for c in _containers(job)]

    assert containers
    for container in containers:
        assert container["image"].startswith(image)
        command = container["command"]
        assert command[0] == "python" and command[1] in copied


def _read_names() -> set[str]:
    """Quoted names in the examples and the library: what a script or sedna_lib may look up."""
    from sedna_lib.config import describe

    names = {alias for spec in describe() for alias in (spec.variable, *spec.aliases)}
    for path in [*EXAMPLES.rglob("*.py"), *(ROOT / "sedna_lib").rglob("*.py")]:
        names |= set(re.findall(r"""["']([A-Za-z_][A-Za-z0-9_]*)["']""", path.read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize("folder", MANIFEST_FOLDERS, ids=_id)
def test_container_env_names_are_read_by_the_example_or_the_library(folder):
    read = _read_names()
    table = _contract().GM_ENVIRONMENT

    env = [(kind, e["name"]) for job in _jobs(folder) for kind, c in _worker_containers(job)
           for e in c.get("env", [])]

    assert env
    assert [n for _, n in env if n not in read and n.lower() not in read and n.upper() not in read] == []
    # the control plane sets those for that worker: the manifest must not
    assert [(k, n) for k, n in env if n.upper() in {e.variable for e in table[k].variables}] == []


@pytest.mark.parametrize("folder", MANIFEST_FOLDERS, ids=_id)
def test_hard_example_mining_names_a_registered_miner_with_string_parameters(folder):
    from sedna_lib.registry import Kind, default_registry

    for hem in (h for job in _jobs(folder) for h in _walk(job["spec"], "hardExampleMining")):
        assert hem["name"] in default_registry.names(Kind.HARD_EXAMPLE_MINING)
        for parameter in hem.get("parameters", []):
            assert set(parameter) == {"key", "value"} and isinstance(parameter["value"], str)


# -- docs/deployment.md carries the generated variable table ---------------------------------------

def _load(name: str, path: pathlib.Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _contract():
    return _load("_control_plane_contract", ROOT / "tests" / "integration" / "test_control_plane_contract.py")


def test_docs_deployment_table_is_current():
    generator = _load("_gen_deployment_table", ROOT / "docs" / "_gen_deployment_table.py")
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")

    assert generator.updated(text) == text, "run python docs/_gen_deployment_table.py"
