"""P1: import footprint: ``import sedna_lib`` and each feature module, time and peak RSS, in fresh processes.

Every case runs in a fresh interpreter (``sys.executable``, started from a temporary folder so the
installed package is what gets imported). The child times its own import with
``time.perf_counter`` and reports its peak RSS (``VmHWM`` from ``/proc/self/status``) and which
heavy packages ended up in ``sys.modules``; the parent times the whole process (start, import,
exit). Cases are interleaved, repetition by repetition, with two anchors: a bare interpreter
(``pass``) and ``import numpy``. The child reports with builtins only (no ``json``), so it
imports nothing beyond the statement under test.

The backend cases import a framework and build a tiny model untimed, then time
``set_backend(model)`` and check which other framework got imported: ``set_backend`` on a torch
module must not import TensorFlow, on a Keras model must not import torch, on a scikit-learn
estimator neither.

    python benchmarks/p1_import_footprint.py                 # 7 reps, set_backend cases 2 (1-2 minutes)
    python benchmarks/p1_import_footprint.py --reps 15 --no-backends
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import machine, write_results

#: Packages whose presence in ``sys.modules`` is reported (the first eight are the bar's list).
HEAVY = ("torch", "tensorflow", "sklearn", "pandas", "fastapi", "uvicorn", "websockets", "minio",
         "keras", "scipy", "starlette", "requests", "yaml")

#: (name, untimed setup, timed statement). Imports first, then the sedna alias.
IMPORT_CASES = [
    ("python -c pass (anchor)", "", "pass"),
    ("import numpy (anchor)", "", "import numpy"),
    ("import sedna_lib", "", "import sedna_lib"),
    ("sedna_lib.joint_inference", "", "import sedna_lib.joint_inference"),
    ("sedna_lib.collaborative_training", "", "import sedna_lib.collaborative_training"),
    ("sedna_lib.federated_learning", "", "import sedna_lib.federated_learning"),
    ("sedna_lib.incremental_learning", "", "import sedna_lib.incremental_learning"),
    ("sedna_lib.lifelong_learning", "", "import sedna_lib.lifelong_learning"),
    ("sedna_lib.multi_edge_inference", "", "import sedna_lib.multi_edge_inference"),
    ("sedna_lib.pipeline", "", "import sedna_lib.pipeline"),
    ("import sedna (alias)", "", "import sedna"),
    ("sedna.core.joint_inference", "", "from sedna.core.joint_inference import JointInference"),
    ("sedna.core.federated_learning", "", "from sedna.core.federated_learning import FederatedLearning"),
]

_SET = "import sedna_lib\nfrom sedna_lib.backends import set_backend\n"
BACKEND_CASES = [
    ("set_backend(torch.nn.Linear)",
     _SET + "import torch\nmodel = torch.nn.Linear(4, 2)", "backend = set_backend(model)"),
    ("set_backend(keras.Sequential)",
     _SET + "import keras\nmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])",
     "backend = set_backend(model)"),
    ("set_backend(LogisticRegression())",
     _SET + "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression()",
     "backend = set_backend(model)"),
    ("set_backend(plain estimator class)",
     _SET + "class Estimator:\n    def train(self, train_data): ...\nmodel = Estimator",
     "backend = set_backend(model)"),
]

_CHILD = """\
import sys, time
{setup}
_before = set(m for m in {heavy!r} if m in sys.modules)
_t0 = time.perf_counter()
{stmt}
_t1 = time.perf_counter()
with open('/proc/self/status') as _fh:
    _st = _fh.read()
print(repr({{'import_s': _t1 - _t0, 'hwm_kb': int(_st.split('VmHWM:')[1].split()[0]),
            'rss_kb': int(_st.split('VmRSS:')[1].split()[0]),
            'heavy': sorted(m for m in {heavy!r} if m in sys.modules), 'n_modules': len(sys.modules),
            'heavy_by_stmt': sorted(m for m in {heavy!r} if m in sys.modules and m not in _before),
            'backend': type(globals().get('backend')).__name__ if 'backend' in globals() else None}}))
"""


def run_case(setup: str, stmt: str, cwd: str) -> dict:
    """One fresh interpreter: the child's measurements plus the parent's wall time of the process."""
    code = _CHILD.format(setup=setup, stmt=stmt, heavy=HEAVY)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"case failed ({stmt!r}):\n{proc.stderr[-2000:]}")
    out = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def import_breakdown(cwd: str, top: int = 8) -> list[tuple[str, float]]:
    """Largest cumulative import times (ms) inside ``import sedna_lib``, from ``-X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sedna_lib"], capture_output=True,
                          text=True, cwd=cwd, check=True)
    rows, seen = [], False
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, self_us, cumulative, name = (p.strip() for p in line.replace("import time:", "|").split("|"))
        if not self_us.isdigit():
            continue
        # the site / editable-finder imports happen at interpreter start, before the statement
        if name.strip() == "site":
            seen = True
            continue
        if seen:
            rows.append((name, int(cumulative) / 1e3))
    return sorted(rows, key=lambda r: -r[1])[:top]


