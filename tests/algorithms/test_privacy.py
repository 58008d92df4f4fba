"""Differential privacy: the clipping/noise math alone, the accountant against dp-accounting's
reference numbers, and the DPFedAvg / LocalDPFedAvg aggregators."""

import numpy as np
import pytest

from sedna_lib.algorithms.aggregation import DPFedAvg, LocalDPFedAvg, _privacy
from sedna_lib.base import ClientUpdate, check_count, check_number
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
    with pytest.raises(ParameterError, match="clipping_norm must be a finite number > 0"):
        _privacy.clip_by_l2_norm([np.ones(2)], 0.0)
    with pytest.raises(ParameterError, match="clipping_norm must be a finite number > 0, got nan"):
        _privacy.clip_by_l2_norm([np.ones(2)], float("nan"))


def test_gaussian_noise_has_the_asked_spread():
    out = _privacy.add_gaussian_noise([np.zeros(200_000)], 0.5, np.random.default_rng(0))
    assert out[0].std() == pytest.approx(0.5, rel=0.01) and abs(out[0].mean()) < 0.01


@pytest.mark.parametrize("stddev", [float("nan"), float("inf"), -1.0])
def test_gaussian_noise_refuses_a_stddev_that_is_not_a_finite_non_negative_number(stddev):
    with pytest.raises(ParameterError, match="the noise standard deviation must be a finite number >= 0"):
        _privacy.add_gaussian_noise([np.zeros(3)], stddev, np.random.default_rng(0))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "nan", True, None, "x"])
def test_check_number_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(ParameterError, match=r"^z must be a finite number >= 0, got "):
        check_number("z", value, 0)


def test_check_number_checks_open_and_closed_bounds_and_reads_text():
    assert check_number("q", "0.25", 0, 1, low_open=True) == 0.25
    assert check_number("q", 1, 0, 1, low_open=True) == 1.0
    with pytest.raises(ParameterError, match=r"q must be a finite number in \(0, 1\], got 0"):
        check_number("q", 0, 0, 1, low_open=True)
    with pytest.raises(ParameterError, match=r"q must be a finite number in \(0, 1\], got 1.5"):
        check_number("q", 1.5, 0, 1, low_open=True)


@pytest.mark.parametrize("value", [2.5, True, False, float("nan"), float("inf"), "2.5", 0, -3, None])
def test_check_count_refuses_what_is_not_a_whole_number_of_clients(value):
    with pytest.raises(ParameterError, match=r"^m must be a whole number >= 1"):
        check_count("m", value)


def test_check_count_takes_whole_numbers_in_any_form():
    assert [check_count("m", v) for v in (3, np.int64(3), 3.0, "3", "3.0")] == [3] * 5


def test_adaptive_clip_grows_when_too_many_updates_are_clipped():
    assert _privacy.adaptive_clip_step(1.0, 0.0, target_quantile=0.5, learning_rate=0.2) == pytest.approx(
        np.exp(0.1))
    assert _privacy.adaptive_clip_step(1.0, 0.5, target_quantile=0.5, learning_rate=0.2) == 1.0


def test_delta_noise_multiplier_matches_the_papers_split():
    # Andrew et al.: z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2); with sigma_b = m/20 and m = 100: 2 sigma_b = 10
    assert _privacy.delta_noise_multiplier(1.0, 5.0) == pytest.approx((1 - 0.01) ** -0.5)
    with pytest.raises(ParameterError, match="raise clipped_count_stddev"):
        _privacy.delta_noise_multiplier(2.0, 0.5)
    with pytest.raises(ParameterError, match="noise_multiplier must be a finite number >= 0, got nan"):
        _privacy.delta_noise_multiplier(float("nan"), 5.0)
    with pytest.raises(ParameterError, match="clipped_count_stddev must be a finite number > 0, got inf"):
        _privacy.delta_noise_multiplier(1.0, float("inf"))


