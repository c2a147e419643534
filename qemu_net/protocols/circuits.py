"""Distributed circuit execution: a `cirq.Circuit` whose qubits are assigned to nodes.

`compile_circuit` (client side) turns the circuit into a `Program` every node receives:

* `Local` -- a 1- or 2-qubit unitary on qubits of one node (gates on 3+ qubits are decomposed first);
* `Controlled` -- a controlled-U across two nodes, carried out as a nonlocal gate (one EPR pair,
  `nonlocal_gates`); a two-qubit gate that is not a controlled-U is decomposed into single-qubit gates
  and CZs (at most three, `cirq.two_qubit_matrix_to_cz_operations`), each CZ nonlocal;
* `Measure` -- Z measurements under a key (mid-circuit allowed: the qubit stays, collapsed).

`run_program` (node side) executes the operations on this node's qubits in program order. Two nodes that
share a nonlocal gate both reach it in the same program order, and every wait is on an earlier
operation, so the nodes cannot deadlock. Anything else in the circuit (noise channels, resets,
classically controlled or parameterised operations) is refused with InvalidOperation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.protocols.common import controlled
from qemu_net.protocols.context import NodeContext
from qemu_net.protocols.nonlocal_gates import nonlocal_control, nonlocal_target

if TYPE_CHECKING:
    import cirq

    from qemu_net.network.topology import Topology

MAX_REPETITIONS = 100_000


@dataclass(frozen=True)
class Local:
    qubits: tuple[int, ...]
    u: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Controlled:
    control: int
    target: int
    u: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Measure:
    qubits: tuple[int, ...]
    key: str


Op = Local | Controlled | Measure


@dataclass(frozen=True)
class Program:
    """A circuit compiled for a network: the node of each qubit (by index) and the operations."""

    assignment: tuple[str, ...]
    ops: tuple[Op, ...]

    @property
    def nonlocal_gates(self) -> int:
        return sum(1 for op in self.ops if isinstance(op, Controlled)
                   and self.assignment[op.control] != self.assignment[op.target])

    def validate(self, topology: Topology | None = None) -> None:
        n = len(self.assignment)
        for op in self.ops:
            qs = (op.control, op.target) if isinstance(op, Controlled) else op.qubits
            if any(q >= n for q in qs) or len(set(qs)) != len(qs) or not qs:
                raise InvalidOperation(f"operation {op} names qubits outside 0..{n - 1} or twice")
            if isinstance(op, Local):
                if op.u.shape != (2 ** len(qs),) * 2 or len(qs) > 2:
                    raise InvalidOperation(f"a local operation needs a 2^k x 2^k unitary on 1 or 2 qubits: {op}")
                if len({self.assignment[q] for q in qs}) != 1:
                    raise InvalidOperation(f"a local operation's qubits must be at one node: {op}")
            if isinstance(op, Controlled) and op.u.shape != (2, 2):
                raise InvalidOperation("a controlled operation needs a 2x2 U")
        if topology is not None:
            for node in sorted(set(self.assignment)):
                topology.require_node(node, what="qubits assigned to a node")
            for op in self.ops:
                if isinstance(op, Controlled):
                    a, b = self.assignment[op.control], self.assignment[op.target]
                    if a != b and topology.link(a, b) is None:
                        raise NotConnected(
                            f"a gate between qubits {op.control} (at {a!r}) and {op.target} (at {b!r}) needs a "
                            f"quantum link between {a!r} and {b!r}; there is none: assign the qubits differently",
                            peer=b)


# ----------------------------------------------------------------------------- compiling (client side)
def _as_controlled(u: np.ndarray, atol: float = 1e-9) -> tuple[np.ndarray, complex] | None:
    """If u == phase * controlled(U) (control = first qubit), return (U, phase)."""
    if not (np.allclose(u[:2, 2:], 0, atol=atol) and np.allclose(u[2:, :2], 0, atol=atol)):
        return None
    ph = u[0, 0]
    if abs(abs(ph) - 1) > 1e-7 or not np.allclose(u[:2, :2], ph * np.eye(2), atol=atol):
        return None
    return u[2:, 2:] / ph, ph


_SWAP_PERM = [0, 2, 1, 3]


def compile_circuit(circuit: cirq.AbstractCircuit, assignment: Mapping[cirq.Qid, str], *,
                    topology: Topology | None = None) -> tuple[Program, list[cirq.Qid]]:
    """Compile for the given assignment; returns the program and the qubits in index order."""
    import cirq

    qubits = sorted(circuit.all_qubits())
    missing = [q for q in qubits if q not in assignment]
    if missing:
        raise InvalidOperation(f"qubit(s) {', '.join(map(str, missing))} are not assigned to any node")
    index = {q: i for i, q in enumerate(qubits)}
    where = tuple(str(assignment[q]) for q in qubits)
    ops: list[Op] = []

    def emit(op: cirq.Operation, depth: int = 0) -> None:
        if cirq.is_measurement(op):
            gate = op.gate
            if not isinstance(gate, cirq.MeasurementGate):
                raise InvalidOperation(f"unsupported measurement {op!r}: only plain Z measurements")
            if any(gate.full_invert_mask()) or gate.confusion_map:
                raise InvalidOperation(f"unsupported measurement {op!r}: invert masks and confusion maps")
            ops.append(Measure(tuple(index[q] for q in op.qubits), cirq.measurement_key_name(op)))
            return
        if isinstance(op, cirq.ClassicallyControlledOperation) or cirq.control_keys(op):
            raise InvalidOperation(f"unsupported operation {op!r}: classically controlled operations")
        if cirq.is_parameterized(op):
            raise InvalidOperation(f"unsupported operation {op!r}: resolve its parameters first")
        if not cirq.has_unitary(op):
            raise InvalidOperation(f"unsupported operation {op!r}: only unitary gates and measurements "
                                   "(no noise channels or resets)")
        n = len(op.qubits)
        idx = tuple(index[q] for q in op.qubits)
        if n == 0:
            return  # global phase
        u = np.asarray(cirq.unitary(op), dtype=np.complex128)
        if n == 1 or (n == 2 and where[idx[0]] == where[idx[1]]):
            ops.append(Local(idx, u))
            return
        if n == 2:
            c = _as_controlled(u)
            if c is not None:
                ops.append(Controlled(idx[0], idx[1], c[0]))
                return
            c = _as_controlled(u[np.ix_(_SWAP_PERM, _SWAP_PERM)])
            if c is not None:
                ops.append(Controlled(idx[1], idx[0], c[0]))
                return
            for sub in cirq.two_qubit_matrix_to_cz_operations(op.qubits[0], op.qubits[1], u,
                                                              allow_partial_czs=False):
                emit(sub, depth + 1)
            return
        if depth > 20:
            raise InvalidOperation(f"unsupported operation {op!r}: cannot decompose it into 1- and 2-qubit gates")
        subs = cirq.decompose_once(op, default=None)
        if subs is None:
            raise InvalidOperation(f"unsupported operation {op!r}: a {n}-qubit gate with no decomposition")
        for sub in subs:
            emit(sub, depth + 1)

    for op in circuit.all_operations():
        emit(op)
    program = Program(where, tuple(ops))
    program.validate(topology)
    return program, qubits


# ----------------------------------------------------------------------------- executing (node side)
@dataclass(frozen=True)
class RunOutcome:
    """One node's part of a distributed circuit run: the qubits it kept (circuit index -> qubit id; only
    with ``keep=True``), its measurement table, and the EPR pairs its nonlocal gates consumed."""

    kept: dict[int, str] = field(default_factory=dict)
    #: key -> (circuit qubit indices measured here, rows of bits per repetition)
    measurements: dict[str, tuple[list[int], list[list[int]]]] = field(default_factory=dict)
    epr_pairs: int = 0

    def __post_init__(self) -> None:
        if self.epr_pairs < 0:
            raise InvalidOperation(f"epr_pairs must be >= 0, not {self.epr_pairs}")
        for key, (qubits, rows) in self.measurements.items():
            if any(len(row) != len(qubits) for row in rows):
                raise InvalidOperation(f"measurement {key!r}: every row needs one bit per qubit {qubits}")


def run_program(ctx: NodeContext, program: Program, *, repetitions: int = 1, keep: bool = False, session: str,
                timeout_s: float = 30.0) -> RunOutcome:
    program.validate(ctx.topology)
    me = ctx.name
    if me not in program.assignment:
        raise InvalidOperation(f"no qubit of the circuit is assigned to {me!r}")
    repetitions = repetitions or 1
    if not 1 <= repetitions <= MAX_REPETITIONS:
        raise InvalidOperation(f"repetitions must be between 1 and {MAX_REPETITIONS}")
    if keep and repetitions != 1:
        raise InvalidOperation("keep=True (final state) needs repetitions=1")
    mine = [i for i, n in enumerate(program.assignment) if n == me]
    kept: dict[int, str] = {}
    epr_pairs = 0
    # The measurement table layout is fixed by the program: every repetition fills the same keys.
    layout: dict[str, list[int]] = {}
    for op in program.ops:
        if isinstance(op, Measure):
            layout.setdefault(op.key, []).extend(q for q in op.qubits if program.assignment[q] == me)
    measurements: dict[str, tuple[list[int], list[list[int]]]] = {k: (qs, []) for k, qs in layout.items() if qs}
    for rep in range(repetitions):
        ids = dict(zip(mine, ctx.alloc(len(mine)), strict=True))
        rows: dict[str, list[int]] = {k: [] for k in measurements}
        for k, op in enumerate(program.ops):
            if isinstance(op, Local):
                if program.assignment[op.qubits[0]] == me:
                    ctx.apply_unitary(op.u, *(ids[q] for q in op.qubits))
            elif isinstance(op, Controlled):
                a, b = program.assignment[op.control], program.assignment[op.target]
                s = f"{session}/{rep}/{k}"
                if a == b == me:
                    ctx.apply_unitary(controlled(op.u), ids[op.control], ids[op.target])
                elif a == me:
                    epr_pairs += nonlocal_control(ctx, peer=b, qubit=ids[op.control], session=s,
                                                  timeout_s=timeout_s)
                elif b == me:
                    nonlocal_target(ctx, peer=a, qubit=ids[op.target], u=op.u, session=s, timeout_s=timeout_s)
            else:
                for q in op.qubits:
                    if program.assignment[q] == me:
                        rows[op.key].append(ctx.measure(ids[q], "Z", keep=True))
        for key, row in rows.items():
            measurements[key][1].append(row)
        if keep:
            kept = ids
        else:
            ctx.free(list(ids.values()))
    return RunOutcome(kept, measurements, epr_pairs)
