"""Classical channels of one node: ordered, exactly-once messages to and from other nodes.

Sending: one message in flight per (destination, channel) with a unique id (this process's random
incarnation + a counter); the peer client resends it with the same id after a transport failure until
the caller's deadline, and the receiver drops ids it has seen (`qemu_net.node.mailbox`). Each message
carries the sender's virtual send time plus the classical link latency; the receiver's clock advances
to that arrival time when the message is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.network.topology import Topology
from qemu_net.node.clock import VirtualClock
from qemu_net.node.mailbox import Mailbox, Message, SendSequencer
from qemu_net.node.outbox import Attachment

#: Longest channel name.
MAX_CHANNEL_NAME = 200


class ClassicalChannels:
    """Send and receive classical messages (the mailbox is the receiving side)."""

    def __init__(self, *, topology: Topology, name: str, clock: VirtualClock, peers: object) -> None:
        self.topology, self.name, self.clock, self._peers = topology, name, clock, peers
        self.mailbox = Mailbox()
        self._sequencer = SendSequencer()
        self._incarnation = int.from_bytes(os.urandom(4), "little") << 32

    def send(
        self,
        to: str,
        channel: str,
        payload: bytes,
        deadline: float,
        *,
        attach: Callable[[str], Attachment | None] = lambda peer: None,
        restore: Callable[[str, Attachment], None] = lambda peer, att: None,
    ) -> tuple[int, int]:
        """Send one message; `attach(to)` may add deferred link-layer news, `restore` takes it back if the
        send fails. Returns (sequence number, arrival time)."""
        if to not in self.topology.node_names:
            raise InvalidOperation(f"unknown node {to!r}")
        if not channel or len(channel) > MAX_CHANNEL_NAME:
            raise InvalidOperation(f"channel name must be 1 to {MAX_CHANNEL_NAME} characters")
        latency = self.topology.classical_latency_ns(self.name, to)
        if latency is None:
            raise NotConnected(f"no classical link between {self.name!r} and {to!r}", peer=to)
        lock, counter = self._sequencer.channel(to, channel)
        with lock:
            counter[0] += 1
            seq = self._incarnation | counter[0]
            sent = self.clock.now()
            msg = Message(self.name, channel, seq, bytes(payload), sent, sent + int(latency))
            att = attach(to)
            try:
                self._peers.deliver_classical(to, msg, att, deadline=deadline)  # type: ignore[attr-defined]
            except Exception:
                if att is not None:
                    restore(to, att)
                raise
        return counter[0], msg.arrival_ns

    def receive(self, sender: str, channel: str, timeout_s: float) -> Message:
        msg = self.mailbox.receive(sender, channel, timeout_s)
        self.clock.advance_to(msg.arrival_ns)
        return msg


__all__ = ["ClassicalChannels", "MAX_CHANNEL_NAME"]
