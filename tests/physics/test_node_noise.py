"""Node models across real node processes: gate depolarisation, transmission noise, memory decoherence
(T1/T2) on the virtual clock wherever the state is held, readout errors and operation durations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from physics_harness import PHI_PLUS, bell_fidelity, measure_op, running, within_4_se

from qemu_net.network.topology import parse_topology

GATE_1Q = {"g1": (0.05, 0.02), "g2": (0.2, 0.1), "g3": (0.5, 0.3)}  # (gate_1q_error, measure_error)
GATE_2Q = {"g4": 0.1, "g5": 0.4}
TRANSMISSION = {"t1": 0.1, "t2": 0.3}
MEMORY = {"mem1": (1e-3, 4e-4), "mem2": (2e-4, None), "mem3": (None, 3e-4)}  # (t1_s, t2_s)
CLOCK_LINK_KM = 10.0  # memX -- memX-k classical links: 50 us one way
NS_PER_KM = 1.468e9 / 299_792.458  # light in standard fiber: group index 1.468 / c (~4.897 us per km)
DUR = {"gate_1q_duration_ns": 1_000.0, "gate_2q_duration_ns": 5_000.0, "measure_duration_ns": 2_000.0}

TOPOLOGY = parse_topology(
    {
        "name": "noise",
        "seed": 5,
        "nodes": [
            "a",
            *(
                {"name": g, "gate_1q_error": p, "measure_error": e, "memory_qubits": 4096}
                for g, (p, e) in GATE_1Q.items()
            ),
            *({"name": g, "gate_2q_error": p} for g, p in GATE_2Q.items()),
            *TRANSMISSION,
            *({"name": m, "t1_s": t1, "t2_s": t2} for m, (t1, t2) in MEMORY.items()),
            *(f"{m}-k" for m in MEMORY),
            {"name": "dur", **DUR},
        ],
        "links": [
            *({"nodes": ["a", g]} for g in [*GATE_1Q, *GATE_2Q, *MEMORY, "dur"]),
            *({"nodes": ["a", t], "transmission_depolarize": p} for t, p in TRANSMISSION.items()),
        ],
        "classical_links": [{"nodes": [f"{m}-k", m], "length_km": CLOCK_LINK_KM} for m in MEMORY],
    }
)

P = [np.outer(v, v.conj()) for v in (
    PHI_PLUS,
    np.array([1, 0, 0, -1]) / math.sqrt(2),
    np.array([0, 1, 1, 0]) / math.sqrt(2),
    np.array([0, 1, -1, 0]) / math.sqrt(2),
)]


def werner(f: float) -> np.ndarray:
    """F |Phi+><Phi+| + (1-F)/3 (the other three Bell states)."""
    return f * P[0] + (1 - f) / 3 * (P[1] + P[2] + P[3])


@pytest.fixture(scope="module")
def net():
    with running(TOPOLOGY) as n:
        yield n


def local_bell_pair(node) -> tuple[str, str]:
    q0, q1 = node.alloc(2)
    node.gate("H", q0)
    node.gate("CNOT", q0, q1)
    return q0, q1


# ------------------------------------------------------------------------------------ gate errors


@pytest.mark.parametrize("g", sorted(GATE_1Q))
def test_gate_error_on_one_half_of_a_bell_pair_gives_werner_of_fidelity_1_minus_p(net, g):
    """A Bell pair made at a perfect node, one half visiting node g for one gate (Cirq's depolarize(p)
    follows it there) and coming back: exactly the Werner state of fidelity 1 - p. The pair is held at
    `a` throughout, so this also checks that the holder applies the *location's* gate error."""
    p = GATE_1Q[g][0]
    for _ in range(2):
        q0, q1 = local_bell_pair(net["a"])
        assert not net["a"].send_qubit(q1, g).lost
        net[g].gate("I", q1)
        assert not net[g].send_qubit(q1, "a").lost
        rho = net["a"].inspect([q0, q1])
        np.testing.assert_allclose(rho, werner(1 - p), atol=1e-6)
        assert bell_fidelity(rho) == pytest.approx(1 - p, abs=1e-6)
        net["a"].free([q0, q1])


@pytest.mark.parametrize("g", sorted(GATE_2Q))
def test_two_qubit_gate_error_matches_two_qubit_depolarize(net, g):
    """CNOT at a node with two-qubit error p: (1-p) Phi+ + p/15 sum_{P != II} P Phi+ P
    = (1 - 16p/15) Phi+ + (4p/15) I, fidelity 1 - 4p/5."""
    p = GATE_2Q[g]
    q0, q1 = net["a"].alloc(2)
    net["a"].gate("H", q0)
    for q in (q0, q1):
        assert not net["a"].send_qubit(q, g).lost
    net[g].gate("CNOT", q0, q1)
    rho = net[g].inspect([q0, q1])
    np.testing.assert_allclose(rho, (1 - 16 * p / 15) * P[0] + 4 * p / 15 * np.eye(4), atol=1e-6)
    assert bell_fidelity(rho) == pytest.approx(1 - 4 * p / 5, abs=1e-6)
    net[g].free([q0, q1])


