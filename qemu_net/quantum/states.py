"""Standard states and fidelity utilities, as plain numpy matrices (complex128, big-endian).

Matrices are the usual ``2^n x 2^n`` arrays (vectors ``2^n``); `to_tensor` / `from_tensor` convert to
and from the register's (and Cirq's) tensor layout ``(2,) * (2n)`` for density matrices and ``(2,) * n``
for state vectors.

Seed contract: `random_pure_qubit` and `random_qubit_dm` draw only from the ``np.random.Generator``
they are given, so the same generator state gives the same qubit.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from qemu_net.errors import InvalidOperation

_S = 1 / math.sqrt(2)

#: The four Bell states as state vectors over (qubit 0, qubit 1), qubit 0 most significant.
PHI_PLUS = np.array([_S, 0, 0, _S], dtype=np.complex128)
PHI_MINUS = np.array([_S, 0, 0, -_S], dtype=np.complex128)
PSI_PLUS = np.array([0, _S, _S, 0], dtype=np.complex128)
PSI_MINUS = np.array([0, _S, -_S, 0], dtype=np.complex128)
BELL_STATES: dict[str, NDArray[np.complex128]] = {
    "phi_plus": PHI_PLUS,
    "phi_minus": PHI_MINUS,
    "psi_plus": PSI_PLUS,
    "psi_minus": PSI_MINUS,
}
for _v in BELL_STATES.values():
    _v.setflags(write=False)


def _check_fidelity(name: str, f: float, low: float = 0) -> float:
    try:
        f = float(f)
    except (TypeError, ValueError):
        raise InvalidOperation(f"{name} must be a number in [{low}, 1], got {f!r}") from None
    if not (low <= f <= 1.0):
        raise InvalidOperation(f"{name} must be in [{low}, 1], got {f}", value=f)
    return f


def bell_state(name: str = "phi_plus") -> NDArray[np.complex128]:
    """A Bell state vector: 'phi_plus', 'phi_minus', 'psi_plus' or 'psi_minus' (a fresh copy)."""
    try:
        return BELL_STATES[name].copy()
    except KeyError:
        raise InvalidOperation(f"unknown Bell state {name!r}; expected one of {sorted(BELL_STATES)}") from None


def pure_dm(psi: np.ndarray) -> NDArray[np.complex128]:
    """|psi><psi| as a matrix."""
    psi = np.asarray(psi, dtype=np.complex128).reshape(-1)
    return np.outer(psi, psi.conj())


def bell_dm(name: str = "phi_plus") -> NDArray[np.complex128]:
    """|B><B| for a Bell state B (4x4)."""
    return pure_dm(bell_state(name))


def bell_diagonal(
    p_phi_plus: float, p_phi_minus: float, p_psi_plus: float, p_psi_minus: float
) -> NDArray[np.complex128]:
    """The Bell-diagonal state with these weights (must be >= 0 and sum to 1)."""
    w = np.array([p_phi_plus, p_phi_minus, p_psi_plus, p_psi_minus], dtype=float)
    if np.any(w < -1e-12) or abs(w.sum() - 1) > 1e-9:
        raise InvalidOperation(f"Bell-diagonal weights must be >= 0 and sum to 1, got {w.tolist()}")
    rho = np.zeros((4, 4), dtype=np.complex128)
    for wi, v in zip(w, BELL_STATES.values(), strict=True):
        rho += wi * pure_dm(v)
    return rho


def werner_state(fidelity: float) -> NDArray[np.complex128]:
    """F |Phi+><Phi+| + (1-F)/3 (the other three Bell states); equals depolarize(1-F) on one half."""
    f = _check_fidelity("Werner fidelity", fidelity)
    r = (1 - f) / 3
    return bell_diagonal(f, r, r, r)


def dephased_bell(fidelity: float) -> NDArray[np.complex128]:
    """F |Phi+><Phi+| + (1-F) |Phi-><Phi-|: a Bell pair whose phase flipped with probability 1-F."""
    f = _check_fidelity("dephased Bell fidelity", fidelity)
    return bell_diagonal(f, 1 - f, 0.0, 0.0)


def maximally_mixed(n_qubits: int) -> NDArray[np.complex128]:
    d = 2**n_qubits
    rho: NDArray[np.complex128] = np.eye(d, dtype=np.complex128) / d
    return rho


# ------------------------------------------------------------------------------------ fidelity


def fidelity_to_pure(rho: np.ndarray, psi: np.ndarray) -> float:
    """<psi| rho |psi> for a density matrix (matrix or tensor) and a pure state (vector or tensor)."""
    psi = np.asarray(psi, dtype=np.complex128).reshape(-1)
    m = from_tensor(rho)
    if m.shape != (psi.size, psi.size):
        raise InvalidOperation(f"state of dimension {psi.size} does not match density matrix {m.shape}")
    return float(np.real(psi.conj() @ m @ psi))


def bell_fidelity(rho: np.ndarray, name: str = "phi_plus") -> float:
    """Fidelity of a two-qubit density matrix (4x4 or (2,2,2,2)) with a Bell state."""
    return fidelity_to_pure(rho, BELL_STATES[name] if name in BELL_STATES else bell_state(name))


def fidelity(rho: np.ndarray, sigma: np.ndarray) -> float:
    """Uhlmann fidelity (tr sqrt(sqrt(rho) sigma sqrt(rho)))^2 of two density matrices (squared form)."""
    a, b = from_tensor(rho), from_tensor(sigma)
    w, v = np.linalg.eigh(a)
    sq = (v * np.sqrt(np.clip(w, 0, None))) @ v.conj().T
    ev = np.linalg.eigvalsh(sq @ b @ sq)
    return float(np.sum(np.sqrt(np.clip(ev, 0, None))) ** 2)


def partial_trace(rho: np.ndarray, keep: list[int] | tuple[int, ...]) -> np.ndarray:
    """Reduced density matrix (as a matrix) on qubits `keep` (in the given order)."""
    t = to_tensor(rho) if np.ndim(rho) == 2 else np.asarray(rho)
    n = t.ndim // 2
    keep = list(keep)
    if any(not (0 <= k < n) for k in keep) or len(set(keep)) != len(keep):
        raise InvalidOperation(f"cannot keep qubits {keep} of a {n}-qubit state")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rows = list(letters[:n])
    cols = list(letters[n : 2 * n])
    for i in range(n):
        if i not in keep:
            cols[i] = rows[i]
    out = "".join(rows[k] for k in keep) + "".join(cols[k] for k in keep)
    r: np.ndarray = np.einsum("".join(rows) + "".join(cols) + "->" + out, t)
    d = 2 ** len(keep)
    return r.reshape(d, d)


# ------------------------------------------------------------------------------------- random


def random_pure_qubit(rng: np.random.Generator) -> NDArray[np.complex128]:
    """A Haar-random single-qubit state vector (length 2), drawn from `rng` (4 normal variates)."""
    z = rng.normal(size=2) + 1j * rng.normal(size=2)
    psi: NDArray[np.complex128] = (z / np.linalg.norm(z)).astype(np.complex128)
    return psi


def random_qubit_dm(rng: np.random.Generator) -> NDArray[np.complex128]:
    """|psi><psi| for a Haar-random qubit."""
    return pure_dm(random_pure_qubit(rng))


# ------------------------------------------------------------------------------------- layout


def to_tensor(x: np.ndarray) -> NDArray[np.complex128]:
    """Matrix (2^n x 2^n) -> tensor (2,)*(2n); vector (2^n) -> tensor (2,)*n. complex128, contiguous."""
    a = np.asarray(x, dtype=np.complex128)
    if a.ndim == 1:
        n = _log2(a.shape[0])
        return np.ascontiguousarray(a.reshape((2,) * n))
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        n = _log2(a.shape[0])
        return np.ascontiguousarray(a.reshape((2,) * (2 * n)))
    if all(s == 2 for s in a.shape):
        return np.ascontiguousarray(a)
    raise InvalidOperation(f"expected a state vector or square density matrix, got shape {a.shape}")


def from_tensor(t: np.ndarray, *, vector: bool = False) -> np.ndarray:
    """Tensor (2,)*(2n) -> matrix 2^n x 2^n (or with vector=True, (2,)*n -> vector 2^n). Views when possible."""
    a = np.asarray(t)
    if vector:
        return a.reshape(-1)
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        return a
    if a.ndim % 2 or any(s != 2 for s in a.shape):
        raise InvalidOperation(f"expected a (2,)*(2n) density tensor, got shape {a.shape}")
    d = 2 ** (a.ndim // 2)
    return a.reshape(d, d)


def _log2(d: int) -> int:
    n = int(d).bit_length() - 1
    if d < 1 or 1 << n != d:
        raise InvalidOperation(f"dimension {d} is not a power of 2")
    return n


__all__ = [
    "BELL_STATES",
    "PHI_MINUS",
    "PHI_PLUS",
    "PSI_MINUS",
    "PSI_PLUS",
    "bell_diagonal",
    "bell_dm",
    "bell_fidelity",
    "bell_state",
    "dephased_bell",
    "fidelity",
    "fidelity_to_pure",
    "from_tensor",
    "maximally_mixed",
    "partial_trace",
    "pure_dm",
    "random_pure_qubit",
    "random_qubit_dm",
    "to_tensor",
    "werner_state",
]
