import numpy as np
import pytest
import requests

from sedna_lib.base import InferenceResult
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ParameterError, RemoteError
from sedna_lib.pipeline import Model, RemoteModel, connect, pipeline
from sedna_lib.registry import Kind, default_registry


@pytest.fixture(scope="module")
def models(digits):
    from sklearn.linear_model import LogisticRegression

    x, y, x_test, _ = digits
    edge = LogisticRegression(max_iter=200, C=1.0).fit(x[:300], y[:300])
    cloud = LogisticRegression(max_iter=200).fit(x[:800], y[:800])
    return edge, cloud, x_test[:40]


class _ProbaEdge:
    """An edge estimator whose predict returns one sample's class probabilities (joint-inference style)."""

    def __init__(self, clf):
        self.clf = clf

    def predict(self, x):
        return self.clf.predict_proba(np.atleast_2d(x))[0]


def _joint_pipeline(edge_clf, cloud_url, threshold):
    miner = default_registry.create(Kind.HARD_EXAMPLE_MINING, "CrossEntropy", threshold_cross_entropy=threshold)
    edge = Model(name="edge", estimator=_ProbaEdge(edge_clf))
    cloud = RemoteModel(name="cloud", url=cloud_url, service="big", config=Config())

    @pipeline(name="joint", models=[edge, cloud])
    def joint(x):
        edge_result = edge(x)
        is_hard = bool(miner(edge_result))
        cloud_result = np.asarray(cloud(x)) if is_hard else None
        return InferenceResult(is_hard, cloud_result if is_hard else edge_result, edge_result, cloud_result)

    return joint


@pytest.fixture
def cloud_server(models):
    _, cloud_clf, _ = models
    cloud_model = Model(name="big", estimator=_ProbaEdge(cloud_clf), platform="cloud")

    @pipeline(name="big", models=[cloud_model])
    def big(x):
        return cloud_model(x)

    server = big.serve(config=Config(max_request_bytes=1 << 16))
    yield server
    big.close()


def test_a_pipeline_runs_locally_and_lists_its_models():
    double = Model(name="double", estimator=lambda v: 2 * v)

    @pipeline(models=[double])
    def plus_one(v):
        return plus_one.models.double(v) + 1

    assert plus_one(3) == 7
    assert plus_one.describe() == {"name": "plus_one", "models": [
        {"name": "double", "kind": "Model", "platform": "edge"}]}


def test_bad_declarations_are_refused():
    a = Model(name="m", estimator=len)
    with pytest.raises(ParameterError, match="unique"):
        pipeline(name="p", models=[a, Model(name="m", estimator=len)])(lambda x: x)
    with pytest.raises(ParameterError, match="identifier"):
        pipeline(name="a/b")(lambda x: x)
    with pytest.raises(ParameterError, match="platform"):
        Model(name="m", estimator=len, platform="fog")(1)
    with pytest.raises(ParameterError, match="Model or RemoteModel"):
        pipeline(name="p", models=[len])(lambda x: x)


@pytest.mark.integration
def test_joint_inference_as_a_pipeline_matches_the_builtin_joint_inference(models, cloud_server, tmp_path):
    from sedna_lib.joint_inference import JointInference
    from sedna_lib.transport.http import InferenceClient

    edge_clf, _, x_test = models
    joint = _joint_pipeline(edge_clf, cloud_server.url, threshold=0.5)
    builtin = JointInference(_ProbaEdge(edge_clf), {"method": "CrossEntropy", "param": {"threshold_cross_entropy": 0.5}},
                             context=Context(Config()), cloud=InferenceClient(cloud_server.url, service_name="big"),
                             offload_dir=str(tmp_path), report=False)
    try:
        ours = [joint(x) for x in x_test]
        theirs = [builtin.inference(x) for x in x_test]
    finally:
        builtin.close()
        joint.close()

    assert [r.is_hard for r in ours] == [r.is_hard for r in theirs]
    assert 0 < sum(r.is_hard for r in ours) < len(ours)  # both routes were taken
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a.result, float), np.asarray(b.result, float), rtol=1e-6)


@pytest.mark.integration
def test_a_served_pipeline_answers_sedna_json_and_rejects_bad_requests(cloud_server, models):
    _, _, x_test = models
    url = f"{cloud_server.url}/big/predict"

    good = requests.post(url, json={"data": x_test[0].tolist()}, timeout=5)
    malformed = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=5)
    oversized = requests.post(url, json={"data": [0.0] * 20000}, timeout=5)
    again = connect(cloud_server.url, name="big", config=Config())(x_test[0])

    assert good.status_code == 200 and len(good.json()["result"]) == 10
    assert malformed.status_code == 400 and oversized.status_code == 413
    assert np.asarray(again).shape == (10,)
    assert requests.get(f"{cloud_server.url}/healthz", timeout=5).json()["rejected"] == 2


@pytest.mark.integration
def test_a_served_pipeline_requires_its_token():
    echo = Model(name="echo", estimator=lambda v: v)

    @pipeline(name="echo", models=[echo])
    def echo_pipeline(v):
        return echo(v)

    server = echo_pipeline.serve(token="t0k", config=Config())
    try:
        with pytest.raises(RemoteError, match="401"):
            connect(server.url, name="echo", config=Config())([1, 2])
        assert list(connect(server.url, name="echo", token="t0k", config=Config())([1, 2])) == [1, 2]
    finally:
        echo_pipeline.close()


@pytest.mark.integration
def test_a_served_pipeline_and_its_clients_follow_their_config_over_the_environment(monkeypatch):
    monkeypatch.setenv("SEDNA_AUTH_TOKEN", "from-env")
    monkeypatch.setenv("SEDNA_MAX_REQUEST_BYTES", "8")
    cfg = Config(auth_token="from-config")
    echo = Model(name="echo", estimator=lambda v: v)

    @pipeline(name="echo", models=[echo])
    def echo_pipeline(v):
        return echo(v)

    with echo_pipeline:
        server = echo_pipeline.serve(config=cfg)
        with pytest.raises(RemoteError, match="401"):
            connect(server.url, name="echo", config=Config(auth_token="from-env"))([1, 2])
        assert list(connect(server.url, name="echo", config=cfg)(list(range(50)))) == list(range(50))


@pytest.mark.integration
def test_a_remote_model_reads_the_environment_when_built_not_when_first_called(monkeypatch):
    echo = Model(name="echo", estimator=lambda v: v)

    @pipeline(name="echo", models=[echo])
    def echo_pipeline(v):
        return echo(v)

    with echo_pipeline:
        server = echo_pipeline.serve(config=Config(auth_token="when-built"))
        monkeypatch.setenv("SEDNA_AUTH_TOKEN", "when-built")
        client = connect(server.url, name="echo")
        monkeypatch.setenv("SEDNA_AUTH_TOKEN", "later")

        assert list(client([1, 2])) == [1, 2]
        client.close()


def test_a_misdeclared_stage_is_the_servers_fault_not_the_clients():
    # an estimator without predict() raised ParameterError (a ValueError): every good request was answered
    # 422 "the model cannot take this input" and counted as rejected
    import requests

    edge = Model(name="edge", estimator=object())

    @pipeline(name="p", models=[edge])
    def misdeclared(x):
        return edge(x)

    server = misdeclared.serve(config=Config())
    try:
        reply = requests.post(server.url + "/p/predict", json={"data": [1, 2]}, timeout=5)
        health = requests.get(server.url + "/healthz", timeout=5).json()
    finally:
        misdeclared.close()
    assert reply.status_code == 500 and "has no predict()" in reply.json()["detail"]
    assert health["failed"] == 1 and health["rejected"] == 0
