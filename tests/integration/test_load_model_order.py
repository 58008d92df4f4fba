"""solar_corona's ``load_model`` on a detector: pre -> edge -> post (NMS) -> miner -> raw input to the cloud.

The edge is a detection head that answers every anchor (64 candidate boxes per image, most of
them background, each object found three times); ``post_fun`` is its non-maximum suppression.
The miner must read the boxes that NMS kept, and a hard image must reach the big model as the
raw frame the camera gave, not the edge's pre-processed copy.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sedna_lib import joint_inference
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import DataError
from sedna_lib.joint_inference import BigModelService, load_model

pytestmark = pytest.mark.integration

RAW_SHAPE = (32, 32, 1)
ANCHORS = 64


def frame(rng: np.random.Generator) -> np.ndarray:
    """A raw camera frame carrying 1-4 objects: row 0 holds their visibility, rows 2-5 their boxes."""
    img = np.zeros(RAW_SHAPE)
    n = int(rng.integers(1, 5))
    for j in range(n):
        img[0, 2 * j, 0] = rng.uniform(0.2, 0.99)  # how clearly the object shows
        x, y = rng.uniform(0, 24, 2)
        img[2:6, 2 * j, 0] = [x, y, x + 8, y + 8]
        img[6, 2 * j, 0] = j % 3  # its class
    return img


def downsample(img: np.ndarray) -> np.ndarray:
    """The edge's pre-processing: half resolution."""
    return img[::2, ::2]


class EdgeDetector:
    """A detection head: one row per anchor, ``[x1, y1, x2, y2, objectness logit, label]``, before NMS."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(1)
        self.inputs: list[tuple[int, ...]] = []

    def predict(self, data, **kwargs):
        img = np.asarray(data)
        self.inputs.append(img.shape)
        out = np.zeros((ANCHORS, 6))
        out[:, 4] = self.rng.uniform(-8.0, -3.0, ANCHORS)  # background anchors (logits)
        out[:, :4] = self.rng.uniform(0, 32, (ANCHORS, 4))
        row = 0
        for j in range(img.shape[1]):
            score = img[0, j, 0]
            if score <= 0:
                continue
            box = [img[1, j, 0], 0.0, img[2, j, 0], 8.0]  # half resolution: x and x + 8 survive, y does not
            for k, decay in enumerate((1.0, 0.92, 0.85)):  # the same object seen by three anchors
                logit = np.log(score * decay / (1 - score * decay))
                out[row] = [box[0] + k * 0.3, box[1], box[2] + k * 0.3, box[3], logit, img[3, j, 0]]
                row += 1
        return out


def nms(raw, iou_threshold: float = 0.5, min_score: float = 0.1):
    """Sigmoid of the objectness, then non-maximum suppression: the boxes the detector reports."""
    raw = np.array(raw, dtype=float)
    raw[:, 4] = 1 / (1 + np.exp(-raw[:, 4]))
    kept: list[list[float]] = []
    for box in raw[np.argsort(-raw[:, 4])]:
        if box[4] < min_score:
            break
        if all(_iou(box, other) < iou_threshold for other in kept):
            kept.append([float(v) for v in box])
    return kept


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class BigDetector:
    """The cloud's own service: takes the raw frame, does its own pre-processing, answers boxes."""

    def __init__(self) -> None:
        self.inputs: list[tuple[int, ...]] = []
        self.lock = threading.Lock()

    def predict(self, data, **kwargs):
        img = np.asarray(data)
        with self.lock:
            self.inputs.append(img.shape)
        boxes = []
        for j in range(0, img.shape[1], 2):
            if img[0, j, 0] > 0:
                boxes.append([float(v) for v in img[2:6, j, 0]] + [0.999, int(img[6, j, 0])])
        return boxes


def ctx() -> Context:
    return Context(Config(service_name="detector"))


@pytest.fixture
def big_detector():
    model = BigDetector()
    with BigModelService(model, context=ctx()).start(host="127.0.0.1", port=0, block=False) as service:
        yield model, service.url + "/detector"


def test_ibt_reads_the_boxes_nms_kept_and_holds_its_upload_ratio(big_detector, tmp_path):
    cloud, endpoint = big_detector
    edge = EdgeDetector()
    model = load_model(edge, downsample, nms, cloud_offload_algorithm=joint_inference.IBT(upload_ratio=0.3),
                       big_model_endpoint=endpoint, context=ctx(), offload_dir=str(tmp_path))
    rng = np.random.default_rng(0)
    n = 400

    with model:
        details = [model.predict_details(frame(rng)) for _ in range(n)]

    ratio = sum(d.is_hard for d in details) / n
    assert abs(ratio - 0.3) <= 0.02, ratio
    assert model.stats["cloud_ok"] == sum(d.is_hard for d in details)


def test_a_hard_frame_reaches_the_cloud_raw_and_predict_returns_the_clouds_answer(big_detector, tmp_path):
    cloud, endpoint = big_detector
    edge = EdgeDetector()
    model = load_model(edge, downsample, nms, cloud_offload_algorithm=joint_inference.IBT(upload_ratio=0.3),
                       big_model_endpoint=endpoint, context=ctx(), offload_dir=str(tmp_path))
    rng = np.random.default_rng(3)
    frames = [frame(rng) for _ in range(60)]

    with model:
        answers = [(model.predict(x), model.last_result) for x in frames]

    hard = [(x, answer) for x, (answer, d) in zip(frames, answers) if d.is_hard]
    easy = [(answer, d) for answer, d in (a for a in answers) if not d.is_hard]
    assert hard and easy
    assert cloud.inputs == [RAW_SHAPE] * len(hard)  # the raw frame, not the edge's half-resolution copy
    assert set(edge.inputs) == {(16, 16, 1)}
    for x, answer in hard:
        assert answer == BigDetector().predict(x)  # the cloud's own answer, untouched by the edge's NMS
    for answer, d in easy:
        assert answer == nms(d.edge) and answer == d.result  # the edge's post-processed boxes


def test_post_fun_output_a_miner_cannot_read_is_a_data_error_naming_post_fun(big_detector, tmp_path):
    _, endpoint = big_detector
    model = load_model(EdgeDetector(), downsample, lambda raw: "boxes as text",
                       cloud_offload_algorithm=joint_inference.IBT(upload_ratio=0.3),
                       big_model_endpoint=endpoint, context=ctx(), offload_dir=str(tmp_path))

    with model, pytest.raises(DataError, match="post_fun"):
        model.predict(frame(np.random.default_rng(0)))
