#!/usr/bin/env bash
# The lifelong-learning examples on one machine, each output line prefixed with the step that printed it:
# atcii/ (the train, eval and inference pods' scripts in turn) and digits/ (one process).
#   PYTHON   interpreter (default: the clone's .venv, made by `make venv`)
#   WORK     the folder for data and the knowledge base (default /tmp/ll)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${PYTHON:=$ROOT/.venv/bin/python}" in /*) ;; *) PYTHON=$PWD/$PYTHON ;; esac
cd "$(dirname "$0")"
WORK=${WORK:-/tmp/ll}

(
  cd atcii
  data=$WORK/atcii
  "$PYTHON" -c "import interface, sys; interface.make_dataset(sys.argv[1])" "$data"
  export TRAIN_DATASET_URL=$data/trainData.csv TEST_DATASET_URL=$data/testData.csv
  export OUTPUT_URL=$WORK/atcii-kb WORKER_NAME=atcii-worker JOB_NAME=atcii
  "$PYTHON" -u train.py > >(sed -u 's/^/[atcii train] /') 2>&1
  MODEL_URLS=$WORK/atcii-kb/index.pkl "$PYTHON" -u eval.py > >(sed -u 's/^/[atcii eval] /') 2>&1
  # The inference worker follows its CSV as rows are appended, like a pod reading a stream: stop it
  # once it has answered every row.
  mkdir -p "$WORK/atcii-unseen"
  MODEL_URLS=$WORK/atcii-kb/index.pkl infer_dataset_url=$data/inferData.csv UTD_SAVED_URL=$WORK/atcii-unseen \
    "$PYTHON" -u inference.py > >(sed -u 's/^/[atcii inference] /') 2>&1 &
  worker=$!
  rows=$(($(wc -l < "$data/inferData.csv") - 1))
  for _ in $(seq 600); do
    out=$data/inferData.csv_out.csv
    [ -f "$out" ] && [ "$(($(wc -l < "$out") - 1))" -ge "$rows" ] && break
    kill -0 $worker 2>/dev/null || { wait $worker; exit 1; }
    sleep 0.2
  done
  kill $worker; wait $worker 2>/dev/null || true
  echo "[atcii inference] $rows rows answered in $data/inferData.csv_out.csv;" \
       "$(($(wc -l < "$WORK/atcii-unseen/unseen_sample.csv") - 1)) unseen, saved for labelling in" \
       "$WORK/atcii-unseen/unseen_sample.csv"
)
"$PYTHON" -u digits/run.py "$WORK/digits" > >(sed -u 's/^/[digits] /') 2>&1
