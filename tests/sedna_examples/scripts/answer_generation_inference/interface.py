"""Stub language models for the answer-generation workers: fixed strings instead of real models."""

import os

from sedna.common.config import Context

os.environ["BACKEND_TYPE"] = "TORCH"


class Estimator:
    """The edge model answers with a string; the cloud "API" answers with a list of one string."""

    def __init__(self, **kwargs):
        self.model = None
        self.role = os.environ.get("STUB_ROLE", "edge")

    def load(self):
        # as the example: the backend calls load() with no path, so the model is read from MODEL_URL
        model_url = Context.get_parameters("MODEL_URL")
        prefix = Context.get_parameters("DATA_PATH_PREFIX", "/home/data")
        self.model = model_url.replace(prefix, "").strip("/")
        if self.role == "cloud":
            self.model = f"https://{self.model}/v1 {Context.get_parameters('MODEL_NAME')}"
        print(f"LOADED {self.model}", flush=True)

    def predict(self, data, **kwargs):
        if self.role == "cloud":
            return [f"cloud({self.model}): {data[0]}"]
        return f"edge({self.model}): {data[0]}"
