"""Finite-key security: Lim et al. decoy BB84 against its asymptotic figure, and no key past the reach.

The GYS link of Gobby, Yuan & Shields (0.21 dB/km, detector efficiency 4.5%, dark counts 1.7e-6,
misalignment 3.3%, f = 1.22, mu = 0.48, nu = 0.05) whose vacuum + weak decoy rate ends near 140.6 km.
Counts for blocks of 10^11 - 10^13 pulses are drawn here from the exact per-class multinomial of the
detector model (the pulse simulator itself is checked against the same model in test_qkd_pulses.py);
the bound's expectation is the bound evaluated on the expected counts, its standard error from a
parametric bootstrap of the counts.
"""

import math

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import LinkSpec
from qemu_net.qkd.finite_key import (
    bb84_key_length,
    chernoff_lower,
    chernoff_upper,
    decoy_bb84_key_length,
    gamma,
)
from qemu_net.qkd.pulses import SourceSettings, simulate_basis_counts
from qemu_net.qkd.theory import decoy_rate_from_gains

ALPHA, ETA_DET, Y0, ED, F, MU, NU = 0.21, 0.045, 1.7e-6, 0.033, 1.22, 0.48, 0.05
PD = Y0 / 2  # per detector
PROBS = (0.7, 0.2, 0.1)
P_Z = 0.8


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def class_probs(m_eta):
    """(gain, error) of one pulse, written out: threshold detectors, dark counts, misalignment."""
    pr = 1 - (1 - PD) * math.exp(-m_eta * (1 - ED))
    pw = 1 - (1 - PD) * math.exp(-m_eta * ED)
    gain = 1 - (1 - pr) * (1 - pw)
    return gain, pw * (1 - pr) + pr * pw / 2


def eta_at(length_km):
    return 10 ** (-ALPHA * length_km / 10) * ETA_DET


def expected_counts(n, length_km):
    out = {"n_z": [], "m_z": [], "n_x": [], "m_x": []}
    for m, p in zip((MU, NU, 0.0), PROBS):
        g, e = class_probs(m * eta_at(length_km))
        out["n_z"].append(n * p * P_Z**2 * g)
        out["m_z"].append(n * p * P_Z**2 * e)
        out["n_x"].append(n * p * (1 - P_Z) ** 2 * g)
        out["m_x"].append(n * p * (1 - P_Z) ** 2 * e)
    return out


def sampled_counts(n, length_km, rng):
    """Per class, per matched basis: (correct, error) detections from the exact multinomial."""
    out = {"n_z": [], "m_z": [], "n_x": [], "m_x": []}
    for m, p in zip((MU, NU, 0.0), PROBS):
        g, e = class_probs(m * eta_at(length_km))
        z_ok, z_err, x_ok, x_err, _ = rng.multinomial(
            int(n * p), [P_Z**2 * (g - e), P_Z**2 * e, (1 - P_Z) ** 2 * (g - e), (1 - P_Z) ** 2 * e,
                         1 - P_Z**2 * g - (1 - P_Z) ** 2 * g])
        out["n_z"].append(z_ok + z_err)
        out["m_z"].append(z_err)
        out["n_x"].append(x_ok + x_err)
        out["m_x"].append(x_err)
    return out


def bound(c):
    e_z = sum(c["m_z"]) / max(sum(c["n_z"]), 1)
    return decoy_bb84_key_length(n_z=tuple(c["n_z"]), n_x=tuple(c["n_x"]), m_x=tuple(c["m_x"]), mus=(MU, NU, 0.0),
                                 probs=PROBS, leak_ec_bits=F * sum(c["n_z"]) * h(e_z), f_ec=F, e_z=e_z)


