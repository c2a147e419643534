"""A node's noise model, as the register applies it: memory decay, gate and readout errors.

`NodeNoise.from_spec` reads a topology NodeSpec; every method returns ``None`` when there is nothing
to apply, so a noiseless node costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cirq
import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import NodeSpec


@lru_cache(maxsize=256)
def depolarize_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Kraus operators of cirq.depolarize(p): (1-p) rho + p/3 (X rho X + Y rho Y + Z rho Z)."""
    if not 0 <= p <= 1:
        raise InvalidOperation(f"depolarising probability must be in [0, 1], got {p}")
    return tuple(np.asarray(k, dtype=np.complex128) for k in cirq.kraus(cirq.depolarize(p)))


@lru_cache(maxsize=256)
def two_qubit_depolarize_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Kraus operators of cirq.depolarize(p, n_qubits=2)."""
    if not 0 <= p <= 1:
        raise InvalidOperation(f"depolarising probability must be in [0, 1], got {p}")
    return tuple(np.asarray(k, dtype=np.complex128) for k in cirq.kraus(cirq.depolarize(p, n_qubits=2)))


def memory_kraus(t_ns: float, t1_s: float | None, t2_s: float | None) -> tuple[np.ndarray, ...] | None:
    """Exact memory decay over t_ns: amplitude damping (T1) then pure dephasing so coherences fall as e^(-t/T2).

    With T1 only, T2 = 2*T1 (no pure dephasing); with T2 only, pure dephasing. None if nothing decays.
    """
    if t_ns < 0:
        raise InvalidOperation(f"a waiting time cannot be negative, got {t_ns} ns")
    if t_ns == 0 or (t1_s is None and t2_s is None):
        return None
    t = t_ns * 1e-9
    gamma = 0.0 if t1_s is None else 1.0 - math.exp(-t / t1_s)
    inv_tphi = 0.0
    if t2_s is not None:
        inv_tphi = 1.0 / t2_s - (0.0 if t1_s is None else 1.0 / (2.0 * t1_s))
        inv_tphi = max(inv_tphi, 0.0)
    lam = 1.0 - math.exp(-2.0 * t * inv_tphi)
    ad = [np.array([[1, 0], [0, math.sqrt(1 - gamma)]], dtype=np.complex128),
          np.array([[0, math.sqrt(gamma)], [0, 0]], dtype=np.complex128)]
    pd = [np.array([[1, 0], [0, math.sqrt(1 - lam)]], dtype=np.complex128),
          np.array([[0, 0], [0, math.sqrt(lam)]], dtype=np.complex128)]
    out = [p @ a for p in pd for a in ad]
    return tuple(k for k in out if np.any(np.abs(k) > 0))


@dataclass(frozen=True)
class NodeNoise:
    t1_s: float | None = None
    t2_s: float | None = None
    gate_1q_error: float = 0.0
    gate_2q_error: float = 0.0
    gate_1q_duration_ns: float = 0.0
    gate_2q_duration_ns: float = 0.0
    measure_error: float = 0.0
    measure_duration_ns: float = 0.0

    @classmethod
    def from_spec(cls, spec: NodeSpec) -> NodeNoise:
        return cls(
            spec.t1_s,
            spec.t2_s,
            spec.gate_1q_error,
            spec.gate_2q_error,
            spec.gate_1q_duration_ns,
            spec.gate_2q_duration_ns,
            spec.measure_error,
            spec.measure_duration_ns,
        )

    @property
    def memory_free(self) -> bool:
        return self.t1_s is None and self.t2_s is None

    def memory(self, waited_ns: float) -> tuple[np.ndarray, ...] | None:
        if self.memory_free:
            return None
        return memory_kraus(waited_ns, self.t1_s, self.t2_s)

    def after_gate(self, n_qubits: int) -> tuple[np.ndarray, ...] | None:
        if n_qubits == 1:
            return depolarize_kraus(self.gate_1q_error) if self.gate_1q_error > 0 else None
        return two_qubit_depolarize_kraus(self.gate_2q_error) if self.gate_2q_error > 0 else None

    def gate_duration_ns(self, n_qubits: int) -> float:
        return self.gate_1q_duration_ns if n_qubits == 1 else self.gate_2q_duration_ns
