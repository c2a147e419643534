"""Links across real node processes: fiber loss, fiber and classical latency in virtual time, heralded EPR
generation (attempts, timing, the attempt cap) and the delivered pair's state, against closed forms."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest
from physics_harness import bell_fidelity, running, within_4_se

from qemu_net.network.topology import parse_topology

US = 1_000.0  # ns
NS_PER_KM = 1.468e9 / 299_792.458  # light in standard fiber: group index 1.468 / c (~4.897 us per km)

#: name -> (length_km, attenuation_db_per_km, detector_efficiency) of the s -- name links used for loss.
LOSSY = {
    "r1": (10.0, 0.2, 0.9),
    "r2": (25.0, 0.2, 0.8),
    "r3": (3.0, 1.0, 1.0),
}
R3_CLASSICAL_LATENCY_NS = 123_456.0
FAR = {"length_km": 100.0, "attenuation_db_per_km": 1.0, "max_attempts": 5}
#: The heralded-pair link s -- m, and the two memories.
PAIR_LINK = {
    "length_km": 2.0,
    "attenuation_db_per_km": 0.2,
    "detector_efficiency": 0.9,
    "source_model": "werner",
    "source_fidelity": 0.95,
    "transmission_depolarize": 0.02,
    "dark_count_probability": 1e-3,
}
MEM = {"s": (1e-3, 5e-4), "m": (5e-4, 2e-4)}  # (t1_s, t2_s)

TOPOLOGY = parse_topology(
    {
        "name": "links",
        "seed": 11,
        "nodes": [
            {"name": "s", "memory_qubits": 4096, "t1_s": MEM["s"][0], "t2_s": MEM["s"][1]},
            *({"name": r, "memory_qubits": 4096} for r in LOSSY),
            "far",
            {"name": "m", "t1_s": MEM["m"][0], "t2_s": MEM["m"][1]},
            "c",
            "k",
        ],
        "links": [
            *(
                {
                    "nodes": ["s", r],
                    "length_km": L,
                    "attenuation_db_per_km": a,
                    "detector_efficiency": eta,
                    **({"classical_latency_ns": R3_CLASSICAL_LATENCY_NS} if r == "r3" else {}),
                }
                for r, (L, a, eta) in LOSSY.items()
            ),
            {"nodes": ["s", "far"], **FAR},
            {"nodes": ["s", "m"], **PAIR_LINK},
            {"nodes": ["s", "c"], "length_km": 0},
            {"nodes": ["m", "c"], "length_km": 0},
        ],
        "classical_links": [{"nodes": ["s", "k"], "length_km": 40.0}],
    }
)


@pytest.fixture(scope="module")
def net():
    with running(TOPOLOGY) as n:
        yield n


# ------------------------------------------------------------------------------------ photon loss


@pytest.mark.slow
@pytest.mark.parametrize("receiver", sorted(LOSSY))
def test_photon_survival_matches_attenuation_and_detector_efficiency(net, receiver):
    """Sent qubits survive with probability 10^(-aL/10) * eta_det (within 4 standard errors, fixed seed)."""
    length_km, alpha, eta_det = LOSSY[receiver]
    p_survive = 10 ** (-alpha * length_km / 10) * eta_det
    trials = 500
    qubits = net["s"].alloc(trials)
    lost = [net["s"].send_qubit(q, receiver).lost for q in qubits]
    ok, obs, se = within_4_se(trials - sum(lost), trials, p_survive)
    assert ok, f"survival {obs:.4f} vs 10^(-aL/10)*eta = {p_survive:.4f} (se {se:.4f})"
    # Lost qubits are gone everywhere (nothing kept at the sender); survivors are at the receiver.
    assert net["s"].info().qubits_in_use == 0
    arrived = [q for q, gone in zip(qubits, lost) if not gone]
    assert net[receiver].info().qubits_in_use == len(arrived)
    net[receiver].free(arrived)


@pytest.mark.parametrize("receiver", sorted(LOSSY))
def test_qubit_arrives_fiber_delay_later_even_when_classical_latency_is_overridden(net, receiver):
    """A qubit arrives L n_g / c (~4.9 us per km) after it is sent (the fiber, not the classical channel), lost or not;
    the receiver's clock reaches the arrival time either way."""
    length_km = LOSSY[receiver][0]
    for q in net["s"].alloc(5):
        sent = net["s"].now()
        r = net["s"].send_qubit(q, receiver)
        assert r.arrival_ns - sent == pytest.approx(length_km * NS_PER_KM, abs=1)
        assert net[receiver].now() >= r.arrival_ns
        if not r.lost:
            net[receiver].free([q])


# ------------------------------------------------------------------------------ classical latency


@pytest.mark.parametrize(
    ("to", "latency_ns"),
    [
        ("r1", LOSSY["r1"][0] * NS_PER_KM),
        ("r2", LOSSY["r2"][0] * NS_PER_KM),
        ("k", 40.0 * NS_PER_KM),
        ("r3", R3_CLASSICAL_LATENCY_NS),
    ],
)
def test_classical_message_arrives_link_latency_later_in_virtual_time(net, to, latency_ns):
    """A message over L km arrives L n_g / c later (or the overridden latency); the receiver's clock
    moves to at least its arrival."""
    sent = net["s"].now()
    r = net["s"].send(to, "latency", b"x")
    assert r.arrival_ns - sent == pytest.approx(latency_ns, abs=1)
    got = net[to].receive("s", "latency")
    assert got.payload == b"x" and got.arrival_ns == r.arrival_ns
    assert net[to].now() >= got.arrival_ns


