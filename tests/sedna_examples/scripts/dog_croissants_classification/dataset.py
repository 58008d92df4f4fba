"""The example's data source: parse() returns a dataset object (a MindSpore dataset in the original)."""

import os

import numpy as np

from sedna.datasources import BaseDataSource


class ToyDataset:
    """A stand-in for ``mindspore.dataset.ImageFolderDataset``: batches of (image, label)."""

    def __init__(self, images, labels, batch_size):
        self.images, self.labels, self.batch_size = images, labels, batch_size

    def get_dataset_size(self):
        return -(-len(self.labels) // self.batch_size)

    def create_tuple_iterator(self):
        for start in range(0, len(self.labels), self.batch_size):
            yield self.images[start:start + self.batch_size], self.labels[start:start + self.batch_size]


class ImgDataset(BaseDataSource):
    def __init__(self, data_type="train", func=None):
        super(ImgDataset, self).__init__(data_type=data_type, func=func)

    def parse(self, path, mode, batch_size=2, num_parallel_workers=1, input_shape=8):
        images, labels = [], []
        for label, name in enumerate(sorted(os.listdir(path))):  # one folder per class
            for image in sorted(os.listdir(os.path.join(path, name))):
                images.append(np.load(os.path.join(path, name, image)))
                labels.append(label)
        return ToyDataset(np.stack(images), np.asarray(labels), batch_size)
