"""Aggregation worker (Sedna style): average the trainers' models each round, then exit.

Configured only by the control plane's variables: AGG_BIND_PORT and PARTICIPANTS_COUNT (set by
the GM), AGG_BIND_IP (all interfaces by default; 127.0.0.1 on one machine), and the example's
``aggregation_algorithm`` (FedAvg) and ``exit_round`` (3). Run: python aggregate.py
"""

from sedna.common.config import Context
from sedna.service.server import AggregationServer
from sedna_lib.cli import serve_until_stopped


def run_server():
    """Serve the rounds, then print what each one aggregated."""
    aggregation_algorithm = Context.get_parameters("aggregation_algorithm", "FedAvg")
    exit_round = int(Context.get_parameters("exit_round", 3))
    participants_count = int(Context.get_parameters("participants_count", 1))
    server = AggregationServer(aggregation=aggregation_algorithm, exit_round=exit_round,
                               ws_size=20 * 1024 * 1024, participants_count=participants_count)
    status = serve_until_stopped(server)  # until the last round, or SIGTERM (the pod's stop) / Ctrl-C
    for record in server.history_:
        print(f"round {record.round_number}: {len(record.clients)} trainers, {record.total_sample} samples "
              f"({record.reason}, {record.seconds:.2f} s)")
    print(f"{len(server.history_)} rounds aggregated")
    return status


if __name__ == "__main__":
    raise SystemExit(run_server())
