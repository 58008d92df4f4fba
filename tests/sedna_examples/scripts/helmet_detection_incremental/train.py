"""Train worker, as the helmet incremental-learning example writes it."""

import os

from sedna.common.config import BaseConfig, Context
from sedna.core.incremental_learning import IncrementalLearning
from sedna.datasources import TxtDataParse

from interface import Estimator


def _load_txt_dataset(dataset_url):
    # the dataset index holds paths relative to the original dataset's folder
    original_dataset_url = Context.get_parameters('original_dataset_url')
    return os.path.join(os.path.dirname(original_dataset_url), dataset_url)


def main():
    train_data = TxtDataParse(data_type="train", func=_load_txt_dataset)
    train_data.parse(BaseConfig.train_dataset_url, use_raw=True)

    class_names = Context.get_parameters("class_names")
    obj_threshold = Context.get_parameters("obj_threshold")
    nms_threshold = Context.get_parameters("nms_threshold")
    input_shape = Context.get_parameters("input_shape")
    epochs = Context.get_parameters('epochs')
    batch_size = Context.get_parameters('batch_size')
    print(f"model_url {BaseConfig.model_url}", flush=True)

    incremental_instance = IncrementalLearning(estimator=Estimator)
    return incremental_instance.train(train_data=train_data, epochs=epochs, batch_size=batch_size,
                                      class_names=class_names.split(","), input_shape=input_shape,
                                      obj_threshold=obj_threshold, nms_threshold=nms_threshold)


if __name__ == '__main__':
    main()
