"""Flower side of the federated benchmarks: a private venv with ``flwr`` and a JSON-returning runner.

The venv lives in ``benchmarks/.venv-flwr`` (ignored by git) and is created on first use with
``python -m venv`` and pip; flwr is never installed into the project's own environment. The
benchmark scripts call :func:`run_flower` with a job name and arguments; the job runs in that
venv as a subprocess (``python benchmarks/_flower_jobs.py <job> <json-args>``) and prints one
JSON line, which is returned as a dict.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import venv

HERE = pathlib.Path(__file__).resolve().parent
VENV = HERE / ".venv-flwr"
PACKAGES = ["flwr[simulation]==1.42.0", "numpy==2.4.6"]  # the version the figures on record were measured with


def python() -> pathlib.Path:
    """Return the venv's interpreter path (it may not exist yet)."""
    return VENV / "bin" / "python"


def _installed() -> bool:
    if not python().exists():
        return False
    probe = subprocess.run([str(python()), "-c", "import flwr, ray, numpy"], capture_output=True)
    return probe.returncode == 0


def ensure_venv(verbose: bool = True) -> pathlib.Path:
    """Create the Flower venv if needed and return its interpreter.

    Raises
    ------
    RuntimeError
        If pip cannot install flwr here (the message carries pip's output tail).
    """
    if _installed():
        return python()
    if verbose:
        print(f"creating {VENV} with {' '.join(PACKAGES)} (a few minutes, once) ...", flush=True)
    if not python().exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    proc = subprocess.run([str(python()), "-m", "pip", "install", "-q", *PACKAGES],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not _installed():
        raise RuntimeError(f"could not install flwr into {VENV}:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return python()


def versions() -> dict:
    """Return the versions of flwr, ray, grpcio and numpy in the Flower venv."""
    code = ("import json; from importlib import metadata as m\n"
            "print(json.dumps({p: m.version(p) for p in ('flwr', 'ray', 'grpcio', 'numpy')}))")
    out = subprocess.run([str(ensure_venv(False)), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_flower(job: str, timeout: float = 900.0, **kwargs) -> dict:
    """Run ``job`` of ``_flower_jobs.py`` in the Flower venv and return its JSON result.

    Parameters
    ----------
    job : str
        A function name in ``_flower_jobs.py``.
    timeout : float, default=900
        Seconds before the subprocess is killed.
    **kwargs
        JSON-able arguments of the job.

    Raises
    ------
    RuntimeError
        If the job fails (its stderr tail is in the message).
    """
    py = ensure_venv()
    env = dict(os.environ, PYTHONPATH=str(HERE), RAY_DEDUP_LOGS="0", GRPC_VERBOSITY="ERROR",
               RAY_ENABLE_UV_RUN_RUNTIME_ENV="0")
    proc = subprocess.run([str(py), str(HERE / "_flower_jobs.py"), job, json.dumps(kwargs)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=str(HERE))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{\"flower_result\"")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"Flower job {job} failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])["flower_result"]


if __name__ == "__main__":
    ensure_venv()
    print(json.dumps(versions()))
    sys.exit(0)
