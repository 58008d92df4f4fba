import dataclasses
import pickle

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.exceptions import BackendUnavailableError, ParameterError, RemoteError
from sedna_lib.multi_edge_inference import PLUGIN, DetTrackResult, FEService, ObjectDetector, ReID, TargetImages
from sedna_lib.multi_edge_inference.plugins.registered import ReID_I
from sedna_lib.transport import codec
from sedna_lib.transport.multi_edge import FE
from sedna_lib.transport.objects import MEDIA_TYPE, dumps

from ._models import CropDetector, GalleryReID, ProjectionFE, identity_images

pytestmark = pytest.mark.integration

BASE = Config(fe_model_bind_url="127.0.0.1", fe_model_bind_port=0, det_model_bind_url="127.0.0.1",
              det_model_bind_port=0, reid_model_bind_url="127.0.0.1", reid_model_bind_port=0,
              max_request_bytes=4096)


# 192 bytes that used to decode to numpy.void(900_000_000): 0.9 GB from one small request
VOID_BOMB = codec.encode([], {"$v": 1, "obj": {"$np": "V", "v": 900_000_000}}).ljust(192)


def _port(service, kind):
    return service.get_plugin(kind).port


def _point(service, kind, port):
    service.get_plugin(kind).plugin_api.port = port


@pytest.fixture
def fe_service():
    fe = FEService(models=[ProjectionFE(config=BASE)], config=BASE)
    yield fe
    fe.close()


def _url(fe):
    return f"http://127.0.0.1:{_port(fe, PLUGIN.FEATURE_EXTRACTION)}/feature_extraction"


def test_get_target_features_round_trips_through_the_safe_codec(fe_service):
    client = FE("feature_extraction", ip="127.0.0.1", port=_port(fe_service, PLUGIN.FEATURE_EXTRACTION))

    targets = client.get_target_features([TargetImages("7", [identity_images(1)[0]])])

    assert client.check_server_status() == "OK"
    assert targets[0].userid == "7" and np.asarray(targets[0].features).shape == (1, 16)


@pytest.mark.parametrize("body, status, match", [
    (b"not a message", 400, "malformed"),
    (pickle.dumps([1, 2]), 415, "SEDNA_LEGACY_PICKLE"),
    (b"\x80" + b"x" * 5000, 413, "limit"),
    (b"", 400, "empty"),
    (VOID_BOMB, 400, "numpy scalar"),
])
def test_bad_bodies_get_4xx_and_the_service_keeps_serving(fe_service, body, status, match):
    reply = requests.post(_url(fe_service) + "/get_target_features", data=body, timeout=5)

    assert reply.status_code == status and match in reply.json()["detail"]
    ok = requests.post(_url(fe_service) + "/get_target_features",
                       data=dumps([TargetImages("1", [np.ones(64)])]), headers={"Content-Type": MEDIA_TYPE},
                       timeout=5)
    assert ok.status_code == 200
    health = requests.get(f"http://127.0.0.1:{_port(fe_service, PLUGIN.FEATURE_EXTRACTION)}/healthz", timeout=5)
    assert health.json()["rejected"] == 1


def test_a_model_failure_is_a_5xx_that_the_client_raises_and_serving_goes_on(fe_service):
    client = FE("feature_extraction", ip="127.0.0.1", port=_port(fe_service, PLUGIN.FEATURE_EXTRACTION))

    with pytest.raises(RemoteError, match="422") as info:
        client.get_target_features([TargetImages("1", [np.ones(3)])])  # wrong image size: a ValueError

    assert info.value.status_code == 422
    assert client.check_server_status() == "OK"


def test_token_is_required_when_configured():
    cfg = dataclasses.replace(BASE, auth_token="s3cret")
    with FEService(models=[ProjectionFE(config=cfg)], config=cfg) as fe:
        port = _port(fe, PLUGIN.FEATURE_EXTRACTION)
        anonymous = FE("feature_extraction", ip="127.0.0.1", port=port)
        with pytest.raises(RemoteError, match="401"):
            anonymous.get_target_features([TargetImages("1", [np.ones(64)])])
        trusted = FE("feature_extraction", ip="127.0.0.1", port=port, token="s3cret")
        assert len(trusted.get_target_features([TargetImages("1", [np.ones(64)])])) == 1


def test_pickle_wire_works_only_when_opted_in():
    cfg = dataclasses.replace(BASE, legacy_pickle=True, max_request_bytes=1 << 20)
    with FEService(models=[ProjectionFE(config=cfg)], config=cfg) as fe:
        port = _port(fe, PLUGIN.FEATURE_EXTRACTION)
        legacy = FE("feature_extraction", ip="127.0.0.1", port=port, legacy_pickle=True)

        targets = legacy.get_target_features([TargetImages("1", [np.ones(64)])])

        assert targets[0].userid == "1"


