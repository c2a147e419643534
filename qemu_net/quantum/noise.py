"""Noise channels on density-matrix tensors: gate depolarisation, memory decoherence, readout flips.

Pure numpy, no I/O, no Cirq import (Cirq's conventions are matched and checked in the tests).

Layout
------
An n-qubit density matrix is a complex tensor of shape ``(2,) * (2 * n)`` with axes
``(q0, ..., q_{n-1}, q0', ..., q_{n-1}')`` -- row (ket) indices first, then column (bra) indices --
big-endian, exactly Cirq's ``DensityMatrixSimulationState.target_tensor`` layout: ``rho.reshape(2**n,
2**n)`` is the usual matrix with qubit 0 most significant. A qubit is named by its *index* ``k`` in
``0..n-1`` (its row axis is ``k``, its column axis ``n + k``).

Every ``apply_*`` function **returns a new C-contiguous array** and never modifies its input; a
register that owns the buffer (Cirq's ``target_tensor``) copies the result back with ``np.copyto``.

Channels are applied through their superoperator ``S = sum_k K_k (x) conj(K_k)``: one tensor
contraction whatever the number of Kraus operators. `NoiseModel` precomputes the superoperators of
its gate channels once, so the per-operation cost is one ``tensordot`` plus an axis move.

Conventions
-----------
* ``depolarize_kraus(p)``: ``(1 - p) rho + p/3 (X rho X + Y rho Y + Z rho Z)`` (Cirq's ``depolarize(p)``,
  *not* Nielsen & Chuang's p: the state is maximally mixed at p = 3/4).
* ``two_qubit_depolarize_kraus(p)``: ``(1 - p) rho + p/15 sum_{P != II} P rho P`` (``cirq.depolarize(p,
  n_qubits=2)``).
* ``memory_kraus(t_ns, t1_s, t2_s)``: amplitude damping with ``gamma = 1 - exp(-t/T1)`` followed by the
  pure dephasing that makes the coherences decay as ``exp(-t/T2)`` overall. ``None`` means the time is
  infinite; ``t2_s=None`` with a finite T1 means "no pure dephasing" (the T1 limit T2 = 2 T1), since
  T2 > 2 T1 is unphysical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from qemu_net.errors import InvalidOperation
from qemu_net.quantum.paulis import PAULIS

if TYPE_CHECKING:
    from qemu_net.network.topology import NodeSpec

#: Anything with ``random()`` returning floats in [0, 1): ``np.random.Generator`` or ``RandomState``.
Rng = np.random.Generator | np.random.RandomState

_I, _X, _Y, _Z = PAULIS

# ------------------------------------------------------------------------------------- validation


def _check_probability(name: str, p: float) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise InvalidOperation(f"{name} must be a number in [0, 1], got {p!r}", parameter=name) from None
    if not (0.0 <= p <= 1.0):  # also rejects NaN
        raise InvalidOperation(f"{name} must be a probability in [0, 1], got {p}", parameter=name, value=p)
    return p


def _check_time(name: str, t: float | None, *, allow_none: bool = False, positive: bool = False) -> float | None:
    if t is None:
        if allow_none:
            return None
        raise InvalidOperation(f"{name} is required", parameter=name)
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise InvalidOperation(f"{name} must be a number, got {t!r}", parameter=name) from None
    if math.isnan(t) or t < 0 or (positive and t == 0):
        bound = "> 0" if positive else ">= 0"
        raise InvalidOperation(f"{name} must be {bound}, got {t}", parameter=name, value=t)
    return t


# --------------------------------------------------------------------------------- Kraus sets


def depolarize_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Kraus operators of Cirq's single-qubit ``depolarize(p)``: sqrt(1-p) I, sqrt(p/3) {X, Y, Z}."""
    p = _check_probability("depolarize p", p)
    a, b = math.sqrt(1 - p), math.sqrt(p / 3)
    return (a * _I, b * _X, b * _Y, b * _Z)


