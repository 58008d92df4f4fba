"""Differential privacy: the clipping/noise math alone, the accountant against dp-accounting's
reference numbers, and the DPFedAvg / LocalDPFedAvg aggregators."""

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import DPFedAvg, LocalDPFedAvg, _privacy
from sedna_lib.base import ClientUpdate
from sedna_lib.exceptions import AggregationError, ParameterError
from sedna_lib.testing import check_aggregator

dp_accounting = pytest.importorskip("dp_accounting", reason="the privacy extra (dp-accounting) is missing")
from sedna_lib.algorithms.aggregation._accountant import GaussianAccountant  # noqa: E402


def test_clip_scales_the_whole_update_to_the_bound():
    out, norm, unclipped = _privacy.clip_by_l2_norm([np.array([3.0]), np.array([[4.0]])], 2.5)
    assert norm == 5.0 and not unclipped
    assert _privacy.l2_norm(out) == pytest.approx(2.5)
    assert out[0].tolist() == [1.5] and out[1].tolist() == [[2.0]]


def test_clip_leaves_a_small_update_alone():
    out, norm, unclipped = _privacy.clip_by_l2_norm([np.array([0.3, 0.4])], 1.0)
    assert unclipped and norm == pytest.approx(0.5) and out[0].tolist() == [0.3, 0.4]


def test_clip_rejects_a_non_positive_bound():
    with pytest.raises(ParameterError, match="clipping_norm must be > 0"):
        _privacy.clip_by_l2_norm([np.ones(2)], 0.0)


def test_gaussian_noise_has_the_asked_spread():
    out = _privacy.add_gaussian_noise([np.zeros(200_000)], 0.5, np.random.default_rng(0))
    assert out[0].std() == pytest.approx(0.5, rel=0.01) and abs(out[0].mean()) < 0.01


def test_adaptive_clip_grows_when_too_many_updates_are_clipped():
    assert _privacy.adaptive_clip_step(1.0, 0.0, target_quantile=0.5, learning_rate=0.2) == pytest.approx(
        np.exp(0.1))
    assert _privacy.adaptive_clip_step(1.0, 0.5, target_quantile=0.5, learning_rate=0.2) == 1.0


def test_delta_noise_multiplier_matches_the_papers_split():
    # Andrew et al.: z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2); with sigma_b = m/20 and m = 100: 2 sigma_b = 10
    assert _privacy.delta_noise_multiplier(1.0, 5.0) == pytest.approx((1 - 0.01) ** -0.5)
    with pytest.raises(ParameterError, match="raise clipped_count_stddev"):
        _privacy.delta_noise_multiplier(2.0, 0.5)


# -- the accountant, checked against dp-accounting's own reference values ------------------

def test_accountant_gives_the_reference_1_epsilon_at_delta_1e_6():
    # dp-accounting's rdp test: noise multiplier 4.530877117 with q=1 is exactly (1, 1e-6)-DP
    acc = GaussianAccountant(1e-6)
    acc.step(4.530877117, 1.0)
    assert acc.epsilon() == pytest.approx(1.0, abs=2e-3)


def test_accountant_composes_rounds_like_the_library_does():
    acc = GaussianAccountant(1e-5)
    for _ in range(20):
        acc.step(1.1, 0.05)
    ref = dp_accounting.rdp.RdpAccountant()
    ref.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(0.05, dp_accounting.GaussianDpEvent(1.1)), 20))
    assert acc.epsilon() == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)
    # an upper bound on the tight (PLD) value, within a factor of 2 here
    pld = dp_accounting.pld.PLDAccountant(value_discretization_interval=1e-3)
    pld.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(0.05, dp_accounting.GaussianDpEvent(1.1)), 20))
    assert pld.get_epsilon(1e-5) <= acc.epsilon() <= 2 * pld.get_epsilon(1e-5)


def test_accountant_one_gaussian_round_bounds_the_analytic_gaussian():
    acc = GaussianAccountant(1e-5)
    acc.step(2.0)
    exact = dp_accounting.get_epsilon_gaussian(2.0, 1e-5)
    assert exact <= acc.epsilon() <= 1.3 * exact


def test_accountant_without_noise_is_infinite_and_bad_delta_is_refused():
    acc = GaussianAccountant(1e-5)
    acc.step(0.0)
    assert acc.epsilon() == np.inf
    with pytest.raises(ParameterError, match=r"delta must be in \(0, 1\)"):
        GaussianAccountant(0.0)


# -- aggregators ----------------------------------------------------------------------------

def _updates(reference, deltas):
    return [ClientUpdate([r + d for r, d in zip(reference, ds)], 10, f"c{i}") for i, ds in enumerate(deltas)]


def test_dpfedavg_without_noise_is_the_mean_of_clipped_updates():
    ref = [np.zeros(2), np.zeros(1)]
    deltas = [[np.array([3.0, 0.0]), np.array([4.0])],      # norm 5 -> clipped to 1: (0.6, 0, 0.8)
              [np.array([0.1, 0.2]), np.array([0.0])]]      # within the bound
    agg = DPFedAvg(noise_multiplier=0.0, clipping_norm=1.0, delta=None)
    agg.begin_round(ref)
    for u in _updates(ref, deltas):
        agg.add(u)
    out = agg.finish()
    np.testing.assert_allclose(out[0], [(0.6 + 0.1) / 2, 0.1])
    np.testing.assert_allclose(out[1], [0.4])
    assert agg.unclipped_fraction_ == 0.5 and agg.total_samples_ == 20


