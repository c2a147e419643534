"""Distributed circuit execution: cirq circuits split over 2-4 node processes match a local simulation."""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import sympy

from qemu_net.errors import InvalidOperation, NotConnected

from .conftest import gather

NODES = ["k0", "k1", "k2", "k3"]
GATES = {cirq.H: 1, cirq.T: 1, cirq.X**0.5: 1, cirq.rx(0.7): 1, cirq.CNOT: 2, cirq.CZ: 2, cirq.SWAP: 2,
         cirq.ISWAP: 2, cirq.CZ**0.3: 2, cirq.FSimGate(0.4, 0.9): 2}


def split(qubits, n_nodes, seed):
    rng = np.random.default_rng(seed)
    where = [NODES[i % n_nodes] for i in range(len(qubits))]
    rng.shuffle(where)
    return dict(zip(qubits, where))


def final_state(net, circuit, assignment):
    r = net.run_circuit(circuit, assignment, keep=True)
    qubits = sorted(circuit.all_qubits())
    return r, gather(net, [r.qubits[q] for q in qubits])


@pytest.mark.parametrize("n_qubits,n_nodes,seed", [(3, 2, 1), (5, 3, 2), (7, 4, 3), (10, 4, 4)])
def test_random_circuit_state_matches_cirq(lab_net, n_qubits, n_nodes, seed):
    """Seeded random circuits: the gathered final state equals Cirq's; one EPR pair per nonlocal gate."""
    qubits = cirq.LineQubit.range(n_qubits)
    circuit = cirq.testing.random_circuit(qubits, n_moments=6, op_density=0.9, gate_domain=GATES, random_state=seed)
    assignment = split(qubits, n_nodes, seed)
    r, rho = final_state(lab_net, circuit, assignment)
    psi = cirq.final_state_vector(circuit, qubit_order=qubits, dtype=np.complex128)
    np.testing.assert_allclose(rho, np.outer(psi, psi.conj()), atol=1e-6)
    assert r.epr_pairs == r.nonlocal_gates > 0


def test_random_circuit_distribution_matches_cirq(lab_net):
    """Sampled outcomes: each qubit's marginal and each neighbouring pair's parity within 4 standard errors."""
    qubits = cirq.LineQubit.range(5)
    circuit = cirq.testing.random_circuit(qubits, n_moments=4, op_density=0.9, gate_domain=GATES, random_state=9)
    circuit.append(cirq.measure(*qubits, key="m"))
    reps = 120
    r = lab_net.run_circuit(circuit, split(qubits, 3, 9), repetitions=reps)
    bits = r.measurements["m"]
    assert bits.shape == (reps, 5)
    probs = np.abs(cirq.final_state_vector(circuit[:-1], qubit_order=qubits, dtype=np.complex128)) ** 2
    outcomes = np.array([[(i >> (4 - j)) & 1 for j in range(5)] for i in range(32)])
    for j in range(5):
        p = float(probs @ outcomes[:, j])
        assert abs(bits[:, j].mean() - p) < 4 * np.sqrt(max(p * (1 - p), 1e-4) / reps), j
    for j in range(4):
        p = float(probs @ (outcomes[:, j] ^ outcomes[:, j + 1]))
        assert abs((bits[:, j] ^ bits[:, j + 1]).mean() - p) < 4 * np.sqrt(max(p * (1 - p), 1e-4) / reps), j


def test_ghz_qft_and_grover_split_over_nodes(lab_net):
    """Well-known circuits: GHZ over 4 nodes, QFT over 2, Grover (CCZ oracle) over 3; EPR pairs counted."""
    q = cirq.LineQubit.range(4)
    ghz = cirq.Circuit(cirq.H(q[0]), *(cirq.CNOT(q[i], q[i + 1]) for i in range(3)), cirq.measure(*q, key="m"))
    r = lab_net.run_circuit(ghz, {q[i]: NODES[i] for i in range(4)}, repetitions=50)
    m = r.measurements["m"]
    assert np.all(m == m[:, :1]) and 0 < m[:, 0].mean() < 1
    assert r.epr_pairs == 3 * 50

    qft = cirq.Circuit(cirq.qft(*q))
    _, rho = final_state(lab_net, qft, {q[0]: "k0", q[1]: "k1", q[2]: "k0", q[3]: "k1"})
    psi = cirq.final_state_vector(qft, qubit_order=q, dtype=np.complex128)
    np.testing.assert_allclose(rho, np.outer(psi, psi.conj()), atol=1e-6)

    g = cirq.LineQubit.range(3)
    diffuse = [cirq.H.on_each(*g), cirq.X.on_each(*g), cirq.CCZ(*g), cirq.X.on_each(*g), cirq.H.on_each(*g)]
    oracle = [cirq.X(g[1]), cirq.CCZ(*g), cirq.X(g[1])]  # marks |101>
    grover = cirq.Circuit(cirq.H.on_each(*g), oracle, diffuse, oracle, diffuse)
    r, rho = final_state(lab_net, grover, {g[0]: "k0", g[1]: "k1", g[2]: "k2"})
    assert np.real(rho[0b101, 0b101]) == pytest.approx(0.9453125, abs=1e-6)
    assert r.epr_pairs > 0


def test_bad_circuits_get_clear_errors(lab_net):
    a, b = cirq.LineQubit.range(2)
    with pytest.raises(InvalidOperation, match="not assigned"):
        lab_net.run_circuit(cirq.Circuit(cirq.CNOT(a, b)), {a: "k0"})
    with pytest.raises(InvalidOperation, match="unsupported"):
        lab_net.run_circuit(cirq.Circuit(cirq.depolarize(0.1)(a)), {a: "k0"})
    with pytest.raises(InvalidOperation, match="unsupported"):
        lab_net.run_circuit(cirq.Circuit(cirq.rx(sympy.Symbol("t"))(a)), {a: "k0"})
    with pytest.raises(InvalidOperation, match="unsupported"):
        lab_net.run_circuit(cirq.Circuit(cirq.measure(a, key="k"), cirq.X(b).with_classical_controls("k")),
                            {a: "k0", b: "k1"})
    with pytest.raises(InvalidOperation, match="unknown node"):
        lab_net.run_circuit(cirq.Circuit(cirq.H(a)), {a: "mars"})
    with pytest.raises(NotConnected, match="no.*link|there is none"):
        lab_net.run_circuit(cirq.Circuit(cirq.CNOT(a, b)), {a: "k0", b: "x0"})
