"""BB84 and E91 sessions between two roles that share only messages (in-process, two threads)."""

import math

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation, NotConnected, ProtocolAborted, UnknownNode
from qemu_net.network.topology import parse_topology
from qemu_net.qkd import BB84Params, E91Params, bb84_alice, bb84_bob, e91_alice, e91_bob
from qemu_net.qkd.local import run_local_session

from helpers_qkd import run_pair, two_nodes

APD = {"detector_efficiency": 0.1, "dark_count_probability": 1e-5, "misalignment_error": 0.015}
#: A better detector (20%, 1e-6 dark counts) so that a few million pulses certify a finite key.
APD_GOOD = {"detector_efficiency": 0.5, "dark_count_probability": 1e-6, "misalignment_error": 0.015}


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def dh(x):
    return math.log2((1 - x) / x)


@pytest.mark.parametrize("length_km, seed", [(1, 1), (10, 2), (25, 3)])
def test_decoy_bb84_keys_are_identical(length_km, seed):
    """A decoy-state session yields the same non-empty key at both ends, with consistent reports and
    the finite-key analysis (Lim et al.) at the requested security parameters."""
    topo = two_nodes(length_km=length_km, **APD_GOOD)
    a, b = run_pair(topo, bb84_alice, bb84_bob,
                    BB84Params(peer="bob", n_pulses=4_000_000, session_id=f"s{seed}", eps_sec=1e-9, eps_cor=1e-12,
                               p_z=0.6),
                    BB84Params(peer="alice", session_id=f"s{seed}"), seed=seed)
    assert a.succeeded and b.succeeded
    assert a.key == b.key and a.final_bits == b.final_bits > 0
    for f in ("raw_bits", "sifted_bits", "reconciled_bits", "leaked_ec_bits", "corrected_errors", "qber",
              "key_analysis", "eps_sec", "eps_cor", "asymptotic_bits", "s1_lower"):
        assert getattr(a, f) == getattr(b, f), f
    assert a.key_analysis == "lim2014-decoy-bb84" and a.eps_sec == 1e-9 and a.eps_cor == 1e-12
    assert a.eps_total == pytest.approx(1e-9 + 1e-12)
    # the finite-key length is below the asymptotic figure for the same counts, and the single-photon
    # detections certified are at most the key bits
    assert 0 < a.final_bits < a.asymptotic_bits
    assert 0 < a.s1_lower <= a.reconciled_bits and a.y1_lower > 0 and 0 <= a.e1_upper < 0.5
    assert a.key_rate_per_pulse == a.final_bits / 4_000_000
    assert a.key_rate_per_s > 0 and a.duration_ns >= 4_000_000 / 1e9 * 1e9
    assert "key=" not in repr(a) and a.key.hex()[:16] not in repr(a)


def test_single_photon_length_is_tomamichel_bound():
    """Single-photon BB84 at misalignment Q = 3%: the final length is exactly the Tomamichel et al.
    bound n(1 - h(Q_X + mu)) - leak - log2(2/(eps_sec^2 eps_cor)) written out here, with the actual
    Cascade leak; the measured test QBER is within 4 SE of 3% and the leak between 1.0 and 1.5 n h(Q)."""
    q = 0.03
    topo = two_nodes(length_km=0, detector_efficiency=0.5, misalignment_error=q)
    a, b = run_pair(topo, bb84_alice, bb84_bob, BB84Params(peer="bob", decoy=False, n_pulses=400_000, p_z=0.7),
                    BB84Params(peer="alice", decoy=False), seed=7)
    assert a.key == b.key and a.final_bits > 0
    n, k = a.reconciled_bits, a.sample_bits
    assert abs(a.qber - q) <= 4 * math.sqrt(q * (1 - q) / k)
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / 1e-10))
    verification = max(a.verification_bits, math.log2(2 / 1e-15))
    expected = math.floor(n * (1 - h(a.qber + mu)) - a.leaked_ec_bits - 2 * math.log2(1e10) - verification)
    assert a.final_bits == expected
    q_true = a.corrected_errors / n
    assert abs(q_true - q) <= 4 * math.sqrt(q * (1 - q) / n)
    assert 1.0 < a.leaked_ec_bits / (n * h(q_true)) < 1.5
    assert a.asymptotic_bits > a.final_bits


