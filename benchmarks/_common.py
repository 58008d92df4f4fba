"""Helpers shared by the benchmark scripts: the machine description and the results file."""

from __future__ import annotations

import json
import os
import pathlib
import platform
from importlib import metadata

RESULTS = pathlib.Path(__file__).parent / "results"


def machine(*packages: str) -> dict:
    """Describe the machine a benchmark ran on: cores, CPU model, Python and package versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass  # not Linux: keep platform's answer
    versions = {}
    for name in ("numpy", *packages):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "packages": versions}


def write_results(name: str, payload: dict) -> pathlib.Path:
    """Write ``benchmarks/results/<name>.json`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"\nwrote {path}")
    return path
