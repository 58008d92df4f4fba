"""The knowledge base's OpenAPI 3.1 schema documents its bodies, binary media types and every 4xx answer."""

from __future__ import annotations

import json

import pytest

from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app

validator = pytest.importorskip("openapi_spec_validator")


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return create_app(KnowledgeBaseStore(str(tmp_path_factory.mktemp("kb")))).openapi()


def _op(spec, method, path):
    return spec["paths"][f"/knowledgebase{path}"][method]


def test_kb_schema_is_valid_openapi_3_1_without_nullable(spec):
    validator.validate(spec)

    assert spec["openapi"].startswith("3.1")
    assert '"nullable"' not in json.dumps(spec)


@pytest.mark.parametrize("path, field", [("/file/upload", "file"), ("/update", "task")])
def test_multipart_bodies_declare_their_binary_part(spec, path, field):
    body = _op(spec, "post", path)["requestBody"]

    schema = body["content"]["multipart/form-data"]["schema"]
    assert body["required"] is True and schema["required"] == [field]
    assert schema["properties"][field] == {"type": "string", "format": "binary"}


def test_status_body_is_described(spec):
    schema = _op(spec, "post", "/update/status")["requestBody"]["content"]["application/json"]["schema"]

    assert schema["properties"]["status"]["type"] == "integer"
    assert {"type": "null"} in schema["properties"]["tasks"]["anyOf"]


def test_download_declares_its_query_and_binary_answer(spec):
    op = _op(spec, "get", "/file/download")

    assert [(p["name"], p["required"]) for p in op["parameters"]] == [("files", True), ("name", False)]
    assert op["responses"]["200"]["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


@pytest.mark.parametrize("method, path, statuses", [
    ("post", "/file/upload", {"400", "401", "403", "408", "409", "413", "500"}),
    ("get", "/file/download", {"400", "401", "404", "500"}),
    ("post", "/update", {"400", "401", "408", "413", "415", "500"}),
    ("post", "/update/status", {"400", "401", "408", "413", "500"}),
    ("post", "/query", {"401", "500"}),
])
def test_every_error_the_kb_answers_is_documented(spec, method, path, statuses):
    responses = _op(spec, method, path)["responses"]

    assert statuses <= set(responses)
    for status in statuses:
        assert "detail" in responses[status]["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_kb_schema_pages_follow_the_token_rule_of_its_data_routes(tmp_path, path):
    import requests

    from sedna_lib.servers._threaded import ThreadedServer

    for token, expected in ((None, 200), ("s3cret", 401)):
        store = KnowledgeBaseStore(str(tmp_path / f"kb-{expected}"))
        with ThreadedServer(create_app(store, token=token)) as server:
            assert requests.get(server.url + path, timeout=5).status_code == expected
            if token:
                authorized = requests.get(server.url + path, headers={"Authorization": f"Bearer {token}"},
                                          timeout=5)
                assert authorized.status_code == 200
        store.close()
