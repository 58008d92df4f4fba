"""JSON from a peer is parsed as untrusted text by every client: a document nested past the parser's
recursion limit, or no JSON at all, is a typed error naming the peer, never a RecursionError or a bare
ValueError out of the library."""

import pytest

from sedna_lib.exceptions import SednaError
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.transport.http import InferenceClient
from sedna_lib.transport.kb import KBClient
from sedna_lib.transport.multi_edge import MultiEdgeClient
from sedna_lib.transport.openai import OpenAIClient

pytestmark = pytest.mark.integration

BODIES = {"deep": b"[" * 100_000, "not-json": b"<html>proxy error</html>"}


def _peer(body: bytes):
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def answer(request):
        await request.body()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


CALLS = {
    "inference": lambda url: InferenceClient(url, service_name="svc").check_server_status(),
    "openai": lambda url: OpenAIClient(url + "/v1").models(),
    "knowledge base": lambda url: KBClient(url).query(),
    "multi-edge": lambda url: MultiEdgeClient("svc", ip=url.split("//")[1].split(":")[0],
                                              port=url.rsplit(":", 1)[1]).check_server_status(),
}


@pytest.mark.parametrize("kind", sorted(BODIES))
@pytest.mark.parametrize("client", sorted(CALLS))
def test_an_unreadable_reply_is_a_typed_error(client, kind):
    with ThreadedServer(_peer(BODIES[kind])) as server:
        with pytest.raises(SednaError) as info:
            CALLS[client](server.url)
    assert server.url.split("//")[1] in str(info.value) or "JSON" in str(info.value)


@pytest.mark.parametrize("body", [b"null", b'{"a": 1}', b'"ok"'])
def test_a_multi_edge_route_that_answers_no_status_is_a_typed_error(body):
    # transmit and update_service returned None or a dict where the docs promise the service's code
    with ThreadedServer(_peer(body)) as server:
        host, port = server.url.split("//")[1].split(":")
        client = MultiEdgeClient("svc", ip=host, port=port)
        with pytest.raises(SednaError, match="expected a status code"):
            client.transmit([1])
        with pytest.raises(SednaError, match="expected a status code"):
            client.update_service({"mode": 1})