def test_chernoff_bounds_cover_the_expectation():
    """The Chernoff bounds written out: x + b + sqrt(2bx + b^2) and x - b/2 - sqrt(2bx + b^2/4); across
    20,000 Poisson draws the true mean escapes them no more often than e^-b allows."""
    b = math.log(1 / 1e-3)
    assert chernoff_upper(100, b) == pytest.approx(100 + b + math.sqrt(2 * b * 100 + b * b))
    assert chernoff_lower(100, b) == pytest.approx(100 - b / 2 - math.sqrt(2 * b * 100 + b * b / 4))
    assert chernoff_lower(0, b) == 0.0
    rng = np.random.default_rng(3)
    x = rng.poisson(50.0, 20_000)
    miss = sum(1 for v in x if not chernoff_lower(v, b) <= 50.0 <= chernoff_upper(v, b))
    assert miss <= 2 * 20_000 * 1e-3


def test_gamma_matches_lim_et_al():
    """gamma(a, b, c, d) = sqrt((c+d)(1-b)b/(c d ln 2) log2((c+d)/(c d (1-b) b) 21^2/a^2))."""
    a, b, c, d = 1e-10, 0.03, 1e6, 2e5
    expected = math.sqrt((c + d) * (1 - b) * b / (c * d * math.log(2))
                         * math.log2((c + d) / (c * d * (1 - b) * b) * 21**2 / a**2))
    assert gamma(a, b, c, d) == pytest.approx(expected)


def test_decoy_bound_on_exact_counts_written_out():
    """On given counts the length equals Lim's formula evaluated here step by step."""
    c = expected_counts(1e11, 50)
    beta = math.log(21 / 1e-10)
    ks = (MU, NU, 0.0)

    def lo(v, k, p):
        return math.exp(k) / p * max(v - beta / 2 - math.sqrt(2 * beta * v + beta**2 / 4), 0)

    def hi(v, k, p):
        return math.exp(k) / p * (v + beta + math.sqrt(2 * beta * v + beta**2))

    tau0 = sum(math.exp(-k) * p for k, p in zip(ks, PROBS))
    tau1 = sum(math.exp(-k) * k * p for k, p in zip(ks, PROBS))

    def s01(n):
        nl = [lo(v, k, p) for v, k, p in zip(n, ks, PROBS)]
        nh = [hi(v, k, p) for v, k, p in zip(n, ks, PROBS)]
        s0 = max(tau0 * (NU * nl[2] - 0 * nh[1]) / NU, 0)
        s1 = tau1 * MU * (nl[1] - nh[2] - NU**2 / MU**2 * (nh[0] - s0 / tau0)) / (MU * NU - NU**2)
        return s0, s1

    sz0, sz1 = s01(c["n_z"])
    _, sx1 = s01(c["n_x"])
    v1 = tau1 * (hi(c["m_x"][1], NU, PROBS[1]) - lo(c["m_x"][2], 0.0, PROBS[2])) / NU
    phi = v1 / sx1 + gamma(1e-10, v1 / sx1, sz1, sx1)
    e_z = sum(c["m_z"]) / sum(c["n_z"])
    leak = F * sum(c["n_z"]) * h(e_z)
    expected = math.floor(sz0 + sz1 * (1 - h(phi)) - leak - 6 * math.log2(21 / 1e-10) - math.log2(2 / 1e-15))
    b = bound(c)
    assert b.length == expected > 0
    assert b.reason is None and b.budget.eps_sec == 1e-10 and b.budget.eps_cor == 1e-15
    assert b.budget.eps_total == pytest.approx(1e-10 + 1e-15)


@pytest.mark.parametrize("length_km, n, seed", [(0, 1e11, 1), (50, 1e11, 2), (100, 1e13, 3), (125, 1e13, 4)])
def test_finite_key_within_its_expected_gap_to_the_asymptotic_rate(length_km, n, seed):
    """At 0, 50, 100 and 125 km the finite-key length from sampled counts is within 4 bootstrap SE of
    the bound on the expected counts, below the asymptotic figure of the same counts, and the
    finite-size gap (1 - finite/asymptotic) is within 4 SE of its expected value."""
    exp = bound(expected_counts(n, length_km))
    assert 0 < exp.length < exp.asymptotic_length
    rng = np.random.default_rng(seed)
    got = bound(sampled_counts(n, length_km, rng))
    boot = [bound(sampled_counts(n, length_km, rng)) for _ in range(40)]
    se = float(np.std([b.length for b in boot]))
    assert abs(got.length - exp.length) <= 4 * se + 1, (got.length, exp.length, se)
    assert 0 < got.length < got.asymptotic_length
    gap = 1 - got.length / got.asymptotic_length
    gap_exp = 1 - exp.length / exp.asymptotic_length
    gap_se = float(np.std([1 - b.length / b.asymptotic_length for b in boot]))
    assert abs(gap - gap_exp) <= 4 * gap_se + 1e-9


