"""Joint inference as a custom pipeline: an edge model, a cloud model, and routing in plain Python.

The cloud pipeline is served on 127.0.0.1 (as it would be in a cloud pod); the edge pipeline
calls it through a RemoteModel only for the samples its own logic finds hard. Two routings are
shown: Sedna's hard-example mining (a registered miner), and a custom rule that no fixed
joint-inference service offers (ask the cloud when the edge is unsure OR predicts a class the
application cares most about). Run: python custom_joint_inference.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from sedna_lib.pipeline import Model, RemoteModel, pipeline
from sedna_lib.registry import Kind, default_registry

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:], y[1200:]

# -- cloud: a bigger model, served -------------------------------------------------------------
big = MLPClassifier(hidden_layer_sizes=(64,), max_iter=600, random_state=0).fit(x_train, y_train)
cloud_model = Model(name="mlp", estimator=big, method="predict_proba", platform="cloud")


@pipeline(name="cloud", models=[cloud_model])
def cloud_pipeline(batch):
    return cloud_model(np.atleast_2d(batch))


server = cloud_pipeline.serve()  # 127.0.0.1, a free port
print(f"cloud pipeline serving on {server.url}/cloud/predict")

# -- edge: a small model and the routing logic --------------------------------------------------
small = LogisticRegression(max_iter=500, C=1.0).fit(x_train[:200], y_train[:200])
edge = Model(name="edge", estimator=small, method="predict_proba")
cloud = RemoteModel(name="cloud", url=server.url)
miner = default_registry.create(Kind.HARD_EXAMPLE_MINING, "CrossEntropy", threshold_cross_entropy=0.5)


@pipeline(name="joint", models=[edge, cloud])
def joint(batch):
    """Sedna's joint inference: mine hard examples at the edge, ask the cloud for those."""
    p_edge = edge(batch)
    hard = np.array([bool(miner(p)) for p in p_edge])
    out = p_edge.copy()
    if hard.any():
        out[hard] = np.asarray(cloud(batch[hard]))
    return out.argmax(axis=1), hard


@pipeline(name="watch_for_sevens", models=[edge, cloud])
def watch_for_sevens(batch):
    """Custom logic: unsure samples AND every predicted 7 are checked by the cloud."""
    p_edge = edge(batch)
    ask = (p_edge.max(axis=1) < 0.6) | (p_edge.argmax(axis=1) == 7)
    out = p_edge.copy()
    if ask.any():
        out[ask] = np.asarray(cloud(batch[ask]))
    return out.argmax(axis=1), ask


try:
    edge_only = small.predict(x_test)
    for routine in (joint, watch_for_sevens):
        labels, asked = routine(x_test)
        print(f"{routine.name:>17}: accuracy {np.mean(labels == y_test):.3f} "
              f"(edge only {np.mean(edge_only == y_test):.3f}), cloud asked for {asked.mean():.0%} of samples")
finally:
    joint.close()
    cloud_pipeline.close()
