"""The clients send a URL's userinfo and query as given, and show them hidden (messages, errors, logs, reprs).

Real servers on 127.0.0.1 answer 404 and 500 (echoing the path they were asked for, query included), and a
closed port refuses the connection, so requests' own error text (which repeats the query) is exercised too.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
import traceback

import pytest

from sedna_lib.config import Config, check, parse_s3_endpoint, redact_value
from sedna_lib.exceptions import ConfigError, RemoteError, StorageError, TransportError
from sedna_lib.storage import S3Storage, StorageRouter
from sedna_lib.transport.http import InferenceClient
from sedna_lib.transport.kb import KBClient
from sedna_lib.transport.openai import OpenAIClient

pytestmark = pytest.mark.integration

SECRETS = ("hunter2", "SIGSECRET", "TOKSECRET")
BASIC = "Basic " + base64.b64encode(b"u:hunter2").decode()


class _Peer(http.server.BaseHTTPRequestHandler):
    """Answers 404 under /svc/ and /knowledgebase/nf, 500 elsewhere; each body repeats the path asked for."""

    seen: list = []

    def _answer(self):
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        missing = self.path.startswith(("/svc/", "/knowledgebase/nf"))
        status = 404 if missing else 500
        said = f"nothing to serve at {self.path}"
        body = json.dumps({"detail": said, "error": {"message": said}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def peer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _told(exc, attribute="url"):
    """Everything a log line of ``exc`` shows: its message, its URL and its traceback (causes included)."""
    return (f"{exc} {getattr(exc, attribute)} "
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _leaks(text):
    return [s for s in SECRETS if s in text]


# -- the inference client ---------------------------------------------------------------------------------


def test_an_inference_error_hides_the_password_and_the_request_carries_it(peer, caplog):
    _Peer.seen.clear()
    client = InferenceClient(f"http://u:hunter2@127.0.0.1:{peer}", service_name="svc", max_retries=0)

    with caplog.at_level(logging.INFO, logger="sedna_lib.transport.http"):
        with pytest.raises(RemoteError, match="answered 500") as info:
            client.predict([1, 2])  # /svc/predict answers 404, the /sedna fallback 500

    told = _told(info.value)
    assert not _leaks(told), told
    assert info.value.url == f"http://u:***@127.0.0.1:{peer}/sedna/predict"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "answered 404; trying /sedna" in logged and not _leaks(logged), logged
    assert [(m, p, a) for m, p, a in _Peer.seen] == [("POST", "/svc/predict", BASIC),
                                                     ("POST", "/sedna/predict", BASIC)]


def test_an_inference_client_that_cannot_connect_hides_the_password(closed_port):
    client = InferenceClient(f"http://u:hunter2@127.0.0.1:{closed_port}", service_name="svc", max_retries=0)

    with pytest.raises(TransportError, match="cannot connect") as info:
        client.health()
    with pytest.raises(TransportError, match="circuit open") as opened:
        client.health()

    for exc in (info.value, opened.value):
        told = _told(exc)
        assert not _leaks(told), told
        assert f"u:***@127.0.0.1:{closed_port}" in str(exc)
    assert "Connection refused" in str(info.value) or "refused" in str(info.value).lower()


# -- the knowledge-base client ----------------------------------------------------------------------------


def test_a_kb_error_hides_the_password_and_query_values_and_the_request_carries_them(peer):
    _Peer.seen.clear()
    kb = KBClient(f"http://u:hunter2@127.0.0.1:{peer}")
    presigned = "nf/index.json?sig=SIGSECRET&token=TOKSECRET"

    with pytest.raises(RemoteError, match="answered 404") as missing:
        kb.read_bytes(presigned)  # a traceback shows this line: the secrets stay out of it
    with pytest.raises(RemoteError, match="answered 500") as failed:
        kb.update_task_status("g1")

    for exc in (missing.value, failed.value):
        told = _told(exc)
        assert not _leaks(told), told
    assert missing.value.url == (f"http://u:***@127.0.0.1:{peer}/knowledgebase/nf/index.json"
                                 f"?sig=***&token=***")
    assert missing.value.status_code == 404
    assert _Peer.seen[0] == ("GET", "/knowledgebase/nf/index.json?sig=SIGSECRET&token=TOKSECRET", BASIC)


def test_a_kb_client_that_cannot_connect_hides_the_secrets_also_in_the_http_librarys_text(
        closed_port, caplog, tmp_path):
    kb = KBClient(f"http://u:hunter2@127.0.0.1:{closed_port}", connect_timeout=2)
    index = tmp_path / "index.json"
    index.write_text("{}")

    presigned = f"http://127.0.0.1:{closed_port}/knowledgebase/f.bin?sig=SIGSECRET&token=TOKSECRET"

    with pytest.raises(TransportError, match="failed") as info:
        kb.read_bytes(presigned)
    with caplog.at_level(logging.ERROR, logger="sedna_lib.transport.kb"):
        assert kb.update_db(str(index)) is None

    told = _told(info.value) + _told(kb.last_error_)
    assert not _leaks(told), told
    assert "/knowledgebase/f.bin?sig=***&token=***" in str(info.value)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "knowledge-base update failed" in logged and not _leaks(logged), logged


# -- the OpenAI-compatible client -------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_error_hides_the_password_and_the_request_carries_it(peer, stream):
    _Peer.seen.clear()
    client = OpenAIClient(f"http://u:hunter2@127.0.0.1:{peer}/v1", stream=stream, max_retries=0)

    with pytest.raises(RemoteError, match="answered 500") as info:
        client.predict("hello")

    told = _told(info.value)
    assert not _leaks(told), told
    assert info.value.url == f"http://u:***@127.0.0.1:{peer}/v1/chat/completions"
    assert _Peer.seen[-1][1:] == ("/v1/chat/completions", BASIC)


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_client_that_cannot_connect_hides_the_password(closed_port, stream):
    client = OpenAIClient(f"http://u:hunter2@127.0.0.1:{closed_port}/v1", stream=stream, max_retries=0)

    with pytest.raises(TransportError, match="cannot connect") as info:
        client.predict("hello")

    told = _told(info.value)
    assert not _leaks(told), told
    assert f"u:***@127.0.0.1:{closed_port}/v1" in str(info.value)


# -- storage: the router and S3 -----------------------------------------------------------------------------


def test_the_router_hides_the_secrets_of_the_urls_it_refuses():
    router = StorageRouter()
    hdfs, s3 = "hdfs://u:hunter2@nn/x?token=TOKSECRET", "s3://bkt/x?sig=SIGSECRET"
    gs_url = "gs://u:hunter2@bkt/x"

    with pytest.raises(StorageError, match="unsupported URL scheme hdfs://") as scheme:
        router.storage_for(hdfs)
    with pytest.raises(StorageError, match="the destination must be a local path") as remote:
        router.download("/no/such/file", s3)
    with pytest.raises(StorageError) as gs:
        router.storage_for(gs_url)

    for exc in (scheme.value, remote.value, gs.value):
        told = _told(exc, "uri")
        assert not _leaks(told), told
    assert scheme.value.uri == "hdfs://u:***@nn/x?token=***"


def test_an_s3_endpoint_with_a_password_is_refused_without_showing_it():
    store = S3Storage(endpoint_url="http://AKIA:hunter2@127.0.0.1:9000", access_key="k", secret_key="s")

    with pytest.raises(ConfigError, match="credentials in ACCESS_KEY_ID") as info:
        store.exists("s3://bkt/x")

    told = _told(info.value, "variable") + repr(store)
    assert not _leaks(told), told
    assert "AKIA:***@127.0.0.1:9000" in str(info.value) and "AKIA:***@" in repr(store)


# -- the configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["http://AKIA:hunter2@127.0.0.1:9000", "AKIA:hunter2@127.0.0.1:9000",
                                 "http://127.0.0.1:9000/?token=TOKSECRET"])
def test_s3_endpoint_messages_hide_the_password(raw):
    with pytest.raises(ConfigError) as info:
        parse_s3_endpoint(raw)

    told = _told(info.value, "variable")
    assert not _leaks(told), told
    assert "127.0.0.1:9000" in str(info.value)


@pytest.mark.parametrize("raw", ["admin:hunter2@lc:9100", "ftp://admin:hunter2@lc:9100",
                                 "http://admin:hunter2@lc:99999"])
def test_a_refused_server_url_is_shown_without_its_password(raw):
    _, errors = check({"LC_SERVER": raw, "KB_SERVER": raw})

    assert [e.variable for e in errors] == ["LC_SERVER", "KB_SERVER"]
    for error in errors:
        told = _told(error, "variable")
        assert not _leaks(told), told
        assert "admin:***@lc" in str(error)


def test_a_config_repr_hides_the_password_and_query_values_of_its_urls():
    cfg = Config.from_env({"LC_SERVER": "http://u:hunter2@lc:9100", "KB_SERVER": "http://u:hunter2@kb:9020",
                           "MODEL_URL": "https://store/m.bin?X-Amz-Signature=SIGSECRET"})

    assert not _leaks(repr(cfg)), repr(cfg)
    assert "lc_server='http://u:***@lc:9100'" in repr(cfg)
    assert cfg.lc_server == "http://u:hunter2@lc:9100"  # used as given
    assert redact_value("lc:9100") == "lc:9100"


def test_sedna_lib_config_shows_urls_without_their_secrets(monkeypatch, capsys):
    from sedna_lib.cli import main

    monkeypatch.setenv("LC_SERVER", "http://u:hunter2@lc:9100")
    monkeypatch.setenv("MODEL_URL", "https://store/m.bin?sig=SIGSECRET")
    monkeypatch.setenv("KB_SERVER", "admin:hunter2@kb:9020")  # refused: no scheme

    for argv in (["config", "--changed"], ["config", "--changed", "--json"]):
        assert main(argv) == 1
        out = capsys.readouterr()
        shown = out.out + out.err
        assert not _leaks(shown), shown
        assert "u:***@lc:9100" in shown and "admin:***@kb:9020" in shown and "m.bin?sig=***" in shown


# -- the aggregator client and Sedna's http_request ------------------------------------------------------


def test_an_aggregator_client_that_cannot_connect_hides_the_password(closed_port):
    from sedna_lib.exceptions import TransportTimeout
    from sedna_lib.transport.ws import AggregationClient

    client = AggregationClient(f"ws://u:hunter2@127.0.0.1:{closed_port}/FedAvg?token=TOKSECRET", "a",
                               connect_timeout=0.3)
    with pytest.raises(TransportTimeout) as info:
        client.connect()

    told = _told(info.value)
    assert not _leaks(told), told
    assert f"ws://u:***@127.0.0.1:{closed_port}/FedAvg?token=***" in str(info.value)


def test_sednas_http_request_hides_the_password_and_query_values(peer, closed_port):
    from sedna_lib.compat.client import http_request

    asked, nobody = (f"http://u:hunter2@127.0.0.1:{port}/x?sig=SIGSECRET" for port in (peer, closed_port))
    with pytest.raises(RemoteError) as answered:
        http_request(asked, max_retries=0)  # the traceback shows this line: the URL is not written here
    with pytest.raises(TransportError) as refused:
        http_request(nobody, max_retries=0)

    for exc in (answered.value, refused.value):
        told = _told(exc)
        assert not _leaks(told), told
        assert "u:***@127.0.0.1" in str(exc) and "sig=***" in str(exc)
    assert ("GET", "/x?sig=SIGSECRET", BASIC) in _Peer.seen  # the request carried them
