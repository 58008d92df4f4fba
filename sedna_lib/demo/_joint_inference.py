"""Demo section: joint inference on digits, a small edge model and a big cloud model on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from ..config import Config
from ..context import Context


class _Classifier:
    """A scikit-learn classifier whose ``predict`` returns class probabilities (what miners read)."""

    def __init__(self, model, pool: bool) -> None:
        self.model = model
        self.pool = pool

    def predict(self, data, **kwargs):
        x = np.asarray(data, dtype=np.float32).reshape(-1, 64)
        if self.pool:
            x = pool_2x2(x)
        proba = self.model.predict_proba(x)
        return proba[0] if np.ndim(data) == 1 else proba


def pool_2x2(x: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks of 8x8 digit images: 64 features become 16."""
    return x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)


def train_models(seed: int = 0):
    """Split digits 50/50; train the edge (pooled logistic regression) and cloud (k-NN) models."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    edge = LogisticRegression(max_iter=300).fit(pool_2x2(x_train), y_train)
    cloud = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(x_train, y_train)
    return _Classifier(edge, pool=True), _Classifier(cloud, pool=False), x_test, y_test


def run(workdir: pathlib.Path, upload_ratio: float = 0.3) -> dict:
    """Serve the big model, run the edge over the test split, print accuracies and the offload ratio.

    Parameters
    ----------
    workdir : pathlib.Path
        Folder for the offload queue.
    upload_ratio : float, default=0.3
        Share of samples the Margin miner sends to the cloud.

    Returns
    -------
    dict
        The accuracies and the realised offload ratio.
    """
    from ..joint_inference import BigModelService, JointInference

    edge, cloud, x_test, y_test = train_models()
    context = Context(Config(service_name="digits", connect_timeout_s=1.0, request_timeout=5.0))
    edge_acc = float(np.mean(edge.predict(x_test).argmax(1) == y_test))
    cloud_acc = float(np.mean(cloud.predict(x_test).argmax(1) == y_test))
    with BigModelService(cloud, context=context).start(host="127.0.0.1", port=0, block=False) as service:
        miner = {"method": "Margin", "param": {"upload_ratio": upload_ratio}}
        edge_context = Context(dataclasses.replace(context.config, metrics_port=0,  # its own status page
                                                   metrics_bind_ip="127.0.0.1"))
        with JointInference(edge, miner, context=edge_context, cloud=f"{service.url}/digits",
                            offload_dir=str(workdir / "offload"), report=False) as joint:
            print(f"   status pages: cloud {service.url}/ , edge {joint.status_.url}/ "
                  f"(metrics at /metrics on both)")
            results = [joint.inference(x) for x in x_test]
    final = np.array([np.argmax(r.result) for r in results])
    joint_acc = float(np.mean(final == y_test))
    ratio = float(np.mean([r.is_hard for r in results]))
    print(f"   cloud service on {service.url}/digits ({len(x_test)} test digits, Margin miner, "
          f"upload_ratio={upload_ratio})")
    print(f"   edge only  accuracy {edge_acc:.3f}  (logistic regression on 4x4 pooled pixels)")
    print(f"   cloud only accuracy {cloud_acc:.3f}  (4-nearest neighbours on all 64 pixels)")
    print(f"   joint      accuracy {joint_acc:.3f}  with {ratio:.1%} of samples offloaded "
          f"({joint.stats['cloud_ok']} answered by the cloud)")
    return {"edge": edge_acc, "cloud": cloud_acc, "joint": joint_acc, "offload_ratio": ratio}