def two_qubit_depolarize_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Kraus operators of ``cirq.depolarize(p, n_qubits=2)``: sqrt(1-p) II, sqrt(p/15) for the 15 others."""
    p = _check_probability("two-qubit depolarize p", p)
    a, b = math.sqrt(1 - p), math.sqrt(p / 15)
    ops = []
    for i, pa in enumerate(PAULIS):
        for j, pb in enumerate(PAULIS):
            ops.append((a if i == j == 0 else b) * np.kron(pa, pb))
    return tuple(ops)


def dephase_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Phase flip with probability p: (1-p) rho + p Z rho Z."""
    p = _check_probability("dephase p", p)
    return (math.sqrt(1 - p) * _I, math.sqrt(p) * _Z)


def bit_flip_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Bit flip with probability p: (1-p) rho + p X rho X."""
    p = _check_probability("bit flip p", p)
    return (math.sqrt(1 - p) * _I, math.sqrt(p) * _X)


def memory_decay_factors(t_ns: float, t1_s: float | None, t2_s: float | None) -> tuple[float, float]:
    """``(gamma, coherence)`` after waiting t_ns: rho11 -> (1-gamma) rho11, rho01 -> coherence * rho01.

    gamma = 1 - exp(-t/T1); coherence = exp(-t/T2). ``None`` = infinite; with a finite T1 and
    ``t2_s=None`` the coherence is the T1 limit exp(-t/(2 T1)). T2 > 2 T1 (beyond a rounding slack)
    raises `InvalidOperation`.
    """
    t = _check_time("wait time t_ns", t_ns)
    t1 = _check_time("t1_s", t1_s, allow_none=True, positive=True)
    t2 = _check_time("t2_s", t2_s, allow_none=True, positive=True)
    assert t is not None
    if t1 is not None and t2 is not None and t2 > 2 * t1 * (1 + 1e-9):
        raise InvalidOperation(
            f"t2_s={t2} exceeds 2*t1_s={2 * t1}: no physical memory has T2 > 2*T1", parameter="t2_s", value=t2
        )
    t_s = t * 1e-9
    gamma = 0.0 if t1 is None else -math.expm1(-t_s / t1)
    if t2 is not None:
        coherence = math.exp(-t_s / t2)
    elif t1 is not None:
        coherence = math.exp(-t_s / (2 * t1))
    else:
        coherence = 1.0
    # Never let rounding put the coherence above the amplitude-damping bound sqrt(1 - gamma).
    coherence = min(coherence, math.sqrt(1 - gamma))
    return gamma, coherence


def memory_kraus(t_ns: float, t1_s: float | None, t2_s: float | None) -> tuple[np.ndarray, ...]:
    """Exact Kraus set of a memory qubit idling for t_ns with relaxation T1 and dephasing T2 (seconds).

    Amplitude damping (gamma = 1 - e^{-t/T1}) composed with a phase flip of probability
    p_z = (1 - e^{-t/T_phi}) / 2, 1/T_phi = 1/T2 - 1/(2 T1), so that the coherences decay as e^{-t/T2}
    overall. The two channels commute; the result is three Kraus operators (fewer when some vanish).
    """
    gamma, coherence = memory_decay_factors(t_ns, t1_s, t2_s)
    ad = math.sqrt(1 - gamma)
    # Pure-dephasing factor on top of amplitude damping's own sqrt(1-gamma).
    lam = coherence / ad if ad > 0 else 1.0
    pz = (1 - lam) / 2
    ops = [np.diag([math.sqrt(1 - pz), math.sqrt(1 - pz) * ad]).astype(np.complex128)]
    if pz > 0:
        ops.append(np.diag([math.sqrt(pz), -math.sqrt(pz) * ad]).astype(np.complex128))
    if gamma > 0:
        ops.append(np.array([[0, math.sqrt(gamma)], [0, 0]], dtype=np.complex128))
    return tuple(ops)


def memory_superop(t_ns: float, t1_s: float | None, t2_s: float | None) -> np.ndarray:
    """The memory channel's 4x4 superoperator matrix (see `kraus_to_superop`), built directly."""
    gamma, c = memory_decay_factors(t_ns, t1_s, t2_s)
    # vec index = 2*row + col: 00 -> 0, 01 -> 1, 10 -> 2, 11 -> 3
    return np.array(
        [[1, 0, 0, gamma], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1 - gamma]], dtype=np.complex128
    )


