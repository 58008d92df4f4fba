#!/usr/bin/env bash
# The federated-learning example on one machine: data for two nodes, an aggregation worker and two
# trainers on 127.0.0.1, each output line prefixed with the worker that printed it.
#   PYTHON        interpreter (default: the clone's .venv, made by `make venv`)
#   TRAINER       train.py (Sedna style, default) or fit.py (solar_corona style)
#   BACKEND_TYPE  TORCH (default) or KERAS
#   PORT          the aggregator's port (default 7363); WORK: the folder for data and models (/tmp/fl)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${PYTHON:=$ROOT/.venv/bin/python}" in /*) ;; *) PYTHON=$PWD/$PYTHON ;; esac
cd "$(dirname "$0")"
TRAINER=${TRAINER:-train.py}
PORT=${PORT:-7363}
WORK=${WORK:-/tmp/fl}
export BACKEND_TYPE=${BACKEND_TYPE:-TORCH}
case "$BACKEND_TYPE" in KERAS|TENSORFLOW) MODEL_NAME=model.keras ;; *) MODEL_NAME=model.pth ;; esac

"$PYTHON" prepare_data.py --out "$WORK/data" --clients 2 > >(sed -u 's/^/[prepare] /') 2>&1

AGG_BIND_IP=127.0.0.1 AGG_BIND_PORT=$PORT PARTICIPANTS_COUNT=2 exit_round=3 \
  "$PYTHON" -u aggregate.py > >(sed -u 's/^/[aggregator] /') 2>&1 &
aggregator=$!
trainers=()
for i in 0 1; do
  AGG_IP=127.0.0.1 AGG_PORT=$PORT WORKER_NAME=trainer-$i JOB_NAME=fl-digits \
  TRAIN_DATASET_URL=$WORK/data/client-$i/train.txt TEST_DATASET_URL=$WORK/data/test/test.txt \
  MODEL_URL=$WORK/model-$i MODEL_NAME=$MODEL_NAME epochs=1 \
    "$PYTHON" -u "$TRAINER" > >(sed -u "s/^/[trainer-$i] /") 2>&1 &
  trainers+=($!)
done
for pid in "${trainers[@]}"; do
  # A trainer that fails would leave the aggregator waiting for its round: stop it too.
  wait "$pid" || { kill "$aggregator" 2>/dev/null; wait; exit 1; }
done
wait "$aggregator"
