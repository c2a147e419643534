"""Closed forms: binary entropy, BB84 fraction, GLLP decoy rate, its maximum distance, PLOB."""

import math

import pytest

from qemu_net.qkd import theory


def test_binary_entropy_known_values():
    """h(0)=h(1)=0, h(1/2)=1, h(0.11) ~ 0.4999, vectorised."""
    assert theory.binary_entropy(0.0) == 0.0
    assert theory.binary_entropy(1.0) == 0.0
    assert theory.binary_entropy(0.5) == pytest.approx(1.0)
    p = 0.11
    assert theory.binary_entropy(p) == pytest.approx(-p * math.log2(p) - (1 - p) * math.log2(1 - p))
    assert list(theory.binary_entropy([0.0, 0.5])) == [0.0, 1.0]


def test_bb84_fraction_vanishes_near_11_percent():
    """1 - 2h(Q) crosses zero at Q ~ 11.0%."""
    assert theory.bb84_secret_fraction(0.0) == 1.0
    assert theory.bb84_secret_fraction(0.109) > 0 > theory.bb84_secret_fraction(0.111)


def test_gllp_matches_lo_ma_chen_gys_example():
    """With the GYS parameters of Lo-Ma-Chen 2005 the infinite-decoy rate reaches ~142 km."""
    lmax = theory.gllp_max_distance_km(
        attenuation_db_per_km=0.21, detector_efficiency=0.045, y0=1.7e-6, e_d=0.033, mu=0.48, f_ec=1.22
    )
    assert 138 < lmax < 146
    # the formula by hand at 50 km
    eta = 10 ** (-0.21 * 50 / 10) * 0.045
    y0, ed, mu, f = 1.7e-6, 0.033, 0.48, 1.22
    q_mu = y0 + 1 - math.exp(-eta * mu)
    e_mu = (0.5 * y0 + ed * (1 - math.exp(-eta * mu))) / q_mu
    y1 = y0 + eta
    e1 = (0.5 * y0 + ed * eta) / y1

    def h(x):
        return -x * math.log2(x) - (1 - x) * math.log2(1 - x)

    expected = 0.5 * (-q_mu * f * h(e_mu) + y1 * mu * math.exp(-mu) * (1 - h(e1)))
    assert theory.gllp_key_rate(eta, y0, ed, mu, f) == pytest.approx(expected, rel=1e-12)


def test_decoy_bounds_are_tight_for_small_decoy():
    """Vacuum+weak bounds approach the true Y1, e1 as nu -> 0 and never exceed Y1."""
    eta, y0, ed, mu = 0.01, 1e-5, 0.02, 0.5

    def gains(m):
        q = y0 + 1 - math.exp(-eta * m)
        return q, (0.5 * y0 + ed * (1 - math.exp(-eta * m))) / q

    q_mu, e_mu = gains(mu)
    for nu, tol in ((0.1, 0.05), (0.01, 0.01)):
        q_nu, e_nu = gains(nu)
        y1l, e1u = theory.decoy_bounds(q_mu, e_mu, q_nu, e_nu, y0, mu, nu)
        y1 = y0 + eta
        assert y1l <= y1 * (1 + 1e-9)
        assert y1l == pytest.approx(y1, rel=tol)
        assert e1u >= (0.5 * y0 + ed * eta) / y1 * (1 - 1e-9)


def test_plob_bound():
    """-log2(1 - eta): 1 bit at eta = 1/2, ~1.44 eta for small eta."""
    assert theory.plob_bound(0.5) == pytest.approx(1.0)
    assert theory.plob_bound(1e-4) == pytest.approx(1e-4 / math.log(2), rel=1e-3)
