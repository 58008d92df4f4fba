"""Train worker, as the dog-croissants incremental-learning example writes it."""

import os

from sedna.common.config import Context
from sedna.core.incremental_learning import IncrementalLearning

from dataset import ImgDataset
from interface import Estimator


def main():
    base_model_url = Context.get_parameters("base_model_url")
    trained_ckpt_url = Context.get_parameters("model_url")
    input_shape = int(Context.get_parameters("input_shape"))
    epochs = int(Context.get_parameters('epochs'))
    batch_size = int(Context.get_parameters("batch_size"))
    num_parallel_workers = int(Context.get_parameters("num_parallel_workers"))
    dataset_path = Context.get_parameters("ORIGINAL_DATASET_URL")
    train_dataset = ImgDataset(data_type="train").parse(
        path=os.path.join(dataset_path, "train"), mode="train", batch_size=batch_size,
        input_shape=input_shape, num_parallel_workers=num_parallel_workers)
    valid_dataset = ImgDataset(data_type="eval").parse(
        path=os.path.join(dataset_path, "val"), mode="eval", batch_size=batch_size,
        input_shape=input_shape, num_parallel_workers=num_parallel_workers)
    incremental_instance = IncrementalLearning(estimator=Estimator)
    return incremental_instance.train(train_data=train_dataset, base_model_url=base_model_url,
                                      trained_ckpt_url=trained_ckpt_url, valid_data=valid_dataset,
                                      epochs=epochs)


if __name__ == "__main__":
    main()