def readout_flip(outcome: int | np.ndarray, p: float, rng: Rng) -> int | np.ndarray:
    """Flip a classical measurement outcome (a bit, or an array of bits) with probability p each.

    Draws exactly one uniform per bit from `rng` when p > 0, none when p == 0 (so a noiseless node's
    random stream is not consumed).
    """
    p = _check_probability("measure_error", p)
    if p == 0:
        return outcome
    if isinstance(outcome, np.ndarray):
        flips = rng.random(outcome.shape) < p
        return (outcome ^ flips).astype(outcome.dtype)
    return int(outcome) ^ int(rng.random() < p)


# ----------------------------------------------------------------------- superoperators & apply


def kraus_to_superop(kraus_ops: Sequence[np.ndarray]) -> np.ndarray:
    """The channel's superoperator matrix ``sum_k K_k (x) conj(K_k)``, shape (4^m, 4^m).

    For m-qubit Kraus operators (2^m x 2^m, big-endian over the target qubits) and row-major
    vectorisation: ``vec(rho)[(i, j)] = rho[i, j]`` with i the m target row bits and j the m column bits.
    This is what `apply_superop_dm` takes.
    """
    ks = np.asarray(kraus_ops, dtype=np.complex128)
    if ks.ndim != 3 or ks.shape[0] == 0 or ks.shape[1] != ks.shape[2]:
        raise InvalidOperation(f"expected a non-empty list of square Kraus matrices, got shape {ks.shape}")
    d = ks.shape[1]
    _num_qubits_of(d, "Kraus operator")
    superop: NDArray[np.complex128] = np.einsum("kia,kjb->ijab", ks, ks.conj()).reshape(d * d, d * d)
    return superop


def unitary_to_superop(u: np.ndarray) -> np.ndarray:
    """Superoperator matrix of rho -> U rho U^dagger (see `kraus_to_superop`)."""
    d = u.shape[0]
    superop: np.ndarray = np.multiply.outer(u, u.conj()).transpose(0, 2, 1, 3).reshape(d * d, d * d)
    return superop


def superop_to_kraus(superop: np.ndarray) -> tuple[np.ndarray, ...]:
    """Kraus operators of a superoperator matrix (via its Choi matrix); for tests and interop."""
    d = round(math.sqrt(superop.shape[0]))
    choi = superop.reshape(d, d, d, d).transpose(0, 2, 1, 3).reshape(d * d, d * d)
    w, v = np.linalg.eigh(choi)
    return tuple(math.sqrt(x) * v[:, i].reshape(d, d) for i, x in enumerate(w) if x > 1e-12)


def _num_qubits_of(d: int, what: str) -> int:
    m = int(d).bit_length() - 1
    if d < 2 or 1 << m != d or m > 2:
        raise InvalidOperation(f"{what} must act on 1 or 2 qubits (2x2 or 4x4), got dimension {d}")
    return m


@lru_cache(maxsize=4096)
def _plan(n: int, axes: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], int, tuple[int, ...]]:
    """(permutation bringing the target row+column axes first, its inverse, 4^m, permuted shape)."""
    m = len(axes)
    if m not in (1, 2):
        raise InvalidOperation(f"operators act on 1 or 2 qubits, got axes {axes}")
    if len(set(axes)) != m or any(not (0 <= a < n) for a in axes):
        raise InvalidOperation(f"qubit axes {axes} are invalid for a {n}-qubit state (distinct, in 0..{n - 1})")
    front = tuple(axes) + tuple(n + a for a in axes)
    perm = front + tuple(a for a in range(2 * n) if a not in front)
    inv = tuple(int(i) for i in np.argsort(perm))
    return perm, inv, 4**m, (2,) * (2 * n)


def _shape_n(rho: np.ndarray) -> int:
    nd = rho.ndim
    if nd == 0 or nd % 2 or rho.shape != (2,) * nd:
        raise InvalidOperation(f"density-matrix tensor must have shape (2,)*(2n), got {rho.shape}")
    return nd // 2


