"""Secure aggregation: masks cancel exactly, dropouts are recovered from Shamir shares, the
server never sees an input in the clear."""

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the secagg extra (cryptography) is missing")
pytest.importorskip("Cryptodome", reason="the secagg extra (pycryptodomex) is missing")

from sedna_lib import secure_aggregation as sa  # noqa: E402
from sedna_lib.algorithms.aggregation import _math  # noqa: E402
from sedna_lib.exceptions import AggregationError, ParameterError  # noqa: E402


def _round(vectors, threshold, dropouts=()):
    ids = sorted(vectors)
    clients = {cid: sa.SecAggClient(cid) for cid in ids}
    keys = {cid: c.advertise_keys() for cid, c in clients.items()}
    for cid, c in clients.items():
        for other, sealed in c.share_keys(keys, threshold).items():
            clients[other].receive_shares({cid: sealed})
    masked = {cid: clients[cid].masked_input(sa.encode_fixed_point(vectors[cid], 16))
              for cid in ids if cid not in dropouts}
    return clients, keys, masked


def test_masked_inputs_sum_to_the_exact_fixed_point_sum():
    rng = np.random.default_rng(0)
    vectors = {f"c{i}": rng.normal(size=1000) for i in range(5)}
    clients, keys, masked = _round(vectors, 3)
    reveals = [clients[c].unmask(sorted(masked), []) for c in sorted(masked)]
    total = sa.SecAggServer(3).unmasked_sum(masked, keys, reveals)
    expected = sum(sa.encode_fixed_point(v, 16) for v in vectors.values())  # wraps mod 2^64 too
    assert np.array_equal(total, expected)


def test_a_masked_input_looks_nothing_like_the_input():
    vectors = {f"c{i}": np.zeros(4096) for i in range(3)}
    _, _, masked = _round(vectors, 2)
    for y in masked.values():
        assert np.count_nonzero(y) > 4000  # zeros, masked: uniformly spread words
        bits = np.unpackbits(y.view(np.uint8))
        assert abs(bits.mean() - 0.5) < 0.01


def test_secure_fedavg_equals_plain_fedavg_exactly_on_dyadic_values():
    rng = np.random.default_rng(1)
    updates = [(f"c{i}", [rng.integers(-64, 64, size=(3, 4)) / 8.0, rng.integers(-64, 64, size=4) / 8.0],
                int(rng.integers(1, 50))) for i in range(6)]
    got, total = sa.secure_weighted_average(updates)
    plain = _math.weighted_average([(layers, n) for _, layers, n in updates])
    assert total == sum(n for *_, n in updates)
    for g, p in zip(got, plain):
        assert np.array_equal(g, p)


def test_secure_fedavg_matches_float_fedavg_to_the_fixed_point_step():
    rng = np.random.default_rng(2)
    updates = [(f"c{i}", [rng.normal(size=(20, 10)).astype(np.float32), rng.normal(size=10)], 10 + i)
               for i in range(4)]
    got, _ = sa.secure_weighted_average(updates, fractional_bits=24)
    plain = _math.weighted_average([(layers, n) for _, layers, n in updates])
    for g, p in zip(got, plain):
        np.testing.assert_allclose(g, p, atol=2 ** -24)


def test_dropouts_are_recovered_from_the_survivors_shares():
    rng = np.random.default_rng(3)
    vectors = {f"c{i}": rng.integers(-1000, 1000, size=256).astype(float) for i in range(7)}
    dropped = {"c2", "c5"}
    summed = sa.secure_sum(vectors, threshold=4, dropouts=dropped)
    expected = sum(v for cid, v in vectors.items() if cid not in dropped)
    assert np.array_equal(summed, expected)


def test_too_many_dropouts_cannot_be_unmasked():
    vectors = {f"c{i}": np.ones(8) for i in range(5)}
    with pytest.raises(AggregationError, match="only 2 clients answered the unmasking step, fewer than the "
                                               "threshold 3"):
        sa.secure_sum(vectors, threshold=3, dropouts={"c0", "c1", "c2"})


def test_a_tampered_share_is_refused():
    clients, keys, masked = _round({f"c{i}": np.ones(8) for i in range(3)}, 2)
    sealed = bytearray(clients["c1"].received_["c0"])
    sealed[-1] ^= 1
    clients["c1"].received_["c0"] = bytes(sealed)
    with pytest.raises(AggregationError, match="the share 'c0' sent to 'c1' does not open"):
        clients["c1"].unmask(sorted(masked), [])


def test_fewer_shares_than_the_threshold_do_not_rebuild_a_secret():
    vectors = {f"c{i}": np.ones(8) for i in range(4)}
    clients, keys, masked = _round(vectors, 3, dropouts={"c3"})
    reveals = [clients[c].unmask(sorted(masked), ["c3"]) for c in sorted(masked)]
    for r in reveals[1:]:  # two of them withhold c3's share
        r.pop("c3")
    with pytest.raises(AggregationError, match="only 1 shares of the secret of 'c3' arrived"):
        sa.SecAggServer(3).unmasked_sum(masked, keys, reveals)


def test_threshold_and_encoding_ranges_are_checked():
    with pytest.raises(ParameterError, match=r"threshold must be in \[1, 2\]"):
        sa.secure_sum({"a": np.ones(2), "b": np.ones(2)}, threshold=3)
    with pytest.raises(AggregationError, match="too large for 24 fractional bits"):
        sa.encode_fixed_point(np.array([1e13]), 24)
    with pytest.raises(AggregationError, match="not finite"):
        sa.encode_fixed_point(np.array([np.nan]), 24)