def test_gap_shrinks_with_the_block_size():
    """At 50 km the finite-key rate per pulse grows towards the asymptotic one as N grows."""
    rates = [bound(expected_counts(n, 50)).length / n for n in (1e10, 1e11, 1e12, 1e13)]
    asym = bound(expected_counts(1e13, 50)).asymptotic_length / 1e13
    assert rates == sorted(rates) and rates[-1] < asym and rates[-1] > 0.8 * asym


def test_no_key_for_20_seeds_between_141_and_150_km():
    """2e8 pulses per session, 20 seeds at 141-150 km: exactly 0 secret bits every time, each with a
    reason -- while the asymptotic vacuum + weak decoy estimator applied to the same finite data (the
    old behaviour) claims a key for some of them."""
    old_positive = 0
    for i, length in enumerate(np.linspace(141, 150, 20)):
        c = sampled_counts(2e8, float(length), np.random.default_rng(1000 + i))
        b = bound(c)
        assert b.length == 0 and b.reason, (length, b)
        n_s = [int(2e8 * p) for p in PROBS]
        det = [(z + x) for z, x in zip(c["n_z"], c["n_x"])]
        err = [(mz + mx) for mz, mx in zip(c["m_z"], c["m_x"])]
        sift = P_Z**2 + (1 - P_Z) ** 2
        q = [d / (ns * sift) for d, ns in zip(det, n_s)]
        e = [er / d if d else 0.5 for er, d in zip(err, det)]
        old_positive += decoy_rate_from_gains(q[0], e[0], q[1], e[1], q[2], MU, NU, F) > 0
    assert old_positive > 0


@pytest.mark.slow
def test_no_key_past_the_reach_with_the_pulse_simulator():
    """The same with the real pulse simulator (2e8 pulses at 141, 145 and 150 km): 0 bits."""
    src = SourceSettings(mu=MU, nu=NU, p_signal=PROBS[0], p_decoy=PROBS[1], p_vacuum=PROBS[2], p_z=P_Z)
    for i, length in enumerate((141.0, 145.0, 150.0)):
        link = LinkSpec(nodes=("a", "b"), length_km=length, attenuation_db_per_km=ALPHA, detector_efficiency=ETA_DET,
                        dark_count_probability=PD, misalignment_error=ED)
        c = simulate_basis_counts(200_000_000, src, link, np.random.default_rng(7 + i), block=4_000_000)
        b = bound({"n_z": c.n_z.tolist(), "m_z": c.m_z.tolist(), "n_x": c.n_x.tolist(), "m_x": c.m_x.tolist()})
        assert b.length == 0 and b.reason


def test_single_photon_bound_and_reasons():
    """Tomamichel et al.: the length written out; an empty test set or a phase error >= 1/2 gives 0
    with the reason; bad epsilons are refused."""
    n, k, m, leak = 100_000, 20_000, 400, 20_000
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / 1e-10))
    expected = math.floor(n * (1 - h(m / k + mu)) - leak - math.log2(2 / (1e-20 * 1e-15)))
    b = bb84_key_length(n_key=n, k_test=k, test_errors=m, leak_ec_bits=leak)
    assert b.length == expected > 0
    assert bb84_key_length(n_key=n, k_test=0, test_errors=0, leak_ec_bits=0).reason.startswith("no test bits")
    r = bb84_key_length(n_key=n, k_test=100, test_errors=45, leak_ec_bits=0)
    assert r.length == 0 and ">= 1/2" in r.reason
    with pytest.raises(InvalidOperation, match="eps_sec"):
        bb84_key_length(n_key=n, k_test=k, test_errors=m, leak_ec_bits=leak, eps_sec=2.0)
