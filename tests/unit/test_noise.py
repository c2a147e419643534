"""Noise channels and state utilities against closed forms and Cirq's own channels."""

from __future__ import annotations

import math

import cirq
import numpy as np
import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import NodeSpec
from qemu_net.quantum import noise, states

TOL = 1e-6


def _cirq_superop(channel: cirq.Gate) -> np.ndarray:
    ks = cirq.kraus(channel)
    return sum(np.kron(k, k.conj()) for k in ks)


def _random_dm(rng: np.random.Generator, n: int) -> np.ndarray:
    d = 2**n
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    m = a @ a.conj().T
    return m / np.trace(m)


def _bell_tensor() -> np.ndarray:
    return states.to_tensor(states.bell_dm("phi_plus"))


def _cirq_bell_then(channel: cirq.Gate | None, on: int) -> np.ndarray:
    q = cirq.LineQubit.range(2)
    c = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(q[0], q[1]))
    if channel is not None:
        c.append(channel.on(q[on]))
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    return sim.simulate(c, qubit_order=q).final_density_matrix


# ----------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("p", [0.0, 0.01, 0.2, 0.5, 0.75, 1.0])
def test_depolarize_matches_cirq(p):
    """depolarize_kraus(p) is the same channel as cirq.depolarize(p)."""
    ours = noise.kraus_to_superop(noise.depolarize_kraus(p))
    np.testing.assert_allclose(ours, _cirq_superop(cirq.depolarize(p)), atol=TOL)


@pytest.mark.parametrize("p", [0.0, 0.03, 0.3, 0.9375, 1.0])
def test_two_qubit_depolarize_matches_cirq(p):
    """two_qubit_depolarize_kraus(p) is cirq.depolarize(p, n_qubits=2)."""
    ours = noise.kraus_to_superop(noise.two_qubit_depolarize_kraus(p))
    np.testing.assert_allclose(ours, _cirq_superop(cirq.depolarize(p, n_qubits=2)), atol=TOL)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.25, 0.6])
def test_bell_half_depolarized_is_werner(p):
    """A Bell pair with depolarize(p) on one half is Werner(1 - p); Cirq's simulator agrees."""
    for axis in (0, 1):
        rho = noise.apply_kraus_dm(_bell_tensor(), noise.depolarize_kraus(p), (axis,))
        m = states.from_tensor(rho)
        np.testing.assert_allclose(m, states.werner_state(1 - p), atol=TOL)
        np.testing.assert_allclose(m, _cirq_bell_then(cirq.depolarize(p), axis), atol=TOL)
        assert states.bell_fidelity(rho) == pytest.approx(1 - p, abs=TOL)


@pytest.mark.parametrize(
    "t_ns,t1_s,t2_s",
    [
        (1e6, 1e-2, 5e-3),
        (3e8, 1.0, 0.5),
        (2e9, 1.0, 2.0),  # T2 = 2 T1: no pure dephasing
        (5e5, None, 1e-3),  # pure dephasing only
        (5e5, 1e-3, None),  # T1 only: T2 is the T1 limit 2 T1
        (7e5, None, None),
        (0.0, 1e-3, 1e-3),
    ],
)
def test_stored_half_fidelity(t_ns, t1_s, t2_s):
    """One half of a Bell pair stored for t has fidelity (1 + e^{-t/T1} + 2 e^{-t/T2}) / 4."""
    t = t_ns * 1e-9
    e1 = 0.0 if t1_s is None else t / t1_s
    if t2_s is not None:
        e2 = t / t2_s
    elif t1_s is not None:
        e2 = t / (2 * t1_s)
    else:
        e2 = 0.0
    expected = (1 + math.exp(-e1) + 2 * math.exp(-e2)) / 4
    for axis in (0, 1):
        via_kraus = noise.apply_kraus_dm(_bell_tensor(), noise.memory_kraus(t_ns, t1_s, t2_s), (axis,))
        via_sop = noise.apply_superop_dm(_bell_tensor(), noise.memory_superop(t_ns, t1_s, t2_s), (axis,))
        assert states.bell_fidelity(via_kraus) == pytest.approx(expected, abs=TOL)
        np.testing.assert_allclose(via_kraus, via_sop, atol=TOL)


