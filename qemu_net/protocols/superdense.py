"""Superdense coding: two classical bits per qubit sent, using one pre-shared EPR pair per message.

The sender generates a pair with the receiver (the receiver's half arrives over the link), encodes the
2-bit message m on its half as Z^(m >> 1) X^(m & 1), and sends that half over the quantum link. The
receiver Bell-measures both qubits: the phase bit is m >> 1, the parity bit m & 1. The identity of each
arriving qubit is announced on the classical channel (a lost photon is announced as such).
"""

from __future__ import annotations

from dataclasses import dataclass

from qemu_net.errors import InvalidOperation
from qemu_net.protocols.common import NO_OUTCOME, correct
from qemu_net.protocols.context import NodeContext
from qemu_net.protocols.results import check_count, result_eq, result_hash, result_repr

BATCH = 64
MAX_MESSAGES = 100_000


@dataclass(frozen=True, eq=False, repr=False)
class SendOutcome:
    """The sender's result: messages sent, and how many of their qubits were lost on the way."""

    sent: int = 0
    lost: int = 0

    def __post_init__(self) -> None:
        check_count("SendOutcome", sent=self.sent, lost=self.lost)
        if self.lost > self.sent:
            raise InvalidOperation(f"SendOutcome: lost={self.lost} exceeds sent={self.sent}")

    __repr__ = result_repr
    __eq__ = result_eq
    __hash__ = result_hash


def superdense_send(ctx: NodeContext, *, peer: str, messages: bytes, session: str,
                    timeout_s: float = 30.0) -> SendOutcome:
    if peer == ctx.name:
        raise InvalidOperation("cannot send to the node itself")
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise InvalidOperation(f"send between 1 and {MAX_MESSAGES} messages, got {len(messages)}")
    if any(m > 3 for m in messages):
        raise InvalidOperation("each superdense message is two bits: a byte 0..3")
    sent = lost = 0
    for start in range(0, len(messages), BATCH):
        chunk = messages[start:start + BATCH]
        halves = ctx.epr(peer, tag=f"{session}/sdc", count=len(chunk))
        ids = []
        for h, m in zip(halves, chunk, strict=True):
            correct(ctx, h.qubit, m & 1, m >> 1)
            arrived = ctx.send_qubit(h.qubit, peer)
            ids.append(h.qubit if arrived else "")
            sent += 1
            lost += not arrived
        ctx.send(peer, f"{session}/sdc", "\n".join(ids).encode())
    return SendOutcome(sent=sent, lost=lost)


def superdense_receive(ctx: NodeContext, *, peer: str, count: int, session: str, timeout_s: float = 30.0) -> bytes:
    if not 1 <= count <= MAX_MESSAGES:
        raise InvalidOperation(f"count must be between 1 and {MAX_MESSAGES}, got {count}")
    out = bytearray()
    for start in range(0, count, BATCH):
        n = min(BATCH, count - start)
        halves = ctx.await_epr(peer, tag=f"{session}/sdc", count=n, timeout_s=timeout_s)
        ids = ctx.recv(peer, f"{session}/sdc", timeout_s=timeout_s).decode().split("\n")
        if len(ids) != n:
            raise InvalidOperation(f"superdense: {len(ids)} qubit ids announced for {n} pairs")
        for h, q in zip(halves, ids, strict=True):
            if not q:
                ctx.discard(h.qubit)
                out.append(NO_OUTCOME)
                continue
            z, x = ctx.measure_bell(q, h.qubit)
            out.append((z << 1) | x)
    return bytes(out)
