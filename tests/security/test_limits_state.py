"""Per-channel state is bounded: a node that served many short sessions (each on its own channels) keeps
duplicate records only for a bounded number of idle channels, never drops a message nobody has read,
and still drops the duplicates of recent channels; limits are validated with the key path named."""

from __future__ import annotations

import time

import pytest

from qemu_net.errors import LimitExceeded, TopologyError
from qemu_net.network.topology import parse_topology
from qemu_net.node import limits
from qemu_net.node.limits import Limits
from qemu_net.node.mailbox import Mailbox, Message


def msg(channel: str, seq: int, payload: bytes = b"x") -> Message:
    return Message("alice", channel, seq, payload, 0, 0)


def test_idle_channels_are_bounded_and_unread_messages_are_kept():
    box = Mailbox()
    box.max_idle_channels = 100
    for i in range(5000):  # 5000 sessions, one message each, read at once
        assert box.deliver(msg(f"s{i}", 1))
        assert box.receive("alice", f"s{i}", 0).seq == 1
    assert box.channels_remembered() <= 100
    # A recent channel still drops a resent message.
    assert not box.deliver(msg("s4999", 1))
    # Messages nobody read are never forgotten, however many channels come after them.
    for i in range(300):
        assert box.deliver(msg(f"unread{i}", 7))
    for i in range(5000, 6000):
        box.deliver(msg(f"s{i}", 1))
        box.receive("alice", f"s{i}", 0)
    for i in range(300):
        assert box.receive("alice", f"unread{i}", 0).seq == 7
    assert box.channels_remembered() <= 100


def test_full_mailbox_refuses_after_the_deadline_and_accepts_after_a_read():
    box = Mailbox(max_queued_bytes=1000)
    with limits.call_scope(time.monotonic() + 5):
        assert box.deliver(msg("c", 1, b"a" * 600))
    with limits.call_scope(time.monotonic() + 0.3), pytest.raises(LimitExceeded, match="queue is full"):
        box.deliver(msg("c", 2, b"b" * 600))
    assert box.queued_bytes == 600
    box.receive("alice", "c", 0)
    with limits.call_scope(time.monotonic() + 1):
        assert box.deliver(msg("c", 2, b"b" * 600))
    assert box.queued_bytes == 600


def test_limits_overrides_name_their_key_path():
    with pytest.raises(TopologyError, match=r"limits\.max_epr_batch"):
        parse_topology({"nodes": ["a"], "limits": {"max_epr_batch": 0}})
    with pytest.raises(TopologyError, match=r"limits\.no_such_limit"):
        parse_topology({"nodes": ["a"], "limits": {"no_such_limit": 1}})
    with pytest.raises(TopologyError, match="QNET_LIMIT_MAX_WAITS"):
        Limits.resolve({}, env={"QNET_LIMIT_MAX_WAITS": "lots"})
    got = Limits.resolve({"max_epr_batch": 5000}, env={"QNET_LIMIT_MAX_EPR_BATCH": "7000"})
    assert got.max_epr_batch == 7000  # the environment wins over the topology


def test_default_limits_fit_a_1_gib_pod():
    """The memory the defaults let requests pin at once stays well inside a 1 GiB pod."""
    d = Limits()
    pinned = (d.max_queued_classical_bytes           # unread classical messages
              + d.max_queued_classical_bytes         # classical payloads being sent
              + 64 * d.max_epr_batch                 # one create-and-measure batch, ~64 B a pair
              + d.max_group_state_bytes)             # one arriving group
    assert pinned < 600 * limits.MiB, pinned / limits.MiB
    assert d.max_waits <= d.public_workers - 4
