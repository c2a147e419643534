"""RunProtocol registrations for the protocol suite (swapping, purification, GHZ, superdense coding,
nonlocal gates, distributed circuits). Each decodes its request, calls the role in `qemu_net.protocols`,
and encodes the result; the role does the work."""

from __future__ import annotations

import numpy as np

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.errors import InvalidOperation
from qemu_net.node.context import CoreContext
from qemu_net.node.roles import _require_peer, role
from qemu_net.protocols import circuits, ghz, nonlocal_gates, purify, superdense, swap


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
    u = np.asarray(u, dtype=np.complex128)
    return t.Matrix(dim=u.shape[0], real=u.real.ravel().tolist(), imag=u.imag.ravel().tolist())


@role(pr.ChainNode, "chain_node")
def _chain_node(ctx: CoreContext, p: pr.ChainNode) -> pr.ChainResult:
    o = swap.chain_node(ctx, path=list(p.path), pairs=p.pairs, measure_bases=p.measure_bases, session=ctx.session,
                        timeout_s=ctx.timeout_s)
    return pr.ChainResult(qubits=o.qubits, outcomes=o.outcomes, epr_pairs=o.epr_pairs, swaps=o.swaps)


@role(pr.PurifyEnd, "purify_end")
def _purify_end(ctx: CoreContext, p: pr.PurifyEnd) -> pr.PurifyResult:
    _require_peer(ctx, p.peer)
    o = purify.purify_end(ctx, peer=p.peer, method=purify.Method(p.method or purify.Method.DEJMPS),
                          rounds=p.rounds, alice=p.alice, qubits=list(p.qubits), repetitions=p.repetitions,
                          measure_bases=p.measure_bases, route=list(p.route), session=ctx.session,
                          timeout_s=ctx.timeout_s)
    return pr.PurifyResult(success=o.success, qubits=o.qubits, outcomes=o.outcomes, consumed=o.consumed)


@role(pr.RelayNode, "relay_node")
def _relay_node(ctx: CoreContext, p: pr.RelayNode) -> pr.RelayResult:
    _require_peer(ctx, p.left)
    _require_peer(ctx, p.right)
    n = purify.relay_node(ctx, left=p.left, right=p.right, session=ctx.session, timeout_s=ctx.timeout_s)
    return pr.RelayResult(forwarded=n)


@role(pr.GhzNode, "ghz_node")
def _ghz_node(ctx: CoreContext, p: pr.GhzNode) -> pr.GhzResult:
    o = ghz.ghz_node(ctx, nodes=list(p.nodes), parents=list(p.parents), shots=p.shots, bases=p.bases,
                     depolarize_p=p.depolarize, session=ctx.session, timeout_s=ctx.timeout_s)
    return pr.GhzResult(qubits=o.qubits, outcomes=o.outcomes, epr_pairs=o.epr_pairs)


@role(pr.SuperdenseSend, "superdense_send")
def _superdense_send(ctx: CoreContext, p: pr.SuperdenseSend) -> pr.SuperdenseSendResult:
    _require_peer(ctx, p.peer)
    o = superdense.superdense_send(ctx, peer=p.peer, messages=p.messages, session=ctx.session,
                                   timeout_s=ctx.timeout_s)
    return pr.SuperdenseSendResult(sent=o.sent, lost=o.lost)


@role(pr.SuperdenseReceive, "superdense_receive")
def _superdense_receive(ctx: CoreContext, p: pr.SuperdenseReceive) -> pr.SuperdenseReceiveResult:
    _require_peer(ctx, p.peer)
    msgs = superdense.superdense_receive(ctx, peer=p.peer, count=p.count, session=ctx.session,
                                         timeout_s=ctx.timeout_s)
    return pr.SuperdenseReceiveResult(messages=msgs)


@role(pr.NonlocalControl, "nonlocal_control")
def _nonlocal_control(ctx: CoreContext, p: pr.NonlocalControl) -> pr.NonlocalResult:
    _require_peer(ctx, p.peer)
    n = nonlocal_gates.nonlocal_control(ctx, peer=p.peer, qubit=p.qubit, session=ctx.session,
                                        timeout_s=ctx.timeout_s)
    return pr.NonlocalResult(epr_pairs=n)


