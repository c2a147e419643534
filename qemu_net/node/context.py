"""The node-side NodeContext: protocol roles' view of their node (register, link layer, classical)."""

from __future__ import annotations

import hashlib
import time
from functools import cached_property

import cirq
import numpy as np

from qemu_net.errors import InvalidOperation, ProtocolTimeout
from qemu_net.network.topology import Topology
from qemu_net.node import limits
from qemu_net.node.core import NodeCore
from qemu_net.node.ops import DiscardOp, GateOp, MeasureOp, Op
from qemu_net.node.outbox import Outbox
from qemu_net.protocols.context import EprHalf
from qemu_net.quantum.register import DTYPE

_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=DTYPE)
_H = np.array([[1, 1], [1, -1]], dtype=DTYPE) / np.sqrt(2)


def session_seed(base: np.random.SeedSequence, session: str) -> np.random.SeedSequence:
    """A stream for one session: the node's seed extended by a stable hash of the session id."""
    digest = int.from_bytes(hashlib.sha256(session.encode()).digest()[:8], "little")
    return np.random.SeedSequence(entropy=base.entropy, spawn_key=(*base.spawn_key, digest))


class CoreContext:
    """NodeContext over a NodeCore, scoped to one protocol session.

    It owns the role's `Outbox` (link-layer news deferred to travel with the role's next message) and
    remembers the qubits the role allocated or received, so a role that fails leaves nothing behind
    (`abandon`). Every operation is bounded by the role's deadline."""

    def __init__(self, core: NodeCore, session: str, *, timeout_s: float) -> None:
        self._core = core
        self.session = session
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.outbox = Outbox()
        #: Qubits this role allocated or was handed by the link layer (freed if the role fails).
        self.owned: list[str] = []

    def _left(self, timeout_s: float | None = None) -> float:
        left = max(self.deadline - time.monotonic(), 0.0)
        return left if timeout_s is None else min(timeout_s, left)

    def check_deadline(self) -> None:
        """Raise ProtocolTimeout once the role's deadline passed or its caller went away (long computations
        call this between steps, so a role stops within a step of its deadline)."""
        if time.monotonic() > self.deadline:
            raise ProtocolTimeout(f"{self._core.name}: the role's deadline passed (session {self.session!r})")
        limits.check_cancelled()

    def flush(self) -> None:
        """Send the news this role still holds back (when it ends)."""
        self._core.flush(self.outbox, self.deadline)

    def abandon(self) -> None:
        """The role failed: free what it allocated or received that is still located here."""
        self._core.abandon(self.outbox, self.owned, self.session)

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def topology(self) -> Topology:
        return self._core.topology

    @cached_property
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(session_seed(self._core.seed_seq, self.session))

    def alloc(self, n: int = 1) -> list[str]:
        qs = self._core.allocate(n)
        self.owned.extend(qs)
        return qs

    def free(self, qubits: list[str]) -> None:
        for q in qubits:
            self._apply([DiscardOp(q)])

    def _apply(self, ops: list[Op]) -> list[int]:
        return self._core.apply(ops, deadline=self.deadline, outbox=self.outbox)

    def apply(self, gate: cirq.Gate, *qubits: str) -> None:
        if not qubits:
            raise InvalidOperation("apply needs at least one qubit")
        u = np.asarray(cirq.unitary(gate), dtype=DTYPE)
        self._apply([GateOp(u, tuple(qubits))])

    def apply_unitary(self, u: np.ndarray, *qubits: str) -> None:
        self._apply([GateOp(np.asarray(u, dtype=DTYPE), tuple(qubits))])

    def measure(self, qubit: str, basis: str = "Z", *, keep: bool = False) -> int:
        (bit,) = self._apply([MeasureOp(qubit, basis, keep)])
        return bit

    def discard(self, qubit: str) -> None:
        self._apply([DiscardOp(qubit)])

    def measure_bell(self, a: str, b: str) -> tuple[int, int]:
        m1, m2 = self._apply([GateOp(_CNOT, (a, b)), GateOp(_H, (a,)), MeasureOp(a, "Z", False),
                              MeasureOp(b, "Z", False)])
        return m1, m2

    def send_qubit(self, qubit: str, to: str) -> bool:
        lost, _arrival = self._core.send_qubit(qubit, to, deadline=self.deadline, outbox=self.outbox)
        return not lost

    def epr(self, peer: str, *, tag: str, count: int = 1) -> list[EprHalf]:
        halves = self._core.create_epr(peer, count, tag, outbox=self.outbox, deadline=self.deadline)
        self.owned.extend(h.qubit for h in halves)
        return halves

    def await_epr(self, peer: str, *, tag: str, count: int = 1, timeout_s: float | None = None) -> list[EprHalf]:
        halves = self._core.await_epr(peer, tag, count, self._left(timeout_s), outbox=self.outbox)
        self.owned.extend(h.qubit for h in halves)
        return halves

    def send(self, peer: str, channel: str, payload: bytes) -> None:
        self._core.send_classical(peer, channel, payload, deadline=self.deadline, outbox=self.outbox)

    def recv(self, peer: str, channel: str, *, timeout_s: float | None = None) -> bytes:
        return self._core.receive_classical(peer, channel, self._left(timeout_s), outbox=self.outbox).payload

    def now_ns(self) -> int:
        return self._core.clock.now()

    def advance_clock(self, ns: float) -> None:
        self._core.clock.advance_by(ns)
