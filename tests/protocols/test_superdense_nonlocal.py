"""Superdense coding, the nonlocal CNOT (cat-entangler) and the teleported gate, across node processes."""

from __future__ import annotations

import itertools

import cirq
import numpy as np
import pytest

from qemu_net.errors import InvalidOperation

from .conftest import gather

H = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
S = np.diag([1, 1j])
X = np.array([[0, 1], [1, 0]])
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
#: |0>, |1>, |+>, |->, |+i> as preparation unitaries applied to |0>.
PREP = {"0": np.eye(2), "1": X, "+": H, "-": H @ X, "+i": S @ H}


def _gate(u):
    return np.asarray(u, dtype=complex)


def test_superdense_decodes_every_message(lab_net):
    msgs = [0, 1, 2, 3] * 8
    out = lab_net.superdense("x0", "x1", msgs)
    assert out.tolist() == msgs
    assert lab_net["x0"].info().qubits_in_use == 0 and lab_net["x1"].info().qubits_in_use == 0


def test_superdense_over_a_werner_pair_decodes_with_probability_f(lab_net):
    rng = np.random.default_rng(11)
    msgs = rng.integers(0, 4, 400).tolist()
    out = lab_net.superdense("y0", "y1", msgs)
    rate = float(np.mean(out == np.array(msgs)))
    assert abs(rate - 0.8) < 4 * np.sqrt(0.8 * 0.2 / len(msgs))


@pytest.mark.parametrize("cin,tin", list(itertools.product(PREP, PREP)))
def test_nonlocal_cnot_equals_local_cnot_on_product_inputs(lab_net, cin, tin):
    """All 25 inputs from {|0>,|1>,|+>,|->,|+i>}^2: the two-node result equals CNOT (ideal link)."""
    c = lab_net["x0"].qubit()
    c.apply(_gate(PREP[cin]))
    t = lab_net["x1"].qubit()
    t.apply(_gate(PREP[tin]))
    assert lab_net.nonlocal_cnot(c, t) == 1
    t_here = t.send("x0")
    rho = lab_net["x0"].inspect([c, t_here])
    lab_net["x0"].free([c, t_here])
    psi = CNOT @ np.kron(PREP[cin][:, 0], PREP[tin][:, 0])
    np.testing.assert_allclose(rho, np.outer(psi, psi.conj()), atol=1e-6)


def test_nonlocal_cnot_process_fidelity_over_werner_ebit_is_f(lab_net):
    """Choi state: references entangled with control and target; <Choi_CNOT|rho|Choi_CNOT> = F = 0.8."""
    r1, c = lab_net["y0"].qubits(2)
    r2, t = lab_net["y1"].qubits(2)
    for r, q in ((r1, c), (r2, t)):
        r.h()
        r.cnot(q)
    lab_net.nonlocal_cnot(c, t)
    rho = gather(lab_net, [r1, c, r2, t])
    phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    # qubit order r1, c, r2, t: CNOT on (c, t) = axes 1 and 3.
    choi = np.kron(phi, phi).reshape(2, 2, 2, 2)
    choi = np.einsum("ctCT,aCbT->actb", CNOT.reshape(2, 2, 2, 2), choi).reshape(16)
    assert np.real(choi.conj() @ rho @ choi) == pytest.approx(0.8, abs=1e-6)


def test_nonlocal_controlled_u_and_teleported_gate_match_local_gates(lab_net):
    rng = np.random.RandomState(4)
    u = cirq.testing.random_unitary(2, random_state=rng)
    v = cirq.testing.random_unitary(4, random_state=rng)
    a0 = cirq.testing.random_unitary(2, random_state=rng)
    b0 = cirq.testing.random_unitary(2, random_state=rng)
    psi0 = np.kron(a0[:, 0], b0[:, 0])
    cu = np.eye(4, dtype=complex)
    cu[2:, 2:] = u
    for kind in ("controlled", "teleported"):
        c = lab_net["x0"].qubit()
        c.apply(_gate(a0))
        t = lab_net["x1"].qubit()
        t.apply(_gate(b0))
        if kind == "controlled":
            lab_net.nonlocal_controlled(c, t, u)
            expected = cu @ psi0
        else:
            t = lab_net.teleported_gate(c, t, v)
            expected = v @ psi0
        t_here = t.send("x0")
        rho = lab_net["x0"].inspect([c, t_here])
        lab_net["x0"].free([c, t_here])
        np.testing.assert_allclose(rho, np.outer(expected, expected.conj()), atol=1e-6)


def test_bad_gate_requests(lab_net):
    c, t = lab_net["x0"].qubits(2)
    with pytest.raises(InvalidOperation, match="locally"):
        lab_net.nonlocal_cnot(c, t)
    t2 = lab_net["x1"].qubit()
    with pytest.raises(InvalidOperation, match="unitary"):
        lab_net.nonlocal_controlled(c, t2, np.ones((2, 2)))
    lab_net["x0"].free([c, t])
    lab_net["x1"].free([t2])
