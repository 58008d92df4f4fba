#!/usr/bin/env bash
# The language-model joint-inference example on one machine: the cloud model on the OpenAI-compatible
# routes and the edge worker on 127.0.0.1, each output line prefixed with the worker that printed it.
#   PYTHON          interpreter (default: the clone's .venv, made by `make venv`)
#   EDGE            edge_llm.py (default) or solar_corona_llm.py
#   HEM_NAME        the router (default MeanLogProb); HEM_PARAMETERS its parameters (default: a 30 % budget)
#   PORT            the cloud's port (default 5000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${PYTHON:=$ROOT/.venv/bin/python}" in /*) ;; *) PYTHON=$PWD/$PYTHON ;; esac
cd "$(dirname "$0")"
PORT=${PORT:-5000}
EDGE=${EDGE:-edge_llm.py}
export HEM_NAME=${HEM_NAME:-MeanLogProb}
export HEM_PARAMETERS=${HEM_PARAMETERS:-'[{"key": "upload_ratio", "value": "0.3"}]'}

BIG_MODEL_BIND_IP=127.0.0.1 BIG_MODEL_BIND_PORT=$PORT SERVICE_NAME=llm SEDNA_AUTH_TOKEN=k3y \
  "$PYTHON" -u cloud_llm.py > >(sed -u 's/^/[cloud] /') 2>&1 &
cloud=$!
trap 'kill $cloud 2>/dev/null; wait $cloud 2>/dev/null || true' EXIT
# Start the edge once the cloud answers.
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 $cloud 2>/dev/null || { wait $cloud; exit 1; }
  sleep 0.2
done
OPENAI_API_KEY=k3y BIG_MODEL_IP=127.0.0.1 BIG_MODEL_PORT=$PORT \
  SEDNA_LLM_PRICE_CLOUD_PROMPT=0.15 SEDNA_LLM_PRICE_CLOUD_COMPLETION=0.6 \
  "$PYTHON" -u "$EDGE" > >(sed -u 's/^/[edge] /') 2>&1