def apply_superop_dm(rho: np.ndarray, superop: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Apply a channel given as a superoperator matrix (from `kraus_to_superop`) to qubits `axes`.

    Returns a new C-contiguous array of rho's shape and dtype complex128; rho is not modified.
    """
    n = _shape_n(rho)
    perm, inv, d2, shape = _plan(n, tuple(axes))
    if superop.shape != (d2, d2):
        raise InvalidOperation(f"superoperator of shape {superop.shape} does not act on {len(axes)} qubit(s)")
    out = superop @ rho.transpose(perm).reshape(d2, -1)
    return np.ascontiguousarray(out.reshape(shape).transpose(inv))


def apply_kraus_dm(rho: np.ndarray, kraus_ops: Sequence[np.ndarray], axes: Sequence[int]) -> np.ndarray:
    """rho -> sum_k K_k rho K_k^dagger on qubits `axes` (1 or 2 qubits). Returns a new array.

    Builds the superoperator each call (a few us); cache `kraus_to_superop` and call
    `apply_superop_dm` for a channel used repeatedly.
    """
    return apply_superop_dm(rho, kraus_to_superop(kraus_ops), axes)


def apply_unitary_dm(rho: np.ndarray, u: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """rho -> U rho U^dagger on qubits `axes` (U is 2x2 or 4x4, big-endian over `axes`). New array."""
    u = np.asarray(u, dtype=np.complex128)
    if u.ndim != 2 or u.shape[0] != u.shape[1] or u.shape[0] not in (2, 4):
        raise InvalidOperation(f"a unitary must be a 2x2 or 4x4 matrix, got shape {u.shape}")
    return apply_superop_dm(rho, unitary_to_superop(u), axes)


# ------------------------------------------------------------------------------ the node model


@dataclass(frozen=True)
class NoiseModel:
    """A node's noise: what follows each gate, what a stored qubit suffers, how readout errs.

    Build with `NoiseModel.from_node_spec`. Channels are precomputed as superoperators; every
    ``after_*``/``idle`` method returns ``rho`` itself (same object, no copy) when it has nothing to do,
    otherwise a new array.
    """

    gate_1q_error: float = 0.0
    gate_2q_error: float = 0.0
    measure_error: float = 0.0
    t1_s: float | None = None
    t2_s: float | None = None
    gate_1q_duration_ns: float = 0.0
    gate_2q_duration_ns: float = 0.0
    measure_duration_ns: float = 0.0
    _sop_1q: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _sop_2q: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_probability("gate_1q_error", self.gate_1q_error)
        _check_probability("gate_2q_error", self.gate_2q_error)
        _check_probability("measure_error", self.measure_error)
        for name in ("gate_1q_duration_ns", "gate_2q_duration_ns", "measure_duration_ns"):
            _check_time(name, getattr(self, name))
        memory_decay_factors(0.0, self.t1_s, self.t2_s)  # validates T1, T2 and T2 <= 2 T1
        if self.gate_1q_error > 0:
            object.__setattr__(self, "_sop_1q", kraus_to_superop(depolarize_kraus(self.gate_1q_error)))
        if self.gate_2q_error > 0:
            object.__setattr__(self, "_sop_2q", kraus_to_superop(two_qubit_depolarize_kraus(self.gate_2q_error)))

    @classmethod
    def from_node_spec(cls, spec: NodeSpec) -> NoiseModel:
        """The model of a topology node: each parameter is the node spec's field of the same name."""
        return cls(**{f.name: getattr(spec, f.name) for f in fields(cls) if f.init})

    # ------------------------------------------------------------------ what to skip
    @property
    def noiseless(self) -> bool:
        """True when no gate, memory or readout noise is configured (the register may skip all of it)."""
        return (
            self.gate_1q_error == 0
            and self.gate_2q_error == 0
            and self.measure_error == 0
            and not self.has_memory_noise
        )

    @property
    def has_memory_noise(self) -> bool:
        return self.t1_s is not None or self.t2_s is not None

    # ------------------------------------------------------------------ channels
    def gate_1q_kraus(self) -> tuple[np.ndarray, ...] | None:
        return depolarize_kraus(self.gate_1q_error) if self.gate_1q_error > 0 else None

    def gate_2q_kraus(self) -> tuple[np.ndarray, ...] | None:
        return two_qubit_depolarize_kraus(self.gate_2q_error) if self.gate_2q_error > 0 else None

    def memory_kraus(self, t_ns: float) -> tuple[np.ndarray, ...] | None:
        """Kraus set for a qubit stored t_ns; None when the memory is perfect or t_ns == 0."""
        if not self.has_memory_noise or t_ns == 0:
            _check_time("wait time t_ns", t_ns)
            return None
        return memory_kraus(t_ns, self.t1_s, self.t2_s)

    def gate_superop(self, n_qubits: int) -> np.ndarray | None:
        """The precomputed superoperator of the error after an n-qubit gate (1 or 2); None when the gate
        is perfect. Gates on more qubits raise `InvalidOperation` (the node only runs 1- and 2-qubit gates)."""
        if n_qubits == 1:
            return self._sop_1q
        if n_qubits == 2:
            return self._sop_2q
        raise InvalidOperation(f"gate errors are modelled for 1- and 2-qubit gates, not {n_qubits}")

    def gate_duration_ns(self, n_qubits: int) -> float:
        """How long an n-qubit gate takes (1 or 2 qubits)."""
        return self.gate_1q_duration_ns if n_qubits == 1 else self.gate_2q_duration_ns

    def wait_superop(self, t_ns: float) -> np.ndarray | None:
        """Superoperator (4x4) of memory decoherence over t_ns; None when the memory is perfect or t_ns == 0."""
        if not self.has_memory_noise or t_ns == 0:
            return None
        if t_ns < 0:
            raise InvalidOperation(f"wait time t_ns must be >= 0, got {t_ns}", parameter="t_ns", value=t_ns)
        # Same numbers as `memory_superop`, without re-validating T1/T2 (checked once in __post_init__).
        t_s = t_ns * 1e-9
        t1, t2 = self.t1_s, self.t2_s
        gamma = 0.0 if t1 is None else -math.expm1(-t_s / t1)
        if t2 is not None:
            c = math.exp(-t_s / t2)
        else:
            assert t1 is not None  # has_memory_noise: T1 or T2 is set
            c = math.exp(-t_s / (2 * t1))
        c = min(c, math.sqrt(1 - gamma))
        return np.array([[1, 0, 0, gamma], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1 - gamma]], dtype=np.complex128)

    def after_gate_1q(self, rho: np.ndarray, axis: int) -> np.ndarray:
        """Depolarising gate error after a single-qubit gate on qubit `axis`."""
        if self._sop_1q is None:
            return rho
        return apply_superop_dm(rho, self._sop_1q, (axis,))

    def after_gate_2q(self, rho: np.ndarray, axes: Sequence[int]) -> np.ndarray:
        """Two-qubit depolarising gate error after a two-qubit gate on qubits `axes`."""
        if self._sop_2q is None:
            return rho
        return apply_superop_dm(rho, self._sop_2q, axes)

    def idle(self, rho: np.ndarray, axis: int, t_ns: float) -> np.ndarray:
        """Memory decoherence of qubit `axis` after waiting t_ns of virtual time."""
        if not self.has_memory_noise or t_ns == 0:
            _check_time("wait time t_ns", t_ns)
            return rho
        return apply_superop_dm(rho, memory_superop(t_ns, self.t1_s, self.t2_s), (axis,))

    def flip_readout(self, outcome: int | np.ndarray, rng: Rng) -> int | np.ndarray:
        """The reported outcome: flipped with probability measure_error (no draw when it is 0)."""
        return readout_flip(outcome, self.measure_error, rng)


NOISELESS = NoiseModel()

__all__ = [
    "NOISELESS",
    "PAULIS",
    "NoiseModel",
    "apply_kraus_dm",
    "apply_superop_dm",
    "apply_unitary_dm",
    "bit_flip_kraus",
    "dephase_kraus",
    "depolarize_kraus",
    "kraus_to_superop",
    "memory_decay_factors",
    "memory_kraus",
    "memory_superop",
    "readout_flip",
    "superop_to_kraus",
    "two_qubit_depolarize_kraus",
    "unitary_to_superop",
]