def test_full_intercept_resend_is_detected_and_aborts():
    """Eve on every pulse: test-basis QBER ~25% (4 SE), the session aborts with the reason at both ends."""
    topo = two_nodes(length_km=0, detector_efficiency=0.5)
    params = dict(decoy=False, n_pulses=200_000, eve_fraction=1.0, raise_on_abort=False, p_z=0.5)
    a, b = run_pair(topo, bb84_alice, bb84_bob, BB84Params(peer="bob", **params),
                    BB84Params(peer="alice", raise_on_abort=False), seed=8)
    assert abs(a.qber - 0.25) <= 4 * math.sqrt(0.25 * 0.75 / a.sample_bits)
    assert a.aborted and "QBER" in a.aborted and b.aborted and "QBER" in b.aborted
    assert a.final_bits == b.final_bits == 0 and a.key == b.key == b""
    with pytest.raises(ProtocolAborted, match="QBER"):
        run_pair(topo, bb84_alice, bb84_bob, BB84Params(peer="bob", decoy=True, eve_fraction=1.0, n_pulses=2_000_000),
                 BB84Params(peer="alice"), seed=9)


@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_partial_attack_raises_qber_proportionally(fraction):
    """Attacking a fraction f of pulses gives QBER ~ f * 25% (plus the 1.5% default misalignment)."""
    topo = two_nodes(length_km=0, detector_efficiency=0.5)
    a, b = run_pair(topo, bb84_alice, bb84_bob,
                    BB84Params(peer="bob", decoy=False, n_pulses=200_000, eve_fraction=fraction, p_z=0.5,
                               raise_on_abort=False),
                    BB84Params(peer="alice", raise_on_abort=False), seed=10)
    e = 0.25 * fraction
    expected = e * (1 - 0.015) + 0.015 * (1 - e)
    assert abs(a.qber - expected) <= 4 * math.sqrt(expected * (1 - expected) / a.sample_bits)
    if a.aborted is None:
        assert a.key == b.key


@pytest.mark.parametrize("visibility", [1.0, 0.9, 0.8])
def test_e91_chsh_is_2_sqrt2_times_visibility(visibility):
    """CHSH S = 2 sqrt(2) v within 4 SE; test QBER = (1 - v)/2; keys equal when a key is left (at
    v = 0.8, QBER 10%, the finite-key bound leaves none, and the session says so). The link is set
    perfectly aligned (misalignment 0) so that the closed forms hold as written."""
    topo = two_nodes(length_km=5, misalignment_error=0.0)
    a, b = run_pair(topo, e91_alice, e91_bob,
                    E91Params(peer="bob", n_pairs=400_000, visibility=visibility, raise_on_abort=False),
                    E91Params(peer="alice", raise_on_abort=False), seed=11)
    expected = 2 * math.sqrt(2) * visibility
    n_chsh = a.raw_bits * (1 - 0.8)  # Bob picks a CHSH setting with probability 1 - p_key
    e = visibility / math.sqrt(2)
    se = math.sqrt(4 * (1 - e * e) / (n_chsh / 4))
    assert abs(a.chsh - expected) <= 4 * se
    assert b.chsh == a.chsh
    q = (1 - visibility) / 2
    assert abs(a.qber - q) <= 4 * math.sqrt(max(q * (1 - q), 1e-12) / a.sample_bits) + 1e-12
    assert a.key == b.key
    if visibility >= 0.9:
        assert a.final_bits > 0 and a.key_analysis == "tomamichel2012-bbm92"
    else:
        assert a.aborted and "no secret key" in a.aborted and b.aborted == a.aborted