def test_adaptive_clip_step_refuses_non_finite_values():
    with pytest.raises(ParameterError, match="clip_learning_rate must be a finite number > 0, got nan"):
        _privacy.adaptive_clip_step(1.0, 0.5, target_quantile=0.5, learning_rate=float("nan"))
    with pytest.raises(ParameterError, match="unclipped_fraction must be a finite number, got nan"):
        _privacy.adaptive_clip_step(1.0, float("nan"), target_quantile=0.5, learning_rate=0.2)


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
    with pytest.raises(ParameterError, match=r"delta must be a finite number in \(0, 1\)"):
        GaussianAccountant(0.0)


@pytest.mark.parametrize("z", [float("nan"), float("inf"), -1.0])
def test_accountant_refuses_a_noise_multiplier_that_is_not_finite_and_non_negative(z):
    acc = GaussianAccountant(1e-5)
    with pytest.raises(ParameterError, match="noise_multiplier must be a finite number >= 0"):
        acc.step(z, 0.5)
    with pytest.raises(ParameterError, match=r"sampling_rate must be a finite number in \(0, 1\], got nan"):
        acc.step(1.0, float("nan"))
    with pytest.raises(ParameterError, match=r"delta must be a finite number in \(0, 1\), got nan"):
        GaussianAccountant(float("nan"))


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


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"noise_multiplier": NAN}, "noise_multiplier must be a finite number >= 0, got nan"),
    ({"noise_multiplier": INF}, "noise_multiplier must be a finite number >= 0, got inf"),
    ({"noise_multiplier": -1.0}, "noise_multiplier must be a finite number >= 0, got -1.0"),
    ({"clipping_norm": NAN}, "clipping_norm must be a finite number > 0, got nan"),
    ({"clipping_norm": INF}, "clipping_norm must be a finite number > 0, got inf"),
    ({"clipping_norm": 0.0}, "clipping_norm must be a finite number > 0, got 0.0"),
    ({"target_unclipped_quantile": NAN}, r"target_unclipped_quantile must be a finite number in \[0, 1\]"),
    ({"target_unclipped_quantile": 1.5}, r"target_unclipped_quantile must be a finite number in \[0, 1\]"),
    ({"clip_learning_rate": NAN}, "clip_learning_rate must be a finite number > 0, got nan"),
    ({"clip_learning_rate": 0.0}, "clip_learning_rate must be a finite number > 0, got 0.0"),
    ({"clip_learning_rate": -0.2}, "clip_learning_rate must be a finite number > 0, got -0.2"),
    ({"clipped_count_stddev": NAN}, "clipped_count_stddev must be a finite number >= 0, got nan"),
    ({"clipped_count_stddev": -1.0}, "clipped_count_stddev must be a finite number >= 0, got -1.0"),
    ({"delta": NAN}, r"delta must be a finite number in \(0, 1\), got nan"),
    ({"delta": 0.0}, r"delta must be a finite number in \(0, 1\), got 0.0"),
    ({"delta": 1.0}, r"delta must be a finite number in \(0, 1\), got 1.0"),
    ({"num_sampled_clients": 2.5}, "num_sampled_clients must be a whole number >= 1, got 2.5"),
    ({"num_sampled_clients": True}, "num_sampled_clients must be a whole number >= 1, got True"),
    ({"num_sampled_clients": NAN}, "num_sampled_clients must be a whole number >= 1, got nan"),
    ({"num_sampled_clients": 0}, "num_sampled_clients must be a whole number >= 1, got 0"),
    ({"population": 2.5}, "population must be a whole number >= 1, got 2.5"),
    ({"population": True}, "population must be a whole number >= 1, got True"),
])
def test_dpfedavg_refuses_a_parameter_out_of_range_when_a_round_begins(kwargs, message):
    agg = DPFedAvg(**kwargs)  # the constructor only stores
    with pytest.raises(ParameterError, match=message):
        agg.begin_round([np.zeros(2)])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"noise_multiplier": NAN}, "noise_multiplier must be a finite number >= 0, got nan"),
    ({"noise_multiplier": INF}, "noise_multiplier must be a finite number >= 0, got inf"),
    ({"noise_multiplier": -0.5}, "noise_multiplier must be a finite number >= 0, got -0.5"),
    ({"clipping_norm": NAN}, "clipping_norm must be a finite number > 0, got nan"),
    ({"clipping_norm": 0}, "clipping_norm must be a finite number > 0, got 0"),
    ({"delta": NAN}, r"delta must be a finite number in \(0, 1\), got nan"),
    ({"delta": 2.0}, r"delta must be a finite number in \(0, 1\), got 2.0"),
])
def test_local_dpfedavg_refuses_a_parameter_out_of_range_when_a_round_begins(kwargs, message):
    agg = LocalDPFedAvg(**kwargs)
    with pytest.raises(ParameterError, match=message):
        agg.begin_round([np.zeros(2)])


