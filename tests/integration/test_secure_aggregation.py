"""Secure aggregation: masks cancel exactly, dropouts are recovered from Shamir shares, the
server never sees an input in the clear."""

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the secagg extra (cryptography) is missing")
pytest.importorskip("Cryptodome", reason="the secagg extra (pycryptodomex) is missing")

from sedna_lib.federated_learning import secure_aggregation as sa  # noqa: E402
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
    with pytest.raises(AggregationError, match="fixed-point sum of 1 input with 24 fractional"):
        sa.encode_fixed_point(np.array([1e13]), 24)
    with pytest.raises(AggregationError, match="not finite"):
        sa.encode_fixed_point(np.array([np.nan]), 24)


def test_a_sum_that_would_wrap_around_is_refused_rather_than_decoded_wrong():
    # each value fits 64 bits alone, three of them do not: the sum used to wrap around modulo 2^64
    # and decode as a large negative number
    big = 1.5 * 2.0 ** 37
    vectors = {f"c{i}": np.full(4, big) for i in range(3)}
    with pytest.raises(AggregationError, match="fixed-point sum of 3 inputs with 24 fractional"):
        sa.secure_sum(vectors, threshold=2)
    # with fewer fractional bits the same sum is exact
    assert sa.secure_sum(vectors, threshold=2, fractional_bits=16).tolist() == [3 * big] * 4
    assert sa.encode_fixed_point(np.array([big]), 24, summands=1).size == 1  # alone it fits


@pytest.mark.parametrize("call, match", [
    (lambda: sa.secure_sum({}), "needs a dict of client id to input vector"),
    (lambda: sa.secure_sum({"a": np.ones(3), "b": np.ones(4)}), "every input must have the same length"),
    (lambda: sa.secure_sum({"a": np.ones(3), "b": np.ones(3)}, dropouts={"zz"}),
     r"dropouts \['zz'\] are not among the clients"),
    (lambda: sa.secure_sum({"a": np.ones(3), "b": np.ones(3)}, dropouts={"a"}, threshold=1),
     "needs 2 surviving inputs at least"),
    (lambda: sa.secure_sum({"a": np.ones(3)}), "needs 2 surviving inputs at least"),
    (lambda: sa.secure_sum({"a": np.ones(3), "b": np.ones(3)}, fractional_bits=-1),
     r"fractional_bits must be an integer in \[0, 62\]"),
    (lambda: sa.secure_sum({"a": np.ones(3), "b": np.ones(3)}, fractional_bits=2.5),
     r"fractional_bits must be an integer in \[0, 62\]"),
    (lambda: sa.secure_weighted_average([("a", [np.ones(2)], 1), ("b", [np.ones(2)], 2),
                                         ("a", [np.zeros(2)], 5)]), "client id 'a' appears twice"),
    (lambda: sa.secure_weighted_average([("a", [np.ones((2, 3))], 1), ("b", [np.ones((3, 2))], 2)]),
     "every client must send the same model"),
])
def test_bad_arguments_to_an_in_process_round_are_named(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_a_low_order_public_key_is_refused():
    from sedna_lib.exceptions import ProtocolError
    from sedna_lib.transport.secagg import check_public_key

    check_public_key(sa.SecAggClient("a").advertise_keys().s_public)  # a real key passes
    for raw in (bytes(32), (1).to_bytes(32, "little")):
        with pytest.raises(ProtocolError, match="low-order point"):
            check_public_key(raw, "keys 's'")


def test_a_wrong_revealed_share_is_caught_when_more_than_the_threshold_arrive():
    vectors = {f"c{i}": np.ones(8) for i in range(3)}
    clients, keys, masked = _round(vectors, 2)
    reveals = [clients[c].unmask(sorted(masked), []) for c in sorted(masked)]
    kind, (index, share) = reveals[1]["c0"]
    reveals[1]["c0"] = (kind, (index, bytes(b ^ 0x5A for b in share)))  # well formed, wrong value
    with pytest.raises(AggregationError, match="the revealed shares of 'c0' disagree"):
        sa.SecAggServer(2).unmasked_sum(masked, keys, reveals)
    reveals[1]["c0"] = (kind, (index, share))
    total = sa.SecAggServer(2).unmasked_sum(masked, keys, reveals)
    assert sa.decode_fixed_point(total, 16).tolist() == [3.0] * 8
