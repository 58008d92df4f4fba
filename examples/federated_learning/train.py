"""Training worker (Sedna style): train on this node's digits, upload the weights, go on from the aggregate.

Configured only by the control plane's variables: AGG_IP, AGG_PORT, WORKER_NAME, JOB_NAME,
NAMESPACE, LC_SERVER, TRAIN_DATASET_URL (this node's index, see prepare_data.py), MODEL_URL and
MODEL_NAME (where each round's model is saved); BACKEND_TYPE (TORCH or KERAS); the example's
``epochs`` (1), ``batch_size`` (32), ``learning_rate`` (0.1) and ``aggregation_algorithm``
(FedAvg); TEST_DATASET_URL, if set, is scored at the end. Run: python train.py
"""

import os

import numpy as np

from interface import Estimator, accuracy
from sedna.common.config import BaseConfig, Context
from sedna.core.federated_learning import FederatedLearning
from sedna.datasources import TxtDataParse
from sedna_lib.exceptions import ConfigError


def parse_with(index):
    """Return a line parser for ``index``: ``images/n.npy label`` -> ``[image, label]``."""
    folder = os.path.dirname(index)

    def image_process(line):
        path, label = line.split()
        return [np.load(os.path.join(folder, path), allow_pickle=False), int(label)]

    return image_process


def main():
    """Parse this node's index, run the federated rounds, score the model when a test set is given."""
    train_url, test_url = BaseConfig.train_dataset_url, BaseConfig.test_dataset_url
    if not train_url:
        raise ConfigError("TRAIN_DATASET_URL is unset: set it to this node's index file "
                          "(see prepare_data.py)", variable="TRAIN_DATASET_URL")
    train_data = TxtDataParse(data_type="train", func=parse_with(train_url)).parse(train_url)
    fl_model = FederatedLearning(estimator=Estimator(),
                                 aggregation=Context.get_parameters("aggregation_algorithm", "FedAvg"))
    fl_model.train(train_data=(np.stack(train_data.x), np.asarray(train_data.y, dtype=np.int64)),
                   epochs=int(Context.get_parameters("epochs", 1)),
                   batch_size=int(Context.get_parameters("batch_size", 32)),
                   learning_rate=float(Context.get_parameters("learning_rate", 0.1)))
    print(f"{fl_model.worker_name}: {len(fl_model.rounds_)} rounds on {len(train_data.y)} local samples")
    if test_url:
        test = TxtDataParse(data_type="eval", func=parse_with(test_url)).parse(test_url)
        score = accuracy(fl_model.estimator.estimator, np.stack(test.x), np.asarray(test.y))
        print(f"test accuracy of the federated model: {score:.3f}")
    fl_model.close()


if __name__ == "__main__":
    main()
