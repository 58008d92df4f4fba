"""Secure aggregation: pairwise-masked sums, so that the server learns only the sum of the updates.

The primitives live one floor down, in :mod:`sedna_lib.transport.secagg`, where the aggregation
server's secure rounds and the trainers share them; this module keeps their public names for the
simulation (``simulate(..., secure_aggregation=True)``) and for users who run a round in process.
See :mod:`sedna_lib.transport.secagg` for the protocol and its references.
"""

from __future__ import annotations

from ..transport.secagg import (
    PublicKeys,
    SecAggClient,
    SecAggServer,
    decode_fixed_point,
    encode_fixed_point,
    secure_sum,
    secure_weighted_average,
    split_layers,
    weighted_input,
)

__all__ = ["SecAggClient", "SecAggServer", "PublicKeys", "encode_fixed_point", "decode_fixed_point",
           "secure_sum", "secure_weighted_average", "weighted_input", "split_layers"]