def test_dp_parameters_changed_after_construction_are_checked_at_the_next_round():
    agg = DPFedAvg(delta=None).set_params(noise_multiplier=NAN)
    with pytest.raises(ParameterError, match="noise_multiplier must be a finite number >= 0, got nan"):
        agg.begin_round([np.zeros(2)])
    local = LocalDPFedAvg(delta=None).set_params(clipping_norm=INF)
    with pytest.raises(ParameterError, match="clipping_norm must be a finite number > 0, got inf"):
        local.begin_round([np.zeros(2)])


def test_dp_parameters_as_text_and_whole_number_counts_are_accepted():
    # a control plane writes parameters as text; YAML may give a count as 10.0
    for agg in (DPFedAvg(noise_multiplier="1.0", clipping_norm="0.5", num_sampled_clients="10",
                         population=np.int64(100), delta="1e-5"),
                DPFedAvg(num_sampled_clients=10.0, population=100),
                LocalDPFedAvg(noise_multiplier="0.5", clipping_norm="2", delta=None)):
        agg.begin_round([np.zeros(2)])


def test_local_dp_refuses_round_settings_that_are_not_finite():
    agg = LocalDPFedAvg(seed=0)
    ref = [np.zeros(3)]
    with pytest.raises(ParameterError, match="dp_noise_multiplier must be a finite number >= 0, got nan"):
        agg.prepare_update([np.ones(3)], ref, {"dp_local": True, "dp_clipping_norm": 1.0,
                                               "dp_noise_multiplier": NAN})
    with pytest.raises(ParameterError, match="dp_clipping_norm must be a finite number > 0, got inf"):
        agg.prepare_update([np.ones(3)], ref, {"dp_local": True, "dp_clipping_norm": INF,
                                               "dp_noise_multiplier": 1.0})


def test_adaptive_clipping_count_noise_is_checked_when_a_round_begins():
    # the default sigma_b = m / 20 must exceed z / 2: m > 10 z
    with pytest.raises(ParameterError, match=r"clipped_count_stddev = m / 20 = 0.5 by default "
                       r"\(num_sampled_clients=10\), which with noise_multiplier=1 leaves no noise for the "
                       r"model: it needs .* m > 10 \* noise_multiplier = 10 clients per round.*"
                       r"or pass clipped_count_stddev > 0.5"):
        DPFedAvg(noise_multiplier=1.0, adaptive=True, num_sampled_clients=10).begin_round([np.zeros(2)])
    with pytest.raises(ParameterError, match="raise clipped_count_stddev"):
        DPFedAvg(noise_multiplier=1.0, adaptive=True, clipped_count_stddev=0.5).begin_round([np.zeros(2)])
    for fine in (DPFedAvg(noise_multiplier=1.0, adaptive=True, num_sampled_clients=11),
                 DPFedAvg(noise_multiplier=1.0, adaptive=True, num_sampled_clients=10,
                          clipped_count_stddev=0.6),
                 DPFedAvg(noise_multiplier=1.0, adaptive=False, num_sampled_clients=2),  # no count released
                 DPFedAvg(noise_multiplier=0.0, adaptive=True, num_sampled_clients=2)):  # no noise at all
        fine.begin_round([np.zeros(2)])


def test_adaptive_clipping_count_noise_set_during_a_round_is_checked_before_the_noise():
    agg = DPFedAvg(noise_multiplier=1.0, adaptive=True, clipped_count_stddev=5.0, seed=0)
    ref = [np.zeros(2)]
    agg.begin_round(ref)
    for u in _updates(ref, [[np.ones(2)]] * 3):
        agg.add(u)
    agg.set_params(clipped_count_stddev=0.5)
    with pytest.raises(ParameterError, match="raise clipped_count_stddev"):
        agg.finish()
    assert agg.epsilon_ is None and agg.clipping_norm_ == 1.0


