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
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qemu_net.errors import LimitExceeded, ProtocolTimeout, ShuttingDown
from qemu_net.node import limits

#: How many message ids per channel are remembered to drop duplicates.
_SEEN_PER_CHANNEL = 4096
#: Channels with nothing queued whose seen ids are remembered (the oldest idle channel's are forgotten
#: first). Per-session channels would otherwise grow without end; a resend comes within its sender's
#: deadline, long before this many newer channels have gone idle. Queued messages are never dropped.
MAX_IDLE_CHANNELS = 4096
#: Undelivered messages a channel may queue before senders wait (then are refused at their deadline).
MAX_QUEUED = 100_000
#: Undelivered payload bytes the whole mailbox may queue before senders wait.
MAX_QUEUED_BYTES = limits.Limits().max_queued_classical_bytes


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

    def __init__(self, *, max_queued: int = MAX_QUEUED, max_queued_bytes: int = MAX_QUEUED_BYTES) -> None:
        self._cond = threading.Condition()
        self._queues: dict[tuple[str, str], collections.deque[Message]] = {}
        self._seen: dict[tuple[str, str], collections.OrderedDict[int, None]] = {}
        #: (sender, channel, owner) -> the message handed to that owner and not yet acknowledged.
        self._inflight: dict[tuple[str, str, str], Message] = {}
        #: owner -> when its session last ended (monotonic): receives it had waiting then give up.
        self._ended: dict[str, float] = {}
        #: Channels with seen ids and an empty queue, oldest first.
        self._idle: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        self.max_idle_channels = MAX_IDLE_CHANNELS
        self._closed_reason = ""
        self.max_queued = max_queued
        self.max_queued_bytes = max_queued_bytes
        #: Payload bytes of the messages queued and not yet read.
        self.queued_bytes = 0
        #: Room held, per channel and in bytes, for messages whose attached qubits are being taken.
        self._held: dict[tuple[str, str], int] = {}
        self._held_bytes = 0
        #: (channel, message id) -> the order in which queued messages reached this mailbox.
        self._stamps: dict[tuple[tuple[str, str], int], int] = {}
        self._arrivals = itertools.count()
        #: Per channel, the ids of the messages whose attachment is being taken.
        self._taking: dict[tuple[str, str], set[int]] = {}

    def channels_remembered(self) -> int:
        """Channels whose seen ids or queued messages this mailbox holds (bounded when they go idle)."""
        with self._cond:
            return len(self._seen.keys() | self._queues.keys())

    def wake(self) -> None:
        """Wake every waiting receiver and sender (e.g. so one whose caller went away can stop)."""
        with self._cond:
            self._cond.notify_all()

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

    def deliver(self, msg: Message, *, taking: Callable[[], None] | None = None) -> bool:
        """Queue a message; False if it is a duplicate (already delivered once).

        `taking` (the qubits attached to the message) runs once room for the message is held and before it
        is queued, outside this mailbox's lock: a message is refused for a full queue before its attachment is
        taken, never after (the sender then still holds the attachment); if `taking` raises, nothing is queued.
        A repeat of a message that is being taken waits for that delivery's outcome instead of competing for
        room: were it refused meanwhile, its sender would restore qubits the first delivery took."""
        key = (msg.sender, msg.channel)
        size = len(msg.payload)
        with self._cond:
            give_up: float | None = None
            while True:
                if msg.seq in self._seen.get(key, ()):
                    return False
                if msg.seq in self._taking.get(key, ()):
                    self._wait_for_earlier(msg)
                    continue
                if self._has_room(key, size):
                    break
                # Back-pressure: a full channel or mailbox makes the delivery wait (within the deadline of the
                # call that delivers it) for the application to read; then it is refused, never queued unbounded.
                if give_up is None:
                    # Stop waiting a little before the deadline (0.2 s plus a fifth of the time left), so the
                    # refusal reaches the sender, through its node, before its own deadline does.
                    scope = limits.current()
                    end = scope.deadline if scope else 0.0
                    give_up = end - 0.2 - 0.2 * max(end - time.monotonic(), 0.0)
                left = give_up - time.monotonic()
                if left <= 0 or limits.cancelled() or self._closed_reason:
                    raise LimitExceeded(
                        f"channel {msg.channel!r} from {msg.sender}: the receiver's queue is full "
                        f"({len(self._queues.get(key, ()))} messages on the channel, {self.queued_bytes} bytes in "
                        f"all, {self._held_bytes} bytes more arriving; limits {self.max_queued} and "
                        f"{self.max_queued_bytes}) and was not read before the deadline",
                        limit=self.max_queued_bytes, value=size)
                self._cond.wait(left)
            if taking is None:
                self._enqueue(key, msg)
                return True
            self._held[key] = self._held.get(key, 0) + 1
            self._held_bytes += size
            self._taking.setdefault(key, set()).add(msg.seq)
        try:
            taking()
        except BaseException:
            with self._cond:
                self._release(key, msg.seq, size)
            raise
        with self._cond:  # the room held becomes the queued message's, with no other delivery in between
            self._release(key, msg.seq, size)
            if msg.seq in self._seen.get(key, ()):
                return False
            self._enqueue(key, msg)
            return True

    def _has_room(self, key: tuple[str, str], size: int) -> bool:
        """Under the lock: `key`'s queue and the mailbox have room for `size` more bytes (room held for
        messages whose attachment is being taken counts as used)."""
        if len(self._queues.get(key, ())) + self._held.get(key, 0) >= self.max_queued:
            return False
        used = self.queued_bytes + self._held_bytes
        return not used or used + size <= self.max_queued_bytes

    def _wait_for_earlier(self, msg: Message) -> None:
        """Under the lock: wait while an earlier delivery of `msg` takes its attachment; at this call's
        deadline ProtocolTimeout (its sender hears nothing either way and asks again)."""
        scope = limits.current()
        left = (scope.deadline if scope else 0.0) - time.monotonic()
        if left <= 0 or limits.cancelled() or self._closed_reason:
            raise ProtocolTimeout(f"message {msg.seq} on channel {msg.channel!r} from {msg.sender} is still being "
                                  "taken by an earlier delivery of it", sender=msg.sender, channel=msg.channel)
        self._cond.wait(left)

    def _release(self, key: tuple[str, str], seq: int, size: int) -> None:
        """Under the lock: give back the room held for message `seq` while its attachment was taken."""
        self._held[key] -= 1
        if not self._held[key]:
            del self._held[key]
        self._held_bytes -= size
        taking = self._taking[key]
        taking.discard(seq)
        if not taking:
            del self._taking[key]
        self._cond.notify_all()

    def _enqueue(self, key: tuple[str, str], msg: Message) -> None:
        seen = self._seen.setdefault(key, collections.OrderedDict())
        q = self._queues.setdefault(key, collections.deque())
        self._idle.pop(key, None)
        self.queued_bytes += len(msg.payload)
        seen[msg.seq] = None
        if len(seen) > _SEEN_PER_CHANNEL:
            seen.popitem(last=False)
        q.append(msg)
        self._stamps[(key, msg.seq)] = next(self._arrivals)
        self._cond.notify_all()

    def _pop(self, key: tuple[str, str]) -> Message:
        """Under the lock: the head of `key`'s queue, taken off it."""
        msg = self._queues[key].popleft()
        self._stamps.pop((key, msg.seq), None)
        self.queued_bytes -= len(msg.payload)
        return msg

    def _drained(self, key: tuple[str, str]) -> None:
        """Under the lock: `key`'s queue is empty: drop it, remembering its seen ids while few channels idle."""
        del self._queues[key]
        self._idle[key] = None
        while len(self._idle) > self.max_idle_channels:
            old, _ = self._idle.popitem(last=False)
            self._seen.pop(old, None)

    def receive_any(self, keys: Sequence[tuple[str, str]], timeout_s: float) -> Message:
        """Of the messages queued on the (sender, channel) pairs `keys`, the one that reached this mailbox
        first (waiting up to `timeout_s` for one); unacknowledged. A broadcast's receive: the order in which
        messages from different senders arrived is the order they are handed out."""
        with self._cond:
            self._cond.wait_for(lambda: any(self._queues.get(k) for k in keys) or bool(self._closed_reason)
                                or limits.cancelled(), timeout=max(0.0, timeout_s))
            ready = [k for k in keys if self._queues.get(k)]
            if not ready:
                if self._closed_reason:
                    raise ShuttingDown(self._closed_reason)
                limits.check_cancelled()
                senders = sorted({s for s, _ in keys})
                named = ", ".join(senders[:5]) + (f" and {len(senders) - 5} more" if len(senders) > 5 else "")
                raise ProtocolTimeout(f"no message on any of {len(keys)} channels (from {named}) "
                                      f"within {timeout_s:g} s")
            key = min(ready, key=lambda k: self._stamps.get((k, self._queues[k][0].seq), -1))
            msg = self._pop(key)
            if not self._queues[key]:
                self._drained(key)
            self._cond.notify_all()  # a sender may wait for room
            return msg

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
                                     or (owner is not None and ended.get(owner, 0.0) >= started)
                                     or limits.cancelled(), timeout=max(0.0, timeout_s))
            if self._closed_reason and not self._queues.get(key):
                raise ShuttingDown(self._closed_reason)
            if owner is not None and ended.get(owner, 0.0) >= started and not self._queues.get(key):
                raise ProtocolTimeout(f"the client session waiting on channel {channel!r} ended (its lease "
                                      "lapsed or it closed)", sender=sender, channel=channel)
            if not self._queues.get(key):
                limits.check_cancelled()
            if not ok:
                raise ProtocolTimeout(
                    f"no message from {sender!r} on channel {channel!r} within {timeout_s:g} s",
                    sender=sender,
                    channel=channel,
                )
            q = self._queues[key]
            msg = self._pop(key)
            if owner is not None and ack and msg.seq == ack and q:
                msg = self._pop(key)  # given back after a lapse, but the client had it (it acknowledges it)
            elif owner is not None and ack and msg.seq == ack:
                del self._queues[key]
                self._cond.notify_all()  # a sender may wait for room
                return self.receive(sender, channel, timeout_s, owner=owner, ack=ack)
            if not q:
                self._drained(key)
            self._cond.notify_all()  # a sender may wait for room
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
                    self._idle.pop((k[0], k[1]), None)
                    self.queued_bytes += len(msg.payload)
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
