"""Simulated decoy BB84 key rate per pulse follows the GLLP formula and vanishes past its reach.

Parameters (a gated InGaAs APD link): 0.2 dB/km, detector efficiency 10%, dark counts 1e-5 per gate
and detector, misalignment 1.5%, mu = 0.5, nu = 0.1, vacuum decoy, f_EC = 1.16.

The rate estimated from simulated counts applies the vacuum + weak decoy bounds to the measured gains
and error rates; its expectation is that same estimator applied to the exact expected gains (computed
here from the coherent-state model), and its standard error comes from a parametric bootstrap of the
multinomial counts. The infinite-decoy GLLP rate is an upper bound a few percent to ~15% above it.
"""

import math

import numpy as np
import pytest

from qemu_net.network.topology import LinkSpec
from qemu_net.qkd.pulses import SourceSettings, simulate_bb84_counts
from qemu_net.qkd.theory import decoy_rate_from_gains, gllp_key_rate, gllp_max_distance_km

ALPHA, ETA_DET, PD, ED, MU, NU, F = 0.2, 0.1, 1e-5, 0.015, 0.5, 0.1, 1.16
SRC = SourceSettings(mu=MU, nu=NU, p_signal=0.7, p_decoy=0.2, p_vacuum=0.1)


def h(x):
    x = np.clip(x, 1e-300, 1 - 1e-16)
    return np.where((x <= 1e-300), 0.0, -x * np.log2(x) - (1 - x) * np.log2(1 - x))


def rate_from_counts(q_mu, e_mu, q_nu, e_nu, y0):
    """Ma et al. 2005 vacuum + weak decoy bounds and the GLLP rate per signal pulse, written out here."""
    y1l = MU / (MU * NU - NU**2) * (q_nu * np.exp(NU) - q_mu * np.exp(MU) * NU**2 / MU**2 - (MU**2 - NU**2) / MU**2 * y0)
    y1l = np.maximum(y1l, 1e-300)
    e1u = np.clip((e_nu * q_nu * np.exp(NU) - 0.5 * y0) / (y1l * NU), 0, 0.5)
    r = 0.5 * (-q_mu * F * h(e_mu) + y1l * MU * np.exp(-MU) * (1 - h(e1u)))
    return np.maximum(r, 0.0)


def class_probabilities(m_eta):
    """(gain, sifted error probability) of a class of mean photon number m at Bob."""
    pc = 1 - (1 - PD) * math.exp(-m_eta * (1 - ED))
    pw = 1 - (1 - PD) * math.exp(-m_eta * ED)
    gain = 1 - (1 - pc) * (1 - pw)
    return gain, pw * (1 - pc) + pc * pw / 2


def expected_and_stderr(eta, sent, rng, reps=400):
    """Estimator at the expected gains, and its bootstrap standard error for these class sizes."""
    q, e = [], []
    draws = []
    for c, m in enumerate((MU, NU, 0.0)):
        gain, err = class_probabilities(m * eta)
        q.append(gain)
        e.append(err / gain)
        p = [0.5 * (gain - err), 0.5 * err, 0.5 * gain, 1 - gain]
        draws.append(rng.multinomial(int(sent[c]), p, size=reps))
    expected = float(rate_from_counts(q[0], e[0], q[1], e[1], q[2]))
    qs = [d[:, :3].sum(1) / sent[c] for c, d in enumerate(draws)]
    es = [d[:, 1] / np.maximum(d[:, 0] + d[:, 1], 1) for d in draws]
    boot = rate_from_counts(qs[0], es[0], qs[1], es[1], qs[2])
    return expected, float(boot.std())


def simulated_rate(length_km, n, seed):
    link = LinkSpec(nodes=("a", "b"), length_km=length_km, attenuation_db_per_km=ALPHA, detector_efficiency=ETA_DET,
                    dark_count_probability=PD, misalignment_error=ED)
    c = simulate_bb84_counts(n, SRC, link, np.random.default_rng(seed))
    g, e = c.gains, c.error_rates
    return decoy_rate_from_gains(g[0], e[0], g[1], e[1], g[2], MU, NU, F), c, link.transmissivity


@pytest.mark.parametrize("length_km, n", [(10, 2_000_000), (50, 4_000_000), (90, 8_000_000)])
def test_rate_follows_gllp_within_sampling_error(length_km, n):
    """At 10, 50 and 90 km the simulated rate is within 4 bootstrap SE of the formula."""
    sim, counts, eta = simulated_rate(length_km, n, seed=length_km)
    expected, se = expected_and_stderr(eta, counts.sent, np.random.default_rng(1))
    assert abs(sim - expected) <= 4 * se, (sim, expected, se)
    infinite = gllp_key_rate(eta, 1 - (1 - PD) ** 2, ED, MU, F)
    assert expected <= infinite and expected >= 0.8 * infinite


def test_rate_drops_to_zero_past_the_maximum_distance():
    """Beyond the GLLP reach (about 125 km here) the measured data certify no key at all."""
    lmax = gllp_max_distance_km(attenuation_db_per_km=ALPHA, detector_efficiency=ETA_DET,
                                y0=1 - (1 - PD) ** 2, e_d=ED, mu=MU, f_ec=F)
    assert 115 < lmax < 135
    inside, _, _ = simulated_rate(0.6 * lmax, 8_000_000, seed=2)
    assert inside > 0
    for seed in (3, 4):
        beyond, _, _ = simulated_rate(1.15 * lmax, 16_000_000, seed=seed)
        assert beyond == 0.0
