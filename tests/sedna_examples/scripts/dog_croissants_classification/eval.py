"""Eval worker, as the dog-croissants incremental-learning example writes it."""

import os

from sedna.common.config import Context
from sedna.core.incremental_learning import IncrementalLearning

from dataset import ImgDataset
from interface import Estimator


def main():
    dataset_path = Context.get_parameters("ORIGINAL_DATASET_URL")
    test_data = ImgDataset(data_type="eval").parse(path=os.path.join(dataset_path, "val"), mode="eval")
    incremental_instance = IncrementalLearning(estimator=Estimator)
    return incremental_instance.evaluate(test_data, class_names=["Croissants", "Dog"], input_shape=224)


if __name__ == "__main__":
    print(main())