def test_a_legacy_pickle_cannot_allocate_past_the_request_limit():
    cfg = dataclasses.replace(BASE, legacy_pickle=True, max_request_bytes=1 << 20)
    bomb = b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x80\x00\x85R."  # bytearray(8 MiB), 33 bytes
    with FEService(models=[ProjectionFE(config=cfg)], config=cfg) as fe:
        port = _port(fe, PLUGIN.FEATURE_EXTRACTION)
        url = f"http://127.0.0.1:{port}/feature_extraction/get_target_features"

        reply = requests.post(url, data=bomb, timeout=5)

        assert reply.status_code == 400 and "limit" in reply.json()["detail"]


def test_cameras_to_reid_end_to_end_identifies_people():
    n_ids, rng = 4, np.random.default_rng(0)
    protos = identity_images(n_ids)
    cfg = dataclasses.replace(BASE, max_request_bytes=1 << 20)
    fe = FEService(models=[ProjectionFE(config=cfg)], config=cfg, plugins=[ReID_I(config=cfg)])
    cfg_fe = dataclasses.replace(cfg, fe_model_bind_port=_port(fe, PLUGIN.FEATURE_EXTRACTION))
    reid_model = GalleryReID(targets=protos, config=cfg_fe)
    reid = ReID(models=[reid_model], config=cfg_fe, timeout=0.05)
    det = ObjectDetector(models=[CropDetector(config=cfg_fe)], config=cfg_fe, motion_filter=False)
    try:
        _point(fe, PLUGIN.VIDEO_ANALYTICS_I, _port(det, PLUGIN.VIDEO_ANALYTICS))
        _point(fe, PLUGIN.REID_I, _port(reid, PLUGIN.REID))
        truth = []
        frames = 6
        reid_model.expected = frames * 2
        for i in range(frames):
            who = rng.choice(n_ids, size=2, replace=False)
            truth += [str(w) for w in who]
            crops = protos[who] + 0.1 * rng.normal(size=(2, 64)).astype("float32")
            det.put((crops, i, i % 3))

        assert reid_model.done.wait(10), f"ReID saw {len(reid_model.seen_)} results, errors {reid.last_error_}"
        seen = sorted(reid_model.seen_, key=lambda d: d.frame_index)
        predicted = [str(t) for d in seen for t in d.targetID]
        assert predicted == truth
        assert len(det.results_) == frames and isinstance(det.results_[0], DetTrackResult)
        assert det.results_[0].features  # enriched results came back to the edge
    finally:
        det.close()
        reid.close()
        fe.close()


def test_reid_without_reachable_feature_extraction_counts_the_failure_and_serves():
    cfg = dataclasses.replace(BASE, fe_model_bind_port=9)  # nothing listens there
    reid = ReID(models=[GalleryReID(targets=identity_images(1), config=cfg)], config=cfg)
    try:
        assert reid.errors_ == 1 and "feature_extraction" in str(reid.last_error_)
        port = _port(reid, PLUGIN.REID)
        assert requests.get(f"http://127.0.0.1:{port}/reid/status", timeout=5).json() == "OK"
    finally:
        reid.close()


def test_kafka_enabled_without_kafka_python_names_the_extra():
    pytest.importorskip("fastapi")
    try:
        import kafka  # noqa: F401
        pytest.skip("kafka-python is installed; this test covers its absence")
    except ImportError:
        pass
    cfg = dataclasses.replace(BASE, kafka_enabled=True, kafka_bind_ips=("127.0.0.1",), kafka_bind_ports=("9092",))

    with pytest.raises(BackendUnavailableError, match=r"kafka-python.*'kafka' extra"):
        FEService(models=[ProjectionFE(config=cfg)], config=cfg)


@pytest.mark.parametrize("size", [float("nan"), float("inf"), -1, 2.5, True], ids=repr)
def test_reid_refuses_a_max_results_that_is_not_a_count_before_serving(size):
    cfg = dataclasses.replace(BASE, fe_model_bind_port=9)
    reid = ReID(models=[GalleryReID(targets=identity_images(1), config=cfg)], config=cfg, max_results=size,
                autostart=False)
    with pytest.raises(ParameterError, match="max_results must be a whole number >= 0"):
        reid.start()
    assert not reid.is_running and reid.get_plugin(PLUGIN.REID).port == 0


def test_reid_keeps_at_most_max_results():
    cfg = dataclasses.replace(BASE, fe_model_bind_port=9)
    reid = ReID(models=[GalleryReID(targets=identity_images(1), config=cfg)], config=cfg, max_results="2")
    try:
        reid.results_.extend([1, 2, 3])
        assert list(reid.results_) == [2, 3]
    finally:
        reid.close()
