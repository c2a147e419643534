"""What travels in the ownership protocol: an operation's stamp and a group in transit."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

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


#: A node-to-node call that changes state at its receiver (a forwarded batch, a group handed over or
#: adopted, qubits that arrive) commits only if the receiver gets to it at least this long before the
#: call's own deadline: the sender sets the call's deadline this much beyond its operation's, so the
#: receiver's yes or no comes back before the sender gives up, and a sender that hears nothing knows the
#: receiver has decided by then.
PEER_ANSWER_S = 2.0
#: How long a sender that heard nothing from such a call has to ask again. Every one of them is answered
#: the same way when repeated (a forwarded batch that ran answers its outcomes again, a group handed over
#: is handed over again to the same operation, a repeat of what was taken is acknowledged), so the sender
#: learns what happened.
PEER_RESOLVE_S = 5.0
#: Transport failures after which the peer may have done what was asked: it was not heard from in time.
SILENCE = ("DEADLINE_EXCEEDED", "CANCELLED")

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class RecentAnswers(Generic[_K, _V]):
    """What a receiver committed to for calls whose sender may not have heard it, kept long enough for the
    sender's repeat (`PEER_ANSWER_S + PEER_RESOLVE_S`, then some), at most `cap` of them and (with `weigh`)
    at most `max_weight` in all, oldest forgotten first. Not thread-safe: used under the node's lock."""

    def __init__(self, keep_s: float = PEER_ANSWER_S + PEER_RESOLVE_S + 1.0, cap: int = 65536, *,
                 max_weight: int = 0, weigh: Callable[[_V], int] | None = None) -> None:
        self._keep_s = keep_s
        self._cap = cap
        self._max_weight = max_weight
        self._weigh = weigh
        self._weight = 0
        self._items: OrderedDict[_K, tuple[float, _V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: _K) -> _V | None:
        got = self._items.get(key)
        return None if got is None else got[1]

    def pop(self, key: _K) -> _V | None:
        got = self._items.pop(key, None)
        if got is None:
            return None
        if self._weigh is not None:
            self._weight -= self._weigh(got[1])
        return got[1]

    def put(self, key: _K, value: _V) -> None:
        items, weigh = self._items, self._weigh
        now = time.monotonic()
        if weigh is not None:
            self.pop(key)
            self._weight += weigh(value)
        items[key] = (now + self._keep_s, value)
        while items:
            _k, (until, old) = next(iter(items.items()))
            if until > now and len(items) <= self._cap and (weigh is None or self._weight <= self._max_weight):
                break
            items.popitem(last=False)
            if weigh is not None:
                self._weight -= weigh(old)


__all__ = ["PEER_ANSWER_S", "PEER_RESOLVE_S", "SILENCE", "RecentAnswers", "Shipment", "Txn"]
