"""Wire forms of RunProtocol: each role's request read into plain values, its result written back.

A role is named by its request message type: `role_from_proto` finds the set field of the
ProtocolRequest's ``role`` oneof and the `RoleCodec` registered for that field's message type, and
`protocol_result_to_proto` writes the result into the ProtocolResult ``result`` oneof field with the
same field number (checked against the result's message type at import).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from google.protobuf.message import Message

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.errors import InvalidOperation
from qemu_net.protocols import circuits, ghz, purify, superdense, swap
from qemu_net.qkd import QkdResult

P = TypeVar("P")
R = TypeVar("R")
Kwargs = dict[str, Any]
#: The RunProtocol request and reply types, for callers that only pass them through.
ProtocolRequest = pr.ProtocolRequest
ProtocolResult = pr.ProtocolResult


@dataclass(frozen=True, eq=False)
class RoleCodec(Generic[P, R]):
    """How one role's request message is read (`decode`) and its result written (`encode`)."""

    request_type: type[Message]
    result_type: type[Message]
    decode: Callable[[Any], P]
    encode: Callable[[R], Message]


_REQUEST_ROLES = pr.ProtocolRequest.DESCRIPTOR.oneofs_by_name["role"]
_RESULT_BY_NUMBER = {f.number: f for f in pr.ProtocolResult.DESCRIPTOR.oneofs_by_name["result"].fields}
_CODECS: dict[type[Message], RoleCodec[Any, Any]] = {}
#: The ProtocolResult field a role's result goes in, by request message type.
_RESULT_FIELD: dict[type[Message], str] = {}


def _codec(request_type: type[Message], result_type: type[Message], decode: Callable[[Any], P],
           encode: Callable[[R], Message]) -> RoleCodec[P, R]:
    [req_field] = [f for f in _REQUEST_ROLES.fields if f.message_type is request_type.DESCRIPTOR]
    res_field = _RESULT_BY_NUMBER[req_field.number]
    if res_field.message_type is not result_type.DESCRIPTOR:
        raise TypeError(f"ProtocolResult field {res_field.number} is not a {result_type.DESCRIPTOR.name}")
    codec = RoleCodec(request_type, result_type, decode, encode)
    _CODECS[request_type] = codec
    _RESULT_FIELD[request_type] = res_field.name
    return codec


def role_from_proto(request: pr.ProtocolRequest) -> tuple[str, RoleCodec[Any, Any], Message]:
    """The role a ProtocolRequest names: the oneof field's name, its codec and its (undecoded) message."""
    which = request.WhichOneof("role")
    if which is None:
        raise InvalidOperation("the protocol request names no role")
    params: Message = getattr(request, which)  # the oneof's set field, named by WhichOneof
    codec = _CODECS.get(type(params))
    if codec is None:
        raise InvalidOperation(f"this node does not implement the role {which!r}")
    return which, codec, params


def protocol_result_to_proto(session_id: str, codec: RoleCodec[Any, Any], result: Message, *, virtual_time_ns: int,
                             wall_time_s: float, virtual_start_ns: int) -> pr.ProtocolResult:
    """The ProtocolResult carrying an encoded role result in the oneof field that matches its request."""
    out = pr.ProtocolResult(session_id=session_id, virtual_time_ns=virtual_time_ns, wall_time_s=wall_time_s,
                            virtual_start_ns=virtual_start_ns)
    getattr(out, _RESULT_FIELD[codec.request_type]).CopyFrom(result)
    return out


