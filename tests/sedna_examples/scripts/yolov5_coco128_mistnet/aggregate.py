"""Aggregation object of the MistNet example, built as its aggregate.py builds it, then described."""

import json

from sedna.common.config import BaseConfig
from sedna.service.server import AggregationServerV2

from interface import Dataset, Estimator, mistnet, s3_transmitter, simple_chooser


def run_server():
    data = Dataset()
    estimator = Estimator()
    estimator.pretrained = BaseConfig.pretrained_model_url.replace("yolov5.pth", "")
    server = AggregationServerV2(data=data, estimator=estimator, aggregation=mistnet,
                                 transmitter=s3_transmitter, chooser=simple_chooser)
    print("OBJECTS " + json.dumps({
        "aggregation": type(mistnet).__name__, "cut_layer": mistnet.cut_layer, "epsilon": mistnet.epsilon,
        "per_round": simple_chooser.per_round, "transmitter": type(s3_transmitter).__name__,
        "server": type(server).__name__, "pretrained": estimator.pretrained}), flush=True)


if __name__ == "__main__":
    run_server()
