#!/usr/bin/env bash
# The joint-inference example on one machine: the big model (cloud worker) and the little model (edge
# worker) on 127.0.0.1, each output line prefixed with the worker that printed it.
#   PYTHON          interpreter (default: the clone's .venv, made by `make venv`)
#   VARIANT         digits (default: big_model.py, little_model.py) or detection (detection/*_detector.py)
#   HEM_NAME        the miner (default Margin for digits, IBT for detection); HEM_PARAMETERS its parameters
#   PORT            the big model's port (default 5000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${PYTHON:=$ROOT/.venv/bin/python}" in /*) ;; *) PYTHON=$PWD/$PYTHON ;; esac
cd "$(dirname "$0")"
PORT=${PORT:-5000}
if [ "${VARIANT:-digits}" = detection ]; then
  cd detection
  big=big_detector.py little=little_detector.py
  export SERVICE_NAME=digits-detection HEM_NAME=${HEM_NAME:-IBT}
  export HEM_PARAMETERS=${HEM_PARAMETERS:-'[{"key": "threshold_box", "value": "0.7"}]'}
else
  big=big_model.py little=little_model.py
  export SERVICE_NAME=digits HEM_NAME=${HEM_NAME:-Margin}
  export HEM_PARAMETERS=${HEM_PARAMETERS:-'[{"key": "upload_ratio", "value": "0.3"}]'}
fi

BIG_MODEL_BIND_IP=127.0.0.1 BIG_MODEL_BIND_PORT=$PORT \
  "$PYTHON" -u $big > >(sed -u 's/^/[cloud] /') 2>&1 &
cloud=$!
trap 'kill $cloud 2>/dev/null; wait $cloud 2>/dev/null || true' EXIT
# Start the edge once the cloud answers (a hard sample the edge cannot send is answered by the edge and queued).
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 $cloud 2>/dev/null || { wait $cloud; exit 1; }
  sleep 0.2
done
BIG_MODEL_IP=127.0.0.1 BIG_MODEL_PORT=$PORT "$PYTHON" -u $little > >(sed -u 's/^/[edge] /') 2>&1
