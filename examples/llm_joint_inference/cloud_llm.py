"""Cloud worker: serves the stronger language model on the OpenAI-compatible routes.

Configured only by the environment: BIG_MODEL_BIND_IP, BIG_MODEL_BIND_PORT, SERVICE_NAME,
SEDNA_AUTH_TOKEN (the API key clients must send). Any OpenAI client then talks to it:
POST http://<host>:<port>/v1/chat/completions. Run: python cloud_llm.py
"""

from models import cloud_model

from sedna_lib.cli import serve_until_stopped
from sedna_lib.joint_inference import BigModelService

if __name__ == "__main__":
    # serve until SIGTERM (the pod's stop) or Ctrl-C, then stop cleanly
    raise SystemExit(serve_until_stopped(BigModelService(estimator=cloud_model())))
