"""BB84 and E91 sessions between two roles that share only messages (in-process, two threads)."""

import math

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation, NotConnected, ProtocolAborted
from qemu_net.network.topology import parse_topology
from qemu_net.qkd import BB84Params, E91Params, bb84_alice, bb84_bob, e91_alice, e91_bob
from qemu_net.qkd.local import run_local_session

from helpers_qkd import run_pair, two_nodes

APD = {"detector_efficiency": 0.1, "dark_count_probability": 1e-5, "misalignment_error": 0.015}


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def dh(x):
    return math.log2((1 - x) / x)


@pytest.mark.parametrize("length_km, seed", [(1, 1), (25, 2), (50, 3)])
def test_decoy_bb84_keys_are_identical(length_km, seed):
    """A decoy-state session yields the same non-empty key at both ends, with consistent reports."""
    topo = two_nodes(length_km=length_km, **APD)
    a, b = run_pair(topo, bb84_alice, bb84_bob, BB84Params(peer="bob", n_pulses=3_000_000, session_id=f"s{seed}"),
                    BB84Params(peer="alice", session_id=f"s{seed}"), seed=seed)
    assert a.succeeded and b.succeeded
    assert a.key == b.key and a.final_bits == b.final_bits > 0
    for f in ("raw_bits", "sifted_bits", "reconciled_bits", "leaked_ec_bits", "corrected_errors", "qber"):
        assert getattr(a, f) == getattr(b, f)
    # the final length is what the GLLP bound allows after the real Cascade leak
    assert a.y1_lower > 0 and 0 <= a.e1_upper < 0.5
    assert a.key_rate_per_pulse == a.final_bits / 3_000_000
    assert a.key_rate_per_s > 0 and a.duration_ns >= 3_000_000 / 1e9 * 1e9
    assert "key=" not in repr(a) and a.key.hex()[:16] not in repr(a)


def test_secret_fraction_matches_shor_preskill():
    """Single-photon BB84 at misalignment Q = 3%: (final + leak_EC + hashing overhead)/n - h(Q_meas),
    i.e. the secret fraction with Shannon-limit correction (f_EC = 1), equals 1 - 2h(Q) within 4 SE of
    the sampled QBER; the real Cascade leak is reported and lies between 1.0 and 1.5 n h(Q)."""
    q = 0.03
    topo = two_nodes(length_km=0, detector_efficiency=0.5, misalignment_error=q)
    a, b = run_pair(topo, bb84_alice, bb84_bob,
                    BB84Params(peer="bob", decoy=False, n_pulses=400_000, sample_fraction=0.2),
                    BB84Params(peer="alice", decoy=False), seed=7)
    assert a.key == b.key and a.final_bits > 0
    n = a.reconciled_bits
    q_meas = a.qber
    overhead = a.verification_bits + a.security_margin_bits
    f1 = (a.final_bits + a.leaked_ec_bits + overhead) / n - h(q_meas)
    se = 2 * dh(q) * math.sqrt(q * (1 - q) / a.sample_bits)
    assert abs(f1 - (1 - 2 * h(q))) <= 4 * se + 1 / n
    q_true = a.corrected_errors / n
    assert abs(q_true - q) <= 4 * math.sqrt(q * (1 - q) / n)
    assert 1.0 < a.leaked_ec_bits / (n * h(q_true)) < 1.5
    assert a.secret_fraction < 1 - 2 * h(q) + 4 * se


def test_full_intercept_resend_is_detected_and_aborts():
    """Eve on every pulse: sampled QBER ~25% (4 SE), the session aborts with the reason at both ends."""
    topo = two_nodes(length_km=0, detector_efficiency=0.5)
    params = dict(decoy=False, n_pulses=200_000, eve_fraction=1.0, raise_on_abort=False)
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
    """Attacking a fraction f of pulses gives QBER ~ f * 25% (4 SE on the sample)."""
    topo = two_nodes(length_km=0, detector_efficiency=0.5)
    a, b = run_pair(topo, bb84_alice, bb84_bob,
                    BB84Params(peer="bob", decoy=False, n_pulses=200_000, eve_fraction=fraction,
                               sample_fraction=0.3, raise_on_abort=False),
                    BB84Params(peer="alice", raise_on_abort=False), seed=10)
    expected = 0.25 * fraction
    assert abs(a.qber - expected) <= 4 * math.sqrt(expected * (1 - expected) / a.sample_bits)
    if a.aborted is None:
        assert a.key == b.key


