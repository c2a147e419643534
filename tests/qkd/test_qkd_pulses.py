"""The vectorised pulse-train physics against closed forms computed here (4 standard errors)."""

import math

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import LinkSpec
from qemu_net.qkd.pulses import SourceSettings, simulate_bb84_counts


def _link(**kw):
    return LinkSpec(nodes=("alice", "bob"), **kw)


def _exact_class(m_eta, pd, ed):
    """Gain and sifted error probability of a coherent pulse with mean m*eta at Bob (threshold
    detectors, independent dark counts, double clicks -> random bit)."""
    pc = 1 - (1 - pd) * math.exp(-m_eta * (1 - ed))
    pw = 1 - (1 - pd) * math.exp(-m_eta * ed)
    gain = 1 - (1 - pc) * (1 - pw)
    err = pw * (1 - pc) + pc * pw / 2
    return gain, err / gain


def _within(observed, expected, n, k=4.0):
    se = math.sqrt(max(expected * (1 - expected), 1e-300) / n)
    assert abs(observed - expected) <= k * se, (observed, expected, se)


def test_decoy_gains_and_errors_follow_the_coherent_state_model():
    """Per-class gains and QBERs of 3M decoy pulses match the exact detector model."""
    pd, ed = 2e-3, 0.02
    link = _link(length_km=20, detector_efficiency=0.2, dark_count_probability=pd, misalignment_error=ed)
    src = SourceSettings(mu=0.6, nu=0.15, p_signal=0.6, p_decoy=0.3, p_vacuum=0.1, p_z=0.5)
    c = simulate_bb84_counts(3_000_000, src, link, np.random.default_rng(11))
    eta = link.transmissivity
    for cls, m in enumerate(src.intensities):
        gain, e = _exact_class(m * eta, pd, ed)
        _within(c.clicks[cls] / c.sent[cls], gain, c.sent[cls])
        _within(c.errors[cls] / c.sifted[cls], e, c.sifted[cls])
    # sifting keeps half of the clicks
    _within(c.sifted.sum() / c.clicks.sum(), 0.5, c.clicks.sum())


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 1.0])
def test_intercept_resend_raises_qber_by_a_quarter_of_the_fraction(fraction):
    """QBER = fraction * 25% for an intercept-resend attack on a clean single-photon link."""
    link = _link(length_km=0, detector_efficiency=0.5, misalignment_error=0.0)
    c = simulate_bb84_counts(400_000, SourceSettings(single_photon=True), link, np.random.default_rng(5),
                             eve_fraction=fraction)
    n = int(c.sifted.sum())
    q = c.errors.sum() / n
    expected = 0.25 * fraction
    if expected == 0:
        assert q == 0
    else:
        _within(q, expected, n)


def test_intercept_resend_on_weak_pulses_also_gives_25_percent():
    """Eve's attack is seen in every intensity class of the decoy protocol."""
    link = _link(length_km=5, detector_efficiency=0.5, misalignment_error=0.0)
    c = simulate_bb84_counts(400_000, SourceSettings(), link, np.random.default_rng(6), eve_fraction=1.0)
    _within(c.errors[0] / c.sifted[0], 0.25, c.sifted[0])


@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"mu": 0.1, "nu": 0.2}, "must exceed"),
        ({"mu": 0.2, "nu": 0.2}, "must exceed"),
        ({"mu": -0.5, "nu": 0.1}, "must exceed"),
        ({"nu": -0.1}, "must be > 0"),
        ({"p_signal": 0.5, "p_decoy": 0.2, "p_vacuum": 0.2}, "must be 1"),
        ({"p_z": 1.5}, "not a probability"),
        ({"p_decoy": -0.1}, "not a probability"),
    ],
)
def test_impossible_sources_are_refused(kw, fragment):
    """Impossible intensities and probabilities raise InvalidOperation naming the problem."""
    with pytest.raises(InvalidOperation, match=fragment):
        SourceSettings(**kw)
