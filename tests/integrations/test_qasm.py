"""OpenQASM programs run distributed over node processes reach Cirq's monolithic final state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cirq
import numpy as np
import pytest
from cirq.contrib.qasm_import import circuit_from_qasm

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import load_topology
from qemu_net.protocols.qasm import load_qasm, placement, translate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qasm"
FILES = sorted(EXAMPLES.glob("*.qasm"))


def place_spec(path: Path) -> str:
    m = re.search(r"^// place: (\S+)$", path.read_text(), re.M)
    assert m is not None, f"{path.name} has no '// place:' line"
    return m.group(1)


def reference_state(path: Path) -> tuple[list[cirq.Qid], np.ndarray]:
    """Cirq's own import of the file (barriers removed, which Cirq's OpenQASM 3 mode lacks), simulated whole."""
    text = re.sub(r"^barrier[^;]*;$", "", path.read_text(), flags=re.M)
    circuit = cirq.drop_terminal_measurements(circuit_from_qasm(text))
    qubits = sorted(circuit.all_qubits())
    return qubits, cirq.final_state_vector(circuit, qubit_order=qubits, dtype=np.complex128)


def test_five_examples_shipped():
    """The examples are QFT, GHZ, Clifford+T, Grover and a 6-qubit random circuit, each over 2-4 nodes."""
    names = {p.stem for p in FILES}
    assert names == {"qft4", "ghz5", "clifford_t5", "grover3", "random6"}
    for p in FILES:
        nodes = set(placement(place_spec(p), load_qasm(p.read_text())).values())
        assert 2 <= len(nodes) <= 4, p.name
    assert len(load_qasm((EXAMPLES / "random6.qasm").read_text()).all_qubits()) == 6


def test_examples_final_state_matches_cirq(start_network):
    """Each example, placed as its file says, run over real node processes (nonlocal gates over ideal links):
    the final state gathered at one node has fidelity >= 1 - 1e-6 with Cirq's state vector of the whole circuit."""
    _, net = start_network(load_topology(EXAMPLES / "topology.yaml"))
    for path in FILES:
        circuit = cirq.drop_terminal_measurements(load_qasm(path.read_text()))
        assignment = placement(place_spec(path), circuit)
        r = net.run_circuit(circuit, assignment, keep=True, timeout_s=120)
        assert r.nonlocal_gates > 0 and r.epr_pairs == r.nonlocal_gates, path.name
        qubits, psi = reference_state(path)
        assert [str(q) for q in qubits] == [str(q) for q in sorted(circuit.all_qubits())]
        moved = [r.qubits[q] if r.qubits[q].node.name == "alice" else r.qubits[q].send("alice") for q in qubits]
        assert all(m is not None for m in moved), "a qubit was lost on an ideal fiber"
        rho = net["alice"].inspect(moved)
        net["alice"].free(moved)
        fidelity = float(np.real(psi.conj() @ rho @ psi))
        assert fidelity >= 1 - 1e-6, (path.name, fidelity)


def test_cli_runs_and_verifies_a_qasm_file(capsys):
    """`qnet run circuit --qasm --place --verify --json`: counts close to Cirq's, final-state fidelity 1."""
    from qemu_net.cli.main import main

    path = EXAMPLES / "ghz5.qasm"
    code = main(["run", "circuit", "--topology", str(EXAMPLES / "topology.yaml"), "--qasm", str(path),
                 "--place", place_spec(path), "--shots", "40", "--verify", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["final_state_fidelity"] >= 1 - 1e-6
    assert set(out["counts"]) <= {"00000", "11111"} and sum(out["counts"].values()) == 40
    assert out["cirq_probabilities"] == pytest.approx({"00000": 0.5, "11111": 0.5})
    # 40 fair coin flips: |freq - 1/2| within 4 standard errors (0.32).
    assert out["total_variation_distance"] < 4 * 0.5 / np.sqrt(40)
    assert out["epr_pairs"] == 4 * 40


def test_openqasm3_translation_and_placement_errors():
    """The OpenQASM 3 forms translated for Cirq, and --place mistakes named clearly."""
    text = 'OPENQASM 3;\ninclude "stdgates.inc";\nqubit a;\nqubit[2] q;\nh a; // comment\nbarrier a, q;\n' \
           'gphase(0.3);\ncx a, q[1];\n'
    assert "barrier" not in translate(text) and "qubit[1] a;" in translate(text)
    c = load_qasm(text)
    assert {str(q) for q in c.all_qubits()} == {"a_0", "q_1"}
    assert placement("a=x, q[1]=y", c) == {cirq.NamedQubit("a_0"): "x", cirq.NamedQubit("q_1"): "y"}
    for spec, msg in [("a=x", r"no node for q\[1\]"), ("a=x,q[1]=y,q[1]=z", "placed twice"),
                      ("b=x", "register 'b'"), ("a=x,q[0]=y", r"q\[0\] is not a qubit"), ("a x", "cannot read")]:
        with pytest.raises(InvalidOperation, match=msg):
            placement(spec, c)
    with pytest.raises(InvalidOperation, match="OpenQASM"):
        load_qasm('OPENQASM 3.0;\nqubit[2] q;\nfor int i in [0:1] { h q[i]; }\n')
    with pytest.raises(InvalidOperation, match="header"):
        load_qasm("qubit[2] q;")