@pytest.mark.parametrize("visibility", [1.0, 0.9, 0.8])
def test_e91_chsh_is_2_sqrt2_times_visibility(visibility):
    """CHSH S = 2 sqrt(2) v within 4 SE; QBER = (1 - v)/2; keys equal when a key is left (at v = 0.8,
    QBER 10%, Cascade's real leak leaves none, and the session says so)."""
    topo = two_nodes(length_km=5)
    a, b = run_pair(topo, e91_alice, e91_bob,
                    E91Params(peer="bob", n_pairs=200_000, visibility=visibility, raise_on_abort=False),
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
        assert a.final_bits > 0
    else:
        assert a.aborted and "no secret key" in a.aborted and b.aborted == a.aborted


def test_e91_without_entanglement_aborts_on_chsh():
    """Visibility 0.6 (S = 1.70 <= 2) aborts the session with the CHSH reason."""
    with pytest.raises(ProtocolAborted, match="CHSH"):
        run_pair(two_nodes(length_km=1), e91_alice, e91_bob, E91Params(peer="bob", n_pairs=50_000, visibility=0.6),
                 E91Params(peer="alice"), seed=12)


def test_e91_uses_the_link_source_fidelity():
    """Without an explicit visibility the Werner visibility comes from the link: v = (4F - 1)/3."""
    topo = two_nodes(length_km=2, source_fidelity=0.9)
    a, b = run_pair(topo, e91_alice, e91_bob, E91Params(peer="bob", n_pairs=100_000), E91Params(peer="alice"), seed=13)
    v = (4 * 0.9 - 1) / 3
    assert abs(a.qber - (1 - v) / 2) <= 4 * math.sqrt(0.066 * 0.934 / a.sample_bits)
    assert a.key == b.key


def test_keys_equal_whenever_sessions_succeed():
    """Across seeds and link qualities, every successful session has identical keys at both ends."""
    succeeded = 0
    for seed, (ed, length) in enumerate([(0.0, 1), (0.02, 10), (0.04, 20), (0.06, 5), (0.08, 1)]):
        topo = two_nodes(length_km=length, detector_efficiency=0.3, dark_count_probability=1e-4, misalignment_error=ed)
        a, b = run_pair(topo, bb84_alice, bb84_bob,
                        BB84Params(peer="bob", n_pulses=1_000_000, raise_on_abort=False, session_id=f"k{seed}"),
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
        ({"sample_fraction": 1.5}, "sample_fraction"),
        ({"sample_size": 0}, "sample_size"),
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


def test_sample_larger_than_sifted_key_is_refused_at_both_ends():
    """A sample bigger than the sifted key: InvalidOperation at Alice, and Bob learns the same reason."""
    topo = two_nodes(length_km=0)
    with pytest.raises(InvalidOperation, match="larger than the sifted key"):
        run_pair(topo, bb84_alice, bb84_bob, BB84Params(peer="bob", decoy=False, n_pulses=1000, sample_size=5000),
                 BB84Params(peer="alice"), seed=1)
    out = {}
    with pytest.raises(InvalidOperation):
        out = run_local_session(topo, {"bob": (bb84_bob, BB84Params(peer="alice")),
                                       "alice": (bb84_alice, BB84Params(peer="bob", decoy=False, n_pulses=1000,
                                                                        sample_size=5000))}, seed=1)
    assert out == {}


def test_missing_link_or_unknown_node():
    """No fiber between the nodes, or a peer that does not exist: NotConnected before any message."""
    topo = parse_topology({"nodes": ["alice", "bob", "carol"], "links": [["alice", "bob"]],
                           "classical_links": [["alice", "carol"]]})
    with pytest.raises(NotConnected, match="no quantum link"):
        run_local_session(topo, {"alice": (bb84_alice, BB84Params(peer="carol"))})
    with pytest.raises(NotConnected, match="unknown node"):
        run_local_session(topo, {"alice": (e91_alice, E91Params(peer="dave"))})
