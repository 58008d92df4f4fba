"""Federated aggregators: FedAvg(M), FedProx, FedAdam/Yogi/Adagrad, robust rules, DP FedAvg, MistNet."""

from sedna_lib.base import AggClient, Aggregator

from . import aggregation
from .aggregation import BaseAggregation
from .dp import DPFedAvg, LocalDPFedAvg
from .fedavg import FedAvg
from .fedavg_v2 import FedAvgV2
from .fedavgm import FedAvgM
from .fedbuff import FedBuff
from .fedopt import FedAdagrad, FedAdam, FedYogi
from .fedprox import FedProx
from .mistnet import MistNet
from .robust import Bulyan, Krum, Median, MultiKrum, TrimmedMean

__all__ = ["AggClient", "Aggregator", "aggregation", "BaseAggregation", "Bulyan", "DPFedAvg",
           "FedAdagrad", "FedAdam", "FedAvg", "FedAvgM", "FedAvgV2", "FedBuff", "FedProx", "FedYogi", "Krum",
           "LocalDPFedAvg", "Median", "MistNet", "MultiKrum", "TrimmedMean"]
