"""Classical channels: ordered, exactly-once delivery of messages between nodes.

Sending side: one message in flight per (destination, channel), each with a unique id, retried with
the same id on transient failure until its deadline. Receiving side: messages are queued per
(sender, channel) in arrival order, and an id already seen on that channel is acknowledged and dropped.
Together: every message arrives once, in the order it was sent on its channel.

Delivery to a client can be *acknowledged* (the SDK does it): a receive hands out the next message and
keeps it as the receiver's in-flight delivery; the receiver's next receive on the channel names it in
``ack`` and only then is it dropped. A receive that does not acknowledge it (the answer never reached the
client, e.g. a partition cut the connection) gets the same message again. In-flight deliveries are kept
per (sender, channel, owner), so two clients reading one channel never get each other's message; when a
client session lapses its in-flight deliveries go back to the front of their queue.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

from qemu_net.errors import InvalidOperation, ProtocolTimeout, ShuttingDown

#: How many message ids per channel are remembered to drop duplicates.
_SEEN_PER_CHANNEL = 4096
#: Undelivered messages a channel may queue before senders are refused.
MAX_QUEUED = 100_000


@dataclass(frozen=True)
class Message:
    sender: str
    channel: str
    seq: int
    payload: bytes
    sent_ns: int
    arrival_ns: int


class Mailbox:
    """Inbound classical messages of one node, with blocking, deadline-bounded receive."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[tuple[str, str], collections.deque[Message]] = {}
        self._seen: dict[tuple[str, str], collections.OrderedDict[int, None]] = {}
        #: (sender, channel, owner) -> the message handed to that owner and not yet acknowledged.
        self._inflight: dict[tuple[str, str, str], Message] = {}
        #: owner -> when its session last ended (monotonic): receives it had waiting then give up.
        self._ended: dict[str, float] = {}
        self._closed_reason = ""

    def close(self, reason: str) -> None:
        """Wake every waiting receiver; they and later ones raise ShuttingDown(reason)."""
        with self._cond:
            self._closed_reason = reason
            self._cond.notify_all()

    def seen(self, msg: Message) -> bool:
        """True if this message (same sender, channel and id) was already delivered."""
        with self._cond:
            return msg.seq in self._seen.get((msg.sender, msg.channel), ())

    def remember(self, msg: Message) -> None:
        """Count `msg` delivered (handled by the node itself, not queued): a resend of it is dropped."""
        with self._cond:
            seen = self._seen.setdefault((msg.sender, msg.channel), collections.OrderedDict())
            seen[msg.seq] = None
            if len(seen) > _SEEN_PER_CHANNEL:
                seen.popitem(last=False)

    def deliver(self, msg: Message) -> bool:
        """Queue a message; False if it is a duplicate (already delivered once)."""
        key = (msg.sender, msg.channel)
        with self._cond:
            seen = self._seen.setdefault(key, collections.OrderedDict())
            if msg.seq in seen:
                return False
            q = self._queues.setdefault(key, collections.deque())
            if len(q) >= MAX_QUEUED:
                raise InvalidOperation(f"channel {msg.channel!r} from {msg.sender} has {MAX_QUEUED} unread messages")
            seen[msg.seq] = None
            if len(seen) > _SEEN_PER_CHANNEL:
                seen.popitem(last=False)
            q.append(msg)
            self._cond.notify_all()
            return True

    def receive(self, sender: str, channel: str, timeout_s: float, *, owner: str | None = None,
                ack: int = 0) -> Message:
        """The next message on (sender, channel). With `owner` (acknowledged delivery) the message stays
        in flight for that owner until a later receive passes its seq as `ack`; a receive that does not
        gets the in-flight message again."""
        key = (sender, channel)
        started = time.monotonic()
        with self._cond:
            if owner is not None:
                held = self._inflight.get((sender, channel, owner))
                if held is not None:
                    if held.seq != ack:
                        return held  # its answer was lost: hand the same message out again
                    del self._inflight[(sender, channel, owner)]
            ended = self._ended
            ok = self._cond.wait_for(lambda: bool(self._queues.get(key)) or bool(self._closed_reason)
                                     or (owner is not None and ended.get(owner, 0.0) >= started),
                                     timeout=max(0.0, timeout_s))
            if self._closed_reason and not self._queues.get(key):
                raise ShuttingDown(self._closed_reason)
            if owner is not None and ended.get(owner, 0.0) >= started and not self._queues.get(key):
                raise ProtocolTimeout(f"the client session waiting on channel {channel!r} ended (its lease "
                                      "lapsed or it closed)", sender=sender, channel=channel)
            if not ok:
                raise ProtocolTimeout(
                    f"no message from {sender!r} on channel {channel!r} within {timeout_s:g} s",
                    sender=sender,
                    channel=channel,
                )
            q = self._queues[key]
            msg = q.popleft()
            if owner is not None and ack and msg.seq == ack and q:
                msg = q.popleft()  # given back after a lapse, but the client had it (it acknowledges it)
            elif owner is not None and ack and msg.seq == ack:
                del self._queues[key]
                return self.receive(sender, channel, timeout_s, owner=owner, ack=ack)
            if not q:
                del self._queues[key]
            if owner is not None:
                self._inflight[(sender, channel, owner)] = msg
            return msg

    def session_ended(self, owner: str, *, requeue: bool) -> int:
        """Drop `owner`'s in-flight deliveries; with `requeue` (its lease lapsed: the client may never
        have seen them) put them back at the front of their queues. Returns how many."""
        with self._cond:
            now = time.monotonic()
            self._ended[owner] = now  # wakes its waiting receives
            if len(self._ended) > 10_000:
                for o in [o for o, t in self._ended.items() if now - t > 3600]:
                    del self._ended[o]
            self._cond.notify_all()
            keys = [k for k in self._inflight if k[2] == owner]
            for k in keys:
                msg = self._inflight.pop(k)
                if requeue:
                    self._queues.setdefault((k[0], k[1]), collections.deque()).appendleft(msg)
            if keys and requeue:
                self._cond.notify_all()
            return len(keys)

    def inflight_count(self) -> int:
        with self._cond:
            return len(self._inflight)


class SendSequencer:
    """Per (destination, channel): a lock that keeps one message in flight, and the next sequence id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[tuple[str, str], tuple[threading.Lock, list[int]]] = {}

    def channel(self, to: str, channel: str) -> tuple[threading.Lock, list[int]]:
        with self._lock:
            entry = self._channels.get((to, channel))
            if entry is None:
                entry = (threading.Lock(), [0])
                self._channels[(to, channel)] = entry
            return entry