# ------------------------------------------------------------------------------- heralded EPR


@pytest.mark.parametrize("peer", ["r2", "r3"])
def test_heralded_pairs_take_attempts_times_period_and_attempts_are_geometric(net, peer):
    """Each pair's herald comes attempts * period after the previous one, with period = max(1/rate,
    L n_g / c + classical latency) (photon out, herald back); mean attempts = 1/(10^(-aL/10) eta_det)."""
    length_km, alpha, eta_det = LOSSY[peer]
    latency = R3_CLASSICAL_LATENCY_NS if peer == "r3" else length_km * NS_PER_KM
    period = max(1e9 / 1e6, length_km * NS_PER_KM + latency)
    p = 10 ** (-alpha * length_km / 10) * eta_det
    count = 400
    start = net["s"].now()
    pairs = net["s"].epr(peer, count)
    ready = np.array([start] + [x.ready_ns for x in pairs], dtype=np.int64)
    attempts = np.array([x.attempts for x in pairs])
    np.testing.assert_allclose(np.diff(ready), attempts * period, atol=1)
    assert net["s"].now() == ready[-1]
    assert net[peer].now() >= ready[-1]
    mean, se = attempts.mean(), math.sqrt((1 - p) / p**2 / count)
    assert abs(mean - 1 / p) <= 4 * se, f"mean attempts {mean:.3f} vs 1/p = {1 / p:.3f} (se {se:.3f})"
    net["s"].free([x.local_qubit for x in pairs])
    net[peer].free([x.remote_qubit for x in pairs])


def test_attempt_cap_aborts_with_a_clear_error_after_spending_the_attempts(net):
    """At max_attempts the request fails (ABORTED, naming the cap) and the virtual time of the failed
    attempts has passed: max_attempts * period."""
    period = max(1e3, 2 * FAR["length_km"] * NS_PER_KM)
    before = net["s"].now()
    with pytest.raises(grpc.RpcError) as err:
        net["s"].epr("far")
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert "max_attempts=5" in err.value.details()
    assert net["s"].now() - before == pytest.approx(FAR["max_attempts"] * period, abs=1)
    assert net["far"].info().qubits_in_use == 0


def _decay(wait_ns: float, t1_s: float, t2_s: float) -> tuple[float, float]:
    """(gamma, coherence) of a memory after wait_ns: 1 - e^(-t/T1), e^(-t/T2)."""
    t = wait_ns * 1e-9
    return 1 - math.exp(-t / t1_s), math.exp(-t / t2_s)


def test_heralded_pair_state_from_source_transmission_dark_counts_and_both_memories(net):
    """The delivered pair: Werner(F) source, depolarize(p) on the travelling half, false heralds mixing in
    I/4, the source half decaying for the round trip and the far half for the herald's return trip.

    Closed form for a Bell-diagonal state with correlations (xx, yy, zz) after memory decay
    (gamma_i, c_i) of the halves: F = (1 + (xx - yy) c_s c_m + zz (1-g_s)(1-g_m) + g_s g_m) / 4, and each
    half's <Z> = gamma of its own memory (which tells the halves apart).
    """
    L = PAIR_LINK["length_km"]
    fiber, latency = L * NS_PER_KM, L * NS_PER_KM
    eta = 10 ** (-PAIR_LINK["attenuation_db_per_km"] * L / 10) * PAIR_LINK["detector_efficiency"]
    d = PAIR_LINK["dark_count_probability"]
    false_herald = (1 - eta) * d / (eta + (1 - eta) * d)
    lam = (4 * PAIR_LINK["source_fidelity"] - 1) / 3
    shrink = lam * (1 - 4 * PAIR_LINK["transmission_depolarize"] / 3) * (1 - false_herald)
    xx, yy, zz = shrink, -shrink, shrink
    for _ in range(3):
        (pair,) = net["s"].epr("m")
        # Move both halves, unchanged, to a perfect memory at c, reading each clock at its send.
        s_sent = net["s"].now()
        assert not net["s"].send_qubit(pair.local_qubit, "c").lost
        m_sent = net["m"].now()
        assert not net["m"].send_qubit(pair.remote_qubit, "c").lost
        rho = net["c"].inspect([pair.local_qubit, pair.remote_qubit])
        g_s, c_s = _decay(fiber + latency + (s_sent - pair.ready_ns), *MEM["s"])
        g_m, c_m = _decay(latency + (m_sent - pair.ready_ns), *MEM["m"])
        expected = (1 + (xx - yy) * c_s * c_m + zz * (1 - g_s) * (1 - g_m) + g_s * g_m) / 4
        assert bell_fidelity(rho) == pytest.approx(expected, abs=1e-6)
        z = np.diag([1, -1])
        z_s = np.real(np.trace(rho @ np.kron(z, np.eye(2))))
        z_m = np.real(np.trace(rho @ np.kron(np.eye(2), z)))
        assert (z_s, z_m) == pytest.approx((g_s, g_m), abs=1e-6)
        net["c"].free([pair.local_qubit, pair.remote_qubit])
