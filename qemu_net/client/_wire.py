"""Request builders and response parsers shared by the sync and asyncio clients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.errors import InvalidOperation
from qemu_net._serde.quantum import BASIS_CODES, gate_to_proto
from qemu_net.node.limits import Limits

BASIS_BYTE = {"Z": 0, "X": 1, "Y": 2}

CHANNEL_OPTIONS = [
    *Limits().grpc_options(),  # message sizes: the nodes' default limits (qemu_net.node.limits)
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True)
class NodeInfo:
    name: str
    virtual_time_ns: int
    qubits_in_use: int
    memory_qubits: int
    neighbours: tuple[str, ...]
    inspect_allowed: bool
    groups_held: int


def info_from_proto(m: n.NodeInfo) -> NodeInfo:
    return NodeInfo(m.name, m.virtual_time_ns, m.qubits_in_use, m.memory_qubits, tuple(m.neighbours),
                    m.inspect_allowed, m.groups_held)


def qubit_id(q: object) -> str:
    qid = getattr(q, "id", q)
    if not isinstance(qid, str) or not qid:
        raise InvalidOperation(f"expected a qubit or a qubit id, got {q!r}")
    return qid


def basis_code(basis: str) -> int:
    try:
        return BASIS_CODES[basis.upper()]
    except (KeyError, AttributeError):
        raise InvalidOperation(f"unknown basis {basis!r}; use 'Z', 'X' or 'Y'") from None


def gate_op(gate: object, qubits: Sequence[object], angle: float | None = None) -> t.Operation:
    return t.Operation(qubits=[qubit_id(q) for q in qubits], gate=gate_to_proto(gate, angle=angle))  # type: ignore[arg-type]


def measure_op(qubit: object, basis: str = "Z", keep: bool = False) -> t.Operation:
    return t.Operation(qubits=[qubit_id(qubit)], measure=t.Measure(basis=basis_code(basis), keep=keep))


def reset_op(qubit: object) -> t.Operation:
    return t.Operation(qubits=[qubit_id(qubit)], reset=t.Reset())


def wait_op(qubit: object, seconds: float) -> t.Operation:
    """Let `seconds` of virtual time pass for a qubit in memory (it decays with its node's T1/T2)."""
    if not 0 <= seconds <= 1e6:
        raise InvalidOperation(f"a wait takes 0 to 1e6 seconds, got {seconds}")
    return t.Operation(qubits=[qubit_id(qubit)], wait=t.Wait(duration_ns=int(round(seconds * 1e9))))


def bases_bytes(bases: Sequence[str] | np.ndarray | str | None, count: int) -> bytes:
    if bases is None:
        return b""
    if isinstance(bases, str):
        return bytes([BASIS_BYTE[basis_code_name(bases)]]) * count
    arr = np.asarray(bases)
    if arr.dtype.kind in "US":
        arr = np.array([BASIS_BYTE[basis_code_name(str(b))] for b in arr], dtype=np.uint8)
    return arr.astype(np.uint8).tobytes()


def basis_code_name(b: str) -> str:
    name = b.upper()
    if name not in BASIS_BYTE:
        raise InvalidOperation(f"unknown basis {b!r}; use 'Z', 'X' or 'Y'")
    return name


def density_from_proto(m: n.InspectResponse) -> np.ndarray:
    return np.frombuffer(m.density_matrix, dtype=np.complex128).reshape(m.dim, m.dim).copy()


def new_session() -> str:
    return uuid.uuid4().hex[:16]


def protocol_request(session: str, timeout_s: float, **role: object) -> pr.ProtocolRequest:
    return pr.ProtocolRequest(session_id=session, timeout_s=timeout_s, **role)  # type: ignore[arg-type]


@dataclass(frozen=True)
class BatchOutcomes:
    """Result of a create-and-measure EPR batch at the node that asked for it."""

    batch_id: str
    outcomes: np.ndarray = field(repr=False)
    attempts: int
    virtual_time_ns: int
