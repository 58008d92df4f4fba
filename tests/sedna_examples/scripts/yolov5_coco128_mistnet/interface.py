"""Objects of the MistNet example, built as its interface.py builds them (no training)."""

from sedna.algorithms.aggregation import MistNet
from sedna.algorithms.client_choose import SimpleClientChoose
from sedna.common.config import Context
from sedna.core.federated_learning import FederatedLearningV2

# The function `get_transmitter_from_config()` returns an object instance.
s3_transmitter = FederatedLearningV2.get_transmitter_from_config()


class Dataset:
    def __init__(self) -> None:
        self.parameters = {"datasource": "YOLO", "data_params": "packages/coco128.yaml",
                           "partition_size": 128}


class Estimator:
    def __init__(self) -> None:
        self.model = None
        self.pretrained = None
        self.hyperparameters = {"type": "yolov5", "rounds": 1, "target_accuracy": 0.99, "epochs": 1,
                                "batch_size": 16, "optimizer": "SGD"}


mistnet = MistNet(cut_layer=Context.get_parameters("cut_layer"), epsilon=Context.get_parameters("epsilon"))

simple_chooser = SimpleClientChoose(per_round=1)
