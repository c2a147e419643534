"""Classical channels of one node: ordered, exactly-once messages to and from other nodes.

Sending: one message in flight per (destination, channel) with a unique id (this process's random
incarnation + a counter); the peer client resends it with the same id after a transport failure until
the caller's deadline, and the receiver drops ids it has seen (`qemu_net.node.mailbox`). Each message
carries the sender's virtual send time plus the classical link latency; the receiver's clock advances
to that arrival time when the message is read.

Exactly once across partitions: a client may name each message (`message_id`, the SDK's choice, reused
when it retries after a lost answer). The node remembers, per client session and channel, which message
id got which sequence number and whether the peer took it: a retried send of a delivered message answers
as the first did, one that did not get through is sent again under its *original* sequence number (the
receiver drops it if it had arrived after all). Node-to-node delivery is idempotent by (sender, channel,
seq) (`Mailbox.deliver`), and delivery to the receiving client is acknowledged (`Mailbox.receive`), so
no cut-off of the sender, the receiver or a client loses or duplicates a message, however long, as long
as someone retries once the network heals.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.network.topology import Topology
from qemu_net.node.clock import VirtualClock
from qemu_net.node.mailbox import Mailbox, Message, SendSequencer
from qemu_net.node.outbox import Attachment

#: Longest channel name.
MAX_CHANNEL_NAME = 200
#: Longest client message id, and how many ids are remembered per client session.
MAX_MESSAGE_ID = 128
_IDS_PER_OWNER = 4096


class ChannelPeers(Protocol):
    """The node-to-node call that delivers a classical message (part of `qemu_net.node.core.Peers`)."""

    def deliver_classical(self, node: str, msg: Message, attached: Attachment | None = None, *,
                          deadline: float) -> None: ...


@dataclass
class _Sent:
    msg: Message
    seq: int
    delivered: bool = False


class ClassicalChannels:
    """Send and receive classical messages (the mailbox is the receiving side)."""

    def __init__(self, *, topology: Topology, name: str, clock: VirtualClock, peers: ChannelPeers) -> None:
        self.topology, self.name, self.clock, self._peers = topology, name, clock, peers
        self.mailbox = Mailbox()
        self._sequencer = SendSequencer()
        self._incarnation = int.from_bytes(os.urandom(4), "little") << 32
        self._ids_lock = threading.Lock()
        #: owner -> (to, channel, message id) -> what was sent for it (bounded, oldest forgotten first).
        self._sent: dict[str, collections.OrderedDict[tuple[str, str, str], _Sent]] = {}

    def send(
        self,
        to: str,
        channel: str,
        payload: bytes,
        deadline: float,
        *,
        attach: Callable[[str], Attachment | None] = lambda peer: None,
        restore: Callable[[str, Attachment], None] = lambda peer, att: None,
        message_id: str = "",
        owner: str = "",
    ) -> tuple[int, int]:
        """Send one message; `attach(to)` may add deferred link-layer news, `restore` takes it back if the
        send fails. With a `message_id` a retry of the same message by the same `owner` is never sent
        twice (see the module docs). Returns (sequence number, arrival time)."""
        if len(message_id) > MAX_MESSAGE_ID:
            raise InvalidOperation(f"a message id has at most {MAX_MESSAGE_ID} characters")
        self.topology.require_node(to)
        if not channel or len(channel) > MAX_CHANNEL_NAME:
            raise InvalidOperation(f"channel name must be 1 to {MAX_CHANNEL_NAME} characters")
        latency = self.topology.classical_latency_ns(self.name, to)
        if latency is None:
            raise NotConnected(f"no classical link between {self.name!r} and {to!r}", peer=to)
        lock, counter = self._sequencer.channel(to, channel)
        with lock:
            record = self._remembered(owner, to, channel, message_id)
            if record is not None and record.delivered:
                return record.seq, record.msg.arrival_ns
            if record is not None:
                msg, number = record.msg, record.seq
            else:
                counter[0] += 1
                number = counter[0]
                sent = self.clock.now()
                msg = Message(self.name, channel, self._incarnation | number, bytes(payload), sent,
                              sent + int(latency))
                if message_id:
                    record = self._remember(owner, to, channel, message_id, _Sent(msg, number))
            att = attach(to)
            try:
                self._peers.deliver_classical(to, msg, att, deadline=deadline)
            except Exception:
                if att is not None:
                    restore(to, att)
                raise
            if record is not None:
                record.delivered = True
        return number, msg.arrival_ns

    def _remembered(self, owner: str, to: str, channel: str, message_id: str) -> _Sent | None:
        if not message_id:
            return None
        with self._ids_lock:
            ids = self._sent.get(owner)
            return None if ids is None else ids.get((to, channel, message_id))

    def _remember(self, owner: str, to: str, channel: str, message_id: str, record: _Sent) -> _Sent:
        with self._ids_lock:
            ids = self._sent.setdefault(owner, collections.OrderedDict())
            ids[(to, channel, message_id)] = record
            if len(ids) > _IDS_PER_OWNER:
                ids.popitem(last=False)
            return record

    def session_ended(self, owner: str, *, requeue: bool) -> None:
        """A client session ended: forget its message ids and release its in-flight deliveries."""
        with self._ids_lock:
            self._sent.pop(owner, None)
        self.mailbox.session_ended(owner, requeue=requeue)

    def receive(self, sender: str, channel: str, timeout_s: float, *, owner: str | None = None,
                ack: int = 0) -> Message:
        msg = self.mailbox.receive(sender, channel, timeout_s, owner=owner, ack=ack)
        self.clock.advance_to(msg.arrival_ns)
        return msg

    def receive_any(self, keys: Sequence[tuple[str, str]], timeout_s: float) -> Message:
        """The message that arrived first among the (sender, channel) pairs `keys` (`Mailbox.receive_any`)."""
        msg = self.mailbox.receive_any(keys, timeout_s)
        self.clock.advance_to(msg.arrival_ns)
        return msg


__all__ = ["MAX_CHANNEL_NAME", "ClassicalChannels"]
