"""The register: lazy joins, splits on measurement, migration as bytes, statistics, seeding."""

from __future__ import annotations

import cirq
import numpy as np
import pytest

from qemu_net.errors import InvalidOperation, QubitNotFound
from qemu_net.quantum.register import GroupState, Register


def bell(reg: Register, a: str, b: str) -> None:
    reg.add_qubits([a, b])
    reg.apply_gate(cirq.H, [a])
    reg.apply_gate(cirq.CNOT, [a, b])


def test_fresh_qubits_are_separate_groups_in_zero():
    reg = Register()
    reg.add_qubits(["a", "b"])
    assert reg.group_of("a") is not reg.group_of("b")
    np.testing.assert_allclose(reg.density_matrix(["a"]), [[1, 0], [0, 0]], atol=1e-12)


def test_two_qubit_gate_merges_groups_and_matches_cirq():
    reg = Register()
    reg.add_qubits(["a", "b", "c"])
    reg.apply_gate(cirq.ry(0.7), ["a"])
    reg.apply_gate(cirq.rx(1.1), ["c"])
    reg.apply_gate(cirq.CNOT, ["a", "c"])
    assert reg.group_of("a") is reg.group_of("c")
    assert reg.group_of("b") is not reg.group_of("a")
    q = cirq.LineQubit.range(2)
    expected = cirq.final_density_matrix(
        cirq.Circuit(cirq.ry(0.7)(q[0]), cirq.rx(1.1)(q[1]), cirq.CNOT(q[0], q[1])), dtype=np.complex128
    )
    np.testing.assert_allclose(reg.density_matrix(["a", "c"]), expected, atol=1e-9)


def test_measurement_splits_the_measured_qubit_out():
    reg = Register(seed=3)
    bell(reg, "a", "b")
    bit = reg.measure("a")
    assert "a" not in reg
    assert reg.group_of("b").n == 1
    np.testing.assert_allclose(reg.density_matrix(["b"]), np.diag([1 - bit, bit]), atol=1e-12)


def test_measure_keep_leaves_basis_state_of_the_measured_basis():
    reg = Register(seed=1)
    reg.add_qubits(["a"])
    bit = reg.measure("a", "X", keep=True)
    plus = np.array([1, 1 - 2 * bit]) / np.sqrt(2)
    np.testing.assert_allclose(reg.density_matrix(["a"]), np.outer(plus, plus), atol=1e-12)


def test_discard_traces_out_and_leaves_the_correct_reduced_state():
    reg = Register()
    bell(reg, "a", "b")
    reg.discard("a")
    np.testing.assert_allclose(reg.density_matrix(["b"]), np.eye(2) / 2, atol=1e-12)


def test_migration_round_trip_through_bytes_preserves_the_state():
    src, dst = Register(), Register()
    bell(src, "a", "b")
    src.apply_kraus([np.sqrt(0.9) * np.eye(2), np.sqrt(0.1) * np.diag([1, -1])], ["a"])  # dephase: now mixed
    before = src.density_matrix(["a", "b"])
    state = src.extract("a")
    assert "a" not in src and "b" not in src
    moved = GroupState.from_bytes(list(state.qubits), state.to_bytes(), mixed=state.mixed, last_ns=state.last_ns)
    dst.add_state(moved)
    np.testing.assert_allclose(dst.density_matrix(["a", "b"]), before, atol=1e-12)


def test_malformed_state_bytes_are_rejected():
    with pytest.raises(InvalidOperation, match="needs 64 bytes"):
        GroupState.from_bytes(["a", "b"], b"\0" * 10, mixed=False)


def test_bell_measurement_statistics_within_four_standard_errors():
    reg = Register(seed=11)
    n, agree_z, ones = 2000, 0, 0
    for i in range(n):
        bell(reg, f"a{i}", f"b{i}")
        a = reg.measure(f"a{i}")
        b = reg.measure(f"b{i}")
        agree_z += a == b
        ones += a
    assert agree_z == n
    assert abs(ones / n - 0.5) < 4 * np.sqrt(0.25 / n)


def test_ry_measurement_probability_within_four_standard_errors():
    theta, n = 1.2, 4000
    reg = Register(seed=5)
    ones = 0
    for i in range(n):
        reg.add_qubits([f"q{i}"])
        reg.apply_gate(cirq.ry(theta), [f"q{i}"])
        ones += reg.measure(f"q{i}")
    p = np.sin(theta / 2) ** 2
    assert abs(ones / n - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_same_seed_same_outcomes_different_seed_different():
    def run(seed: int) -> list[int]:
        reg = Register(seed=seed)
        out = []
        for i in range(64):
            reg.add_qubits([f"q{i}"])
            reg.apply_gate(cirq.H, [f"q{i}"])
            out.append(reg.measure(f"q{i}"))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_errors_are_clear():
    reg = Register()
    reg.add_qubits(["a"])
    with pytest.raises(InvalidOperation, match="already in use"):
        reg.add_qubits(["a"])
    with pytest.raises(QubitNotFound):
        reg.measure("zz")
    with pytest.raises(InvalidOperation, match="basis"):
        reg.measure("a", "W")
    with pytest.raises(InvalidOperation, match="cannot act"):
        reg.apply_unitary(np.eye(4), ["a"])


def test_kernel_is_cirqs_targeted_left_multiply():
    """The register's cached einsum gives exactly Cirq's targeted_left_multiply on every axis choice."""
    import itertools

    from qemu_net.quantum.register import _lmul

    rng = np.random.default_rng(0)
    for ndim in (2, 4, 6):
        for k in (1, 2):
            for axes in itertools.permutations(range(ndim), k):
                t = rng.normal(size=(2,) * ndim) + 1j * rng.normal(size=(2,) * ndim)
                m = rng.normal(size=(2**k, 2**k)) + 1j * rng.normal(size=(2**k, 2**k))
                expected = cirq.linalg.targeted_left_multiply(m.reshape((2,) * (2 * k)), t, list(axes))
                np.testing.assert_allclose(_lmul(t, m, list(axes)), expected, atol=1e-12)
