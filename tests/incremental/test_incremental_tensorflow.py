"""Incremental learning with TensorFlow: a Keras model in the local loop, a .pb estimator in the train pod."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.incremental_learning import IncrementalLearning, run_rounds

pytestmark = pytest.mark.tensorflow


def _blobs(rng, n):
    y = rng.integers(0, 2, n)
    x = (rng.normal(size=(n, 4)) + 2.0 * y[:, None]).astype("float32")
    return x, y


def test_loop_retrains_a_cloned_keras_model_and_leaves_the_original_untouched():
    # Arrange
    pytest.importorskip("tensorflow")
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
    original = [w.copy() for w in model.get_weights()]
    initial, stream, eval_data = _blobs(rng, 20), _blobs(rng, 60), _blobs(rng, 60)

    # Act
    [record] = run_rounds(model, initial, stream, eval_data, rounds=1, upload_budget=0.5, min_delta=0.0,
                          train_kwargs={"epochs": 5, "batch_size": 16, "optimizer": "adam",
                                        "learning_rate": 0.05, "verbose": 0}, progress=False)

    # Assert
    assert (record.uploaded, record.labelled_total) == (30, 50)
    assert record.metric_after >= record.metric_before and record.metric_after > 0.8
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), original))


def test_train_of_a_tensorflow_estimator_reports_pb_and_ckpt_host_paths(tmp_path, lc_stub):
    # Arrange: a Sedna-style TF estimator that freezes its graph to a .pb file
    tf = pytest.importorskip("tensorflow")

    class Estimator:
        def train(self, train_data, valid_data=None, **kwargs):
            x, y = train_data
            self.centre = tf.constant(np.mean(x[y == 1], axis=0) - np.mean(x[y == 0], axis=0))
            return {"loss": 0.25}

        def predict(self, data, **kwargs):
            return (tf.linalg.matvec(tf.constant(data), self.centre) > 0).numpy().astype(int)

        def save(self, model_path):
            graph = tf.function(lambda x: tf.linalg.matvec(x, self.centre)).get_concrete_function(
                tf.TensorSpec([None, 4], tf.float32)).graph.as_graph_def()
            tf.io.write_graph(graph, os.path.dirname(model_path), os.path.basename(model_path), as_text=False)

    prefix = tmp_path / "home" / "data"
    cfg = Config(lc_server=lc_stub.url, worker_name="trainworker-x1y2z", namespace="default",
                 job_name="helmet-il", backend_type="TENSORFLOW",
                 model_url=str(prefix / "output" / "train" / "1"), data_path_prefix=str(prefix))
    job = IncrementalLearning(estimator=Estimator, context=Context(cfg))

    # Act
    backend = job.train(_blobs(np.random.default_rng(0), 40))
    body = lc_stub.wait_for(1)[0]

    # Assert
    saved = prefix / "output" / "train" / "1" / backend.model_name
    assert backend.model_name.endswith(".pb") and saved.is_file()
    graph = tf.compat.v1.GraphDef.FromString(saved.read_bytes())
    assert len(graph.node) > 0
    assert (body["kind"], body["status"]) == ("train", "completed")
    assert body["results"] == [
        {"format": "pb", "url": f"/output/train/1/{backend.model_name}", "metrics": {"loss": 0.25}},
        {"format": "ckpt", "url": "/output/train/1", "metrics": {"loss": 0.25}},
    ]
