"""The operations a node applies to its quantum memory: gates, measurements, resets, discards and waits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GateOp:
    """A unitary on `qubits` (in order)."""

    unitary: np.ndarray
    qubits: tuple[str, ...]
    #: The operation as it came over the wire, forwarded as is (a named gate stays a name, not a matrix).
    #: Opaque here: only the serde layer reads it.
    wire: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MeasureOp:
    """A measurement of `qubit` in `basis` ("Z", "X" or "Y"); `keep` leaves the qubit allocated."""

    qubit: str
    basis: str
    keep: bool


@dataclass(frozen=True)
class ResetOp:
    """The qubit is set to |0>."""

    qubit: str


@dataclass(frozen=True)
class DiscardOp:
    """The qubit is traced out and freed."""

    qubit: str


@dataclass(frozen=True)
class WaitOp:
    """The qubit idles in memory for `duration_ns` (the location's clock advances by it)."""

    qubit: str
    duration_ns: int


#: The longest single wait (about 11.6 days of virtual time).
MAX_WAIT_NS = 10**15

Op = GateOp | MeasureOp | ResetOp | DiscardOp | WaitOp


def op_qubits(op: Op) -> tuple[str, ...]:
    """The qubits `op` acts on."""
    return op.qubits if isinstance(op, GateOp) else (op.qubit,)


def distinct_qubits(ops: Sequence[Op]) -> list[str]:
    """The qubits `ops` name, each once, in order of first appearance (the order Forward replies use)."""
    if len(ops) == 1:  # the commonest batch; a gate naming a qubit twice is refused when it runs
        return list(op_qubits(ops[0]))
    seen: dict[str, None] = {}
    for op in ops:
        for q in op_qubits(op):
            seen[q] = None
    return list(seen)
