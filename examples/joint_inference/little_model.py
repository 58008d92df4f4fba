"""Edge worker of the digits joint-inference example: a small model, hard digits go to the cloud.

Configured only by the variables the control plane sets: BIG_MODEL_IP, BIG_MODEL_PORT,
SERVICE_NAME, HEM_NAME, HEM_PARAMETERS (e.g. '[{"key": "upload_ratio", "value": "0.3"}]' with
HEM_NAME=Margin), MINING_MODE, LC_SERVER. Run: python little_model.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from sedna.core.joint_inference import JointInference


def pool(x):
    return x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)


class Estimator:
    """The little model: logistic regression on 4x4 pooled digits, answers class probabilities."""

    def __init__(self, **kwargs):
        x, y = load_digits(return_X_y=True)
        x_train, _, y_train, _ = train_test_split(x / 16.0, y, test_size=0.5, stratify=y, random_state=0)
        self.model = LogisticRegression(max_iter=300).fit(pool(x_train), y_train)

    def predict(self, data, **kwargs):
        return self.model.predict_proba(pool(np.asarray(data, dtype=np.float32)))[0]

    def load(self, model_url=""):
        """Accept the Model object's file (MODEL_URL); this model is fitted at start-up, so it is only a marker."""


def main():
    x, y = load_digits(return_X_y=True)
    _, x_test, _, y_test = train_test_split(x / 16.0, y, test_size=0.5, stratify=y, random_state=0)
    hem = JointInference.get_hem_algorithm_from_config() or {"method": "Margin", "param": {"upload_ratio": 0.3}}
    job = JointInference(estimator=Estimator, hard_example_mining=hem)
    edge_right = joint_right = cloud_right = hard = answered = 0
    for sample, label in zip(x_test.astype(np.float32), y_test):
        is_hard, final, edge, cloud = job.inference(sample)
        edge_right += int(np.argmax(edge) == label)
        joint_right += int(np.argmax(final) == label)
        hard += int(is_hard)
        if cloud is not None:
            answered += 1
            cloud_right += int(np.argmax(cloud) == label)
    job.close()
    n = len(y_test)
    print(f"edge-only accuracy  {edge_right / n:.3f}")
    if answered:
        print(f"cloud accuracy on the {answered} hard digits it answered  {cloud_right / answered:.3f}")
    print(f"joint accuracy      {joint_right / n:.3f}")
    print(f"offload ratio       {hard / n:.3f} (requested by {hem})")


if __name__ == "__main__":
    main()
