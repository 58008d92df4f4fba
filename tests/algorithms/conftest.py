"""Fixtures shared by the aggregation tests."""

import pytest


@pytest.fixture(params=["compiled", "numpy"])
def sum_path(request):
    """Run the test with the compiled weighted sums (numba) and again with the numpy path."""
    from sedna_lib.algorithms.aggregation import _kernels

    if request.param == "numpy":
        with _kernels.disabled():
            yield "numpy"
        return
    if not _kernels.available():
        pytest.skip("numba is not installed (the `fast` extra)")
    yield "compiled"
