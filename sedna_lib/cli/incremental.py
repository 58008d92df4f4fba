"""The ``sedna-lib incremental`` command: run the local incremental-learning loop on offline data."""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from typing import Any

import numpy as np

from ..exceptions import DataError

__all__ = ["add_parser", "main", "load_data"]

_DATASETS = ("digits", "breast_cancer", "iris", "wine")


def load_data(dataset: str | None = None, data: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load features and labels: a bundled scikit-learn dataset or an ``.npz`` with arrays ``x`` and ``y``.

    Parameters
    ----------
    dataset : {'digits', 'breast_cancer', 'iris', 'wine'}, default=None
        A dataset shipped with scikit-learn (no download).
    data : str, default=None
        An ``.npz`` file (read without pickle).

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)``.

    Raises
    ------
    DataError
        If neither or an unknown source is given, or the file lacks ``x``/``y``.
    """
    if data:
        what = f"--data {data}: give an .npz file with arrays named 'x' and 'y'"
        if not os.path.isfile(data):
            raise DataError(f"{what}; there is no such file")
        try:
            loaded = np.load(data, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile):
            raise DataError(f"{what}; this file is not one (arrays are read without pickle)") from None
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{what}; this file holds a single array")
        with loaded as npz:
            if "x" not in npz or "y" not in npz:
                raise DataError(f"{what}; this one has {sorted(npz.files)}")
            return npz["x"], npz["y"]
    if dataset not in _DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; use one of {', '.join(_DATASETS)} or --data file.npz")
    from sklearn import datasets

    return getattr(datasets, f"load_{dataset}")(return_X_y=True)


def _default_estimator() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _check_miner(name: str) -> None:
    """Refuse a ``--miner`` the registry does not know, listing the names it knows (exit status 2)."""
    from ..registry import Kind, default_registry
    from . import UsageError

    if not default_registry.is_registered(Kind.HARD_EXAMPLE_MINING, name):
        known = ", ".join(default_registry.names(Kind.HARD_EXAMPLE_MINING)) or "none"
        raise UsageError("--miner", f"no hard-example miner named {name!r}; known miners: {known} (a "
                                    f"plugin's, or one the --estimator module registers, count too)")


def _progress(args: argparse.Namespace) -> bool:
    """Draw the per-round bar on a terminal only: piped, the printed summary is the command's one account."""
    isatty = getattr(sys.stderr, "isatty", None)
    return not args.no_progress and bool(isatty and isatty())


def main(args: argparse.Namespace) -> int:
    """Run the loop as the parsed arguments say and print one line per round.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``incremental`` arguments.

    Returns
    -------
    int
        0.

    Raises
    ------
    UsageError
        If ``--estimator`` cannot be loaded or ``--miner`` names no registered miner (exit status 2).
    """
    from ..config import Config
    from ..incremental_learning import IncrementalLoop
    from ..observability.logs import configure_from_config

    if not getattr(args, "verbose", 0):  # what the loop says as it runs (the rounds: the summary below)
        configure_from_config(Config.from_env(), default=True)
    if args.estimator:
        from . import load_option

        estimator = load_option("--estimator", args.estimator)
    else:
        estimator = _default_estimator()
    _check_miner(args.miner)  # after the estimator's module, which may register its own miner
    x, y = load_data(args.dataset, args.data)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    n_eval = int(len(y) * args.eval_fraction)
    eval_data = (x[:n_eval], y[:n_eval])
    initial = (x[n_eval:n_eval + args.initial], y[n_eval:n_eval + args.initial])
    stream = (x[n_eval + args.initial:], y[n_eval + args.initial:])
    loop = IncrementalLoop(estimator, miner=args.miner, upload_budget=args.budget, metric=args.metric,
                           min_delta=args.min_delta, output_dir=args.output,
                           hard_example_output=args.hard_examples, progress=_progress(args),
                           spool_dir=args.hard_example_spool)
    records = loop.run(initial, stream, eval_data, rounds=args.rounds)
    print(f"initial model: {loop.initial_metric_:.4f} {args.metric} on {n_eval} held-out samples")
    for r in records:
        print(f"round {r.round}: uploaded {r.uploaded}/{r.stream_samples} ({r.upload_fraction:.0%}), "
              f"{r.metric} {r.metric_before:.4f} -> {r.metric_candidate:.4f}, "
              f"{'deployed' if r.deployed else 'kept the serving model'}")
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
    if args.output:
        print(f"per-round records: {args.output}/rounds.json")
    pending = records[-1].hard_examples_pending if records else 0
    if pending:
        print(f"error: {pending} hard examples could not be written to {args.hard_examples}; they wait in "
              f"{loop._spool_dir()} and the next run with the same spool uploads them", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``incremental`` subcommand to the ``sedna-lib`` parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The command line's subparsers.

    Returns
    -------
    argparse.ArgumentParser
        The new subparser.
    """
    help_text = "run the incremental-learning loop locally (infer, mine, label, retrain, deploy if better)"
    from . import folder, fraction, non_negative_number, object_spec, positive_int

    p = subparsers.add_parser("incremental", help=help_text, description=help_text)
    p.set_defaults(handler=main)
    p.add_argument("--dataset", default="digits", choices=_DATASETS, help="bundled dataset (default digits)")
    p.add_argument("--data", help=".npz file with arrays x and y (instead of --dataset)")
    p.add_argument("--estimator", type=object_spec,
                   help="module:Attr or file.py:Attr of the model (default: scaled logistic regression)")
    p.add_argument("--miner", default="Margin",
                   help="registered hard-example miner (default Margin; sedna-lib algorithms --kind "
                        "hard_example_mining lists them)")
    p.add_argument("--budget", type=fraction, default=0.2,
                   help="largest upload fraction of the stream so far (default 0.2)")
    p.add_argument("--rounds", type=positive_int, default=5, help="rounds (default 5)")
    p.add_argument("--initial", type=positive_int, default=60,
                   help="labels available at the start (default 60)")
    p.add_argument("--eval-fraction", type=fraction, default=0.3,
                   help="held-out share for the deploy gate (default 0.3)")
    p.add_argument("--metric", default="accuracy", choices=("accuracy", "f1", "macro_f1"),
                   help="deploy metric")
    p.add_argument("--min-delta", type=non_negative_number, default=0.01,
                   help="improvement needed to deploy, a finite number of 0 or more (default 0.01)")
    p.add_argument("--output", type=folder, help="folder for rounds.json and the deployed models")
    p.add_argument("--hard-examples", type=folder, help="folder or s3:// URL where hard examples are saved")
    p.add_argument("--hard-example-spool", type=folder,
                   help="folder where hard examples wait until uploaded (default SEDNA_HARD_EXAMPLE_SPOOL, "
                        "else <SEDNA_WORK_DIR>/hard_examples_spool)")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed")
    p.add_argument("--json", action="store_true", help="also print the records as JSON")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (drawn on a terminal only; the rounds are printed at the end "
                        "either way)")
    return p
