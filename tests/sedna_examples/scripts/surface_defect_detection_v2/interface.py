"""Objects of the v2 surface-defect example, built as its interface.py builds them (no training)."""

from sedna.algorithms.aggregation import FedAvgV2
from sedna.algorithms.client_choose import SimpleClientChoose
from sedna.common.config import Context
from sedna.core.federated_learning import FederatedLearningV2

simple_chooser = SimpleClientChoose(per_round=2)

# It has been determined that mistnet is required here.
fedavg = FedAvgV2()

# The function `get_transmitter_from_config()` returns an object instance.
s3_transmitter = FederatedLearningV2.get_transmitter_from_config()


class Dataset:
    def __init__(self, trainset=None, testset=None) -> None:
        self.customized = True
        self.trainset = trainset
        self.testset = testset


class Estimator:
    def __init__(self) -> None:
        self.model = None
        self.pretrained = None
        self.saved = None
        self.hyperparameters = {"type": "basic", "rounds": int(Context.get_parameters("exit_round", 5)),
                                "target_accuracy": 0.97, "epochs": int(Context.get_parameters("epochs", 5)),
                                "batch_size": 16, "optimizer": "SGD", "learning_rate": 0.01}
