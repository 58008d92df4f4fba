#!/usr/bin/env bash
# The incremental-learning example on one machine: the train, eval and inference pods' scripts in turn,
# each output line prefixed with the pod that printed it.
#   PYTHON   interpreter (default: the clone's .venv, made by `make venv`)
#   WORK     the folder for data, the model and the hard examples (default /tmp/il)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${PYTHON:=$ROOT/.venv/bin/python}" in /*) ;; *) PYTHON=$PWD/$PYTHON ;; esac
cd "$(dirname "$0")"
WORK=${WORK:-/tmp/il}
MODEL=$WORK/model/model.pkl

"$PYTHON" -c "import interface, sys; interface.prepare(sys.argv[1])" "$WORK/data"
export ORIGINAL_DATASET_URL=$WORK/data/train.txt TRAIN_DATASET_URL=$WORK/data/train.txt
export TEST_DATASET_URL=$WORK/data/test.txt WORKER_NAME=digits-il-worker JOB_NAME=digits-il
MODEL_URL=$MODEL "$PYTHON" -u train.py > >(sed -u 's/^/[train] /') 2>&1
MODEL_URLS="$MODEL;$MODEL" "$PYTHON" -u eval.py > >(sed -u 's/^/[eval] /') 2>&1
MODEL_URL=$MODEL HEM_NAME=Margin HE_SAVED_URL=$WORK/hard-examples \
  "$PYTHON" -u inference.py > >(sed -u 's/^/[inference] /') 2>&1
