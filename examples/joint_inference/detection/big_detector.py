"""Cloud worker of the detection-shaped joint-inference example: serves the big detector.

Configured only by the variables the control plane sets: BIG_MODEL_BIND_IP, BIG_MODEL_BIND_PORT,
SERVICE_NAME, MODEL_URL (and optionally SEDNA_AUTH_TOKEN). Run: python big_detector.py
"""

from interface import CloudDetector

from sedna.core.joint_inference import BigModelService
from sedna_lib.cli import serve_until_stopped

if __name__ == "__main__":
    # serve until SIGTERM (the pod's stop) or Ctrl-C, then stop cleanly
    raise SystemExit(serve_until_stopped(BigModelService(estimator=CloudDetector)))