# ------------------------------------------------------------------------------------------ matrices
def matrix_from_proto(m: t.Matrix, dims: tuple[int, ...]) -> np.ndarray | None:
    """A unitary from a Matrix message (None when empty); `dims` lists the accepted dimensions."""
    if m.dim == 0 and not m.real:
        return None
    if m.dim not in dims or len(m.real) != m.dim * m.dim or len(m.imag) not in (0, m.dim * m.dim):
        raise InvalidOperation(f"expected a {' or '.join(f'{d}x{d}' for d in dims)} matrix with dim*dim entries")
    u = np.array(m.real, dtype=float) + 1j * (np.array(m.imag, dtype=float) if len(m.imag) else 0)
    u = u.reshape(m.dim, m.dim).astype(np.complex128)
    if not np.all(np.isfinite(u)) or not np.allclose(u @ u.conj().T, np.eye(m.dim), atol=1e-8):
        raise InvalidOperation("the matrix is not unitary (U U^dagger != I within 1e-8)")
    return u


def matrix_to_proto(u: np.ndarray) -> t.Matrix:
    """A Matrix message of a square complex matrix."""
    u = np.asarray(u, dtype=np.complex128)
    return t.Matrix(dim=u.shape[0], real=u.real.ravel().tolist(), imag=u.imag.ravel().tolist())


# ------------------------------------------------------------------------------------- teleportation
def teleport_send_from_proto(p: pr.TeleportSend) -> Kwargs:
    """The sender's arguments."""
    return {"peer": p.peer, "qubit": p.qubit, "pair_qubit": p.pair_qubit}


def teleport_send_result_to_proto(m: tuple[int, int]) -> pr.TeleportSendResult:
    """The two Bell-measurement outcomes."""
    return pr.TeleportSendResult(m1=m[0], m2=m[1])


def teleport_receive_from_proto(p: pr.TeleportReceive) -> Kwargs:
    """The receiver's arguments."""
    return {"peer": p.peer, "pair_qubit": p.pair_qubit}


def teleport_receive_result_to_proto(qubit: str) -> pr.TeleportReceiveResult:
    """The qubit now holding the teleported state."""
    return pr.TeleportReceiveResult(qubit=qubit)


TELEPORT_SEND = _codec(pr.TeleportSend, pr.TeleportSendResult, teleport_send_from_proto,
                       teleport_send_result_to_proto)
TELEPORT_RECEIVE = _codec(pr.TeleportReceive, pr.TeleportReceiveResult, teleport_receive_from_proto,
                          teleport_receive_result_to_proto)


# ------------------------------------------------------------------------- repeaters and entanglement
def chain_node_from_proto(p: pr.ChainNode) -> Kwargs:
    """A chain node's arguments."""
    return {"path": list(p.path), "pairs": p.pairs, "measure_bases": p.measure_bases}


def chain_result_to_proto(o: swap.ChainOutcome) -> pr.ChainResult:
    """A chain node's outcome."""
    return pr.ChainResult(qubits=o.qubits, outcomes=o.outcomes, epr_pairs=o.epr_pairs, swaps=o.swaps)


def purify_end_from_proto(p: pr.PurifyEnd) -> Kwargs:
    """A purification end's arguments (DEJMPS unless the request names a method)."""
    return {"peer": p.peer, "method": purify.Method(p.method or purify.Method.DEJMPS), "rounds": p.rounds,
            "alice": p.alice, "qubits": list(p.qubits), "repetitions": p.repetitions,
            "measure_bases": p.measure_bases, "route": list(p.route)}


def purify_result_to_proto(o: purify.PurifyOutcome) -> pr.PurifyResult:
    """A purification end's outcome."""
    return pr.PurifyResult(success=o.success, qubits=o.qubits, outcomes=o.outcomes, consumed=o.consumed)


def relay_node_from_proto(p: pr.RelayNode) -> Kwargs:
    """A relay's two neighbours."""
    return {"left": p.left, "right": p.right}


def relay_result_to_proto(forwarded: int) -> pr.RelayResult:
    """How many messages the relay forwarded."""
    return pr.RelayResult(forwarded=forwarded)


def ghz_node_from_proto(p: pr.GhzNode) -> Kwargs:
    """A GHZ participant's arguments."""
    return {"nodes": list(p.nodes), "parents": list(p.parents), "shots": p.shots, "bases": p.bases,
            "depolarize_p": p.depolarize}


