"""Every registered algorithm passes the sedna_lib.testing contract checks."""

import pytest

from sedna_lib.registry import Kind, default_registry
from sedna_lib.testing import check_hard_example_miner


# -- hard-example miners ------------------------------------------------------------------------

@pytest.mark.parametrize("name", default_registry.names(Kind.HARD_EXAMPLE_MINING))
def test_registered_miner_passes_the_contract(name):
    check_hard_example_miner(default_registry.create(Kind.HARD_EXAMPLE_MINING, name))


def test_every_builtin_miner_is_registered():
    assert {"Threshold", "CrossEntropy", "IBT", "Random", "EdgeOnly", "CloudOnly", "Margin"} <= set(
        default_registry.names(Kind.HARD_EXAMPLE_MINING))
