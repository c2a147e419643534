"""Process fidelity of a two-qubit gate from product-state inputs and Pauli measurements (pure numpy).

For a target unitary U on n qubits (d = 2^n) and a channel E, the process (entanglement) fidelity is

    F_pro = (1 / d^3) sum_P Tr[U P U^dag E(P)]      (P over the d^2 Pauli strings)

and the average gate fidelity is F_avg = (d F_pro + 1) / (d + 1) (Horodecki et al. 1999; Nielsen 2002).
For a Clifford U, Q = U P U^dag is again a Pauli string up to a sign, so each term is an expectation of
a Pauli string measured on the output. E(P) is expanded over product eigenstates: a factor X, Y or Z
is |+><+| - |-><-| of its eigenstates, a factor I is |0><0| + |1><1|; so every term is a signed sum of
<Q> measured after preparing a product eigenstate. `pauli_settings` lists those settings (input
state per qubit, measurement basis per qubit, coefficient), and `process_fidelity_estimate` combines
measured parities into F_pro with its standard error.

A noisy gate U' = (Pauli error E_k with probability p_k) after U has F_pro = p_I, the probability of no
error (e.g. a nonlocal CNOT from one Werner pair of fidelity F: F_pro = F, F_avg = (4F + 1)/5).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from qemu_net.quantum.paulis import CNOT, PAULI


def pauli_matrix(label: str) -> np.ndarray:
    m = np.array([[1]], dtype=complex)
    for c in label:
        m = np.kron(m, PAULI[c])
    return m


def conjugate_pauli(u: np.ndarray, label: str) -> tuple[str, int]:
    """U P U^dag as (Pauli string, sign); ValueError if U is not Clifford on this P."""
    n = len(label)
    q = u @ pauli_matrix(label) @ u.conj().T
    for cand in itertools.product("IXYZ", repeat=n):
        s = "".join(cand)
        overlap = np.trace(pauli_matrix(s).conj().T @ q) / 2**n
        if abs(abs(overlap) - 1) < 1e-9:
            sign = round(overlap.real)
            if abs(overlap.imag) > 1e-9 or sign not in (1, -1):
                break
            return s, sign
    raise ValueError(f"U P U^dag is not a signed Pauli string for P = {label}")


@dataclass(frozen=True)
class Setting:
    """One experiment: prepare `inputs` (per qubit: 'Z+', 'Z-', 'X+', 'X-', 'Y+', 'Y-'), measure in `bases`
    (per qubit 'Z', 'X' or 'Y'), multiply the outcome signs of the qubits in `parity_of`; the term
    contributes coefficient * sign * <parity> to sum_P Tr[U P U^dag E(P)]."""

    pauli: str
    inputs: tuple[str, ...]
    bases: tuple[str, ...]
    parity_of: tuple[int, ...]
    coefficient: int


def pauli_settings(u: np.ndarray, n_qubits: int = 2) -> list[Setting]:
    """Every (P != I..I, product eigenstate) setting for target U (d^2 - 1 Paulis x 2^n inputs)."""
    out = []
    for p in itertools.product("IXYZ", repeat=n_qubits):
        label = "".join(p)
        if set(label) == {"I"}:
            continue
        q, sign = conjugate_pauli(u, label)
        choices = [(("Z+", 1), ("Z-", 1)) if c == "I" else ((c + "+", 1), (c + "-", -1)) for c in label]
        bases = tuple("Z" if c == "I" else c for c in q)
        parity = tuple(i for i, c in enumerate(q) if c != "I")
        for combo in itertools.product(*choices):
            coeff = sign * math.prod(c for _, c in combo)
            out.append(Setting(label, tuple(s for s, _ in combo), bases, parity, coeff))
    return out


def process_fidelity_estimate(settings: list[Setting], parities: list[np.ndarray],
                              n_qubits: int = 2) -> tuple[float, float]:
    """F_pro and its standard error from the measured parities (+1/-1 arrays) of each setting.

    F_pro = (1/d^3) [d (the P = I term: Tr[I E(I)] = d for a trace-preserving channel) + sum over
    settings of coefficient * mean(parity)]; the standard error adds the settings' sample variances (a
    setting with one shot counts variance 1, the largest a +-1 variable has)."""
    d = 2**n_qubits
    total = float(d)
    var = 0.0
    for s, shots in zip(settings, parities, strict=True):
        x = np.asarray(shots, dtype=float)
        if x.size == 0:
            raise ValueError(f"no shots for setting {s}")
        total += s.coefficient * x.mean()
        var += (x.var(ddof=1) if x.size > 1 else 1.0) / x.size
    return total / d**3, math.sqrt(var) / d**3


def average_gate_fidelity(process_fidelity: float, d: int = 4) -> float:
    """(d F_pro + 1) / (d + 1)."""
    return (d * process_fidelity + 1) / (d + 1)


def exact_process_fidelity(channel_choi: np.ndarray, u: np.ndarray) -> float:
    """<Phi_U| J |Phi_U> for a Choi matrix J normalised to trace 1 (for closed-form checks)."""
    d = u.shape[0]
    phi = np.zeros(d * d, dtype=complex)
    for i in range(d):
        phi[i * d + i] = 1 / math.sqrt(d)
    phi_u = np.kron(np.eye(d), u) @ phi
    return float(np.real(phi_u.conj() @ channel_choi @ phi_u))


__all__ = ["CNOT", "PAULI", "Setting", "average_gate_fidelity", "conjugate_pauli", "exact_process_fidelity",
           "pauli_matrix", "pauli_settings", "process_fidelity_estimate"]