def test_adaptive_clipping_count_noise_without_m_is_checked_before_the_noise():
    agg = DPFedAvg(noise_multiplier=1.0, adaptive=True, seed=0)  # m: the clients that take part
    ref = [np.zeros(2)]
    agg.begin_round(ref)
    for u in _updates(ref, [[np.ones(2)]] * 3):
        agg.add(u)
    with pytest.raises(ParameterError, match=r"\(3 clients took part and num_sampled_clients is not given\)"):
        agg.finish()
    assert agg.epsilon_ is None and agg.clipping_norm_ == 1.0


def _released_fraction(norms, *, m, z=1.0, seed=5):
    """One adaptive round over updates of the given norms; return the noised unclipped fraction."""
    agg = DPFedAvg(noise_multiplier=z, clipping_norm=1.0, adaptive=True, num_sampled_clients=m, delta=None,
                   seed=seed)
    ref = [np.zeros(4)]
    agg.begin_round(ref)
    for u in _updates(ref, [[np.array([n, 0.0, 0.0, 0.0])] for n in norms]):
        agg.add(u)
    agg.finish()
    return agg.unclipped_fraction_


def test_adaptive_clipping_one_client_moves_the_noised_count_by_half():
    # the split of z gives the count noise multiplier 2 sigma_b: a client must move the count by 1/2
    # (add-or-remove-one neighbours, same noise draws), whether its update was clipped or not
    base = [0.5, 2.0, 0.3, 3.0, 0.9]
    m = 40
    without = _released_fraction(base, m=m)
    assert (_released_fraction(base + [0.2], m=m) - without) * m == pytest.approx(0.5)
    assert (_released_fraction(base + [5.0], m=m) - without) * m == pytest.approx(-0.5)
    # without noise and with m clients taking part, the fraction is the plain one
    assert _released_fraction([0.5, 2.0, 0.3, 3.0], m=4, z=0.0) == 0.5


@pytest.mark.parametrize(("z", "m", "population", "rounds"), [(1.0, 40, None, 3), (1.0, 20, 200, 5),
                                                              (0.7, 100, 1000, 4)])
def test_adaptive_epsilon_matches_dp_accounting_for_the_mechanisms_applied(z, m, population, rounds):
    sigma_b = m / 20.0
    # the count's sensitivity, measured on neighbouring rounds as above
    base = [0.5, 2.0, 0.3]
    without = _released_fraction(base, m=m, z=z)
    sensitivity = max(abs(_released_fraction(base + [extra], m=m, z=z) - without) * m for extra in (0.2, 5.0))
    # the model's noise multiplier, measured on a large all-zero update
    size = 200_000
    agg = DPFedAvg(noise_multiplier=z, clipping_norm=0.5, adaptive=True, num_sampled_clients=m,
                   population=population, seed=1)
    ref = [np.zeros(size)]
    for r in range(rounds):
        c = agg.clipping_norm if r == 0 else agg.clipping_norm_
        agg.begin_round(ref)
        for u in _updates(ref, [[np.zeros(size)]] * 2):
            agg.add(u)
        out = agg.finish()
        if r == 0:
            z_model = float(np.std(out[0])) * m / c
    assert z_model == pytest.approx(_privacy.delta_noise_multiplier(z, sigma_b), rel=0.01)
    # dp-accounting's composition of the two Gaussian queries each round (the model sum with
    # sensitivity C, the unclipped count with the measured one), on the same Poisson sample
    model_z = _privacy.delta_noise_multiplier(z, sigma_b)
    count_z = sigma_b / sensitivity
    q = 1.0 if population is None else m / population
    ref_acc = dp_accounting.rdp.RdpAccountant()
    if q == 1.0:
        event = dp_accounting.ComposedDpEvent([dp_accounting.GaussianDpEvent(model_z),
                                               dp_accounting.GaussianDpEvent(count_z)])
    else:  # both queries see the same sample: one Gaussian over the two, subsampled once
        event = dp_accounting.PoissonSampledDpEvent(
            q, dp_accounting.GaussianDpEvent((model_z ** -2 + count_z ** -2) ** -0.5))
    ref_acc.compose(dp_accounting.SelfComposedDpEvent(event, rounds))
    assert agg.epsilon_ == pytest.approx(ref_acc.get_epsilon(1e-5), rel=1e-9)


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