@pytest.mark.parametrize("t_ns,t1_s,t2_s", [(1e6, 1e-2, 5e-3), (4e5, 1e-3, 2e-3), (9e6, None, 1e-3), (1e3, 2.0, None)])
def test_memory_channel_closed_form_and_cirq(t_ns, t1_s, t2_s):
    """Memory decay on a random qubit: rho11 *= e^{-t/T1}, rho01 *= e^{-t/T2}; equals Cirq's
    amplitude_damp followed by phase_damp; trace preserving."""
    rng = np.random.default_rng(7)
    r = _random_dm(rng, 1)
    t = t_ns * 1e-9
    g = 0.0 if t1_s is None else 1 - math.exp(-t / t1_s)
    t2_eff = t2_s if t2_s is not None else (2 * t1_s if t1_s is not None else math.inf)
    c = math.exp(-t / t2_eff)
    expected = np.array([[r[0, 0] + g * r[1, 1], c * r[0, 1]], [c * r[1, 0], (1 - g) * r[1, 1]]])
    ks = noise.memory_kraus(t_ns, t1_s, t2_s)
    got = sum(k @ r @ k.conj().T for k in ks)
    np.testing.assert_allclose(got, expected, atol=TOL)
    np.testing.assert_allclose(sum(k.conj().T @ k for k in ks), np.eye(2), atol=1e-12)
    # Independently with Cirq's channels: phase_damp(gamma) scales coherences by sqrt(1 - gamma).
    lam = c / math.sqrt(1 - g)
    cirq_sop = _cirq_superop(cirq.phase_damp(1 - lam**2)) @ _cirq_superop(cirq.amplitude_damp(g))
    np.testing.assert_allclose(noise.memory_superop(t_ns, t1_s, t2_s), cirq_sop, atol=TOL)


# ---------------------------------------------------------------------------- apply on tensors


def _full_unitary(gate: cirq.Gate, targets: tuple[int, ...], n: int) -> np.ndarray:
    q = cirq.LineQubit.range(n)
    return cirq.Circuit(gate.on(*(q[i] for i in targets))).unitary(qubit_order=q)


@pytest.mark.parametrize(
    "gate,targets",
    [
        (cirq.H, (0,)),
        (cirq.S, (1,)),
        (cirq.rx(0.37), (2,)),
        (cirq.CNOT, (0, 2)),
        (cirq.CNOT, (2, 0)),
        (cirq.CZ, (1, 2)),
        (cirq.ISWAP**0.3, (2, 1)),
    ],
)
def test_apply_unitary_matches_full_matrix(gate, targets):
    """apply_unitary_dm on given axes of a 3-qubit tensor equals U_full rho U_full^dagger."""
    rng = np.random.default_rng(11)
    rho = _random_dm(rng, 3)
    t = states.to_tensor(rho)
    before = t.copy()
    out = noise.apply_unitary_dm(t, cirq.unitary(gate), targets)
    u = _full_unitary(gate, targets, 3)
    np.testing.assert_allclose(states.from_tensor(out), u @ rho @ u.conj().T, atol=TOL)
    np.testing.assert_array_equal(t, before)  # input untouched
    assert out.flags.c_contiguous and out.shape == (2,) * 6


@pytest.mark.parametrize("targets", [(0, 1), (2, 0), (1, 3)])
def test_apply_two_qubit_kraus_matches_cirq_simulation(targets):
    """A two-qubit channel on arbitrary axes of a 4-qubit tensor matches Cirq's density-matrix simulation."""
    rng = np.random.default_rng(3)
    rho = _random_dm(rng, 4).astype(np.complex128)
    q = cirq.LineQubit.range(4)
    channel = cirq.depolarize(0.17, n_qubits=2)
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    want = sim.simulate(
        cirq.Circuit(channel.on(q[targets[0]], q[targets[1]])), qubit_order=q, initial_state=rho
    ).final_density_matrix
    got = noise.apply_kraus_dm(states.to_tensor(rho), noise.two_qubit_depolarize_kraus(0.17), targets)
    np.testing.assert_allclose(states.from_tensor(got), want, atol=TOL)


