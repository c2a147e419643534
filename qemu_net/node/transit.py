"""What travels in the ownership protocol: an operation's stamp and a group in transit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qemu_net.quantum.register import GroupState


@dataclass(frozen=True, order=True)
class Txn:
    """An operation that may need groups pulled here; older (smaller) wins a conflict (wait-die)."""

    born_ns: int
    node: str
    seq: int

    def older_than_all(self, others: Iterable[Txn]) -> bool:
        return all(self < o for o in others)


@dataclass(frozen=True)
class Shipment:
    """A group's state in transit between holders, with each qubit's location and epoch."""

    state: GroupState
    locations: tuple[str, ...]
    epochs: tuple[int, ...]

    @property
    def qubits(self) -> tuple[str, ...]:
        return self.state.qubits


#: An Arrive is taken only if its receiver gets to it at least this long before the call's own deadline: the
#: sender sets the call's deadline this much beyond its operation's, so the receiver's yes or no comes back
#: before the sender gives up, and a sender that hears nothing knows the receiver has decided by then.
ARRIVE_ANSWER_S = 2.0
#: How long a sender that heard nothing from an Arrive has to ask again (the receiver acknowledges a
#: repeated Arrive it already took), so the sender learns whether the far halves exist there.
ARRIVE_RESOLVE_S = 5.0

__all__ = ["ARRIVE_ANSWER_S", "ARRIVE_RESOLVE_S", "Shipment", "Txn"]