def test_e91_without_entanglement_aborts_on_chsh():
    """Visibility 0.6 (S = 1.70 <= 2) aborts the session with the CHSH reason."""
    with pytest.raises(ProtocolAborted, match="CHSH"):
        run_pair(two_nodes(length_km=1), e91_alice, e91_bob, E91Params(peer="bob", n_pairs=50_000, visibility=0.6),
                 E91Params(peer="alice"), seed=12)


def test_e91_uses_the_link_source_fidelity():
    """Without an explicit visibility the Werner visibility comes from the link: v = (4F - 1)/3."""
    topo = two_nodes(length_km=2, source_fidelity=0.9, misalignment_error=0.0)
    a, b = run_pair(topo, e91_alice, e91_bob, E91Params(peer="bob", n_pairs=100_000, raise_on_abort=False),
                    E91Params(peer="alice", raise_on_abort=False), seed=13)
    v = (4 * 0.9 - 1) / 3
    assert abs(a.qber - (1 - v) / 2) <= 4 * math.sqrt(0.066 * 0.934 / a.sample_bits)
    assert a.key == b.key


def test_keys_equal_whenever_sessions_succeed():
    """Across seeds and link qualities, every successful session has identical keys at both ends."""
    succeeded = 0
    for seed, (ed, length) in enumerate([(0.0, 1), (0.01, 10), (0.02, 15), (0.03, 5), (0.08, 1)]):
        topo = two_nodes(length_km=length, detector_efficiency=0.5, dark_count_probability=1e-5, misalignment_error=ed)
        a, b = run_pair(topo, bb84_alice, bb84_bob,
                        BB84Params(peer="bob", n_pulses=4_000_000, raise_on_abort=False, session_id=f"k{seed}",
                                   p_z=0.6),
                        BB84Params(peer="alice", raise_on_abort=False, session_id=f"k{seed}"), seed=100 + seed)
        assert (a.aborted is None) == (b.aborted is None)
        if a.aborted is None:
            succeeded += 1
            assert a.key == b.key and len(a.key_bits) == a.final_bits
    assert succeeded >= 4


# -------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"mu": 0.05, "nu": 0.1}, "must exceed"),
        ({"mu": -1.0}, "must exceed"),
        ({"p_signal": 0.9, "p_decoy": 0.2, "p_vacuum": 0.1}, "must be 1"),
        ({"eps_sec": 0.5}, "eps_sec"),
        ({"eps_cor": 0.0}, "eps_cor"),
        ({"p_z": 1.0}, "p_z"),
        ({"n_pulses": 0}, "n_pulses"),
        ({"eve_fraction": 2.0}, "eve_fraction"),
        ({"qber_threshold": 0.7}, "qber_threshold"),
        ({"session_id": "bad id!"}, "session_id"),
        ({"pulse_rate_hz": 0.0}, "pulse_rate_hz"),
    ],
)
def test_bad_bb84_params(kw, fragment):
    """Impossible parameters raise InvalidOperation with a clear message."""
    with pytest.raises(InvalidOperation, match=fragment):
        BB84Params(peer="bob", **kw)


@pytest.mark.parametrize("kw, fragment", [({"visibility": 1.5}, "visibility"), ({"p_key": 1.0}, "p_key"),
                                          ({"n_pairs": -3}, "n_pairs")])
def test_bad_e91_params(kw, fragment):
    with pytest.raises(InvalidOperation, match=fragment):
        E91Params(peer="bob", **kw)


def test_missing_link_or_unknown_node():
    """No fiber between the nodes, or a peer that does not exist: NotConnected before any message."""
    topo = parse_topology({"nodes": ["alice", "bob", "carol"], "links": [["alice", "bob"]],
                           "classical_links": [["alice", "carol"]]})
    with pytest.raises(NotConnected, match="no quantum link"):
        run_local_session(topo, {"alice": (bb84_alice, BB84Params(peer="carol"))})
    with pytest.raises(UnknownNode, match="unknown node"):
        run_local_session(topo, {"alice": (e91_alice, E91Params(peer="dave"))})