def summarise(name: str, runs: list[dict], base: dict, numpy_import: float) -> dict:
    """Medians of one case and its ratios to the anchors."""
    med = {k: statistics.median(r[k] for r in runs) for k in ("import_s", "wall_s", "hwm_kb", "rss_kb")}
    heavy = sorted(set().union(*(r["heavy"] for r in runs)))
    by_stmt = sorted(set().union(*(r["heavy_by_stmt"] for r in runs)))
    return {"case": name, "runs": len(runs), "import_s": med["import_s"], "wall_s": med["wall_s"],
            "wall_over_baseline_s": med["wall_s"] - base["wall_s"],
            "import_vs_numpy": med["import_s"] / numpy_import if numpy_import else None,
            "peak_rss_mb": med["hwm_kb"] / 1024,
            "peak_rss_over_baseline_mb": (med["hwm_kb"] - base["hwm_kb"]) / 1024,
            "heavy_imported": heavy, "heavy_imported_by_timed_statement": by_stmt,
            "n_modules": runs[0]["n_modules"], "backend": runs[0]["backend"],
            "import_s_all": [r["import_s"] for r in runs]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions of each import case (>= 7)")
    parser.add_argument("--backend-reps", type=int, default=2, help="repetitions of each set_backend case")
    parser.add_argument("--no-backends", action="store_true", help="skip the set_backend cases")
    args = parser.parse_args(argv)

    cases = IMPORT_CASES + ([] if args.no_backends else BACKEND_CASES)
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in cases}
    env_note = {k: os.environ.get(k) for k in ("PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS")}
    with tempfile.TemporaryDirectory() as cwd:
        for name, setup, stmt in IMPORT_CASES:  # warm the byte-code and page caches once, unrecorded
            run_case(setup, stmt, cwd)
        started = time.perf_counter()
        for rep in range(max(args.reps, args.backend_reps)):
            # rotate the order every repetition so that no case always follows the same one
            order = cases[rep % len(cases):] + cases[:rep % len(cases)]
            for name, setup, stmt in order:
                limit = args.backend_reps if (name, setup, stmt) in BACKEND_CASES else args.reps
                if rep < limit:
                    runs[name].append(run_case(setup, stmt, cwd))
            print(f"rep {rep + 1} done ({time.perf_counter() - started:.0f} s)", flush=True)
        breakdown = import_breakdown(cwd)

    base = {k: statistics.median(r[k] for r in runs[IMPORT_CASES[0][0]]) for k in ("wall_s", "hwm_kb")}
    numpy_import = statistics.median(r["import_s"] for r in runs[IMPORT_CASES[1][0]])
    rows = [summarise(name, runs[name], base, numpy_import) for name, _, _ in cases]
    by = {r["case"]: r for r in rows}

    print(f"\nP1: import footprint, fresh interpreter per run, median of {args.reps} interleaved runs "
          f"(set_backend cases: {args.backend_reps})")
    header = ["case", "import / call", "vs numpy import", "process wall", "wall - bare python", "peak RSS",
              "RSS - bare python", "heavy packages in sys.modules"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        ratio = "-" if r["case"].startswith("python -c") else f"{r['import_vs_numpy']:.2f}x"
        lines.append(f"| {r['case']} | {r['import_s'] * 1e3:.1f} ms | {ratio} | {r['wall_s'] * 1e3:.0f} ms | "
                     f"{r['wall_over_baseline_s'] * 1e3:+.0f} ms | {r['peak_rss_mb']:.1f} MB | "
                     f"{r['peak_rss_over_baseline_mb']:+.1f} MB | {', '.join(r['heavy_imported']) or '-'} |")
    print("\n".join(lines))

    core = by["import sedna_lib"]
    bar_time = core["import_s"] <= 0.3
    bar_rss = core["peak_rss_mb"] <= 60
    bar_heavy = not core["heavy_imported"]
    print(f"\nimport sedna_lib: {core['import_s'] * 1e3:.1f} ms "
          f"(bar 300 ms: {'met' if bar_time else 'NOT met'}), "
          f"peak RSS {core['peak_rss_mb']:.1f} MB (bar 60 MB: {'met' if bar_rss else 'NOT met'}), "
          f"heavy packages: {core['heavy_imported'] or 'none'}")
    checks = {}
    for name, forbidden in (("set_backend(torch.nn.Linear)", {"tensorflow", "keras"}),
                            ("set_backend(keras.Sequential)", {"torch"}),
                            ("set_backend(LogisticRegression())", {"torch", "tensorflow", "keras"}),
                            ("set_backend(plain estimator class)",
                             {"torch", "tensorflow", "keras", "sklearn"})):
        if name in by:
            leaked = sorted(forbidden & set(by[name]["heavy_imported"]))
            checks[name] = {"backend": by[name]["backend"], "leaked": leaked, "ok": not leaked}
            added = by[name]["heavy_imported_by_timed_statement"]
            holds = ", ".join(by[name]["heavy_imported"]) or "nothing heavy"
            print(f"{name} -> {by[name]['backend']}: process holds {holds}"
                  f" (set_backend itself added: {', '.join(added) or 'nothing'}); "
                  f"{'no other framework' if not leaked else 'ALSO ' + ', '.join(leaked)}")
    print("\nlargest cumulative imports inside `import sedna_lib` (one -X importtime run, ms):")
    for mod, ms in breakdown:
        print(f"  {ms:7.1f}  {mod}")

    payload = {"reps": args.reps, "backend_reps": args.backend_reps, "rows": rows,
               "bars": {"import_sedna_lib_s": core["import_s"], "import_le_0_3_s": bar_time,
                        "peak_rss_mb": core["peak_rss_mb"], "rss_le_60_mb": bar_rss,
                        "no_heavy_import": bar_heavy},
               "backend_checks": checks, "import_breakdown_ms": breakdown, "env": env_note,
               "load_average": os.getloadavg(),
               "machine": machine("torch", "tensorflow-cpu", "tensorflow", "keras", "scikit-learn")}
    write_results("p1_import_footprint", payload)
    return payload


if __name__ == "__main__":
    main()
