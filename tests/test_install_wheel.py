"""The built wheel installs into a fresh virtual environment and works there, newest and lowest versions.

This is the install a user outside the clone makes (``pip install ./dist/sedna_lib-*.whl[server]``).
It builds the wheel without build isolation (the suite's environment has setuptools) and installs it
with uv from its cache, held to the versions of the suite's own environment, so it needs no network
once ``make venv`` has run. A second environment holds ``[server,sklearn,privacy,secagg]`` at the lowest
version each requirement of setup.cfg admits, on the oldest Python it admits where the machine has one (old
releases come from the package index: skipped without it); the demo and
``tests/integration/_floors_probe.py`` run there.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _uv() -> str | None:
    beside = pathlib.Path(sys.executable).with_name("uv")
    return str(beside) if beside.is_file() else shutil.which("uv")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the project's wheel into a temporary folder and return its path."""
    pytest.importorskip("build")
    pytest.importorskip("setuptools", reason="the wheel is built without isolation: setuptools must be installed")
    out = tmp_path_factory.mktemp("dist")
    # setuptools copies the sources into build/ and never removes what is there: a module moved or deleted
    # since the last build would still be packed.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = list(out.glob("sedna_lib-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory):
    """A new virtual environment with only ``<wheel>[server]`` and its dependencies installed."""
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make venv installs it)")
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "UV_"))}
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                   check=True, capture_output=True, text=True, timeout=120, env=env)
    python = venv / "bin" / "python"
    # the versions this environment already has (all in uv's cache): an offline resolution may otherwise
    # pick a newer release it has only seen in an index, whose wheel it never downloaded
    frozen = subprocess.run([uv, "pip", "freeze", "--python", sys.executable], capture_output=True, text=True,
                            timeout=120, env=env, check=True).stdout.splitlines()
    pins = venv.parent / "constraints.txt"
    pins.write_text("\n".join(line for line in frozen if "==" in line and not line.startswith("sedna")) + "\n")
    done = subprocess.run([uv, "pip", "install", "--quiet", "--offline", "--python", str(python),
                           "--constraint", str(pins), f"{wheel}[server]"],
                          capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0 and any(why in done.stderr.lower() for why in ("offline", "network connectivity")):
        pytest.skip(f"uv's cache lacks a dependency and the network is off: {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _run(venv: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Run outside the clone, so that nothing is imported from the source tree.
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env, cwd=venv)


def test_wheel_installs_and_imports_both_packages_from_site_packages(fresh_venv):
    code = ("import sedna_lib, sedna, sedna_lib.servers.inference, fastapi; "
            "print(sedna_lib.__version__); print(sedna_lib.__file__); print(sedna.__file__)")
    done = _run(fresh_venv, str(fresh_venv / "bin" / "python"), "-c", code)

    assert done.returncode == 0, done.stderr[-3000:]
    version, lib_file, alias_file = done.stdout.split()
    assert version
    assert "site-packages" in lib_file and "site-packages" in alias_file
    assert not lib_file.startswith(str(ROOT) + "/sedna_lib")


def test_wheel_installs_the_command_line(fresh_venv):
    done = _run(fresh_venv, str(fresh_venv / "bin" / "sedna-lib"), "--help")

    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage: sedna-lib" in done.stdout
    for command in ("aggregate", "algorithms", "demo"):
        assert command in done.stdout


# -- The lowest versions the wheel declares ------------------------------------------------------------
LOWEST_EXTRAS = ("server", "sklearn", "privacy", "secagg")


def _floors(*extras: str) -> dict[str, str]:
    """``{name: version}``: the lowest version setup.cfg admits for each requirement (base and ``extras``)."""
    import configparser
    import re

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += cfg["options.extras_require"][extra].splitlines()
    floors = {}
    for line in filter(None, (x.strip() for x in lines)):
        found = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(?:>=|==)\s*([0-9][^,;\s]*)", line)
        assert found, f"setup.cfg requirement {line!r} names no lowest version (>= or ==)"
        floors[found.group(1).lower().replace("_", "-")] = found.group(3)
    return floors


def _oldest_python(version: str) -> str:
    """An interpreter of Python ``version`` on this machine (PATH, then pyenv's), else the running one."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(pathlib.Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    for python in filter(None, candidates):
        try:  # a pyenv shim whose version is not selected exits non-zero
            ran = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if ran.returncode == 0 and ran.stdout.strip() == str(tuple(int(x) for x in version.split("."))):
            return str(python)
    return sys.executable


@pytest.fixture(scope="module")
def lowest_venv(wheel, tmp_path_factory):
    """A new virtual environment with the wheel and :data:`LOWEST_EXTRAS` at each requirement's lowest version.

    Each ``>=`` floor of setup.cfg becomes an ``==`` constraint (what the dependencies of those need
    resolves as usual). The interpreter is the lowest Python ``python_requires`` admits where this
    machine has one (:func:`_oldest_python`; the running one otherwise). Old releases are seldom in
    uv's cache: this needs the package index, and skips without it.
    """
    import configparser

    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make venv installs it)")
    venv = tmp_path_factory.mktemp("lowest-venv") / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "UV_"))}
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    oldest = cfg["options"]["python_requires"].strip().removeprefix(">=")
    subprocess.run([uv, "venv", "--quiet", "--python", _oldest_python(oldest), str(venv)],
                   check=True, capture_output=True, text=True, timeout=120, env=env)
    pins = venv.parent / "floors.txt"
    pins.write_text("".join(f"{name}=={version}\n" for name, version in _floors(*LOWEST_EXTRAS).items()))
    done = subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                           "--constraint", str(pins), f"{wheel}[{','.join(LOWEST_EXTRAS)}]"],
                          capture_output=True, text=True, timeout=600, env=env)
    unreachable = ("network connectivity", "failed to fetch", "dns error", "offline", "connect error")
    if done.returncode != 0 and any(why in done.stderr.lower() for why in unreachable):
        pytest.skip(f"the package index is out of reach: {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_the_lowest_declared_versions_are_the_ones_installed(lowest_venv):
    from packaging.version import Version

    frozen = subprocess.run([_uv(), "pip", "freeze", "--python", str(lowest_venv / "bin" / "python")],
                            capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    installed = dict(line.lower().split("==", 1) for line in frozen if "==" in line)

    for name, version in _floors(*LOWEST_EXTRAS).items():
        assert name in installed and Version(installed[name]) == Version(version), \
            f"{name}: {installed.get(name)} installed, {version} declared"


@pytest.mark.integration
def test_the_demo_runs_on_the_lowest_declared_versions(lowest_venv, tmp_path):
    # the demo's every section: HTTP and websocket servers and clients, the knowledge base, scikit-learn
    done = _run(lowest_venv, str(lowest_venv / "bin" / "python"), "-m", "sedna_lib.demo", "--workdir", str(tmp_path))

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Demo finished" in done.stdout


@pytest.mark.integration
def test_servers_refuse_bad_input_and_aggregate_exactly_on_the_lowest_declared_versions(lowest_venv):
    # older starlette lets a malformed form's parse error through; older uvicorn serves websockets itself
    probe = ROOT / "tests" / "integration" / "_floors_probe.py"
    done = _run(lowest_venv, str(lowest_venv / "bin" / "python"), str(probe))

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.count("ok ") == 4, done.stdout