def test_superop_roundtrip_to_kraus():
    """superop_to_kraus recovers an equivalent channel."""
    sop = noise.memory_superop(1e6, 1e-2, 5e-3)
    np.testing.assert_allclose(noise.kraus_to_superop(noise.superop_to_kraus(sop)), sop, atol=1e-10)


# ----------------------------------------------------------------------------------- readout


@pytest.mark.parametrize("p", [0.02, 0.3])
def test_readout_flip_rate(p):
    """readout_flip flips each bit with probability p (within 4 standard errors)."""
    rng = np.random.default_rng(5)
    n = 40_000
    bits = rng.integers(0, 2, n).astype(np.uint8)
    out = noise.readout_flip(bits, p, rng)
    rate = np.mean(out != bits)
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n)
    single = [noise.readout_flip(1, p, rng) for _ in range(4000)]
    assert abs(single.count(0) / 4000 - p) < 4 * math.sqrt(p * (1 - p) / 4000)


def test_readout_flip_zero_consumes_no_randomness():
    """With p = 0 the outcome is unchanged and the random stream is not advanced."""
    rng = np.random.default_rng(9)
    assert noise.readout_flip(1, 0.0, rng) == 1
    assert rng.random() == np.random.default_rng(9).random()


# -------------------------------------------------------------------------------- NoiseModel


def test_noise_model_from_node_spec():
    """NoiseModel mirrors the NodeSpec; its channels equal the stand-alone ones."""
    spec = NodeSpec(name="a", t1_s=1e-3, t2_s=5e-4, gate_1q_error=0.01, gate_2q_error=0.05, measure_error=0.02)
    m = noise.NoiseModel.from_node_spec(spec)
    assert not m.noiseless and m.measure_error == 0.02
    rng = np.random.default_rng(1)
    rho = states.to_tensor(_random_dm(rng, 2))
    np.testing.assert_allclose(m.after_gate_1q(rho, 1), noise.apply_kraus_dm(rho, noise.depolarize_kraus(0.01), (1,)))
    np.testing.assert_allclose(
        m.after_gate_2q(rho, (1, 0)), noise.apply_kraus_dm(rho, noise.two_qubit_depolarize_kraus(0.05), (1, 0))
    )
    np.testing.assert_allclose(
        m.idle(rho, 0, 2e5), noise.apply_kraus_dm(rho, noise.memory_kraus(2e5, 1e-3, 5e-4), (0,)), atol=1e-12
    )
    assert len(m.memory_kraus(2e5)) == 3


def test_noiseless_model_skips_work():
    """A noiseless model returns the very same array and draws nothing."""
    m = noise.NoiseModel.from_node_spec(NodeSpec(name="a"))
    assert m.noiseless and m == noise.NOISELESS
    rho = _bell_tensor()
    assert m.after_gate_1q(rho, 0) is rho
    assert m.after_gate_2q(rho, (0, 1)) is rho
    assert m.idle(rho, 1, 1e9) is rho
    assert m.memory_kraus(1e9) is None
    assert m.flip_readout(1, np.random.default_rng(0)) == 1
    # Gate error alone: memory is still skipped.
    g = noise.NoiseModel(gate_1q_error=0.1)
    assert not g.noiseless and g.idle(rho, 0, 1e6) is rho and g.after_gate_2q(rho, (0, 1)) is rho


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: noise.depolarize_kraus(-0.1), r"depolarize p must be a probability in \[0, 1\], got -0.1"),
        (lambda: noise.depolarize_kraus(1.5), r"probability in \[0, 1\]"),
        (lambda: noise.depolarize_kraus(float("nan")), r"probability in \[0, 1\]"),
        (lambda: noise.two_qubit_depolarize_kraus(2), r"two-qubit depolarize p"),
        (lambda: noise.memory_kraus(-1, 1.0, 1.0), r"wait time t_ns must be >= 0"),
        (lambda: noise.memory_kraus(1, 0.0, 1.0), r"t1_s must be > 0"),
        (lambda: noise.memory_kraus(1, 1.0, 3.0), r"t2_s=3.0 exceeds 2\*t1_s=2.0"),
        (lambda: noise.readout_flip(0, 1.2, np.random.default_rng()), r"measure_error must be a probability"),
        (lambda: noise.NoiseModel(gate_2q_error=-1), r"gate_2q_error"),
        (lambda: noise.NoiseModel(t1_s=1.0, t2_s=5.0), r"exceeds 2\*t1_s"),
        (lambda: noise.apply_unitary_dm(_bell_tensor(), np.eye(3), (0,)), r"2x2 or 4x4"),
        (lambda: noise.apply_unitary_dm(_bell_tensor(), np.eye(2), (2,)), r"invalid for a 2-qubit state"),
        (lambda: noise.apply_unitary_dm(_bell_tensor(), np.eye(2), (0, 1)), r"does not act on 2 qubit"),
        (lambda: noise.apply_unitary_dm(_bell_tensor(), np.eye(4), (1, 1)), r"invalid"),
        (lambda: noise.apply_kraus_dm(np.eye(4), noise.depolarize_kraus(0.1), (0,)), r"shape \(2,\)\*\(2n\)"),
        (lambda: noise.kraus_to_superop([]), r"non-empty"),
        (lambda: states.werner_state(1.1), r"Werner fidelity must be in \[0, 1\]"),
        (lambda: states.bell_state("phi"), r"unknown Bell state 'phi'"),
    ],
)
def test_invalid_parameters_raise_clear_errors(call, match):
    """Bad probabilities, times, shapes and axes raise InvalidOperation with a message saying why."""
    with pytest.raises(InvalidOperation, match=match):
        call()


