"""Eval worker, as the helmet incremental-learning example writes it."""

import os

from sedna.common.config import Context
from sedna.core.incremental_learning import IncrementalLearning
from sedna.datasources import TxtDataParse

from interface import Estimator


def _load_txt_dataset(dataset_url):
    original_dataset_url = Context.get_parameters('original_dataset_url')
    return os.path.join(os.path.dirname(original_dataset_url), dataset_url)


def main():
    test_dataset_url = Context.get_parameters('test_dataset_url')
    valid_data = TxtDataParse(data_type="test", func=_load_txt_dataset)
    valid_data.parse(test_dataset_url, use_raw=True)

    class_names = Context.get_parameters("class_names")
    input_shape = Context.get_parameters("input_shape")
    incremental_instance = IncrementalLearning(estimator=Estimator)
    return incremental_instance.evaluate(valid_data, class_names=class_names.split(","),
                                         input_shape=tuple(int(v) for v in input_shape.split(",")))


if __name__ == '__main__':
    print(main())
