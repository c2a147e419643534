"""Process fidelity from Pauli settings: exact expectations reproduce the Choi-matrix closed form."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qemu_net.quantum.process import (
    CNOT,
    PAULI,
    average_gate_fidelity,
    exact_process_fidelity,
    pauli_matrix,
    pauli_settings,
    process_fidelity_estimate,
)

KET = {"Z+": np.array([1, 0]), "Z-": np.array([0, 1]), "X+": np.array([1, 1]) / np.sqrt(2),
       "X-": np.array([1, -1]) / np.sqrt(2), "Y+": np.array([1, 1j]) / np.sqrt(2), "Y-": np.array([1, -1j]) / np.sqrt(2)}


def _channel(errors: dict[str, float]):
    def apply(rho):
        out = CNOT @ rho @ CNOT.conj().T
        return sum(p * pauli_matrix(e) @ out @ pauli_matrix(e).conj().T for e, p in errors.items())
    return apply


def _choi(apply) -> np.ndarray:
    d = 4
    j = np.zeros((16, 16), dtype=complex)
    for a, b in itertools.product(range(d), repeat=2):
        e = np.zeros((d, d)); e[a, b] = 1
        j += np.kron(e, apply(e)) / d
    return j


@pytest.mark.parametrize("errors", [
    {"II": 1.0},
    {"II": 0.9, "ZI": 0.1 / 3, "IX": 0.1 / 3, "ZX": 0.1 / 3},
    {"II": 0.7, "YY": 0.2, "XZ": 0.1},
])
def test_settings_with_exact_expectations_give_the_choi_process_fidelity(errors):
    apply = _channel(errors)
    settings = pauli_settings(CNOT)
    assert len(settings) == 15 * 4
    parities = []
    for s in settings:
        psi = np.kron(KET[s.inputs[0]], KET[s.inputs[1]])
        out = apply(np.outer(psi, psi.conj()))
        obs = pauli_matrix("".join(s.bases[i] if i in s.parity_of else "I" for i in range(2)))
        e = float(np.real(np.trace(obs @ out)))
        parities.append(np.array([e, e]))  # two identical "shots" whose mean is the exact expectation
    f, _ = process_fidelity_estimate(settings, parities)
    assert f == pytest.approx(errors["II"], abs=1e-12)
    assert f == pytest.approx(exact_process_fidelity(_choi(apply), CNOT), abs=1e-12)
    assert average_gate_fidelity(f) == pytest.approx((4 * errors["II"] + 1) / 5)


def test_pauli_matrices_are_the_standard_ones():
    assert np.allclose(PAULI["Y"], 1j * PAULI["X"] @ PAULI["Z"])
