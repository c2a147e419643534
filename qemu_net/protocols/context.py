"""The small interface protocol roles are written against.

A *role* is one node's part in a protocol: a plain function ``role(ctx, params) -> result`` that runs
inside that node's process. It touches its own qubits through local operations, talks to other nodes
only through classical messages, and gets entanglement through the link layer (`epr`). Roles never
import gRPC: the node process supplies a `NodeContext` backed by its register and peer channels, and
unit tests may supply an in-process one.

Roles are synchronous: each runs on a worker thread of the node's bounded protocol pool, and every
wait (`recv`, `await_epr`) takes a deadline and raises `ProtocolTimeout` when it passes.

Vocabulary: *node*, *link*, *qubit* (a global id string), *epr_pair* (two qubits, one at each end of a
link, with a pair id both ends know), *location* (the node whose memory holds a qubit), *virtual
time* (nanoseconds on the node's clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import cirq
    import numpy as np

    from qemu_net.network.topology import Topology


@dataclass(frozen=True)
class EprHalf:
    """This node's half of an EPR pair: the local qubit, the peer, and the pair id both ends know."""

    pair_id: str
    qubit: str
    peer: str
    #: Virtual time (ns) at which the herald arrived, i.e. when the pair became usable here.
    ready_ns: int = 0
    #: Number of generation attempts the link needed (>= 1).
    attempts: int = 1


@runtime_checkable
class NodeContext(Protocol):
    """What a protocol role may do at its node."""

    @property
    def name(self) -> str:
        """This node's name."""

    @property
    def topology(self) -> Topology:
        """The network's topology (every node has all of it)."""

    @property
    def rng(self) -> np.random.Generator:
        """This role's random stream (derived from the node's seed and the session id)."""

    # ---------------------------------------------------------------- qubits
    def alloc(self, n: int = 1) -> list[str]:
        """Allocate n fresh qubits in |0> at this node; raises MemoryFull."""

    def free(self, qubits: list[str]) -> None:
        """Discard qubits located here (their state is traced out)."""

    def apply(self, gate: cirq.Gate, *qubits: str) -> None:
        """Apply a gate to qubits located here, with this node's gate error and duration."""

    def measure(self, qubit: str, basis: str = "Z", *, keep: bool = False) -> int:
        """Measure in the Z, X or Y basis; the qubit is freed unless keep=True."""

    def apply_unitary(self, u: np.ndarray, *qubits: str) -> None:
        """Apply a unitary matrix (2^k x 2^k, first qubit most significant) to qubits located here."""

    def discard(self, qubit: str) -> None:
        """Trace a local qubit out of its state (no outcome)."""

    def measure_bell(self, a: str, b: str) -> tuple[int, int]:
        """Bell-state measurement of two local qubits (CNOT a->b, H a, measure both in Z; both freed).

        Returns (m1, m2): m1 from `a` (the phase bit), m2 from `b` (the parity bit).
        """

    def send_qubit(self, qubit: str, to: str) -> bool:
        """Send a local qubit to a neighbour over the quantum link; returns False if the photon was lost."""

    # ------------------------------------------------------------ link layer
    def epr(self, peer: str, *, tag: str, count: int = 1) -> list[EprHalf]:
        """Generate `count` heralded EPR pairs (|Phi+> ideally) with a neighbour over the quantum link.

        Returns this node's halves; the peer's role gets the other halves from `await_epr(tag)`.
        """

    def await_epr(self, peer: str, *, tag: str, count: int = 1, timeout_s: float = 10.0) -> list[EprHalf]:
        """Wait for the halves of pairs a neighbour generated with us under `tag`."""

    # ------------------------------------------------------------ classical
    def send(self, peer: str, channel: str, payload: bytes) -> None:
        """Send bytes to a node over the classical channel (ordered per channel, exactly once)."""

    def recv(self, peer: str, channel: str, *, timeout_s: float = 10.0) -> bytes:
        """Receive the next message on a channel from a node; advances the clock to its arrival."""

    # ------------------------------------------------------------ time
    def now_ns(self) -> int:
        """This node's virtual clock."""

    def advance_clock(self, ns: float) -> None:
        """Let virtual time pass at this node (e.g. local processing)."""


__all__ = ["EprHalf", "NodeContext"]