@role(pr.NonlocalTarget, "nonlocal_target")
def _nonlocal_target(ctx: CoreContext, p: pr.NonlocalTarget) -> pr.NonlocalResult:
    _require_peer(ctx, p.peer)
    u = matrix_from_proto(p.u, (2,))
    nonlocal_gates.nonlocal_target(ctx, peer=p.peer, qubit=p.qubit, u=u, session=ctx.session,
                                   timeout_s=ctx.timeout_s)
    return pr.NonlocalResult()


@role(pr.TeleportedGateHome, "teleported_gate_home")
def _teleported_gate_home(ctx: CoreContext, p: pr.TeleportedGateHome) -> pr.TeleportedGateResult:
    _require_peer(ctx, p.peer)
    u = matrix_from_proto(p.u, (4,))
    if u is None:
        raise InvalidOperation("a teleported gate needs its 4x4 unitary")
    n = nonlocal_gates.teleported_gate_home(ctx, peer=p.peer, qubit=p.qubit, u=u, session=ctx.session,
                                            timeout_s=ctx.timeout_s)
    return pr.TeleportedGateResult(epr_pairs=n)


@role(pr.TeleportedGateRemote, "teleported_gate_remote")
def _teleported_gate_remote(ctx: CoreContext, p: pr.TeleportedGateRemote) -> pr.TeleportedGateResult:
    _require_peer(ctx, p.peer)
    q = nonlocal_gates.teleported_gate_remote(ctx, peer=p.peer, qubit=p.qubit, session=ctx.session,
                                              timeout_s=ctx.timeout_s)
    return pr.TeleportedGateResult(qubit=q, epr_pairs=1)


# ----------------------------------------------------------------------------- distributed circuits
def program_to_proto(program: circuits.Program, *, repetitions: int = 1, keep: bool = False) -> pr.CircuitRun:
    K = pr.CircuitOp
    ops = []
    for op in program.ops:
        if isinstance(op, circuits.Local):
            ops.append(K(kind=K.LOCAL, qubits=op.qubits, u=matrix_to_proto(op.u)))
        elif isinstance(op, circuits.Controlled):
            ops.append(K(kind=K.CONTROLLED, qubits=(op.control, op.target), u=matrix_to_proto(op.u)))
        else:
            ops.append(K(kind=K.MEASURE, qubits=op.qubits, key=op.key))
    return pr.CircuitRun(assignment=program.assignment, ops=ops, repetitions=repetitions, keep=keep)


def program_from_proto(m: pr.CircuitRun) -> circuits.Program:
    K = pr.CircuitOp
    ops: list[circuits.Op] = []
    for i, op in enumerate(m.ops):
        qs = tuple(op.qubits)
        if op.kind == K.LOCAL:
            u = matrix_from_proto(op.u, (2, 4))
            if u is None or u.shape[0] != 2 ** len(qs):
                raise InvalidOperation(f"circuit op {i}: a local gate on {len(qs)} qubit(s) needs a "
                                       f"{2 ** len(qs)}x{2 ** len(qs)} unitary")
            ops.append(circuits.Local(qs, u))
        elif op.kind == K.CONTROLLED:
            u = matrix_from_proto(op.u, (2,))
            if len(qs) != 2 or u is None:
                raise InvalidOperation(f"circuit op {i}: a controlled gate needs (control, target) and a 2x2 U")
            ops.append(circuits.Controlled(qs[0], qs[1], u))
        elif op.kind == K.MEASURE:
            if not op.key:
                raise InvalidOperation(f"circuit op {i}: a measurement needs a key")
            ops.append(circuits.Measure(qs, op.key))
        else:
            raise InvalidOperation(f"circuit op {i}: unknown kind {op.kind}")
    return circuits.Program(tuple(m.assignment), tuple(ops))


@role(pr.CircuitRun, "circuit_run")
def _circuit_run(ctx: CoreContext, p: pr.CircuitRun) -> pr.CircuitRunResult:
    o = circuits.run_program(ctx, program_from_proto(p), repetitions=p.repetitions, keep=p.keep,
                             session=ctx.session, timeout_s=ctx.timeout_s)
    res = pr.CircuitRunResult(qubit_index=list(o.kept), qubit_ids=list(o.kept.values()), epr_pairs=o.epr_pairs)
    for key, (qs, rows) in o.measurements.items():
        bits = bytes(b for row in rows for b in row)
        res.measurements.append(pr.MeasurementRecord(key=key, qubits=qs, bits=bits))
    return res
