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


__all__ = ["Shipment", "Txn"]