@pytest.mark.parametrize("t", sorted(TRANSMISSION))
def test_transmission_noise_there_and_back_composes_two_depolarisations(net, t):
    """One half crossing a fiber with depolarize(p) twice: Werner with F = (1 + 3 (1 - 4p/3)^2) / 4."""
    p = TRANSMISSION[t]
    q0, q1 = local_bell_pair(net["a"])
    assert not net["a"].send_qubit(q1, t).lost
    assert not net[t].send_qubit(q1, "a").lost
    rho = net["a"].inspect([q0, q1])
    np.testing.assert_allclose(rho, werner((1 + 3 * (1 - 4 * p / 3) ** 2) / 4), atol=1e-6)
    net["a"].free([q0, q1])


@pytest.mark.slow
@pytest.mark.parametrize("g", sorted(GATE_1Q))
def test_readout_error_flips_outcomes_with_the_configured_probability(net, g):
    """Measuring |0> reports 1 with probability measure_error (within 4 standard errors, fixed seed)."""
    e = GATE_1Q[g][1]
    shots = 1500
    qs = net[g].alloc(shots)
    outcomes = net[g].apply([measure_op(q) for q in qs]).outcomes
    ok, obs, se = within_4_se(sum(outcomes), shots, e)
    assert ok, f"P(1) = {obs:.4f} vs measure_error {e} (se {se:.4f})"
    assert net[g].info().qubits_in_use == 0


# ------------------------------------------------------------------------------------- memory


def expected_stored_half_fidelity(t_ns: float, t1_s: float | None, t2_s: float | None) -> float:
    """(1 + e^(-t/T1) + 2 e^(-t/T2)) / 4; T1 = None: no relaxation; T2 = None: the T1 limit 2 T1."""
    t = t_ns * 1e-9
    e1 = 1.0 if t1_s is None else math.exp(-t / t1_s)
    e2 = math.exp(-t / (2 * t1_s)) if t2_s is None else math.exp(-t / t2_s)
    return (1 + e1 + 2 * e2) / 4


def let_time_pass(net, m: str, pingpongs: int) -> None:
    """Move node m's clock forward by classical round trips to its partner m-k (each 2 x the latency).
    The partner's clock moves only with these messages, so it is never ahead of m's."""
    k = f"{m}-k"
    for _ in range(pingpongs):
        net[m].send(k, "tick")
        net[k].receive(m, "tick")
        net[k].send(m, "tock")
        net[m].receive(k, "tock")


@pytest.mark.parametrize("holder", ["location", "remote"])
@pytest.mark.parametrize("pingpongs", [1, 4])
@pytest.mark.parametrize("m", sorted(MEMORY))
def test_half_stored_for_t_has_fidelity_from_t1_and_t2(net, m, pingpongs, holder):
    """One half of a Bell pair stored at m for virtual time t: F = (1 + e^(-t/T1) + 2 e^(-t/T2)) / 4.

    Time passes only through classical messages (two one-way latencies per round trip). holder='location': m made the
    pair and holds it; 'remote': node a made and holds it, so the decay is applied at a, with m's T1/T2
    and m's clock (once half-way through, by a gate forwarded to a, and at the send)."""
    t1, t2 = MEMORY[m]
    if holder == "location":
        (pair,) = net[m].epr("a")
        q_m, q_a = pair.local_qubit, pair.remote_qubit
    else:
        (pair,) = net["a"].epr(m)
        q_a, q_m = pair.local_qubit, pair.remote_qubit
    start = net[m].now()
    let_time_pass(net, m, pingpongs)
    if holder == "remote":
        net[m].gate("I", q_m)  # forwarded to the holder: decay applied there up to m's clock
        let_time_pass(net, m, pingpongs)
    waited_clock = net[m].now() - start
    hop_ns = int(CLOCK_LINK_KM * NS_PER_KM)  # a message's latency in whole ns of virtual time
    assert waited_clock >= pingpongs * 2 * hop_ns
    if holder == "location":
        assert waited_clock == pingpongs * 2 * hop_ns
    stored = net[m].now() - pair.ready_ns  # from the herald to the send (includes any clock skew)
    assert not net[m].send_qubit(q_m, "a").lost
    rho = net["a"].inspect([q_m, q_a])
    assert bell_fidelity(rho) == pytest.approx(expected_stored_half_fidelity(stored, t1, t2), abs=1e-6)
    net["a"].free([q_m, q_a])


# ------------------------------------------------------------------------------- durations, time


def test_operations_take_their_configured_durations(net):
    """Gates and measurements advance the location's clock by their durations, also when the state is
    held at another node; the holder's own clock does not move for forwarded work."""
    d = net["dur"]
    q0, q1 = d.alloc(2)
    t = d.now()
    assert d.gate("H", q0).virtual_time_ns == t + DUR["gate_1q_duration_ns"]
    assert d.gate("CNOT", q0, q1).virtual_time_ns == t + DUR["gate_1q_duration_ns"] + DUR["gate_2q_duration_ns"]
    r = d.apply([measure_op(q0), measure_op(q1)])
    assert r.virtual_time_ns == t + DUR["gate_1q_duration_ns"] + DUR["gate_2q_duration_ns"] + 2 * DUR["measure_duration_ns"]
    assert d.now() == r.virtual_time_ns
    (pair,) = net["a"].epr("dur")
    a_time = net["a"].now()
    t = d.now()
    assert d.gate("H", pair.remote_qubit).virtual_time_ns == t + DUR["gate_1q_duration_ns"]
    assert net["a"].now() == a_time
    net["a"].free([pair.local_qubit])
    d.free([pair.remote_qubit])
