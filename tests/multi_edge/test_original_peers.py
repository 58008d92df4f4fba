"""Multi-edge with original Sedna peers: legacy pickles name ``sedna.*``, hosted plugins serve at once."""

import io
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import requests

from sedna_lib.config import Config
from sedna_lib.multi_edge_inference import DetTrackResult, TargetImages
from sedna_lib.multi_edge_inference.data_classes import OP_MODE, Target
from sedna_lib.multi_edge_inference.plugins.registered import Feature_Extraction, ReID_Server, VideoAnalytics
from sedna_lib.transport.objects import dumps, loads

# The original's data-class module, written from the contract (its names and attributes are the
# wire format): what an original Sedna peer has where sedna_lib is not installed.
ORIGINAL_DATA_CLASSES = textwrap.dedent('''
    from enum import Enum

    class OP_MODE(Enum):
        DETECTION = "detection"
        TRACKING = "tracking"
        COVID19 = "covid19"
        NOOP = "noop"

    class DetTrackResult:
        pass

    class TargetImages:
        def __init__(self, userid, targets=[]):
            self.userid, self.targets = userid, targets

    class Target:
        pass
''')


def _frames():
    det = DetTrackResult(frame_index=3, bbox=[[1, 2, 3, 4]], scene=np.zeros((4, 4, 3), np.uint8),
                         confidence=[0.9], camera=1)
    return [det, TargetImages("u1", [np.ones((2, 2), np.uint8)]), OP_MODE.TRACKING,
            Target("u1", [np.ones(4, np.float32)]), np.float32(1.5)]


def _global_names(body):
    """The module.name of every class or function a pickle refers to."""
    names = []

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            names.append(f"{module}.{name}")
            return super().find_class(module, name)

    Recorder(io.BytesIO(body)).load()
    return names


def test_legacy_pickles_name_the_original_module_paths_never_sedna_lib():
    names = _global_names(dumps(_frames(), use_pickle=True))

    assert "sedna.core.multi_edge_inference.data_classes.DetTrackResult" in names
    assert "sedna.core.multi_edge_inference.data_classes.OP_MODE" in names
    assert not [n for n in names if n.startswith("sedna_lib") or n.startswith("numpy._core")]


def test_an_original_peer_without_sedna_lib_loads_what_sedna_lib_sends(tmp_path):
    package = tmp_path / "sedna" / "core" / "multi_edge_inference"
    package.mkdir(parents=True)
    for folder in (tmp_path / "sedna", tmp_path / "sedna" / "core", package):
        (folder / "__init__.py").write_text("")
    (package / "data_classes.py").write_text(ORIGINAL_DATA_CLASSES)
    (tmp_path / "body.pkl").write_bytes(dumps(_frames(), use_pickle=True))
    peer = textwrap.dedent('''
        import pickle, sys
        sys.modules["sedna_lib"] = None  # an original peer: sedna_lib is not there
        det, images, mode, target, score = pickle.loads(open("body.pkl", "rb").read())
        print(type(det).__module__, det.scene.shape, det.bbox, det.camera, images.targets[0].shape,
              mode.value, target.features[0].dtype, score)
    ''')

    done = subprocess.run([sys.executable, "-c", peer], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["sedna.core.multi_edge_inference.data_classes", "(4,", "4,", "3)",
                                   "[[1,", "2,", "3,", "4]]", "1", "(2,", "2)", "tracking", "float32", "1.5"]


def test_legacy_pickles_still_load_in_sedna_lib():
    det, images, mode, target, score = loads(dumps(_frames(), use_pickle=True), allow_pickle=True)

    assert isinstance(det, DetTrackResult) and det.scene.shape == (4, 4, 3)
    assert mode is OP_MODE.TRACKING and isinstance(target, Target) and score == np.float32(1.5)


class Component:
    def put(self, data):
        return None


@pytest.mark.integration
@pytest.mark.parametrize("plugin, route", [(ReID_Server, "reid"), (Feature_Extraction, "feature_extraction"),
                                           (VideoAnalytics, "video_analytics")])
def test_a_server_plugin_constructed_directly_is_serving(plugin, route):
    hosted = plugin(ip="127.0.0.1", port=0, wrapper=Component(), config=Config())
    try:
        reply = requests.get(f"http://127.0.0.1:{hosted.port}/{route}/status", timeout=5)
    finally:
        hosted.stop()

    assert reply.status_code == 200 and reply.json() == "OK"


@pytest.mark.integration
def test_a_plugin_built_with_autostart_off_waits_for_start():
    hosted = ReID_Server(ip="127.0.0.1", port=0, wrapper=Component(), config=Config(), autostart=False)
    try:
        assert not hosted.plugin_api.is_running
        hosted.start()
        assert requests.get(f"http://127.0.0.1:{hosted.port}/reid/status", timeout=5).json() == "OK"
    finally:
        hosted.stop()
