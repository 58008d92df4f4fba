"""solar_corona's ``sedna_lib.collaborative_training``: federated training under the proposal's name.

The code lives in :mod:`sedna_lib.federated_learning.fit`; this module keeps the name the proposal's scripts
import (``sedna_lib.collaborative_training.fit(...)``).
"""

from .federated_learning.fit import SimulationResult, aggregator_from, client_for, fit, path_name, simulate

__all__ = ["fit", "simulate", "SimulationResult", "aggregator_from", "client_for", "path_name"]
