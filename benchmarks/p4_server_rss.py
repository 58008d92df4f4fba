"""P4: the aggregation server's peak memory while 10 trainers upload at once.

An ``AggregationServer`` (FedAvg, binary chunked frames) runs in a process of its own on
127.0.0.1; 10 trainer processes each upload a 9.6 MB model (2,400,000 float32) every round at
the same moment, and wait for the round's model. The server process samples its own ``VmRSS``
every 5 ms; with ``--traced`` it also runs ``tracemalloc`` and reports the peak of the memory
Python allocated (numpy's arrays included) and its largest allocation sites at that peak.

Reported: the server's RSS before the first trainer connects (baseline), its peak, the peak
over the baseline, and that excess in model copies (excess / 9.6 MB). Ten uploads in flight need
ten reassembly buffers, so about 10 copies is the floor of a server that receives them all at
once; the running sum, the new model and its encoded frames add about 3-4 more.

    python benchmarks/p4_server_rss.py                  # 10 trainers, 3 rounds (~30 s)
    python benchmarks/p4_server_rss.py --trainers 20 --rounds 5 --traced
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import time

from _common import machine, write_results

HERE = pathlib.Path(__file__).resolve().parent
PARAMS = 2_400_000
MODEL_MB = PARAMS * 4 / 2 ** 20

SERVER = r'''
import sys, threading, time
traced = sys.argv[3] == "1"
if traced:
    import tracemalloc
    tracemalloc.start(8)
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.servers.aggregation import AggregationServer

def rss():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:")) / 1024

n, rounds = int(sys.argv[1]), int(sys.argv[2])
base = rss()
server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=rounds, participants_count=n,
                           done_grace=1, context=Context(Config())).start(block=False)
print(server.url, flush=True)
peak, snap, top = 0.0, None, 0
def watch():
    global peak, snap, top
    while True:
        peak = max(peak, rss())
        if traced:
            now = tracemalloc.get_traced_memory()[0]
            if now > top + 4e6:
                top, snap = now, tracemalloc.take_snapshot()
        time.sleep(0.005)
threading.Thread(target=watch, daemon=True).start()
server.wait(600)
server.stop()
print(f"RESULT baseline={base:.1f} peak={peak:.1f}", flush=True)
if traced:
    print(f"TRACED peak={tracemalloc.get_traced_memory()[1] / 2**20:.1f}", flush=True)
    for stat in snap.statistics("lineno")[:6]:
        print(f"SITE {stat.size / 2**20:.1f} MB {stat.traceback[0].filename}:{stat.traceback[0].lineno}")
'''

TRAINER = r'''
import sys
import numpy as np
from sedna_lib.transport.ws import AggregationClient
url, cid, rounds, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
weights = [np.full(params, 1.0 + len(cid), dtype=np.float32)]
with AggregationClient(url, cid, connect_timeout=60, recv_timeout=300) as client:
    for r in range(1, rounds + 1):
        client.send_update(weights, 10, round_number=r)
        client.recv_weights()
'''


def run(trainers: int, rounds: int, traced: bool) -> dict:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(trainers), str(rounds),
                               "1" if traced else "0"], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", TRAINER, url, f"t{i}", str(rounds), str(PARAMS)])
             for i in range(trainers)]
    for p in procs:
        p.wait(timeout=600)
    out = server.communicate(timeout=120)[0]
    seconds = time.perf_counter() - started
    line = next(text for text in out.splitlines() if text.startswith("RESULT"))
    result = dict(kv.split("=") for kv in line.split()[1:])
    base, peak = float(result["baseline"]), float(result["peak"])
    row = {"trainers": trainers, "rounds": rounds, "model_mb": round(MODEL_MB, 2), "baseline_mb": base,
           "peak_mb": peak, "excess_mb": round(peak - base, 1),
           "excess_model_copies": round((peak - base) / MODEL_MB, 1), "seconds": round(seconds, 2)}
    if traced:
        row["traced_peak_mb"] = float(next(line for line in out.splitlines()
                                           if line.startswith("TRACED")).split("=")[1])
        row["traced_sites"] = [line[5:] for line in out.splitlines() if line.startswith("SITE")]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--traced", action="store_true", help="also run tracemalloc in the server")
    args = parser.parse_args()
    rows = []
    for rep in range(args.repeats):
        row = run(args.trainers, args.rounds, args.traced)
        rows.append(row)
        print(f"rep {rep + 1}: server RSS {row['baseline_mb']:.0f} MB -> peak {row['peak_mb']:.0f} MB "
              f"(+{row['excess_mb']:.0f} MB, {row['excess_model_copies']:.1f} model copies), "
              f"{row['seconds']:.1f} s"
              + (f", traced peak {row['traced_peak_mb']:.0f} MB" if args.traced else ""))
    write_results("p4_server_rss", {"machine": machine("numpy"), "rows": rows})


if __name__ == "__main__":
    main()
