"""Quantum teleportation: the sender's Bell measurement, two classical bits, the receiver's corrections."""

from __future__ import annotations

import cirq

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.protocols.context import NodeContext


def teleport_send(ctx: NodeContext, *, peer: str, qubit: str, session: str, timeout_s: float = 10.0,
                  pair_qubit: str = "") -> tuple[int, int]:
    """Teleport `qubit` (located here) to `peer`; returns the two Bell-measurement bits (m1, m2).

    Uses one fresh EPR pair from the link under the session's tag, or this node's half `pair_qubit` of an
    existing pair with `peer` (e.g. delivered along a repeater chain, for non-neighbours); `qubit` is consumed.
    """
    if peer == ctx.name:
        raise InvalidOperation("cannot teleport to the node itself")
    if pair_qubit:
        half_qubit = pair_qubit
    else:
        (half,) = ctx.epr(peer, tag=session)
        half_qubit = half.qubit
    ctx.apply(cirq.CNOT, qubit, half_qubit)
    ctx.apply(cirq.H, qubit)
    m1 = ctx.measure(qubit)
    m2 = ctx.measure(half_qubit)
    ctx.send(peer, f"{session}/teleport", bytes((m1, m2)))
    return m1, m2


def teleport_receive(ctx: NodeContext, *, peer: str, session: str, timeout_s: float = 10.0,
                     pair_qubit: str = "") -> str:
    """Receive a teleported state from `peer`; returns the local qubit that now holds it.

    `pair_qubit`: this node's half of the existing pair the sender uses (no link pair is awaited)."""
    if pair_qubit:
        half_qubit = pair_qubit
    else:
        if ctx.topology.link(ctx.name, peer) is None:
            raise NotConnected(f"no quantum link between {peer!r} and {ctx.name!r}: teleportation needs an EPR pair")
        (half,) = ctx.await_epr(peer, tag=session, timeout_s=timeout_s)
        half_qubit = half.qubit
    bits = ctx.recv(peer, f"{session}/teleport", timeout_s=timeout_s)
    if len(bits) != 2 or any(b > 1 for b in bits):
        raise InvalidOperation(f"malformed teleport corrections from {peer!r}")
    m1, m2 = bits
    if m2:
        ctx.apply(cirq.X, half_qubit)
    if m1:
        ctx.apply(cirq.Z, half_qubit)
    return half_qubit
