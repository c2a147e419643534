"""The SDK's request builders and response parsers (no I/O; import-light: no Cirq, no numpy at import).

Every message the client SDK sends is built here and every answer it reads is turned into plain values
here; the synchronous (`qemu_net.client.sync`) and asyncio (`qemu_net.client.aio`) shells only move them
through a transport (`qemu_net.client._transport`). numpy is imported inside the few functions that really
handle a matrix, a state or an outcome array, so ``import qemu_net.client`` stays light.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import session_pb2 as s
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.errors import InvalidOperation

if TYPE_CHECKING:
    import numpy as np

#: The role messages of `RunProtocol` (``pr.TeleportSend``, ``pr.ChainNode``, ...), for the SDK's protocol
#: and QKD modules, which build them here-through rather than importing generated code themselves.
roles = pr

#: Message types the shells name in signatures.
Operation = t.Operation
ProtocolRequest = pr.ProtocolRequest
ProtocolResult = pr.ProtocolResult

#: Metadata key carrying a client's session id (the nodes read the same key, `qemu_net.node.sessions`).
SESSION_METADATA = "qnet-session"

#: The nodes' default gRPC message-size limit (`qemu_net.node.limits.Limits.max_message_bytes`; a test
#: checks the two agree).
DEFAULT_MAX_MESSAGE_BYTES = 80 * 1024 * 1024

CHANNEL_OPTIONS: list[tuple[str, object]] = [
    ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

#: Basis name -> wire code (messages) and -> byte (batch basis strings: 0 Z, 1 X, 2 Y).
BASIS_CODES = {"Z": t.BASIS_Z, "X": t.BASIS_X, "Y": t.BASIS_Y}
BASIS_BYTE = {"Z": 0, "X": 1, "Y": 2}

#: Gate name -> NamedGate code ("CX" is an alias of "CNOT").
GATE_NAMES: dict[str, t.NamedGate] = {name: cast("t.NamedGate", code) for name, code in t.NamedGate.items()
                                      if code != t.NAMED_GATE_UNSPECIFIED}
GATE_NAMES["CX"] = GATE_NAMES["CNOT"]
ROTATIONS = ("RX", "RY", "RZ", "PHASE")

#: How Cirq prints the gates the wire names (matched only for gate objects from the cirq package).
_CIRQ_NAMES = {"I": "I", "X": "X", "Y": "Y", "Z": "Z", "H": "H", "S": "S", "S**-1": "S_DAG", "T": "T",
               "T**-1": "T_DAG", "X**0.5": "SQRT_X", "X**-0.5": "SQRT_X_DAG", "CNOT": "CNOT", "CZ": "CZ",
               "SWAP": "SWAP", "ISWAP": "ISWAP"}


# ----------------------------------------------------------------------------- values
@dataclass(frozen=True)
class NodeInfo:
    """What a node reports about itself (`Node.info()`)."""

    name: str
    virtual_time_ns: int
    qubits_in_use: int
    memory_qubits: int
    neighbours: tuple[str, ...]
    inspect_allowed: bool
    groups_held: int


@dataclass(frozen=True)
class BatchOutcomes:
    """Result of a create-and-measure EPR batch at the node that asked for it."""

    batch_id: str
    outcomes: np.ndarray = field(repr=False)
    attempts: int
    virtual_time_ns: int


@dataclass(frozen=True)
class PairIds:
    """One EPR pair as the node reported it: the qubit ids of its two halves."""

    pair_id: str
    local_qubit: str
    remote_qubit: str
    ready_ns: int
    attempts: int


# ----------------------------------------------------------------------------- operations
def qubit_id(q: object) -> str:
    """The id of a qubit handle (anything with an ``id``) or of an id given as a string."""
    qid = getattr(q, "id", q)
    if not isinstance(qid, str) or not qid:
        raise InvalidOperation(f"expected a qubit or a qubit id, got {q!r}")
    return qid


def basis_code(basis: str) -> t.Basis:
    """The wire code of a basis name ('Z', 'X' or 'Y', any case)."""
    try:
        return BASIS_CODES[basis.upper()]
    except (KeyError, AttributeError):
        raise InvalidOperation(f"unknown basis {basis!r}; use 'Z', 'X' or 'Y'") from None


def basis_code_name(b: str) -> str:
    """A basis name checked and upper-cased."""
    name = b.upper()
    if name not in BASIS_BYTE:
        raise InvalidOperation(f"unknown basis {b!r}; use 'Z', 'X' or 'Y'")
    return name


def matrix_to_proto(u: Any) -> t.Matrix:
    """A square complex matrix (anything numpy reads) as its wire form."""
    import numpy as np

    m = np.asarray(u, dtype=np.complex128)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InvalidOperation(f"a gate matrix must be square, got shape {m.shape}")
    return t.Matrix(dim=m.shape[0], real=m.real.ravel().tolist(), imag=m.imag.ravel().tolist())


def gate_to_proto(gate: object, *, angle: float | None = None) -> t.Gate:
    """A gate message from a name ("H", "CNOT", "RX" with angle), a Cirq gate or a unitary matrix.

    Cirq is not imported: a gate object from the cirq package whose printed form is one of the named
    gates travels as that name; any other object with a ``_unitary_()`` method travels as its matrix."""
    if isinstance(gate, str):
        name = gate.upper()
        if name in ROTATIONS:
            if angle is None:
                raise InvalidOperation(f"{name} needs an angle")
            if not math.isfinite(angle):
                raise InvalidOperation(f"rotation angle must be a finite number, got {angle}")
            axis = cast("t.RotationAxis", t.RotationAxis.Value(name))
            return t.Gate(rotation=t.Rotation(axis=axis, angle_rad=float(angle)))
        code = GATE_NAMES.get(name)
        if code is None:
            raise InvalidOperation(f"unknown gate name {gate!r}; known: {', '.join(sorted(GATE_NAMES))}")
        return t.Gate(named=code)
    unitary = getattr(gate, "_unitary_", None)
    if unitary is not None and not isinstance(gate, type):
        if type(gate).__module__.split(".")[0] == "cirq" and not getattr(gate, "global_shift", 0):
            named = _CIRQ_NAMES.get(str(gate))
            if named is not None:
                return t.Gate(named=GATE_NAMES[named])
        u = unitary()
        if u is None or u is NotImplemented:
            raise InvalidOperation(f"{gate!r} has no unitary")
        return t.Gate(matrix=matrix_to_proto(u))
    if isinstance(gate, (bytes, Mapping)) or not hasattr(gate, "__len__"):
        raise InvalidOperation(f"a gate is a name, a Cirq gate or a unitary matrix, got {gate!r}")
    return t.Gate(matrix=matrix_to_proto(gate))


def gate_op(gate: object, qubits: Sequence[object], angle: float | None = None) -> t.Operation:
    """An operation applying `gate` to `qubits` (handles or ids)."""
    return t.Operation(qubits=[qubit_id(q) for q in qubits], gate=gate_to_proto(gate, angle=angle))


def measure_op(qubit: object, basis: str = "Z", keep: bool = False) -> t.Operation:
    """An operation measuring `qubit` in `basis` (kept in memory afterwards with `keep`)."""
    return t.Operation(qubits=[qubit_id(qubit)], measure=t.Measure(basis=basis_code(basis), keep=keep))


def reset_op(qubit: object) -> t.Operation:
    """An operation resetting `qubit` to |0>."""
    return t.Operation(qubits=[qubit_id(qubit)], reset=t.Reset())


def wait_op(qubit: object, seconds: float) -> t.Operation:
    """Let `seconds` of virtual time pass for a qubit in memory (it decays with its node's T1/T2)."""
    if not 0 <= seconds <= 1e6:
        raise InvalidOperation(f"a wait takes 0 to 1e6 seconds, got {seconds}")
    return t.Operation(qubits=[qubit_id(qubit)], wait=t.Wait(duration_ns=round(seconds * 1e9)))


def bases_bytes(bases: Sequence[str] | str | np.ndarray | None, count: int) -> bytes:
    """Basis choices of a batch (one name for all, one per pair, or an array of codes 0/1/2) as bytes."""
    if bases is None:
        return b""
    if isinstance(bases, str):
        return bytes([BASIS_BYTE[basis_code_name(bases)]]) * count
    dtype = getattr(bases, "dtype", None)
    if dtype is not None and dtype.kind not in "US":
        import numpy as np

        return np.asarray(bases).astype(np.uint8).tobytes()
    return bytes(BASIS_BYTE[basis_code_name(str(b))] for b in bases)


def uint8_array(data: bytes) -> np.ndarray:
    """Outcome bytes as a writable uint8 array."""
    import numpy as np

    return np.frombuffer(data, dtype=np.uint8).copy()


# ----------------------------------------------------------------------------- node RPCs
def get_info_request() -> n.GetInfoRequest:
    """Ask a node about itself."""
    return n.GetInfoRequest()


def info_from_proto(m: n.NodeInfo) -> NodeInfo:
    """A node's self-description."""
    return NodeInfo(m.name, m.virtual_time_ns, m.qubits_in_use, m.memory_qubits, tuple(m.neighbours),
                    m.inspect_allowed, m.groups_held)


def allocate_request(count: int) -> n.AllocateRequest:
    """Allocate `count` fresh qubits in |0>."""
    if count < 1:
        raise InvalidOperation(f"allocate at least one qubit, got {count}")
    return n.AllocateRequest(count=count)


def allocated_from_proto(m: n.AllocateResponse) -> list[str]:
    """The ids of the qubits allocated."""
    return list(m.qubits)


def free_request(qubits: Sequence[object]) -> n.FreeRequest:
    """Free qubits (handles or ids)."""
    return n.FreeRequest(qubits=[qubit_id(q) for q in qubits])


def apply_request(operations: Sequence[t.Operation]) -> n.ApplyRequest:
    """Run operations in one call."""
    return n.ApplyRequest(operations=operations)


def outcomes_from_proto(m: n.ApplyResponse) -> list[int]:
    """The measurement outcomes of an Apply, in operation order."""
    return list(m.outcomes)


def send_qubit_request(qubit: object, to: str) -> n.SendQubitRequest:
    """Send a qubit over the quantum link to neighbour `to`."""
    return n.SendQubitRequest(qubit=qubit_id(qubit), to=to)


def sent_from_proto(m: n.SendQubitResponse) -> bool:
    """Whether the photon arrived (False: it was lost on the link)."""
    return not m.lost


def inspect_request(qubits: Sequence[object]) -> n.InspectRequest:
    """Ask for the reduced density matrix of qubits (debugging)."""
    return n.InspectRequest(qubits=[qubit_id(q) for q in qubits])


def density_from_proto(m: n.InspectResponse) -> np.ndarray:
    """The density matrix an Inspect returned."""
    import numpy as np

    if len(m.density_matrix) != 16 * m.dim * m.dim:
        raise InvalidOperation(f"density matrix of dim {m.dim} has {len(m.density_matrix)} bytes")
    return np.frombuffer(m.density_matrix, dtype=np.complex128).reshape(m.dim, m.dim).copy()


def create_epr_request(peer: str, count: int = 1) -> n.CreateEprRequest:
    """Create `count` EPR pairs with neighbour `peer`."""
    return n.CreateEprRequest(peer=peer, count=count)


def pairs_from_proto(m: n.CreateEprResponse) -> list[PairIds]:
    """The pairs a CreateEpr delivered."""
    return [PairIds(p.pair_id, p.local_qubit, p.remote_qubit, p.ready_ns, p.attempts) for p in m.pairs]


def create_measure_epr_request(peer: str, count: int, local_bases: Any = None,
                               remote_bases: Any = None) -> n.CreateMeasureEprRequest:
    """Create and measure `count` pairs with `peer` in the bases given (default Z)."""
    return n.CreateMeasureEprRequest(peer=peer, count=count, local_bases=bases_bytes(local_bases, count),
                                     remote_bases=bases_bytes(remote_bases, count))


def batch_from_proto(m: n.CreateMeasureEprResponse) -> BatchOutcomes:
    """This end's outcomes of a create-and-measure batch."""
    return BatchOutcomes(m.batch_id, uint8_array(m.local_outcomes), m.attempts, m.virtual_time_ns)


def fetch_epr_outcomes_request(batch_id: str, timeout_s: float) -> n.FetchEprOutcomesRequest:
    """Fetch the far end's outcomes of a batch (waiting up to `timeout_s`)."""
    return n.FetchEprOutcomesRequest(batch_id=batch_id, timeout_s=timeout_s)


def fetched_from_proto(m: n.FetchEprOutcomesResponse) -> np.ndarray:
    """The far end's outcomes of a batch."""
    return uint8_array(m.outcomes)


def send_classical_request(to: str, channel: str, payload: bytes, message_id: str = "") -> n.SendClassicalRequest:
    """Send a classical message (named by `message_id`: sent at most once however often retried)."""
    return n.SendClassicalRequest(to=to, channel=channel, payload=payload, message_id=message_id)


def receive_classical_request(sender: str, channel: str, timeout_s: float, ack: int) -> n.ReceiveClassicalRequest:
    """Receive the next message from `sender` on `channel`, acknowledging delivery `ack`."""
    return n.ReceiveClassicalRequest(sender=sender, channel=channel, timeout_s=timeout_s, acknowledged=True,
                                     ack=ack)


# ----------------------------------------------------------------------------- protocol roles
def new_session() -> str:
    """A fresh protocol session id (all roles of one run share it)."""
    return uuid.uuid4().hex[:16]


def role_field(role: Mapping[str, Any]) -> str:
    """The oneof field name of a role given as ``{field: message}``."""
    if len(role) != 1:
        raise InvalidOperation(f"a role is one {{field: message}} entry, got {sorted(role)}")
    return next(iter(role))


def protocol_request(session: str, timeout_s: float, **role: Any) -> pr.ProtocolRequest:
    """A RunProtocol request for one role (``teleport_send=TeleportSend(...)``)."""
    try:
        return pr.ProtocolRequest(session_id=session, timeout_s=timeout_s, **role)
    except ValueError as exc:  # an unknown role field
        raise InvalidOperation(f"not a protocol role: {sorted(role)} ({exc})") from None


def teleport_roles(src: str, to: str, qubit: str, pair: tuple[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The two roles of a teleport from `src` to `to` (over an existing pair's halves, or a new link pair)."""
    mine, theirs = pair if pair is not None else ("", "")
    return {to: {"teleport_receive": pr.TeleportReceive(peer=src, pair_qubit=theirs)},
            src: {"teleport_send": pr.TeleportSend(peer=to, qubit=qubit, pair_qubit=mine)}}


def teleported_qubit(results: Mapping[str, pr.ProtocolResult], to: str) -> str:
    """The id of the qubit a teleport delivered at `to`."""
    return str(results[to].teleport_receive.qubit)


def program_to_proto(program: Any, *, repetitions: int = 1, keep: bool = False) -> pr.CircuitRun:
    """A compiled distributed circuit (`qemu_net.protocols.circuits.Program`) as its wire form."""
    kind = pr.CircuitOp
    ops = []
    for op in program.ops:
        name = type(op).__name__
        if name == "Local":
            ops.append(kind(kind=kind.LOCAL, qubits=op.qubits, u=matrix_to_proto(op.u)))
        elif name == "Controlled":
            ops.append(kind(kind=kind.CONTROLLED, qubits=(op.control, op.target), u=matrix_to_proto(op.u)))
        else:
            ops.append(kind(kind=kind.MEASURE, qubits=op.qubits, key=op.key))
    return pr.CircuitRun(assignment=program.assignment, ops=ops, repetitions=repetitions, keep=keep)


# ----------------------------------------------------------------------------- sessions and keys
def session_metadata(session_id: str) -> tuple[tuple[str, str], ...]:
    """The call metadata naming a client session."""
    return ((SESSION_METADATA, session_id),)


def renew_session_request() -> s.RenewSessionRequest:
    """Renew this client's session lease at a node."""
    return s.RenewSessionRequest()


def close_session_request() -> s.CloseSessionRequest:
    """End this client's session at a node (its qubits are freed there)."""
    return s.CloseSessionRequest()


def lease_from_proto(m: s.SessionLease) -> float:
    """The lease a node grants, in seconds."""
    return float(m.lease_s)


def key_status_request(peer: str) -> k.KeyStatusRequest:
    """Ask what a node holds for `peer` (ETSI GS QKD 014 "Get status")."""
    return k.KeyStatusRequest(peer=peer)


def get_keys_request(peer: str, number: int, size_bits: int) -> k.GetKeysRequest:
    """Master side: `number` fresh keys of `size_bits` shared with `peer`."""
    if number < 1 or size_bits < 1:
        raise InvalidOperation(f"ask for at least one key of at least 8 bits (number={number}, size_bits={size_bits})")
    return k.GetKeysRequest(peer=peer, number=number, size_bits=size_bits)


def get_keys_with_ids_request(peer: str, key_ids: Sequence[str]) -> k.GetKeysWithIdsRequest:
    """Slave side: the keys the peer's application was given, by id."""
    return k.GetKeysWithIdsRequest(peer=peer, key_ids=list(key_ids))


def keys_from_proto(m: k.KeyContainer) -> list[tuple[str, int, bytes]]:
    """The delivered keys as (key id, size in bits, key bytes)."""
    return [(key.key_id, key.size_bits, key.key) for key in m.keys]