# ---------------------------------------------------------------------------------- states


def test_bell_states_match_cirq():
    """phi_plus is Cirq's H-CNOT output; the four Bell states are orthonormal."""
    np.testing.assert_allclose(states.bell_dm("phi_plus"), _cirq_bell_then(None, 0), atol=TOL)
    b = np.array([states.bell_state(k) for k in states.BELL_STATES])
    np.testing.assert_allclose(b @ b.conj().T, np.eye(4), atol=1e-12)


@pytest.mark.parametrize("f", [0.25, 0.5, 0.8, 1.0])
def test_werner_and_dephased_fidelities(f):
    """werner_state(F) and dephased_bell(F) have Bell fidelity F, unit trace and the stated weights."""
    w, d = states.werner_state(f), states.dephased_bell(f)
    for rho in (w, d):
        assert states.bell_fidelity(rho) == pytest.approx(f, abs=1e-12)
        assert np.trace(rho).real == pytest.approx(1.0)
        assert states.fidelity(rho, states.bell_dm()) == pytest.approx(f, abs=1e-9)
    assert states.bell_fidelity(w, "psi_minus") == pytest.approx((1 - f) / 3, abs=1e-12)
    assert states.bell_fidelity(d, "phi_minus") == pytest.approx(1 - f, abs=1e-12)


def test_tensor_layout_roundtrip_and_partial_trace():
    """to_tensor/from_tensor are inverse; partial traces match Cirq's."""
    rng = np.random.default_rng(2)
    rho = _random_dm(rng, 3)
    t = states.to_tensor(rho)
    assert t.shape == (2,) * 6 and t.dtype == np.complex128
    np.testing.assert_array_equal(states.from_tensor(t), rho)
    v = states.random_pure_qubit(rng)
    assert states.to_tensor(np.kron(v, v)).shape == (2, 2)
    for keep in ([0], [2], [2, 0]):
        want = cirq.partial_trace(t, keep).reshape(2 ** len(keep), 2 ** len(keep))
        np.testing.assert_allclose(states.partial_trace(t, keep), want, atol=1e-12)


def test_random_pure_qubit_is_seeded_and_haar_like():
    """Same Generator seed -> same qubit; Bloch vectors average to zero, <z^2> = 1/3."""
    a = states.random_pure_qubit(np.random.default_rng(42))
    b = states.random_pure_qubit(np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    n = 4000
    z = np.array([abs(v[0]) ** 2 - abs(v[1]) ** 2 for v in (states.random_pure_qubit(rng) for _ in range(n))])
    assert abs(z.mean()) < 4 * math.sqrt(1 / 3 / n)
    assert abs((z**2).mean() - 1 / 3) < 4 * math.sqrt((1 / 5 - 1 / 9) / n)
    assert states.fidelity_to_pure(states.random_qubit_dm(np.random.default_rng(42)), a) == pytest.approx(1.0)
