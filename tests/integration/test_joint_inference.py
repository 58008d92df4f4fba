import logging
import re
import socket
import threading

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError
from sedna_lib.joint_inference import BigModelService, JointInference, get_big_model_endpoint, load_model
from sedna_lib.servers._threaded import ThreadedServer

pytestmark = pytest.mark.integration


class ProbaEdge:
    """A small scikit-learn edge model whose predict returns class probabilities."""

    def __init__(self, model):
        self.model = model

    def predict(self, data, **kwargs):
        return self.model.predict_proba(np.asarray(data, dtype="float32").reshape(1, -1))[0]


@pytest.fixture(scope="module")
def models(digits):
    from sklearn.linear_model import LogisticRegression

    x, y, xt, yt = digits
    edge = LogisticRegression(max_iter=200).fit(x[:, ::4], y)
    cloud = LogisticRegression(max_iter=500).fit(x, y)
    return edge, cloud, xt, yt


class Cloud:
    def __init__(self, model):
        self.model = model

    def predict(self, data, **kwargs):
        return self.model.predict_proba(np.asarray(data, dtype="float32").reshape(1, -1))[0]


class EdgeFull(ProbaEdge):
    def predict(self, data, **kwargs):
        return super().predict(np.asarray(data)[::4])


def ctx(**fields):
    return Context(Config(service_name="ji-svc", worker_name="edgeworker-1", namespace="ns", **fields))


def edge_job(edge, miner, tmp_path, context=None, *, report=False, **options):
    """The edge side: ``edge`` reads every 4th pixel, the offload queue lives in ``tmp_path``."""
    return JointInference(EdgeFull(edge), miner, context=context or ctx(), offload_dir=str(tmp_path),
                          report=report, **options)


@pytest.fixture
def cloud_service(models):
    service = BigModelService(Cloud(models[1]), context=ctx()).start(host="127.0.0.1", port=0, block=False)
    yield service
    service.close()


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_hard_examples_go_to_the_cloud_and_easy_ones_stay(models, cloud_service, tmp_path):
    edge, cloud, xt, yt = models
    miner = {"method": "Margin", "param": {"threshold_margin": "0.5"}}
    ji = edge_job(edge, miner, tmp_path, cloud=cloud_service.url + "/ji-svc")
    with ji:
        results = [ji.inference(x) for x in xt[:60]]
    hard = [r for r in results if r.is_hard]
    assert 0 < len(hard) < 60
    for is_hard, final, edge_result, cloud_result in results:
        if is_hard:
            np.testing.assert_allclose(final, cloud_result)
            assert isinstance(cloud_result, np.ndarray) and cloud_result.shape == (10,)
        else:
            assert cloud_result is None and final is edge_result
    assert ji.stats["cloud_ok"] == len(hard)