def ghz_result_to_proto(o: ghz.GhzOutcome) -> pr.GhzResult:
    """A GHZ participant's outcome."""
    return pr.GhzResult(qubits=o.qubits, outcomes=o.outcomes, epr_pairs=o.epr_pairs)


def superdense_send_from_proto(p: pr.SuperdenseSend) -> Kwargs:
    """The sender's peer and two-bit messages."""
    return {"peer": p.peer, "messages": p.messages}


def superdense_send_result_to_proto(o: superdense.SendOutcome) -> pr.SuperdenseSendResult:
    """How many messages were sent and lost."""
    return pr.SuperdenseSendResult(sent=o.sent, lost=o.lost)


def superdense_receive_from_proto(p: pr.SuperdenseReceive) -> Kwargs:
    """The receiver's peer and message count."""
    return {"peer": p.peer, "count": p.count}


def superdense_receive_result_to_proto(messages: bytes) -> pr.SuperdenseReceiveResult:
    """The decoded messages."""
    return pr.SuperdenseReceiveResult(messages=messages)


CHAIN_NODE = _codec(pr.ChainNode, pr.ChainResult, chain_node_from_proto, chain_result_to_proto)
PURIFY_END = _codec(pr.PurifyEnd, pr.PurifyResult, purify_end_from_proto, purify_result_to_proto)
RELAY_NODE = _codec(pr.RelayNode, pr.RelayResult, relay_node_from_proto, relay_result_to_proto)
GHZ_NODE = _codec(pr.GhzNode, pr.GhzResult, ghz_node_from_proto, ghz_result_to_proto)
SUPERDENSE_SEND = _codec(pr.SuperdenseSend, pr.SuperdenseSendResult, superdense_send_from_proto,
                         superdense_send_result_to_proto)
SUPERDENSE_RECEIVE = _codec(pr.SuperdenseReceive, pr.SuperdenseReceiveResult, superdense_receive_from_proto,
                            superdense_receive_result_to_proto)


# ------------------------------------------------------------------------------------ nonlocal gates
def nonlocal_control_from_proto(p: pr.NonlocalControl) -> Kwargs:
    """The control end's peer and qubit."""
    return {"peer": p.peer, "qubit": p.qubit}


def nonlocal_result_to_proto(epr_pairs: int | None) -> pr.NonlocalResult:
    """The EPR pairs a nonlocal gate used (None: not counted at this end)."""
    return pr.NonlocalResult() if epr_pairs is None else pr.NonlocalResult(epr_pairs=epr_pairs)


def nonlocal_target_from_proto(p: pr.NonlocalTarget) -> Kwargs:
    """The target end's peer, qubit and optional 2x2 unitary."""
    return {"peer": p.peer, "qubit": p.qubit, "u": matrix_from_proto(p.u, (2,))}


def teleported_gate_home_from_proto(p: pr.TeleportedGateHome) -> Kwargs:
    """The home end's peer, qubit and required 4x4 unitary."""
    u = matrix_from_proto(p.u, (4,))
    if u is None:
        raise InvalidOperation("a teleported gate needs its 4x4 unitary")
    return {"peer": p.peer, "qubit": p.qubit, "u": u}


def teleported_gate_home_result_to_proto(epr_pairs: int) -> pr.TeleportedGateResult:
    """The EPR pairs the home end used."""
    return pr.TeleportedGateResult(epr_pairs=epr_pairs)


def teleported_gate_remote_from_proto(p: pr.TeleportedGateRemote) -> Kwargs:
    """The remote end's peer and qubit."""
    return {"peer": p.peer, "qubit": p.qubit}


def teleported_gate_remote_result_to_proto(qubit: str) -> pr.TeleportedGateResult:
    """The qubit holding the remote end's state (one EPR pair used)."""
    return pr.TeleportedGateResult(qubit=qubit, epr_pairs=1)


NONLOCAL_CONTROL = _codec(pr.NonlocalControl, pr.NonlocalResult, nonlocal_control_from_proto,
                          nonlocal_result_to_proto)
