"""Link-layer news a protocol role defers, so it travels with the role's next classical message.

A role that creates EPR pairs or measures away the local half of a group produces news for a peer: the
peer's halves exist (an `Arriving` each), or a group now located entirely at the peer should be held
there (a push-back). Sending each as its own node-to-node call costs a round trip; a role usually sends
a classical message to that same peer soon after, so the news rides along (an `Attachment`). The
`Outbox` belongs to one role's context (one thread); everything pending is sent before the role waits
for a message or an EPR half and when it ends, so no peer ever waits for news we hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qemu_net.node.transit import Shipment


@dataclass(frozen=True)
class Arriving:
    """A qubit that is now located at the receiving node (an EPR half, or a qubit sent to it)."""

    qubit: str
    holder: str
    group_size: int = 1
    pair_id: str = ""
    tag: str = ""
    ready_ns: int = 0
    attempts: int = 1
    #: The client session the qubit belongs to (`qemu_net.node.sessions`), "" if nobody recorded one.
    owner: str = ""


@dataclass
class Attachment:
    """Link-layer news for one peer, travelling with a classical message (or on its own when flushed)."""

    arrivals: list[Arriving] = field(default_factory=list)
    #: Groups located entirely at the peer, shipped to it: the peer becomes their holder.
    states: list[Shipment] = field(default_factory=list)
    now_ns: int = 0
    #: The arrivals as queued (before the holder of shipped ones became the peer), to restore on failure.
    queued: list[Arriving] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.arrivals or self.states)


@dataclass
class Outbox:
    """One role's deferred news: arrivals per peer, and qubits whose groups may need a push-back."""

    arrivals: dict[str, list[Arriving]] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)
    now_ns: int = 0

    def __bool__(self) -> bool:
        return bool(self.arrivals or self.candidates)


__all__ = ["Arriving", "Attachment", "Outbox"]
