"""Aggregation and train objects of the v2 example, built as its scripts build them, then described."""

import json

from sedna.common.config import BaseConfig
from sedna.core.federated_learning import FederatedLearningV2
from sedna.datasources import TxtDataParse
from sedna.service.server import AggregationServerV2

from interface import Dataset, Estimator, fedavg, s3_transmitter, simple_chooser


def main():
    estimator = Estimator()
    estimator.saved = BaseConfig.model_url
    server = AggregationServerV2(data=None, estimator=estimator, aggregation=fedavg,
                                 transmitter=s3_transmitter, chooser=simple_chooser)
    train_data = TxtDataParse(data_type="train", func=lambda line: line.split(","))
    train_data.parse(BaseConfig.train_dataset_url)
    client = FederatedLearningV2(data=Dataset(trainset=train_data), estimator=estimator, aggregation=fedavg,
                                 transmitter=s3_transmitter)
    print("OBJECTS " + json.dumps({
        "aggregation": type(fedavg).__name__, "chooser": type(simple_chooser).__name__,
        "per_round": simple_chooser.per_round, "transmitter": type(s3_transmitter).__name__,
        "server": type(server).__name__, "client": type(client).__name__, "saved": estimator.saved,
        "samples": len(train_data.x)}), flush=True)


if __name__ == "__main__":
    main()