def test_torch_cloud_model_behind_big_model_service(models, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10), nn.Softmax(-1))

    class TorchCloud:
        def predict(self, data, **kwargs):
            with torch.no_grad():
                return net(torch.as_tensor(np.asarray(data, dtype="float32")).reshape(1, -1))[0].numpy()

    edge, _, xt, _ = models
    with BigModelService(TorchCloud(), context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        ji = edge_job(edge, "CloudOnly", tmp_path, cloud=service.url + "/ji-svc")
        is_hard, final, _, cloud_result = ji.inference(xt[0])
        ji.close()
    assert is_hard and final.shape == (10,) and abs(float(final.sum()) - 1) < 1e-5


def test_mining_then_inference_mines_the_raw_input(models, cloud_service, tmp_path):
    edge, _, xt, _ = models
    seen = []

    def route(data):
        seen.append(np.asarray(data).shape)
        return True

    ji = edge_job(edge, route, tmp_path, ctx(mining_mode="mining-then-inference"),
                  cloud=cloud_service.url + "/ji-svc")
    is_hard, final, edge_result, cloud_result = ji.inference(xt[0])
    ji.close()
    assert seen == [(64,)] and is_hard and edge_result is None and final is cloud_result


def test_mining_then_inference_without_a_miner_is_a_config_error(models, tmp_path):
    ji = edge_job(models[0], None, tmp_path, ctx(mining_mode="mining-then-inference"))
    with pytest.raises(ConfigError, match="no hard-example miner"):
        ji.inference(models[2][0])


def test_miner_from_hem_variables(models, tmp_path):
    cfg = Config.from_env({"SERVICE_NAME": "ji-svc", "HEM_NAME": "IBT",
                           "HEM_PARAMETERS": '[{"key": "threshold_img", "value": "0.9"}]'})
    ji = edge_job(models[0], None, tmp_path, Context(cfg))
    assert type(ji.miner).__name__ == "IBTFilter" and ji.miner.threshold_img == 0.9


class FalsyMiner:
    """A miner object that is falsy (it has a length of 0), as a sized user object may be."""

    def __init__(self):
        self.seen = 0

    def __len__(self):
        return 0

    def __call__(self, result):
        self.seen += 1
        return False


def test_a_falsy_miner_object_is_still_the_miner(models, tmp_path):
    miner = FalsyMiner()
    ji = edge_job(models[0], miner, tmp_path)

    result = ji.inference(models[2][0])
    ji.close()

    assert ji.miner is miner and miner.seen == 1 and result.is_hard is False


def test_stats_is_a_snapshot_that_cannot_change_the_counters(models, tmp_path):
    ji = edge_job(models[0], "EdgeOnly", tmp_path)
    ji.inference(models[2][0])

    snapshot = ji.stats
    snapshot["inferences"] = 99
    ji.close()

    assert ji.stats["inferences"] == 1 and ji.stats is not ji.stats


def test_get_hem_algorithm_from_config_lets_code_override(monkeypatch):
    from sedna_lib.compat.core.joint_inference import JointInference

    monkeypatch.setenv("HEM_NAME", "IBT")
    monkeypatch.setenv("HEM_PARAMETERS", '[{"key": "threshold_img", "value": "0.5"}]')
    assert JointInference.get_hem_algorithm_from_config(threshold_img=0.9) == {
        "method": "IBT", "param": {"threshold_img": 0.9}}


def test_dead_cloud_answers_from_the_edge_and_queued_examples_survive_a_restart(models, tmp_path, caplog):
    edge, cloud, xt, _ = models
    port = free_port()
    cfg = dict(big_model_ip="127.0.0.1", big_model_port=port, connect_timeout_s=0.5, request_timeout=1.0,
               max_retries=0)
    first = edge_job(edge, "CloudOnly", tmp_path, ctx(**cfg))
    results = [first.inference(x) for x in xt[:5]]
    first.close()  # the edge process "restarts"
    assert all(r.is_hard and r.cloud is None and r.result is r.edge for r in results)
    assert first.pending_offloads == 5

    delivered, done = [], threading.Event()

    def on_offloaded(example):
        delivered.append(example)
        if len(delivered) == 5:
            done.set()

    service = BigModelService(Cloud(cloud), context=ctx()).start(host="127.0.0.1", port=port, block=False)
    try:
        second = edge_job(edge, "EdgeOnly", tmp_path, ctx(**cfg), on_offloaded=on_offloaded)
        leftovers = "5 hard examples already wait in .*by an earlier run or by another job"
        with caplog.at_level(logging.WARNING, "sedna_lib"):
            second.start()
        said = [r.levelno for r in caplog.records if re.search(leftovers, r.getMessage())]
        assert said == [logging.WARNING]  # said once
        assert done.wait(10)
        second.close()
    finally:
        service.close()
    assert [d.data.tolist() for d in delivered] == [x.tolist() for x in xt[:5]]
    assert second.pending_offloads == 0


def lc_app(received, event):
    from fastapi import FastAPI, Request

    app = FastAPI()

    async def info(name: str, request: Request):
        received.append((name, await request.json()))
        event.set()
        return {"Status": 200, "Message": "OK"}

    info.__annotations__["request"] = Request
    app.add_api_route("/sedna/workers/{name}/info", info, methods=["POST"])
    return app


def test_lc_report_counts_inferences_with_the_right_owner(models, tmp_path):
    received, event = [], threading.Event()
    with ThreadedServer(lc_app(received, event)) as lc:
        ji = edge_job(models[0], "EdgeOnly", tmp_path, ctx(lc_server=lc.url, lc_period=0.1), report=True)
        for x in models[2][:3]:
            ji.inference(x)
        assert event.wait(10)
        ji.close()
    name, body = received[0]
    assert name == "edgeworker-1" and body["ownerName"] == "ji-svc"
    assert body["ownerKind"] == "jointinferenceservice"
    assert body["kind"] == "inference" and body["ownerInfo"]["inferenceNumber"] >= 1
    assert body["ownerInfo"]["uploadCloudRatio"] == 0.0


def test_close_reports_the_counts_of_the_last_period(models, tmp_path):
    received, event = [], threading.Event()
    with ThreadedServer(lc_app(received, event)) as lc:
        ji = edge_job(models[0], "CloudOnly", tmp_path, ctx(lc_server=lc.url, lc_period=3600.0), report=True)
        ji.start()
        for x in models[2][:4]:
            ji.inference(x)
        assert received == []  # the period (an hour) has not elapsed
        ji.close()
    assert len(received) == 1
    info = received[0][1]["ownerInfo"]
    assert (info["inferenceNumber"], info["hardExampleNumber"], info["uploadCloudRatio"]) == (4, 4, 1.0)


def test_inference_after_close_is_a_closed_error_and_start_runs_the_job_again(
        models, cloud_service, tmp_path):
    from sedna_lib.exceptions import ClosedError

    xt = models[2]
    received, event = [], threading.Event()
    with ThreadedServer(lc_app(received, event)) as lc:
        ji = edge_job(models[0], "CloudOnly", tmp_path, ctx(lc_server=lc.url, lc_period=3600.0), report=True,
                      cloud=cloud_service.url + "/ji-svc")
        assert ji.inference(xt[0]).cloud is not None
        ji.close()
        with pytest.raises(ClosedError, match=r"JointInference was closed; call start\(\)"):
            ji.inference(xt[1])
        ji.close()  # idempotent: no second report
        assert len(received) == 1

        with ji:  # started again: reporter, status and drain as on the first start
            again = ji.inference(xt[2])
        with pytest.raises(ClosedError):
            ji.inference(xt[3])

    assert again.is_hard and again.cloud is not None
    assert len(received) == 2 and received[1][1]["ownerInfo"]["inferenceNumber"] >= 1
    assert ji.stats["inferences"] == 2 and ji.stats["cloud_ok"] == 2


def test_absent_lc_never_blocks_inference(models, tmp_path):
    absent_lc = ctx(lc_server=f"http://127.0.0.1:{free_port()}", lc_period=0.05)
    ji = edge_job(models[0], "EdgeOnly", tmp_path, absent_lc, report=True)
    for x in models[2][:20]:
        assert ji.inference(x).is_hard is False
    ji.close()


def test_solar_corona_load_model(models, tmp_path):
    import joblib

    from sedna_lib import joint_inference

    edge, big, xt, yt = models
    path = tmp_path / "edge.joblib"
    joblib.dump(edge, path)
    # a classifier without post_fun: the miner reads its probabilities, and the edge answers with their
    # label; the cloud (a classifier's own predict) answers with labels too, returned as they are; the
    # cloud gets the raw 64-pixel image, the edge every 4th pixel
    cloud = BigModelService(big, context=ctx()).start(host="127.0.0.1", port=0, block=False)
    model = load_model(str(path), pre_fun=lambda img: img[::4],
                       cloud_offload_algorithm=joint_inference.IBT(upload_ratio=0.5),
                       big_model_endpoint=cloud.url + "/ji-svc", context=ctx(),
                       offload_dir=str(tmp_path))
    with cloud, model:
        labels = [model.predict(x) for x in xt[:10]]
    assert all(isinstance(label, int) for label in labels)
    assert model.stats["cloud_ok"] == model.stats["hard"] > 0 and model.stats["cloud_failed"] == 0


def test_get_big_model_endpoint_reads_the_deployment():
    endpoint = get_big_model_endpoint(ctx(big_model_ip="cloud.ns", big_model_port=5000))

    assert endpoint == "http://cloud.ns:5000/ji-svc"


def test_sedna_import_paths():
    import sedna  # noqa: F401
    from sedna.core.joint_inference import BigModelService as B, JointInference as J
    from sedna.service.server import InferenceServer

    from sedna_lib.compat.core import joint_inference as face
    from sedna_lib.servers.inference import InferenceServer as Mine

    assert J is face.JointInference and B is face.BigModelService and InferenceServer is Mine
    assert issubclass(J, JointInference) and issubclass(B, BigModelService)


class SlowCloud(Cloud):
    """A cloud model that takes ``delay`` seconds per answer (waits on an event that never fires)."""

    def __init__(self, model, delay):
        super().__init__(model)
        self.delay = delay
        self._never = threading.Event()

    def predict(self, data, **kwargs):
        self._never.wait(self.delay)
        return super().predict(data, **kwargs)


@pytest.mark.parametrize("read_timeout, answered_by_cloud", [(2.0, True), (0.05, False)])
def test_slow_cloud_is_waited_for_within_the_timeout_only(models, tmp_path, read_timeout, answered_by_cloud):
    import time

    edge, cloud, xt, _ = models
    service = BigModelService(SlowCloud(cloud, 0.2), context=ctx())
    service.start(host="127.0.0.1", port=0, block=False)
    port = int(service.url.rsplit(":", 1)[1])
    cfg = dict(big_model_ip="127.0.0.1", big_model_port=port, connect_timeout_s=0.5,
               request_timeout=read_timeout, max_retries=0)
    ji = edge_job(edge, "CloudOnly", tmp_path, ctx(**cfg))
    try:
        started = time.perf_counter()
        result = ji.inference(xt[0])
        elapsed = time.perf_counter() - started
    finally:
        ji.close()
        service.close()
    assert result.is_hard
    if answered_by_cloud:
        assert result.cloud is not None and 0.2 <= elapsed < read_timeout
        assert ji.pending_offloads == 0
    else:
        assert result.cloud is None and result.result is result.edge
        assert elapsed < read_timeout + 0.5  # the edge answers within the timeout, not after the cloud
        assert ji.pending_offloads == 1  # the hard example is kept for later, not lost


def test_a_call_without_options_is_answered_as_with_them_and_follows_a_new_miner(tmp_path):
    class UserCloud:  # Sedna 0.6's cloud object, in the process
        def inference(self, data, post_process=None, **kwargs):
            return np.array([1.0, 0.0])

    class Echo:
        def predict(self, data, **kwargs):
            return np.asarray(data, dtype=float)

    def job(folder):
        return JointInference(Echo(), lambda result: result[1] > 0.5, context=ctx(), cloud=UserCloud(),
                              offload_dir=str(tmp_path / folder), report=False)

    samples = [np.array([1 - p, p]) for p in (0.1, 0.9, 0.3, 0.7, 0.6)]
    plain, general = job("plain"), job("general")
    with plain, general:
        got = [plain.inference(s) for s in samples]
        want = [general.inference(s, post_process=lambda r: r) for s in samples]  # the general path
        plain.hard_example_mining_algorithm = lambda result: True  # a new miner takes effect at once
        swapped = plain.inference(samples[0])

    for a, b in zip(got, want):
        assert (a.is_hard, a.cloud is None) == (b.is_hard, b.cloud is None)
        assert np.array_equal(a.result, b.result) and np.array_equal(a.edge, b.edge)
    assert [r.is_hard for r in got] == [False, True, False, True, True]
    assert got[1].result.tolist() == [1.0, 0.0] and got[0].result is got[0].edge
    assert swapped.is_hard and swapped.cloud.tolist() == [1.0, 0.0]
    assert plain.stats["inferences"] == 6 and plain.stats["hard"] == 4 and general.stats["hard"] == 3


@pytest.fixture(scope="module")
def label_models():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    named = LogisticRegression().fit(x, np.where(x[:, 0] > 0, "pos", "neg"))
    numbered = LogisticRegression().fit(x, (x[:, 0] > 0).astype(float))  # labels 0.0 and 1.0
    texts = ["good movie", "great film", "bad movie", "awful film", "good fun", "bad time"] * 5
    labels = ["pos", "pos", "neg", "neg", "pos", "neg"] * 5
    text = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    return x, named, numbered, text


@pytest.mark.parametrize("which", ["named", "numbered"])
def test_load_model_answers_labels_from_the_edge_and_the_cloud_alike(label_models, which, tmp_path):
    # the edge's probabilities become labels (one per row of a batch); the cloud's labels are its answer,
    # as they are: float labels of a batch of two were taken for a probability vector and argmax'd
    x, named, numbered, _ = label_models
    model = {"named": named, "numbered": numbered}[which]
    with BigModelService(model, context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        answers = {}
        for miner in ("EdgeOnly", "CloudOnly"):
            with load_model(model, cloud_offload_algorithm=miner, big_model_endpoint=service.url + "/ji-svc",
                            context=ctx(), offload_dir=str(tmp_path / miner)) as joint:
                answers[miner] = (joint.predict(x[:2]), joint.predict(x[:1]), joint.predict(x[0]))
    expected = model.predict(x[:2]).tolist()
    for miner, (batch, one_row, vector) in answers.items():
        assert list(batch) == expected and list(one_row) == expected[:1], miner
        assert vector == expected[0], miner


def test_load_model_runs_a_text_classifier_on_a_document_and_on_a_list(label_models, tmp_path):
    *_, text = label_models
    with BigModelService(text, context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        for miner in ("EdgeOnly", "CloudOnly"):
            with load_model(text, cloud_offload_algorithm=miner, big_model_endpoint=service.url + "/ji-svc",
                            context=ctx(), offload_dir=str(tmp_path / miner)) as joint:
                assert joint.predict("good film") == "pos", miner
                assert list(joint.predict(["good film", "bad movie"])) == ["pos", "neg"], miner
                assert joint.stats["cloud_failed"] == 0 and not joint.joint.dead_letters
