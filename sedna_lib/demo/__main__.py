"""Run the demo: ``python -m sedna_lib.demo [--workdir DIR] [--only SECTION ...]``."""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import tempfile
import time

# The sections, in the order they run: module name under sedna_lib.demo, and its title.
SECTIONS = [
    ("_foundation", "Foundation: a model trained through a backend and stored through the storage layer"),
    ("_joint_inference", "Joint inference: an edge model offloads hard digits to a big model served on "
                         "127.0.0.1"),
    ("_federated_learning", "Federated learning: an aggregation server and three trainers on 127.0.0.1"),
    ("_incremental_learning", "Incremental learning: hard examples become a better model, hot-swapped"),
    ("_lifelong_learning", "Lifelong learning: origins arrive one by one; the knowledge base grows and "
                           "spots an unseen one"),
]
# The names ``--only`` takes.
SECTION_NAMES = [name.lstrip("_") for name, _ in SECTIONS]
# The last line of the demo: where to go from here.
NEXT = "Next: read docs/getting-started.md, \"A first script\": one of these jobs as a script of your own."


def main(argv: list[str] | None = None) -> int:
    """Run every demo section (or those named with ``--only``); a failing section stops the demo."""
    parser = argparse.ArgumentParser(prog="python -m sedna_lib.demo", description=__doc__)
    parser.add_argument("--workdir", type=pathlib.Path, default=None,
                        help="folder for the demo's files (default: a temporary folder)")
    parser.add_argument("--only", nargs="+", default=None, choices=SECTION_NAMES, metavar="SECTION",
                        help=f"run only these sections, of: {', '.join(SECTION_NAMES)}")
    args = parser.parse_args(argv)
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="sedna-lib-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for name, title in SECTIONS:
        if args.only and name.lstrip("_") not in args.only:
            continue
        print(f"\n== {title}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"sedna_lib.demo.{name}")
        section_dir = workdir / name.lstrip("_")
        section_dir.mkdir(parents=True, exist_ok=True)
        module.run(section_dir)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    print(f"\nDemo finished; files are in {workdir}")
    print(NEXT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