def test_dpfedavg_noise_has_stddev_z_c_over_m_and_epsilon_is_reported():
    ref = [np.zeros(50_000)]
    agg = DPFedAvg(noise_multiplier=2.0, clipping_norm=0.5, num_sampled_clients=4, delta=1e-5, seed=0)
    agg.begin_round(ref)
    for u in _updates(ref, [[np.zeros(50_000)]] * 4):
        agg.add(u)
    out = agg.finish()
    assert out[0].std() == pytest.approx(2.0 * 0.5 / 4, rel=0.02)
    first = agg.epsilon_
    ref_acc = dp_accounting.rdp.RdpAccountant()
    ref_acc.compose(dp_accounting.GaussianDpEvent(2.0))
    assert first == pytest.approx(ref_acc.get_epsilon(1e-5))
    agg.begin_round(out)
    agg.add(ClientUpdate(out, 1, "c0"))
    agg.finish()
    assert agg.epsilon_ > first


def test_dpfedavg_sampling_rate_lowers_epsilon():
    def eps(population):
        agg = DPFedAvg(noise_multiplier=1.0, num_sampled_clients=2, population=population, seed=0)
        agg.aggregate([ClientUpdate([np.zeros(3)], 1, "a"), ClientUpdate([np.zeros(3)], 1, "b")])
        return agg.epsilon_
    assert eps(100) < eps(2)


def test_dpfedavg_client_side_clipping_round_trip_and_refusal():
    ref = [np.zeros(3, dtype=np.float32)]
    server = DPFedAvg(noise_multiplier=0.0, clipping_norm=1.0, clip_on="client", delta=None)
    config = server.client_config()
    assert config == {"dp_clip_on": "client", "dp_clipping_norm": 1.0}
    client = server.clone()
    sent, metrics = client.prepare_update([np.array([0.0, 3.0, 4.0], dtype=np.float32)], ref, config)
    assert sent[0].dtype == np.float32 and metrics == {"dp_unclipped": 0}
    np.testing.assert_allclose(sent[0], [0.0, 0.6, 0.8], rtol=1e-6)
    server.begin_round(ref)
    server.add(ClientUpdate(sent, 5, "good", metrics))
    with pytest.raises(AggregationError, match=r"update from 'rogue' changes the model by L2 norm 5, "
                       r"above the clipping norm 1: with clip_on='client'"):
        server.add(ClientUpdate([np.array([0.0, 3.0, 4.0], dtype=np.float32)], 5, "rogue"))
    np.testing.assert_allclose(server.finish()[0], [0.0, 0.6, 0.8], rtol=1e-6)


def test_dpfedavg_adaptive_clipping_tracks_the_norm_quantile():
    rng = np.random.default_rng(1)
    agg = DPFedAvg(noise_multiplier=0.0, clipping_norm=0.1, adaptive=True, target_unclipped_quantile=0.5,
                   clip_learning_rate=0.5, delta=None)
    ref = [np.zeros(4)]
    for _ in range(60):  # update norms spread around 2.0: C must climb there from 0.1
        deltas = [[rng.normal(size=4) / 2.0 * (2.0 + 0.5 * rng.normal())] for _ in range(20)]
        agg.begin_round(ref)
        for u in _updates(ref, deltas):
            agg.add(u)
        agg.finish()
    assert 1.2 < agg.clipping_norm_ < 3.0


def test_dp_parameters_are_checked():
    with pytest.raises(ParameterError, match="clip_on must be 'server' or 'client'"):
        DPFedAvg(clip_on="edge").begin_round(None)
    with pytest.raises(ParameterError, match="num_sampled_clients=5 exceeds population=2"):
        DPFedAvg(num_sampled_clients=5, population=2).begin_round(None)


def test_local_dp_clips_and_noises_on_the_client_and_reports_epsilon():
    ref = [np.zeros(100_000)]
    agg = LocalDPFedAvg(noise_multiplier=1.0, clipping_norm=0.1, seed=0)
    sent, _ = agg.prepare_update([np.full(100_000, 5.0)], ref, agg.client_config())
    noise = sent[0] - 0.1 / np.sqrt(100_000)
    assert noise.std() == pytest.approx(0.1, rel=0.02)
    agg.aggregate([ClientUpdate(sent, 3, "a")])
    ref_acc = dp_accounting.rdp.RdpAccountant()
    ref_acc.compose(dp_accounting.GaussianDpEvent(0.5))  # sensitivity 2C: noise multiplier z / 2
    assert agg.epsilon_ == pytest.approx(ref_acc.get_epsilon(1e-5))


@pytest.mark.parametrize("agg", [DPFedAvg(noise_multiplier=0.0, clipping_norm=1e6, delta=None),
                                 DPFedAvg(noise_multiplier=1e-12, clipping_norm=1e6, seed=3),
                                 LocalDPFedAvg()])
def test_dp_aggregators_meet_the_contract(agg):
    check_aggregator(agg)


def test_client_side_clipping_needs_a_reference_on_the_server():
    agg = DPFedAvg(clip_on="client", delta=None)
    agg.begin_round(None)
    with pytest.raises(AggregationError, match=r"start the server from an initial model \(initial_weights\)"):
        agg.add(ClientUpdate([np.zeros(2)], 1, "c0"))
