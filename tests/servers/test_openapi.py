"""Every HTTP server publishes a valid OpenAPI 3.1 schema that documents what it can answer."""

import json
import logging

import pytest
import requests

validator = pytest.importorskip("openapi_spec_validator")

from sedna_lib.servers.inference import InferenceServer  # noqa: E402
from sedna_lib.servers.multi_edge import DetectionServer, FEServer, ReIDServer  # noqa: E402
from sedna_lib.transport import codec  # noqa: E402

pytestmark = pytest.mark.integration

# what every data route (a POST with a body) can answer besides 200
BODY_ERRORS = {"400", "401", "408", "413", "415", "422", "500"}


def _apps():
    return {
        "inference": InferenceServer(lambda x: x, "svc").create_app(),
        "feature-extraction": FEServer(None, "feature_extraction").build_app(),
        "video-analytics": DetectionServer(None, "video_analytics").build_app(),
        "reid": ReIDServer(None, "reid").build_app(),
    }


@pytest.fixture(scope="module")
def specs():
    logging.getLogger("sedna_lib").setLevel(logging.CRITICAL)
    return {name: app.openapi() for name, app in _apps().items()}


@pytest.mark.parametrize("name", ["inference", "feature-extraction", "video-analytics", "reid"])
def test_schema_is_valid_openapi_3_1_without_nullable(specs, name):
    spec = specs[name]

    validator.validate(spec)

    assert spec["openapi"].startswith("3.1")
    assert '"nullable"' not in json.dumps(spec)


@pytest.mark.parametrize("name", ["inference", "feature-extraction", "video-analytics", "reid"])
def test_every_post_documents_its_body_media_types_and_4xx_answers(specs, name):
    posts = [(path, ops["post"]) for path, ops in specs[name]["paths"].items() if "post" in ops]

    assert posts
    for path, op in posts:
        content = op["requestBody"]["content"]
        assert BODY_ERRORS <= set(op["responses"]), (path, sorted(op["responses"]))
        if path.startswith("/v1/"):  # the OpenAI-compatible routes: JSON bodies, OpenAI's error objects
            assert set(content) == {"application/json"}
            continue
        assert codec.MEDIA_TYPE in content, path
        assert content[codec.MEDIA_TYPE]["schema"] == {"type": "string", "format": "binary"}
        for status in BODY_ERRORS:
            assert "detail" in op["responses"][status]["content"]["application/json"]["schema"]["properties"]


def test_multi_edge_servers_publish_their_routes(specs):
    assert set(specs["feature-extraction"]["paths"]) >= {
        "/feature_extraction/feature_extraction", "/feature_extraction/get_target_features",
        "/feature_extraction/update_service", "/feature_extraction/status"}
    assert "/reid/reid" in specs["reid"]["paths"]
    assert "/video_analytics/video_analytics" in specs["video-analytics"]["paths"]


@pytest.mark.parametrize("make", [
    lambda token: InferenceServer(lambda x: x, "svc", http_port=0, token=token),
    lambda token: FEServer(None, "feature_extraction", port=0, token=token),
], ids=["inference", "multi-edge"])
@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_schema_pages_follow_the_token_rule_of_the_data_routes(make, path):
    with make(None) as open_server:
        assert requests.get(open_server.url + path, timeout=5).status_code == 200
    with make("s3cret") as closed:
        anonymous = requests.get(closed.url + path, timeout=5)
        trusted = requests.get(closed.url + path, headers={"Authorization": "Bearer s3cret"}, timeout=5)

    assert anonymous.status_code == 401 and "detail" in anonymous.json()
    assert trusted.status_code == 200
