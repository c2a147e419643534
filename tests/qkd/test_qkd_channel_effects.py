"""Every channel effect of the topology reaches QKD, and the QBER follows its closed form (4 SE).

Closed forms (written out here): a BB84 state measured in its own basis is wrong with the
misalignment e_d; the fiber's depolarising probability p (Cirq's convention: X, Y, Z with p/3 each)
flips it with 2p/3, so does Alice's preparation gate error g (2g/3); Bob's readout error r flips his
recorded bit. Independent flips compose as a(1-b) + b(1-a). With threshold detectors and dark counts
the per-class error is pw(1 - pr) + pr pw / 2 over the gain 1 - (1 - pr)(1 - pw) before the flips.
For E91 a Werner pair of visibility v whose far half is depolarised with p has visibility
v (1 - 4p/3): QBER (1 - v')/2, then misalignment and the readout errors of both ends.
"""

import json
import math

import numpy as np
import pytest

from qemu_net.network.topology import parse_topology
from qemu_net.qkd import BB84Params, E91Params, bb84_alice, bb84_bob, e91_alice, e91_bob
from qemu_net.qkd.pulses import ChannelModel, SourceSettings, simulate_basis_counts

from helpers_qkd import run_pair


def flip(a, b):
    return a * (1 - b) + b * (1 - a)


def topo(link=None, alice=None, bob=None):
    return parse_topology({"nodes": [{"name": "alice", **(alice or {})}, {"name": "bob", **(bob or {})}],
                           "links": [{"nodes": ["alice", "bob"], **(link or {})}]})


def within(observed, expected, n, k=4.0):
    se = math.sqrt(max(expected * (1 - expected), 1e-12) / n)
    assert abs(observed - expected) <= k * se, (observed, expected, se)


def signal_qber(t, n=1_500_000, seed=0):
    """X-basis signal-class error rate of simulated pulses through the topology's channel model."""
    src = SourceSettings(p_z=0.5)
    c = simulate_basis_counts(n, src, ChannelModel.from_topology(t, "alice", "bob"), np.random.default_rng(seed))
    return c.m_x[0] / c.n_x[0], int(c.n_x[0])


def class_error(m_eta, pd, ed):
    pr = 1 - (1 - pd) * math.exp(-m_eta * (1 - ed))
    pw = 1 - (1 - pd) * math.exp(-m_eta * ed)
    return (pw * (1 - pr) + pr * pw / 2) / (1 - (1 - pr) * (1 - pw))


def test_default_link_has_realistic_misalignment():
    """A link that sets nothing has 1.5% misalignment: the default QBER is no longer 0."""
    t = topo({"length_km": 1})
    q, n = signal_qber(t, seed=1)
    within(q, class_error(0.5 * t.link("alice", "bob").transmissivity, 0.0, 0.015), n)
    assert q > 0.01


@pytest.mark.parametrize("p", [0.03, 0.09, 0.15])
def test_qber_follows_transmission_depolarising(p):
    """QBER = e(e_d) composed with the fiber's 2p/3 flip."""
    t = topo({"length_km": 2, "transmission_depolarize": p, "misalignment_error": 0.01})
    q, n = signal_qber(t, seed=int(p * 100))
    e = class_error(0.5 * t.link("alice", "bob").transmissivity, 0.0, 0.01)
    within(q, flip(e, 2 * p / 3), n)


@pytest.mark.parametrize("r", [0.02, 0.06])
def test_qber_follows_bobs_readout_error(r):
    """Bob's node measure_error r flips his recorded bits: QBER = e(1 - r) + (1 - e) r."""
    t = topo({"length_km": 2, "misalignment_error": 0.02}, bob={"measure_error": r})
    q, n = signal_qber(t, seed=int(r * 1000))
    e = class_error(0.5 * t.link("alice", "bob").transmissivity, 0.0, 0.02)
    within(q, flip(e, r), n)


@pytest.mark.parametrize("ed", [0.0, 0.03, 0.08])
def test_qber_follows_misalignment_with_dark_counts(ed):
    """Misalignment with detector efficiency 30% and dark counts 1e-4 at 20 km: the detector model."""
    pd = 1e-4
    t = topo({"length_km": 20, "misalignment_error": ed, "detector_efficiency": 0.3, "dark_count_probability": pd})
    q, n = signal_qber(t, n=3_000_000, seed=int(ed * 100) + 5)
    within(q, class_error(0.5 * t.link("alice", "bob").transmissivity, pd, ed), n)


def test_alice_gate_error_flips_prepared_states():
    """Alice's gate_1q_error g (her state preparation) flips with 2g/3."""
    g = 0.06
    t = topo({"length_km": 1, "misalignment_error": 0.0}, alice={"gate_1q_error": g})
    q, n = signal_qber(t, seed=9)
    within(q, flip(class_error(0.5 * t.link("alice", "bob").transmissivity, 0.0, 0.0), 2 * g / 3), n)


def test_all_effects_together_through_a_session():
    """A single-photon BB84 session between the two roles: the test-basis QBER it reports follows
    misalignment, fiber depolarising, gate error and readout error composed (4 SE)."""
    ed, p, g, r = 0.01, 0.03, 0.015, 0.01
    t = topo({"length_km": 0, "detector_efficiency": 0.6, "misalignment_error": ed, "transmission_depolarize": p},
             alice={"gate_1q_error": g}, bob={"measure_error": r})
    a, b = run_pair(t, bb84_alice, bb84_bob,
                    BB84Params(peer="bob", decoy=False, n_pulses=300_000, p_z=0.5, raise_on_abort=False),
                    BB84Params(peer="alice", raise_on_abort=False), seed=21)
    expected = flip(flip(flip(ed, 2 * g / 3), 2 * p / 3), r)
    within(a.qber, expected, a.sample_bits)
    assert b.qber == a.qber


@pytest.mark.parametrize("p", [0.0, 0.06])
def test_e91_qber_follows_depolarising_and_readout(p):
    """E91: Werner v = 0.98, Bob's half depolarised with p, readout errors at both ends, misalignment."""
    v, ed, ra, rb = 0.98, 0.01, 0.01, 0.02
    t = topo({"length_km": 1, "misalignment_error": ed, "transmission_depolarize": p},
             alice={"measure_error": ra}, bob={"measure_error": rb})
    a, _ = run_pair(t, e91_alice, e91_bob, E91Params(peer="bob", n_pairs=600_000, visibility=v, raise_on_abort=False),
                    E91Params(peer="alice", raise_on_abort=False), seed=31 + int(p * 100))
    v2 = v * (1 - 4 * p / 3)
    expected = flip(flip(flip((1 - v2) / 2, ed), ra), rb)
    within(a.qber, expected, a.sample_bits)


def test_cli_flags_reach_the_qkd_qber(capsys):
    """`qnet run qkd --transmission-depolarize 0.06 --measure-error 0.02` between node processes: the
    QBER follows the closed form (it used to stay 0)."""
    from qemu_net.cli.main import main

    assert main(["run", "qkd", "--json", "--pulses", "2000000", "--length-km", "1",
                 "--transmission-depolarize", "0.06", "--measure-error", "0.02"]) in (0, 1)
    d = json.loads(capsys.readouterr().out)
    eta = 10 ** (-0.2 / 10)
    expected = flip(flip(class_error(0.5 * eta, 0.0, 0.015), 0.04), 0.02)
    # the QBER is that of the signal class, at least 90% of the disclosed test-basis bits here
    within(d["qber"], expected, int(0.9 * d["extra"]["sample_bits"]))
