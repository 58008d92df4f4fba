"""F10: the cost of a secure-aggregation round against plain FedAvg of the same updates.

For each number of clients and model size, one FedAvg of random float32 updates is timed plain
(``_math.weighted_average``) and through secure aggregation (``secure_weighted_average``: X25519
agreements, Shamir shares of two secrets per client, ChaCha20 mask streams, fixed-point
encoding), interleaved, median of ``--reps``. The whole protocol runs in one process, so the time
is the sum of every client's and the server's work (a client's own share is about 1/n of it);
network transfers are not included (masked inputs are 8 bytes per parameter against 4 for
float32). A run with 10 % of the clients dropping out after sharing their keys is timed too.

    python benchmarks/f10_secagg.py               # 5 reps (~1 min)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _fl_common as fc
from _common import machine, write_results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=["10x2410", "10x100000", "10x1200000", "30x100000"],
                        help="CLIENTSxPARAMETERS")
    args = parser.parse_args(argv)
    from sedna_lib.algorithms.aggregation import _math
    from sedna_lib.secure_aggregation import secure_weighted_average

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
    payload = {"cases": out, "machine": machine("cryptography", "pycryptodomex")}
    write_results("f10_secagg", payload)
    return payload


if __name__ == "__main__":
    main()
