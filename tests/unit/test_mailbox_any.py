"""A receive over several channels hands out messages in the order they reached the mailbox."""

from __future__ import annotations

import threading
import time

import pytest

from qemu_net.errors import ProtocolTimeout
from qemu_net.node.mailbox import Mailbox, Message


def msg(sender: str, channel: str, seq: int) -> Message:
    return Message(sender, channel, seq, f"{sender}{seq}".encode(), 0, 0)


def test_the_first_to_arrive_comes_first_whatever_its_channel():
    box = Mailbox()
    keys = [("a", "x"), ("b", "x"), ("c", "y")]
    for m in (msg("b", "x", 1), msg("a", "x", 1), msg("b", "x", 2), msg("c", "y", 1), msg("a", "x", 2)):
        assert box.deliver(m)
    assert box.deliver(msg("d", "x", 1))  # not asked for: stays queued
    order = [box.receive_any(keys, 0).payload for _ in range(5)]
    assert order == [b"b1", b"a1", b"b2", b"c1", b"a2"]
    with pytest.raises(ProtocolTimeout, match="no message on any of 3 channels"):
        box.receive_any(keys, 0.05)
    assert box.receive("d", "x", 0).payload == b"d1"
    assert box.queued_bytes == 0 and not box._stamps


def test_a_waiting_receive_takes_the_first_message_on_any_channel():
    box = Mailbox()
    out: list[bytes] = []
    t = threading.Thread(target=lambda: out.append(box.receive_any([("a", "x"), ("b", "x")], 10).payload))
    t.start()
    time.sleep(0.1)
    box.deliver(msg("b", "x", 1))
    t.join(5)
    assert out == [b"b1"]
    assert not box.deliver(msg("b", "x", 1))  # a resend after it was read: still a duplicate
    with pytest.raises(ProtocolTimeout):
        box.receive_any([("b", "x")], 0)
