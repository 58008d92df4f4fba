"""OpenAIClient against real servers: answers, streams passed through, keys, timeouts and the breaker."""

import socket
import threading

import pytest

from sedna_lib.config import Config
from sedna_lib.exceptions import RemoteError, TransportError, TransportTimeout
from sedna_lib.transport.openai import OpenAIClient
from sedna_lib.transport.openai_wire import Generation

pytestmark = pytest.mark.integration


def test_predict_returns_a_generation_with_logprobs_usage_and_latency(cloud_url):
    with OpenAIClient(cloud_url, model="cloud-ngram", top_logprobs=2) as client:
        answer = client.predict({"prompt": "module of sqrt is", "reference": "math"})
    assert isinstance(answer, Generation) and answer.source == "cloud" and answer.reference == "math"
    assert answer.text.strip() and len(answer.token_logprobs) == answer.completion_tokens > 0
    assert answer.prompt_tokens == 4 and answer.latency_s > 0 and answer.top_logprobs[0]


@pytest.mark.parametrize("route", ["chat", "completion"])
def test_a_streamed_answer_is_the_same_answer_with_a_time_to_first_token(cloud_url, route):
    whole = OpenAIClient(cloud_url, route=route).predict("module of dumps is")
    streamed = OpenAIClient(cloud_url, route=route, stream=True, top_logprobs=1).predict("module of dumps is")
    assert streamed.text == whole.text and streamed.completion_tokens == whole.completion_tokens
    assert 0 < streamed.ttft_s <= streamed.latency_s
    assert len(streamed.token_logprobs) == streamed.completion_tokens


def test_stream_chat_passes_the_events_through_as_they_come(cloud_url):
    chunks = list(OpenAIClient(cloud_url).stream_chat([{"role": "user", "content": "module of dumps is"}],
                                                      stream_options={"include_usage": True}))
    assert chunks[0]["object"] == "chat.completion.chunk" and "usage" in chunks[-1]


def test_a_refusal_carries_the_servers_message_and_status(cloud_url):
    with pytest.raises(RemoteError, match="does not exist here") as info:
        OpenAIClient(cloud_url, model="gpt-4o").predict("hi")
    assert info.value.status_code == 404
    with pytest.raises(RemoteError, match="does not exist here"):
        list(OpenAIClient(cloud_url, model="gpt-4o").stream_chat("hi"))


def test_the_api_key_comes_from_the_configuration(serve, cloud_lm):
    url = serve(cloud_lm, auth_token="k3y") + "/v1"
    with pytest.raises(RemoteError) as info:
        OpenAIClient(url).predict("hi")
    assert info.value.status_code == 401
    client = OpenAIClient.from_config(Config(llm_api_key="k3y", llm_base_url=url, llm_model="cloud-ngram"))
    assert client.predict("module of sqrt is").text
    # no SEDNA_LLM_BASE_URL: sedna_lib's own big-model server at BIG_MODEL_IP:BIG_MODEL_PORT
    default = OpenAIClient.from_config(Config(big_model_ip="10.1.2.3", big_model_port=5000, auth_token="t"))
    assert default.endpoint == "http://10.1.2.3:5000/v1" and default.auth_token == "t"


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()
    conns = []

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        sock.close()


@pytest.mark.parametrize("stream", [False, True])
def test_a_silent_cloud_costs_one_read_timeout_then_the_breaker_answers_at_once(silent_server, stream):
    client = OpenAIClient(silent_server, timeout=(1.0, 0.3), stream=stream, reset_timeout=60)
    with pytest.raises(TransportTimeout):
        client.predict("hi")
    assert client.breaker.state == "open"
    with pytest.raises(TransportError, match="circuit open"):
        client.predict("hi")


@pytest.mark.parametrize("stream", [False, True])
def test_a_closed_port_is_a_transport_error_after_bounded_retries(stream):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIClient(f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01, stream=stream)
    with pytest.raises(TransportError, match="cannot connect"):
        client.predict("hi")
    assert client.breaker.state == "open"


def test_a_cloud_that_comes_up_during_the_retries_answers_the_stream(cloud_lm):
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.joint_inference import BigModelService

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = BigModelService(estimator=cloud_lm, context=Context(Config()))
    starter = threading.Timer(0.2, lambda: service.start(host="127.0.0.1", port=port, block=False))
    starter.start()
    try:
        client = OpenAIClient(f"http://127.0.0.1:{port}/v1", max_retries=6, backoff=0.1, stream=True)
        assert client.predict("module of gcd is").text
    finally:
        starter.join()
        service.close()