def test_adaptive_clip_step_clamps_the_noised_fraction_and_refuses_to_leave_the_floats():
    step = _privacy.adaptive_clip_step
    assert step(1.0, 250.0, target_quantile=0.5, learning_rate=0.2) == step(
        1.0, 1.0, target_quantile=0.5, learning_rate=0.2)
    assert step(1.0, -250.0, target_quantile=0.5, learning_rate=0.2) == step(
        1.0, 0.0, target_quantile=0.5, learning_rate=0.2)
    with pytest.raises(ParameterError, match=r"from 1e-300 to about 1e-322, below the smallest positive "
                       r"normal float .*clip_learning_rate=100 .*lower clip_learning_rate"):
        step(1e-300, 1.0, target_quantile=0.5, learning_rate=100.0)
    with pytest.raises(ParameterError, match=r"above the largest float .*lower clip_learning_rate"):
        step(1e300, 0.0, target_quantile=0.5, learning_rate=100.0)


def _adaptive_rounds(agg, rounds, m=4, norm=None):
    """Run ``rounds`` seeded adaptive rounds of ``m`` small updates (random, or all of L2 norm ``norm``);
    return the norms C took."""
    rng = np.random.default_rng(0)
    ref, norms = [np.zeros(3)], []
    for _ in range(rounds):
        agg.begin_round(ref)
        deltas = [[rng.normal(size=3) if norm is None else np.array([norm, 0.0, 0.0])] for _ in range(m)]
        for u in _updates(ref, deltas):
            agg.add(u)
        ref = agg.finish()
        norms.append(agg.clipping_norm_)
    return norms


def test_adaptive_clipping_with_large_count_noise_keeps_a_finite_norm():
    # count noise 1e4 over 4 clients: the noised fraction lands in the hundreds or thousands, and an
    # unclamped step exp(-0.2 (b - 0.5)) took C to 0 within a few rounds (then: "clipping_norm ... got 0.0")
    agg = DPFedAvg(noise_multiplier=1.0, adaptive=True, num_sampled_clients=4, clipped_count_stddev=1e4,
                   seed=0)
    norms = _adaptive_rounds(agg, 8)
    assert 0.0 <= agg.unclipped_fraction_ <= 1.0
    for r, c in enumerate(norms, 1):  # one round moves C by at most exp(0.2 * 0.5)
        assert np.exp(-0.1 * r) * (1 - 1e-12) <= c <= np.exp(0.1 * r) * (1 + 1e-12)
    assert agg.round_ == 8 and np.isfinite(agg.epsilon_)


def test_adaptive_clipping_refuses_the_step_that_leaves_the_floats_and_keeps_the_norm():
    # updates of norm 2, target 0.1, clip_learning_rate=4000: round 1 clips all of them and C grows by
    # exp(4000 * 0.1) = exp(400); round 2 clips none, and exp(-4000 * 0.9) would take C below the floats
    agg = DPFedAvg(noise_multiplier=0.0, adaptive=True, target_unclipped_quantile=0.1,
                   clip_learning_rate=4000.0, delta=None, seed=0)
    assert _adaptive_rounds(agg, 1, norm=2.0) == [pytest.approx(np.exp(400.0))]
    with pytest.raises(ParameterError, match=r"^round 2: adaptive clipping would take the clipping norm from "
                       r"5\.22147e\+173 to about 1e-1390, below the smallest positive normal float .*"
                       r"clip_learning_rate=4000 .*lower clip_learning_rate.*; "
                       r"clipping_norm_ stays 5\.22147e\+173$"):
        _adaptive_rounds(agg, 1, norm=2.0)
    assert agg.clipping_norm_ == pytest.approx(np.exp(400.0)) and agg.round_ == 1
    agg.set_params(clip_learning_rate=0.2)  # a sane rate: the training goes on from the kept norm
    assert _adaptive_rounds(agg, 1, norm=2.0) == [pytest.approx(np.exp(400.0 - 0.2 * 0.9))]
    assert agg.round_ == 2