NONLOCAL_TARGET = _codec(pr.NonlocalTarget, pr.NonlocalResult, nonlocal_target_from_proto, nonlocal_result_to_proto)
TELEPORTED_GATE_HOME = _codec(pr.TeleportedGateHome, pr.TeleportedGateResult, teleported_gate_home_from_proto,
                              teleported_gate_home_result_to_proto)
TELEPORTED_GATE_REMOTE = _codec(pr.TeleportedGateRemote, pr.TeleportedGateResult, teleported_gate_remote_from_proto,
                                teleported_gate_remote_result_to_proto)


# ------------------------------------------------------------------------------ distributed circuits
def program_to_proto(program: circuits.Program, *, repetitions: int = 1, keep: bool = False) -> pr.CircuitRun:
    """The CircuitRun request of a distributed program."""
    kind = pr.CircuitOp
    ops = []
    for op in program.ops:
        if isinstance(op, circuits.Local):
            ops.append(kind(kind=kind.LOCAL, qubits=op.qubits, u=matrix_to_proto(op.u)))
        elif isinstance(op, circuits.Controlled):
            ops.append(kind(kind=kind.CONTROLLED, qubits=(op.control, op.target), u=matrix_to_proto(op.u)))
        else:
            ops.append(kind(kind=kind.MEASURE, qubits=op.qubits, key=op.key))
    return pr.CircuitRun(assignment=program.assignment, ops=ops, repetitions=repetitions, keep=keep)


def program_from_proto(m: pr.CircuitRun) -> circuits.Program:
    """The distributed program a CircuitRun request carries."""
    kind = pr.CircuitOp
    ops: list[circuits.Op] = []
    for i, op in enumerate(m.ops):
        qs = tuple(op.qubits)
        if op.kind == kind.LOCAL:
            u = matrix_from_proto(op.u, (2, 4))
            if u is None or u.shape[0] != 2 ** len(qs):
                raise InvalidOperation(f"circuit op {i}: a local gate on {len(qs)} qubit(s) needs a "
                                       f"{2 ** len(qs)}x{2 ** len(qs)} unitary")
            ops.append(circuits.Local(qs, u))
        elif op.kind == kind.CONTROLLED:
            u = matrix_from_proto(op.u, (2,))
            if len(qs) != 2 or u is None:
                raise InvalidOperation(f"circuit op {i}: a controlled gate needs (control, target) and a 2x2 U")
            ops.append(circuits.Controlled(qs[0], qs[1], u))
        elif op.kind == kind.MEASURE:
            if not op.key:
                raise InvalidOperation(f"circuit op {i}: a measurement needs a key")
            ops.append(circuits.Measure(qs, op.key))
        else:
            raise InvalidOperation(f"circuit op {i}: unknown kind {op.kind}")
    return circuits.Program(tuple(m.assignment), tuple(ops))


def circuit_run_from_proto(p: pr.CircuitRun) -> Kwargs:
    """A circuit participant's program, repetitions and whether to keep the qubits."""
    return {"program": program_from_proto(p), "repetitions": p.repetitions, "keep": p.keep}


def circuit_run_result_to_proto(o: circuits.RunOutcome) -> pr.CircuitRunResult:
    """The kept qubits and measurement records of a circuit participant."""
    res = pr.CircuitRunResult(qubit_index=list(o.kept), qubit_ids=list(o.kept.values()), epr_pairs=o.epr_pairs)
    for key, (qs, rows) in o.measurements.items():
        bits = bytes(b for row in rows for b in row)
        res.measurements.append(pr.MeasurementRecord(key=key, qubits=qs, bits=bits))
    return res


CIRCUIT_RUN = _codec(pr.CircuitRun, pr.CircuitRunResult, circuit_run_from_proto, circuit_run_result_to_proto)


