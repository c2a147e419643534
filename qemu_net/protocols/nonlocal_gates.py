"""Nonlocal gates: a controlled-U across two nodes with one EPR pair, and a teleported two-qubit gate.

Controlled-U (Eisert et al. 2000, "cat-entangler / cat-disentangler"): control c at A, target t at B,
a link pair (a at A, b at B).

1. A: CNOT(c, a), measure a -> m1, send m1 to B.      (cat-entangler: b now mirrors c)
2. B: X^m1 on b, controlled-U(b, t), measure b in X -> m2, send m2 to A.
3. A: Z^m2 on c.                                      (cat-disentangler)

One EPR pair and one classical bit each way. With a Werner pair of fidelity F, the process fidelity of
the resulting CNOT with the ideal one is F.

Teleported gate: the remote qubit is teleported to the home node, the gate acts locally there, and the
qubit is teleported back: any two-qubit unitary, two EPR pairs, two bits each way.
"""

from __future__ import annotations

import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.protocols.common import controlled
from qemu_net.protocols.context import NodeContext
from qemu_net.protocols.teleport import teleport_receive, teleport_send
from qemu_net.quantum.paulis import CNOT, X, Z


def nonlocal_control(ctx: NodeContext, *, peer: str, qubit: str, session: str, timeout_s: float = 30.0) -> int:
    """The control's side; returns the EPR pairs it generated (1)."""
    if peer == ctx.name:
        raise InvalidOperation("a nonlocal gate needs two different nodes")
    (half,) = ctx.epr(peer, tag=f"{session}/cat")
    ctx.apply_unitary(CNOT, qubit, half.qubit)
    m1 = ctx.measure(half.qubit, "Z")
    ctx.send(peer, f"{session}/cat1", bytes((m1,)))
    (m2,) = ctx.recv(peer, f"{session}/cat2", timeout_s=timeout_s)
    if m2:
        ctx.apply_unitary(Z, qubit)
    return 1


def nonlocal_target(ctx: NodeContext, *, peer: str, qubit: str, u: np.ndarray | None = None, session: str,
                    timeout_s: float = 30.0) -> None:
    """The target's side: applies U to `qubit` controlled by the peer's qubit."""
    u = X if u is None else np.asarray(u, dtype=np.complex128)
    if u.shape != (2, 2):
        raise InvalidOperation(f"the controlled operation must be a 2x2 unitary, got shape {u.shape}")
    (half,) = ctx.await_epr(peer, tag=f"{session}/cat", timeout_s=timeout_s)
    (m1,) = ctx.recv(peer, f"{session}/cat1", timeout_s=timeout_s)
    if m1:
        ctx.apply_unitary(X, half.qubit)
    ctx.apply_unitary(controlled(u), half.qubit, qubit)
    m2 = ctx.measure(half.qubit, "X")
    ctx.send(peer, f"{session}/cat2", bytes((m2,)))


def teleported_gate_home(ctx: NodeContext, *, peer: str, qubit: str, u: np.ndarray, session: str,
                         timeout_s: float = 30.0) -> int:
    """Home side: receive the remote qubit, apply `u` on (qubit, arrived), send it back. Returns pairs made."""
    u = np.asarray(u, dtype=np.complex128)
    if u.shape != (4, 4):
        raise InvalidOperation(f"a teleported gate needs a 4x4 unitary, got shape {u.shape}")
    arrived = teleport_receive(ctx, peer=peer, session=f"{session}/in", timeout_s=timeout_s)
    ctx.apply_unitary(u, qubit, arrived)
    teleport_send(ctx, peer=peer, qubit=arrived, session=f"{session}/out", timeout_s=timeout_s)
    return 1


def teleported_gate_remote(ctx: NodeContext, *, peer: str, qubit: str, session: str, timeout_s: float = 30.0) -> str:
    """Remote side: teleport `qubit` to the home node and receive it back; returns the qubit now holding it."""
    teleport_send(ctx, peer=peer, qubit=qubit, session=f"{session}/in", timeout_s=timeout_s)
    return teleport_receive(ctx, peer=peer, session=f"{session}/out", timeout_s=timeout_s)
