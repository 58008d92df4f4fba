"""S1: does one large request hold up a server? /healthz latency and server memory while it is served.

A big-model server runs in its own process (a model that answers the input's length). A client
process sends one large body, as JSON and as the binary codec, while another client polls
``/healthz`` every 10 ms; each case is repeated and interleaved with a quiet baseline (no large
request). Reported: /healthz p50 / p99 / max latency during the request, the request's own time,
and the server's peak RSS (VmHWM) growth for the case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(__file__))
from _common import machine, write_results  # noqa: E402

SERVER = r"""
import sys, time
import numpy as np
from sedna_lib.servers.inference import InferenceServer

class Length:
    def predict(self, data):
        return [int(np.asarray(data).size)]

server = InferenceServer(Length(), "big", http_port=0, max_buffer_size=256 * 1024 * 1024).start(block=False)
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""


def _hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm(pid: int) -> None:
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
    except OSError:
        pass  # not permitted: the growth then includes earlier cases


def _bodies(mib: float) -> dict[str, tuple[bytes, str]]:
    from sedna_lib.transport import codec

    n = int(mib * 1024 * 1024 / 8)
    values = np.random.default_rng(0).random(n)
    as_json = json.dumps({"data": values.round(6).tolist()}).encode()
    as_codec = codec.encode([values], {})
    return {"json": (as_json, "application/json"), "codec": (as_codec, codec.MEDIA_TYPE)}


def _one(url: str, pid: int, body: bytes | None, ctype: str) -> dict:
    session = requests.Session()
    session.get(url + "/healthz", timeout=30)
    _reset_hwm(pid)
    base = _hwm(pid)
    done = threading.Event()
    took = {}

    def post() -> None:
        start = time.perf_counter()
        if body is None:
            time.sleep(1.0)
            took["status"] = 0
        else:
            reply = requests.post(url + "/big/predict", data=body, headers={"Content-Type": ctype},
                                  timeout=300)
            took["status"] = reply.status_code
        took["seconds"] = time.perf_counter() - start
        done.set()

    worker = threading.Thread(target=post)
    worker.start()
    latencies = []
    while not done.is_set():
        start = time.perf_counter()
        session.get(url + "/healthz", timeout=60)
        latencies.append(time.perf_counter() - start)
        time.sleep(0.01)
    worker.join()
    latencies.sort()
    return {"status": took["status"], "request_s": took["seconds"], "healthz_n": len(latencies),
            "healthz_p50_ms": 1000 * statistics.median(latencies),
            "healthz_p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "healthz_max_ms": 1000 * latencies[-1], "rss_growth_mib": (_hwm(pid) - base) / 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=60.0, help="size of the array sent (MiB of float64)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)

    bodies = _bodies(args.mib)
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        url = f"http://127.0.0.1:{proc.stdout.readline().strip()}"
        rows: dict[str, list[dict]] = {"quiet": [], "json": [], "codec": []}
        for _ in range(args.reps):
            rows["quiet"].append(_one(url, proc.pid, None, ""))
            for name, (body, ctype) in bodies.items():
                rows[name].append(_one(url, proc.pid, body, ctype))
    finally:
        proc.stdin.close()
        proc.wait(30)

    print("| case | body MiB | request s | /healthz p50 ms | p99 ms | max ms | server RSS growth MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    summary = {}
    for name, runs in rows.items():
        size = 0.0 if name == "quiet" else len(bodies[name][0]) / 2**20
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "status"}
        summary[name] = {"body_mib": size, **med, "statuses": [r["status"] for r in runs]}
        print(f"| {name} | {size:.1f} | {med['request_s']:.2f} | {med['healthz_p50_ms']:.1f} | "
              f"{med['healthz_p99_ms']:.1f} | {med['healthz_max_ms']:.1f} | {med['rss_growth_mib']:.0f} |")
    write_results("s1_large_request", {"machine": machine("fastapi", "uvicorn"), "args": vars(args),
                                       "summary": summary, "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
