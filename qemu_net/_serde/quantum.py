"""Conversions between protobuf messages and domain objects (the only module that knows both).

Paired ``x_to_proto`` / ``x_from_proto`` functions; servicers, the peer client and the SDK use these,
nothing else builds or reads generated types field by field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cirq
import numpy as np

from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.errors import InvalidOperation
from qemu_net.node.ops import MAX_WAIT_NS, DiscardOp, GateOp, MeasureOp, Op, ResetOp, WaitOp
from qemu_net.node.transit import Shipment, Txn
from qemu_net.quantum.register import DTYPE, GroupState

BASIS_NAMES = {t.BASIS_UNSPECIFIED: "Z", t.BASIS_Z: "Z", t.BASIS_X: "X", t.BASIS_Y: "Y"}
BASIS_CODES = {"Z": t.BASIS_Z, "X": t.BASIS_X, "Y": t.BASIS_Y}

NAMED_GATES: dict[int, cirq.Gate] = {
    t.I: cirq.I,
    t.X: cirq.X,
    t.Y: cirq.Y,
    t.Z: cirq.Z,
    t.H: cirq.H,
    t.S: cirq.S,
    t.S_DAG: cirq.S**-1,
    t.T: cirq.T,
    t.T_DAG: cirq.T**-1,
    t.SQRT_X: cirq.X**0.5,
    t.SQRT_X_DAG: cirq.X**-0.5,
    t.CNOT: cirq.CNOT,
    t.CZ: cirq.CZ,
    t.SWAP: cirq.SWAP,
    t.ISWAP: cirq.ISWAP,
}
GATE_NAMES: dict[str, int] = {t.NamedGate.Name(k): k for k in NAMED_GATES}


def _read_only(u: np.ndarray) -> np.ndarray:
    u = np.asarray(u, dtype=DTYPE)
    u.setflags(write=False)
    return u


#: Each named gate's unitary, computed once from Cirq (read-only: it is shared by every operation).
NAMED_UNITARIES: dict[int, np.ndarray] = {code: _read_only(cirq.unitary(g)) for code, g in NAMED_GATES.items()}


def _rotation_unitary(axis: int, angle: float) -> np.ndarray:
    if not math.isfinite(angle):
        raise InvalidOperation(f"rotation angle must be a finite number, got {angle}")
    if axis == t.RX:
        g: cirq.Gate = cirq.rx(angle)
    elif axis == t.RY:
        g = cirq.ry(angle)
    elif axis == t.RZ:
        g = cirq.rz(angle)
    elif axis == t.PHASE:
        return np.array([[1, 0], [0, np.exp(1j * angle)]], dtype=DTYPE)
    else:
        raise InvalidOperation(f"unknown rotation axis {axis}; use RX, RY, RZ or PHASE")
    return np.asarray(cirq.unitary(g), dtype=DTYPE)


def unitary_from_proto(gate: t.Gate, n_qubits: int) -> np.ndarray:
    kind = gate.WhichOneof("kind")
    if kind == "named":
        u = NAMED_UNITARIES.get(gate.named)
        if u is None:
            raise InvalidOperation(f"unknown gate code {gate.named}")
    elif kind == "rotation":
        u = _rotation_unitary(gate.rotation.axis, gate.rotation.angle_rad)
    elif kind == "matrix":
        m = gate.matrix
        if m.dim not in (2, 4):
            raise InvalidOperation(f"a gate matrix must be 2x2 or 4x4, got dim={m.dim}")
        if len(m.real) != m.dim * m.dim or len(m.imag) not in (0, m.dim * m.dim):
            raise InvalidOperation(
                f"a {m.dim}x{m.dim} matrix needs {m.dim * m.dim} real (and as many imaginary) entries, "
                f"got {len(m.real)} and {len(m.imag)}"
            )
        u = np.array(m.real, dtype=float) + 1j * (np.array(m.imag, dtype=float) if len(m.imag) else 0)
        u = u.reshape(m.dim, m.dim).astype(DTYPE)
        if not np.all(np.isfinite(u)):
            raise InvalidOperation("gate matrix has entries that are not finite numbers")
        if not cirq.is_unitary(u, atol=1e-8):
            raise InvalidOperation("gate matrix is not unitary (U U^dagger != I within 1e-8)")
    else:
        raise InvalidOperation("gate has no kind: give a named gate, a rotation or a matrix")
    if u.shape[0] != 2**n_qubits:
        raise InvalidOperation(f"a {u.shape[0]}x{u.shape[0]} gate cannot act on {n_qubits} qubit(s)")
    return u


def op_from_proto(op: t.Operation) -> Op:
    qubits = tuple(op.qubits)
    n = len(qubits)
    kind = op.WhichOneof("kind")
    if kind == "gate" and ((n == 1 and qubits[0]) or (n == 2 and qubits[0] and qubits[1] and qubits[0] != qubits[1])):
        # The hot path (every gate a node runs or forwards) does its checks in this one condition.
        return GateOp(unitary_from_proto(op.gate, n), qubits, op)
    if not qubits:
        raise InvalidOperation("operation names no qubit")
    if not all(qubits):
        raise InvalidOperation("operation names an empty qubit id")
    if kind == "gate":
        if len(set(qubits)) != n:
            raise InvalidOperation(f"gate names the same qubit twice: {list(qubits)}")
        raise InvalidOperation(f"gates act on 1 or 2 qubits, got {n}")
    if n != 1:
        raise InvalidOperation(f"{kind or 'operation'} takes exactly one qubit, got {n}")
    if kind == "measure":
        if op.measure.basis not in BASIS_NAMES:
            raise InvalidOperation(f"unknown measurement basis code {op.measure.basis}")
        return MeasureOp(qubits[0], BASIS_NAMES[op.measure.basis], op.measure.keep)
    if kind == "reset":
        return ResetOp(qubits[0])
    if kind == "discard":
        return DiscardOp(qubits[0])
    if kind == "wait":
        d = op.wait.duration_ns
        if not 0 <= d <= MAX_WAIT_NS:
            raise InvalidOperation(f"wait duration_ns must be between 0 and {MAX_WAIT_NS}, got {d}")
        return WaitOp(qubits[0], d)
    raise InvalidOperation("operation has no kind: give a gate, measure, reset, discard or wait")


def ops_from_proto(ops: Sequence[t.Operation]) -> list[Op]:
    n = len(ops)
    if not n:
        raise InvalidOperation("the operation list is empty")
    if n > 10_000:
        raise InvalidOperation(f"at most 10000 operations per call, got {n}")
    return [op_from_proto(o) for o in ops]


# ----------------------------------------------------------------------- building (client side)
def gate_to_proto(gate: cirq.Gate | str | np.ndarray, *, angle: float | None = None) -> t.Gate:
    """A gate message from a name ("H", "CNOT", "RX" with angle), a Cirq gate or a unitary matrix."""
    if isinstance(gate, str):
        name = gate.upper()
        if name in ("RX", "RY", "RZ", "PHASE"):
            if angle is None:
                raise InvalidOperation(f"{name} needs an angle")
            return t.Gate(rotation=t.Rotation(axis=name, angle_rad=float(angle)))
        if name == "CX":
            name = "CNOT"
        if name not in GATE_NAMES:
            raise InvalidOperation(f"unknown gate name {gate!r}; known: {', '.join(sorted(GATE_NAMES))}")
        return t.Gate(named=t.NamedGate.Name(GATE_NAMES[name]))
    if isinstance(gate, cirq.Gate):
        for code, g in NAMED_GATES.items():
            if g == gate:
                return t.Gate(named=t.NamedGate.Name(code))
        if not cirq.has_unitary(gate):
            raise InvalidOperation(f"{gate!r} has no unitary")
        gate = np.asarray(cirq.unitary(gate))
    m = np.asarray(gate, dtype=complex)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InvalidOperation(f"a gate matrix must be square, got shape {m.shape}")
    return t.Gate(matrix=t.Matrix(dim=m.shape[0], real=m.real.ravel().tolist(), imag=m.imag.ravel().tolist()))


def group_to_proto(shipment: Shipment) -> t.GroupState:
    """A group in transit (state, each qubit's location and epoch) as its wire form."""
    state = shipment.state
    msg = t.GroupState(
        qubits=list(state.qubits),
        locations=list(shipment.locations),
        last_ns=list(state.last_ns),
        mixed=state.mixed,
        data=state.to_bytes(),
    )
    if any(shipment.epochs):
        msg.epochs.extend(shipment.epochs)
    return msg


def group_from_proto(msg: t.GroupState) -> Shipment:
    """A group in transit from its wire form (validated: sizes, one location and epoch per qubit)."""
    if len(msg.locations) != len(msg.qubits):
        raise InvalidOperation("group state: one location per qubit is required")
    n = len(msg.qubits)
    if n == 0 or n > 24:
        raise InvalidOperation(f"group state of {n} qubits is out of range")
    if msg.epochs and len(msg.epochs) != n:
        raise InvalidOperation("group state: one epoch per qubit (or none) is required")
    state = GroupState.from_bytes(list(msg.qubits), msg.data, mixed=msg.mixed, last_ns=list(msg.last_ns))
    return Shipment(state, tuple(msg.locations), tuple(msg.epochs) if msg.epochs else (0,) * n)


def txn_to_proto(txn: Txn) -> p.Txn:
    """An operation's ownership-protocol stamp as its wire form."""
    return p.Txn(born_ns=txn.born_ns, node=txn.node, seq=txn.seq)


def txn_from_proto(msg: p.Txn) -> Txn | None:
    """An operation's stamp from its wire form (None when the request carries none)."""
    if not msg.node:
        return None
    return Txn(msg.born_ns, msg.node, msg.seq)


def bases_from_bytes(data: bytes, count: int, what: str) -> np.ndarray:
    if not data:
        return np.zeros(count, dtype=np.uint8)
    if len(data) != count:
        raise InvalidOperation(f"{what}: {len(data)} basis bytes for {count} pairs")
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.max(initial=0) > 2:
        raise InvalidOperation(f"{what}: basis codes are 0 (Z), 1 (X) or 2 (Y)")
    return arr


def op_to_proto(op: Op) -> t.Operation:
    """The wire form of a domain operation (gates travel as their unitary). A gate decoded from the wire
    returns that same message (part of the incoming request): copy it into a new message, never mutate it."""
    if isinstance(op, GateOp):
        if isinstance(op.wire, t.Operation):
            return op.wire
        u = op.unitary
        return t.Operation(
            qubits=list(op.qubits),
            gate=t.Gate(matrix=t.Matrix(dim=u.shape[0], real=u.real.ravel().tolist(), imag=u.imag.ravel().tolist())),
        )
    if isinstance(op, MeasureOp):
        return t.Operation(qubits=[op.qubit], measure=t.Measure(basis=BASIS_CODES[op.basis], keep=op.keep))
    if isinstance(op, ResetOp):
        return t.Operation(qubits=[op.qubit], reset=t.Reset())
    if isinstance(op, WaitOp):
        return t.Operation(qubits=[op.qubit], wait=t.Wait(duration_ns=op.duration_ns))
    return t.Operation(qubits=[op.qubit], discard=t.Discard())
