"""Midpoint heralding (single-click, Barrett-Kok double-click), SPDC multi-pair emission and detector dead
time, against closed forms computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qemu_net.network import physics
from qemu_net.network.topology import LinkSpec, NodeSpec

NS_PER_KM = 1.468e9 / 299_792.458
PHI = np.array([1, 0, 0, 1], dtype=complex) / math.sqrt(2)


def _link(**kw) -> LinkSpec:
    return LinkSpec(nodes=("a", "b"), **kw)


def _fid(rho: np.ndarray) -> float:
    return float(np.real(PHI.conj() @ rho @ PHI))


def _eta_half(length_km: float, alpha_db: float, eta_det: float) -> float:
    return 10 ** (-alpha_db * length_km / 20) * eta_det


@pytest.mark.parametrize("alpha", [0.02, 0.05, 0.1, 0.3])
@pytest.mark.parametrize("length_km,eta_det", [(0.0, 1.0), (20.0, 0.5), (50.0, 0.3)])
def test_single_click_fidelity_is_one_minus_alpha_and_rate_about_two_alpha_eta(alpha, length_km, eta_det):
    """Single-click: F = 1 - alpha; p = 2 alpha eta_h (1 - alpha eta_h), eta_h over half the link."""
    link = _link(heralding="single-click", bright_state_alpha=alpha, length_km=length_km,
                 attenuation_db_per_km=0.2, detector_efficiency=eta_det)
    eta = _eta_half(length_km, 0.2, eta_det)
    model = physics.EprLinkModel.from_specs(link)
    assert model.fidelity == pytest.approx(1 - alpha, abs=1e-12)
    assert _fid(model.rho) == pytest.approx(1 - alpha, abs=1e-12)
    assert model.p_herald == pytest.approx(2 * alpha * eta * (1 - alpha * eta), rel=1e-12)
    assert model.p_herald == pytest.approx(2 * alpha * eta, rel=alpha * eta + 1e-12)  # ~2 alpha eta
    # The contamination is the both-bright component |10>: <Z Z> = 1 - 2 alpha, and a pure |10> weight alpha.
    assert np.real(model.rho[2, 2]) == pytest.approx(alpha, abs=1e-12)


def test_single_click_trade_off_rate_times_fidelity_loss():
    """Raising alpha raises the rate (~2 alpha eta) and lowers the fidelity (1 - alpha) in proportion."""
    rates, fids = [], []
    for alpha in (0.01, 0.02, 0.04, 0.08):
        m = physics.EprLinkModel.from_specs(_link(heralding="single-click", bright_state_alpha=alpha,
                                                  length_km=25, detector_efficiency=0.1))
        rates.append(m.p_herald)
        fids.append(m.fidelity)
    assert all(r2 > r1 for r1, r2 in zip(rates, rates[1:])) and all(f2 < f1 for f1, f2 in zip(fids, fids[1:]))
    eta = _eta_half(25, 0.2, 0.1)
    for r, f in zip(rates, fids):
        assert r / (1 - f) == pytest.approx(2 * eta, rel=0.01)


@pytest.mark.parametrize("length_km,eta_det,f_src", [(0.0, 1.0, 1.0), (10.0, 0.5, 0.95), (40.0, 0.8, 0.9)])
def test_double_click_success_is_eta_squared_over_two_and_keeps_the_source_fidelity(length_km, eta_det, f_src):
    """Barrett-Kok: p = eta_h^2 / 2; loss lowers the rate only, F = F_source."""
    link = _link(heralding="double-click", length_km=length_km, detector_efficiency=eta_det, source_fidelity=f_src)
    eta = _eta_half(length_km, 0.2, eta_det)
    model = physics.EprLinkModel.from_specs(link)
    assert model.p_herald == pytest.approx(eta**2 / 2, rel=1e-12)
    assert model.fidelity == pytest.approx(f_src, abs=1e-12)


def test_midpoint_attempts_sampled_match_the_herald_probability():
    """Attempts are geometric with mean 1/p (sampled; 4 standard errors)."""
    link = _link(heralding="single-click", bright_state_alpha=0.1, length_km=30, detector_efficiency=0.5)
    model = physics.EprLinkModel.from_specs(link)
    k, _ = model.sample_batch(np.random.default_rng(3), 20_000)
    p = 2 * 0.1 * _eta_half(30, 0.2, 0.5) * (1 - 0.1 * _eta_half(30, 0.2, 0.5))
    se = math.sqrt((1 - p) / p**2 / k.size)
    assert abs(k.mean() - 1 / p) <= 4 * se


@pytest.mark.parametrize("heralding", ["single-click", "double-click"])
def test_midpoint_timing_and_both_halves_wait_to_the_station_and_back(heralding):
    """An attempt takes max(1/rate, (L n_g/c + latency)/2); each half decays for that round trip."""
    length_km, t2 = 40.0, 1e-3
    link = _link(heralding=heralding, length_km=length_km, attempt_rate_hz=1e6)
    half_rt = (length_km * NS_PER_KM + length_km * NS_PER_KM) / 2
    assert physics.attempt_period_ns(link) == pytest.approx(max(1e3, half_rt))
    a, b = NodeSpec(name="a", t2_s=t2), NodeSpec(name="b", t2_s=t2)
    model = physics.EprLinkModel.from_specs(link, a, b)
    c = math.exp(-half_rt * 1e-9 / t2)  # each half's coherence factor (no T1)
    ideal = 1 - link.bright_state_alpha if heralding == "single-click" else 1.0
    # Dephasing both halves shrinks the |00><11| coherence by c^2; populations are untouched.
    coh = 0.5 * (1 - link.bright_state_alpha if heralding == "single-click" else 1.0)
    expected = (np.real(model.rho[0, 0] + model.rho[3, 3]) + 2 * coh * c * c) / 2
    assert model.fidelity == pytest.approx(expected, abs=1e-12)
    assert model.fidelity < ideal


@pytest.mark.parametrize("d", [1e-4, 1e-2])
def test_single_click_dark_counts_mix_in_false_heralds(d):
    """False heralds from two detectors (d_eff = 1 - (1-d)^2) leave I/4: F = (1-q)(1-alpha) + q/4."""
    alpha, eta_det = 0.05, 0.01
    link = _link(heralding="single-click", bright_state_alpha=alpha, detector_efficiency=eta_det,
                 dark_count_probability=d)
    p_true = 2 * alpha * eta_det * (1 - alpha * eta_det)
    d_eff = 1 - (1 - d) ** 2
    p_false = (1 - p_true) * d_eff
    q = p_false / (p_true + p_false)
    model = physics.EprLinkModel.from_specs(link)
    assert model.p_herald == pytest.approx(p_true + p_false, rel=1e-12)
    assert model.fidelity == pytest.approx((1 - q) * (1 - alpha) + q / 4, abs=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.01, 0.05, 0.2])
def test_spdc_multi_pair_emission_adds_qber_lambda_over_two_one_plus_two_lambda(lam):
    """Thermal SPDC: heralds 1 - 1/(1 + lambda eta) ... = lambda eta/(1 + lambda eta); accidentals
    a = lambda/(1 + 2 lambda) give a QBER of a/2 in Z and X and visibility (1 + lambda)/(1 + 2 lambda)."""
    eta_det = 0.6
    link = _link(spdc_mean_pair_number=lam, length_km=10, detector_efficiency=eta_det)
    eta = 10 ** (-0.2 * 10 / 10) * eta_det
    model = physics.EprLinkModel.from_specs(link)
    if lam > 0:
        assert model.p_herald == pytest.approx(lam * eta / (1 + lam * eta), rel=1e-12)
    a = lam / (1 + 2 * lam)
    table = physics.outcome_table(model.rho)
    for basis in (0, 1):  # Z/Z and X/X: error = P(01) + P(10)
        row = table[3 * basis + basis]
        assert row[1] + row[2] == pytest.approx(a / 2, abs=1e-12)
    v = (4 * model.fidelity - 1) / 3
    assert v == pytest.approx((1 + lam) / (1 + 2 * lam), abs=1e-12)


@pytest.mark.parametrize("p_det,tau_ns", [(0.5, 0.0), (0.5, 5_000.0), (0.9, 20_000.0), (1.0, 100_000.0)])
def test_dead_time_saturates_the_pair_rate_at_one_over_dead_time(p_det, tau_ns):
    """Non-paralysable dead time: rate R / (1 + R tau'), R = p / period, tau' = ceil(tau/period) period.
    Sampled mean time per pair within 4 standard errors; at p -> 1 the rate is 1 / (period + tau')."""
    link = _link(detector_efficiency=p_det, attenuation_db_per_km=0.0, attempt_rate_hz=1e6,
                 detector_dead_time_ns=tau_ns)
    period = 1_000.0
    dead = math.ceil(tau_ns / period)
    r = p_det / (period * 1e-9)
    expected_rate = r / (1 + r * dead * period * 1e-9)
    assert physics.saturated_pair_rate_hz(link) == pytest.approx(expected_rate, rel=1e-12)
    model = physics.EprLinkModel.from_specs(link)
    n = 20_000
    k, delays = model.sample_batch(np.random.default_rng(9), n)
    assert np.all(delays == (k + dead) * period)
    mean_t = delays.mean() * 1e-9
    se = period * 1e-9 * math.sqrt((1 - p_det) / p_det**2 / n)
    assert abs(mean_t - 1 / expected_rate) <= 4 * se + 1e-15
    if p_det == 1.0:
        assert physics.saturated_pair_rate_hz(link) == pytest.approx(1 / ((1 + dead) * period * 1e-9))


def test_new_link_keys_are_validated():
    from qemu_net.errors import TopologyError
    from qemu_net.network.topology import parse_topology

    for key, bad in (("bright_state_alpha", 0.0), ("spdc_mean_pair_number", -1), ("detector_dead_time_ns", -5)):
        with pytest.raises(TopologyError, match=rf"links\[0\]\.{key}"):
            parse_topology({"nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], key: bad}]})


@pytest.mark.parametrize("tau_ns,rate_hz", [(0.0, 1e9), (10.0, 1e9), (50.0, 1e9), (100.0, 5e8)])
def test_qkd_detector_dead_time_saturates_the_click_rate(tau_ns, rate_hz):
    """Bob's clicks per slot: q without dead time; with D = ceil(tau x rate) blind slots after each click,
    q / (1 + q D) (non-paralysable), within 4 standard errors (renewal: a cycle of D + Geometric(q) slots)."""
    from qemu_net.qkd.pulses import SourceSettings, dead_slots, detect, prepare_train, transmit

    link = _link(length_km=0.0, detector_efficiency=0.5, detector_dead_time_ns=tau_ns)
    src = SourceSettings(mu=1.0, nu=0.1, p_signal=1.0, p_decoy=0.0, p_vacuum=0.0)
    rng = np.random.default_rng(4)
    n = 200_000
    train = prepare_train(n, src, rng)
    arrived = transmit(train, link, rng=rng, pulse_rate_hz=rate_hz)
    d = dead_slots(link, rate_hz)
    assert d == math.ceil(tau_ns * rate_hz * 1e-9 - 1e-12)
    det = detect(arrived, rng.integers(0, 2, n).astype(np.uint8), rng)
    q = 1 - math.exp(-1.0 * 0.5)  # a click needs >= 1 photon of Poisson(mu eta)
    expected = q / (1 + q * d)
    rate = det.indices.size / n
    # Registered clicks in n slots: cycles of mean D + 1/q slots, variance (1 - q)/q^2 each.
    cycles = n / (d + 1 / q)
    se = math.sqrt(cycles * (1 - q) / q**2) / (d + 1 / q) / n
    assert abs(rate - expected) <= 4 * se + 1e-12, (rate, expected, se)
    if d:
        assert np.all(np.diff(det.indices) > d)