# ----------------------------------------------------------------------------------------------- QKD
_BB84_OPTIONAL = ("pulse_rate_hz", "mu", "nu", "p_signal", "p_decoy", "p_vacuum", "p_z", "qber_threshold",
                  "eps_sec", "eps_cor", "ldpc_f_target", "f_ec")
_E91_OPTIONAL = ("pair_rate_hz", "visibility", "p_z", "qber_threshold", "chsh_threshold", "eps_sec", "eps_cor",
                 "ldpc_f_target", "f_ec")


@dataclass(frozen=True)
class QkdRequest:
    """One end of a QKD session as requested: unset optional fields are absent from `params`, which
    keep the `BB84Params` / `E91Params` defaults (the session id and deadline are the node's to add)."""

    peer: str
    protocol: str  # "bb84" or "e91"
    alice: bool
    params: Kwargs


def _optional(msg: Any, names: tuple[str, ...]) -> Kwargs:
    return {n: getattr(msg, n) for n in names if msg.HasField(n)}


def _qkd_common(msg: Any) -> Kwargs:
    out: Kwargs = {"peer": msg.peer, "raise_on_abort": not msg.report_abort}
    if msg.cascade_passes:
        out["cascade_passes"] = msg.cascade_passes
    return out


def _alice_params(msg: Any, optional: tuple[str, ...], sizes: tuple[str, str]) -> Kwargs:
    """What only Alice's request carries: the optional parameters set, the eavesdropper's share, and the
    reconciliation method and session/block sizes when given (zero or empty: the defaults)."""
    kw = _optional(msg, optional)
    kw["eve_fraction"] = msg.eve_fraction
    kw.update({n: getattr(msg, n) for n in ("reconciliation", *sizes) if getattr(msg, n)})
    return kw


def bb84_from_proto(msg: pr.Bb84Alice | pr.Bb84Bob) -> QkdRequest:
    """A BB84 end's request."""
    kw = _qkd_common(msg)
    alice = isinstance(msg, pr.Bb84Alice)
    if isinstance(msg, pr.Bb84Alice):
        kw.update(_alice_params(msg, _BB84_OPTIONAL, ("n_pulses", "block_pulses")), decoy=not msg.single_photon)
    return QkdRequest(msg.peer, "bb84", alice, kw)


def e91_from_proto(msg: pr.E91Alice | pr.E91Bob) -> QkdRequest:
    """An E91/BBM92 end's request."""
    kw = _qkd_common(msg)
    alice = isinstance(msg, pr.E91Alice)
    if isinstance(msg, pr.E91Alice):
        kw.update(_alice_params(msg, _E91_OPTIONAL, ("n_pairs", "block_pairs")))
    elif msg.HasField("p_key"):
        kw["p_key"] = msg.p_key
    return QkdRequest(msg.peer, "e91", alice, kw)


def qkd_result_to_proto(outcome: tuple[QkdResult, int]) -> pr.QkdSessionResult:
    """Every field of a session's summary and the bits stored (the key is not part of it)."""
    result, stored_bits = outcome
    out = pr.QkdSessionResult(stored_bits=stored_bits)
    for name, value in result.summary().items():
        if name == "session_id" or value is None:
            continue
        if name == "gains":
            out.gains.extend(float(g) for g in value)
        elif name in ("qber", "ec_efficiency") and not math.isfinite(value):
            setattr(out, name, float("nan"))
        elif name == "eps_total":
            continue
        else:
            setattr(out, name, value)
    return out


BB84_ALICE = _codec(pr.Bb84Alice, pr.QkdSessionResult, bb84_from_proto, qkd_result_to_proto)
BB84_BOB = _codec(pr.Bb84Bob, pr.QkdSessionResult, bb84_from_proto, qkd_result_to_proto)
E91_ALICE = _codec(pr.E91Alice, pr.QkdSessionResult, e91_from_proto, qkd_result_to_proto)
E91_BOB = _codec(pr.E91Bob, pr.QkdSessionResult, e91_from_proto, qkd_result_to_proto)
