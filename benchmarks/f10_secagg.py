"""F10: the cost of a secure-aggregation round against plain FedAvg of the same updates.

For each number of clients and model size, one FedAvg of random float32 updates is timed plain
(``_math.weighted_average``) and through secure aggregation (``secure_weighted_average``: X25519
agreements, Shamir shares of two secrets per client, ChaCha20 mask streams, fixed-point
encoding), interleaved, median of ``--reps``. The whole protocol runs in one process, so the time
is the sum of every client's and the server's work (a client's own share is about 1/n of it);
network transfers are not included (masked inputs are 8 bytes per parameter against 4 for
float32). A run with 10 % of the clients dropping out after sharing their keys is timed too.

The server rows time one whole round on the aggregation server over real websockets (127.0.0.1),
plain (``update_weight``) and with ``secure_aggregation=True`` (the four steps as websocket
messages): the clients are threads of this process, connected before the clock starts; the time
runs from the moment they start uploading until the last one holds the new global model.

    python benchmarks/f10_secagg.py               # 5 reps (~1 min)
    python benchmarks/f10_secagg.py --server-cases 10x2410 --reps 3
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results


def server_round(n: int, p: int, secure: bool, seed: int = 0) -> float:
    """Return the seconds one round takes on a real aggregation server with ``n`` trainer threads."""
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.federated_learning.client import secure_round
    from sedna_lib.servers.aggregation import AggregationServer
    from sedna_lib.transport.ws import AggregationClient

    rng = np.random.default_rng(seed)
    updates = [[rng.normal(size=p).astype(np.float32)] for _ in range(n)]
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=1, participants_count=n,
                               done_grace=5, secure_aggregation=secure, context=Context(Config()))
    server.start(block=False)
    clients = [AggregationClient(server.url, f"c{i:03d}", connect_timeout=30, recv_timeout=120).connect()
               for i in range(n)]
    start, ends = threading.Barrier(n + 1), [0.0] * n

    def member(i: int) -> None:
        client = clients[i]
        start.wait()
        if secure:
            secure_round(client, updates[i], 10 + i, 1, client.initial_.config["secure_aggregation"])
        else:
            client.send_update(updates[i], 10 + i, round_number=1)
            client.recv_weights()
        ends[i] = time.perf_counter()

    threads = [threading.Thread(target=member, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join(300)
    for c in clients:
        c.close()
    server.stop()
    return max(ends) - began


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=["10x2410", "10x100000", "10x1200000", "30x100000"],
                        help="CLIENTSxPARAMETERS")
    parser.add_argument("--server-cases", nargs="*", default=["10x2410", "10x100000"],
                        help="CLIENTSxPARAMETERS timed on the aggregation server over websockets")
    args = parser.parse_args(argv)
    from sedna_lib.algorithms.aggregation import _math
    from sedna_lib.federated_learning.secure_aggregation import secure_weighted_average

    rows, out = [], {}
    for case in args.cases:
        n, p = (int(v) for v in case.split("x"))
        rng = np.random.default_rng(0)
        updates = [(f"c{i}", [rng.normal(size=p).astype(np.float32)], int(rng.integers(10, 100))) for i in range(n)]
        dropouts = [f"c{i}" for i in range(max(1, n // 10))]
        plain_t, secure_t, drop_t = [], [], []
        for _ in range(args.reps):
            t = time.perf_counter()
            plain = _math.weighted_average([(w, k) for _, w, k in updates])
            plain_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            secure, _ = secure_weighted_average(updates)
            secure_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            secure_weighted_average(updates, dropouts=dropouts)
            drop_t.append(time.perf_counter() - t)
        err = float(np.max(np.abs(secure[0] - plain[0])))
        entry = {"clients": n, "parameters": p, "plain_s": fc.median(plain_t), "secure_s": fc.median(secure_t),
                 "secure_with_dropouts_s": fc.median(drop_t), "dropouts": len(dropouts),
                 "max_abs_difference": err}
        entry["ratio"] = entry["secure_s"] / entry["plain_s"]
        entry["secure_per_client_s"] = entry["secure_s"] / n
        out[case] = entry
        rows.append([n, f"{p:,}", f"{entry['plain_s'] * 1e3:.2f} ms", f"{entry['secure_s'] * 1e3:.1f} ms",
                     f"{entry['ratio']:.0f}x", f"{entry['secure_per_client_s'] * 1e3:.1f} ms",
                     f"{entry['secure_with_dropouts_s'] * 1e3:.1f} ms ({len(dropouts)})", f"{err:.1e}"])
        print(f"{case} done", flush=True)
    print(f"\nF10: one FedAvg round, plain vs secure aggregation (whole protocol in one process), median of "
          f"{args.reps} reps")
    print(fc.table(["clients", "parameters", "plain FedAvg", "secure round", "secure / plain",
                    "secure per client", "with dropouts (n)", "max |secure - plain|"], rows))
    server_rows, server_out = [], {}
    for case in args.server_cases:
        n, p = (int(v) for v in case.split("x"))
        plain_t, secure_t = [], []
        for r in range(args.reps):
            plain_t.append(server_round(n, p, False, seed=r))
            secure_t.append(server_round(n, p, True, seed=r))
        entry = {"clients": n, "parameters": p, "plain_round_s": fc.median(plain_t),
                 "secure_round_s": fc.median(secure_t)}
        entry["ratio"] = entry["secure_round_s"] / entry["plain_round_s"]
        server_out[case] = entry
        server_rows.append([n, f"{p:,}", f"{entry['plain_round_s'] * 1e3:.1f} ms",
                            f"{entry['secure_round_s'] * 1e3:.1f} ms", f"{entry['ratio']:.1f}x"])
        print(f"server {case} done", flush=True)
    if server_rows:
        print(f"\nF10 server: one round on the aggregation server over websockets, median of "
              f"{args.reps} reps")
        print(fc.table(["clients", "parameters", "plain round", "secure round", "secure / plain"],
                       server_rows))
    payload = {"cases": out, "server_cases": server_out,
               "machine": machine("cryptography", "pycryptodomex")}
    write_results("f10_secagg", payload)
    return payload


if __name__ == "__main__":
    main()
