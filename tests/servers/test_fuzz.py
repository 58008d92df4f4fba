"""Every HTTP server's own OpenAPI schema, fuzzed against the real server on 127.0.0.1.

schemathesis generates requests from each operation of the schema the server publishes (valid
ones, and invalid ones where the schema allows it), with and without the server's token, and
checks every answer: no status >= 500, and status, content type and body as the schema documents
them. Bounded so that the whole campaign stays within about 30 seconds.
"""

import logging

import numpy as np
import pytest

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from schemathesis.core.failures import FailureGroup  # noqa: E402

from sedna_lib.servers import ServerLimits  # noqa: E402
from sedna_lib.transport import codec, objects  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "fuzz-token"
EXAMPLES = 6  # per operation and generation mode; a token server refusing anonymous requests: 2
# A body the schema allows may still be one the model cannot take (a list of strings for a model of
# numbers): the servers answer that with the documented 422, so "every schema-valid body is
# accepted" does not hold for a model server. Every other check runs.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
LIMITS = ServerLimits(max_request_bytes=256 * 1024, header_timeout=5, body_timeout=5)


def _binary_body(ctx, value):
    """Bodies for the binary media types: fuzzed bytes, half of them inside a well-formed codec message."""
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    if ctx.case.media_type == codec.MEDIA_TYPE and len(raw) % 2:
        return objects.dumps([{"raw": raw, "size": len(raw)}, np.frombuffer(raw[: len(raw) // 8 * 8], "<f8")])
    return raw


schemathesis.serializer(codec.MEDIA_TYPE, objects.PICKLE_MEDIA_TYPE)(_binary_body)


class Doubler:
    """A model that takes a list of numbers, and says so (a ValueError) about anything else."""

    def predict(self, data):
        return (np.asarray(data, dtype=float) * 2).tolist()


class FEComponent:
    """A feature-extraction component: objects in, features out; wrong objects are its client's fault."""

    def put(self, data):
        return None

    def update_operational_mode(self, status):
        return None

    def get_target_features(self, targets):
        return [np.asarray(t.targets[0], dtype=float).mean() for t in targets]


def _inference(token):
    from sedna_lib.servers.inference import InferenceServer

    server = InferenceServer(Doubler(), "svc", http_port=0, token=token, limits=LIMITS)
    return server, server.create_app(), lambda: server.start(block=False).url


def _pipeline(token):
    from sedna_lib.config import Config
    from sedna_lib.pipeline import pipeline

    @pipeline(name="double")
    def double(x):
        return Doubler().predict(x)

    holder = {}

    def start():
        config = Config(max_request_bytes=LIMITS.max_request_bytes)
        holder["server"] = double.serve(token=token, config=config)
        return holder["server"].url

    from sedna_lib.servers.inference import InferenceServer

    app = InferenceServer(double, "double", token=token).create_app()
    return double, app, start


def _multi_edge(cls, name):
    def make(token):
        server = cls(FEComponent(), name, port=0, token=token, limits=LIMITS)
        return server, server.build_app(), lambda: server.start().url
    return make


def _knowledge_base(token, tmp_path):
    from sedna_lib.servers.knowledge_base import KBServer

    server = KBServer("127.0.0.1", 0, save_dir=str(tmp_path), db_url="sqlite:///kb.sqlite3", token=token)
    holder = {}

    def start():
        holder["threaded"] = server.run_in_thread()
        return holder["threaded"].url

    server.stop = lambda: holder["threaded"].stop()
    return server, server.create_app(), start


def _aggregation(token):
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=1, participants_count=1,
                               auth_token=token, context=Context(Config()))

    class Schema:  # the HTTP side's schema (a Starlette app: the server builds it by hand)
        @staticmethod
        def openapi():
            return server.openapi()

    return server, Schema, lambda: server.start(block=False).url.replace("ws", "http", 1).rsplit("/", 1)[0]


def _servers():
    from sedna_lib.servers.multi_edge import DetectionServer, FEServer, ReIDServer

    return {
        "inference": _inference,
        "pipeline": _pipeline,
        "feature-extraction": _multi_edge(FEServer, "feature_extraction"),
        "video-analytics": _multi_edge(DetectionServer, "video_analytics"),
        "reid": _multi_edge(ReIDServer, "reid"),
        "aggregation": _aggregation,
    }


def _fuzz(app, base_url, headers, examples=EXAMPLES, modes=("positive", "negative")):
    """Run every operation of the app's schema; return the failures seen (an empty list when none)."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in map(schemathesis.GenerationMode, modes):
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                try:
                    case.call_and_validate(base_url=base_url, headers=headers, timeout=10,
                                           excluded_checks=EXCLUDED_CHECKS)
                except FailureGroup as exc:
                    failures.extend(f"{operation.label} ({mode.value}): {type(failure).__name__}: "
                                    f"{failure}"[:1500] for failure in exc.exceptions)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:  # nothing in this operation can be made invalid
                assert mode is schemathesis.GenerationMode.NEGATIVE
    return failures


@pytest.mark.parametrize("with_token", [False, True], ids=["open", "token"])
@pytest.mark.parametrize("kind", ["inference", "pipeline", "feature-extraction", "video-analytics", "reid",
                                  "aggregation", "knowledge-base"])
def test_every_server_answers_its_own_schema_without_5xx_or_violations(kind, with_token, tmp_path, caplog):
    caplog.set_level(logging.CRITICAL)
    token = TOKEN if with_token else None
    if kind == "knowledge-base":
        server, app, start = _knowledge_base(token, tmp_path)
    else:
        server, app, start = _servers()[kind](token)
    url = start()
    try:
        # with the token: the data routes are reached; without it (on a server that has one): all 401s
        headers = {"Authorization": f"Bearer {TOKEN}"} if with_token else {}
        failures = _fuzz(app, url, headers)
        if with_token:
            failures += _fuzz(app, url, {}, examples=2, modes=("positive",))
    finally:
        (server.close if hasattr(server, "close") and kind == "pipeline" else server.stop)()

    assert failures == []
