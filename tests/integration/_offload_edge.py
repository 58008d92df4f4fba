"""An edge process that sends its offload queue to the cloud and exits once the queue is empty.

Run by tests/integration/test_offload_reliability.py: ``python _offload_edge.py <cloud url> <queue folder>``.
Prints one JSON line with the job's counts and what is still pending. With a third argument ``once``
it drains once without waiting for another owner of the folder (``sent`` says how many it sent).
"""

import json
import sys
import threading

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import JointInference


class Edge:
    def predict(self, data, **kwargs):
        return [0.5, 0.5]


def main() -> None:
    url, folder = sys.argv[1], sys.argv[2]
    job = JointInference(Edge(), "CloudOnly", context=Context(Config(service_name="ji-svc")),
                         cloud=url + "/ji-svc", offload_dir=folder, report=False)
    if sys.argv[3:] == ["once"]:
        sent = job.drain_offload_queue(wait=False)
        job.close()
        print(json.dumps({**job.stats, "sent": sent, "pending": job.pending_offloads}))
        return
    pause = threading.Event()  # never set: its wait() paces the retries
    for _ in range(600):
        job.drain_offload_queue()
        if not job.pending_offloads:
            break
        pause.wait(0.05)
    job.close()
    print(json.dumps({**job.stats, "pending": job.pending_offloads}))


if __name__ == "__main__":
    main()
