"""F6: dropouts: 2 of 10 client processes are SIGKILLed when round 10 starts; the job must go on.

1 ``AggregationServer`` (FedAvg, ``participants_count=10``, ``round_timeout`` = the deadline,
``min_clients=8``) + 10 trainer processes (the F3 client, MLP 64-32-10, IID digits) on
127.0.0.1. Clients 8 and 9 kill themselves (SIGKILL, no goodbye) at the start of round 10.
Compared with the same job without failures. Bars: every round completes, each within the
deadline (plus scheduling slack); final accuracy within 1 pt of the no-failure run.

    python benchmarks/f6_dropouts.py                 # 20 rounds, 2 s deadline, 1 run each (about 1 minute)
    python benchmarks/f6_dropouts.py --rounds 30 --deadline 1 --reps 3
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results
from f3_transport import ONE_THREAD

HERE = pathlib.Path(__file__).resolve().parent


def run_job(npz: str, rounds: int, n_clients: int, deadline: float, kill: list[int], die_at: int) -> dict:
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=rounds,
                               participants_count=n_clients, min_clients=n_clients - len(kill),
                               round_timeout=deadline, done_grace=10, context=Context(Config()))
    server.start(block=False)
    started = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(HERE), **ONE_THREAD)
    procs = []
    for c in range(n_clients):
        cmd = [sys.executable, str(HERE / "f3_transport.py"), "--role", "client", "--url", server.url, "--cid", str(c),
               "--data", npz, "--hidden", "32", "--clients", str(n_clients)]
        if c in kill:
            cmd += ["--die-at", str(die_at)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
    try:
        for p in procs:
            p.wait(timeout=rounds * (deadline + 5) + 120)
        finished = server.wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        server.stop()
    total = time.perf_counter() - started
    _, _, xte, yte = fc.load_data(npz)
    return {"finished": finished, "rounds_done": server.round_, "total_seconds": total,
            "accuracy": fc.accuracy(server.global_weights_, xte, yte),
            "history": [{"round": r.round_number, "clients": len(r.clients), "seconds": r.seconds,
                         "reason": r.reason} for r in server.history_],
            "returncodes": [p.returncode for p in procs]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--deadline", type=float, default=2.0, help="round_timeout in seconds")
    parser.add_argument("--die-at", type=int, default=10)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args(argv)
    npz = fc.save_data(tempfile.mkstemp(suffix=".npz")[1])
    runs = {"no_failure": [], "two_killed": []}
    for rep in range(args.reps):
        runs["no_failure"].append(run_job(npz, args.rounds, 10, args.deadline, [], args.die_at))
        runs["two_killed"].append(run_job(npz, args.rounds, 10, args.deadline, [8, 9], args.die_at))
        print(f"rep {rep + 1}/{args.reps} done", flush=True)
    rows = []
    slack = 0.5
    for name, rs in runs.items():
        r = rs[-1]
        after = [h for h in r["history"] if h["round"] >= args.die_at]
        before = [h for h in r["history"] if h["round"] < args.die_at]
        worst_after = max((h["seconds"] for h in after), default=0.0)
        rows.append([name, f"{r['rounds_done']}/{args.rounds}", f"{fc.median(h['seconds'] for h in before):.3f} s",
                     f"{fc.median(h['seconds'] for h in after):.3f} s" if after else "-", f"{worst_after:.3f} s",
                     ", ".join(sorted({h['reason'] for h in after})) or "-",
                     f"{np.mean([x['accuracy'] for x in rs]):.4f}", f"{r['total_seconds']:.1f} s"])
    acc_ok = np.mean([x["accuracy"] for x in runs["no_failure"]])
    acc_ko = np.mean([x["accuracy"] for x in runs["two_killed"]])
    worst = max(h["seconds"] for r in runs["two_killed"] for h in r["history"])
    all_done = all(r["rounds_done"] == args.rounds and r["finished"] for rs in runs.values() for r in rs)
    summary = {"all_rounds_completed": bool(all_done), "worst_round_seconds_with_kills": worst,
               "deadline": args.deadline, "within_deadline": bool(worst <= args.deadline + slack),
               "accuracy_no_failure": float(acc_ok), "accuracy_two_killed": float(acc_ko),
               "accuracy_diff_pt": float(100 * (acc_ok - acc_ko)), "within_1pt": bool(abs(acc_ok - acc_ko) <= 0.01)}
    print(f"\nF6: 10 clients, {args.rounds} rounds, clients 8 and 9 SIGKILLed at round {args.die_at}, "
          f"deadline {args.deadline:g} s, min_clients 8")
    print(fc.table(["run", "rounds done", f"round time r<{args.die_at}", f"round time r>={args.die_at}",
                    "worst round after", "how rounds closed after", "final accuracy", "job wall"], rows))
    print(f"\nall rounds completed: {all_done}; worst round {worst:.2f} s vs deadline {args.deadline:g} s "
          f"(+{slack} s slack): {summary['within_deadline']}; accuracy drop {summary['accuracy_diff_pt']:.2f} pt "
          f"(bar 1 pt): {summary['within_1pt']}")
    payload = {"rounds": args.rounds, "die_at": args.die_at, "runs": runs, "summary": summary, "machine": machine()}
    write_results("f6_dropouts", payload)
    return payload


if __name__ == "__main__":
    main()
