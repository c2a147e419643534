"""The delivery rules that make classical messages exactly-once across partitions, in one process: a
receive whose answer was lost gets the same message again until acknowledged; two clients reading one
channel never get each other's in-flight message; a lapsed session's message goes back to the queue
but is not handed twice to a client that had it; a retried named send is never sent twice."""

from __future__ import annotations

import pytest

from qemu_net.errors import PeerUnavailable, ProtocolTimeout
from qemu_net.network.topology import parse_topology
from qemu_net.node.channels import ClassicalChannels
from qemu_net.node.clock import VirtualClock
from qemu_net.node.mailbox import Mailbox, Message


def _msg(seq: int) -> Message:
    return Message("alice", "c", seq, f"m{seq}".encode(), 0, 0)


def test_unacknowledged_delivery_is_handed_out_again_then_dropped_once_acked():
    box = Mailbox()
    for s in (11, 12):
        box.deliver(_msg(s))
    first = box.receive("alice", "c", 0.1, owner="me", ack=0)
    assert first.seq == 11
    # The answer was lost: the client retries without acknowledging -> the same message.
    assert box.receive("alice", "c", 0.1, owner="me", ack=0).seq == 11
    # It acknowledges 11 with its next receive -> 12, then nothing more.
    assert box.receive("alice", "c", 0.1, owner="me", ack=11).seq == 12
    with pytest.raises(ProtocolTimeout):
        box.receive("alice", "c", 0.05, owner="me", ack=12)
    assert box.inflight_count() == 0


def test_two_readers_of_one_channel_never_get_the_same_message():
    box = Mailbox()
    for s in (1, 2):
        box.deliver(_msg(s))
    a = box.receive("alice", "c", 0.1, owner="x/1", ack=0)
    b = box.receive("alice", "c", 0.1, owner="x/2", ack=0)
    assert {a.seq, b.seq} == {1, 2}
    assert box.receive("alice", "c", 0.1, owner="x/1", ack=0).seq == a.seq  # its own, again


def test_a_lapsed_session_gives_its_delivery_back_but_an_acknowledging_client_skips_it():
    box = Mailbox()
    for s in (5, 6):
        box.deliver(_msg(s))
    assert box.receive("alice", "c", 0.1, owner="me", ack=0).seq == 5
    assert box.session_ended("me", requeue=True) == 1
    # Another reader now gets 5 (the lapsed client may never have seen it) ...
    assert box.receive("alice", "c", 0.1, owner="other", ack=0).seq == 5
    box.deliver(_msg(7))
    box.session_ended("other", requeue=True)
    # ... and a client that did have 5 and acknowledges it is not handed 5 a second time.
    assert box.receive("alice", "c", 0.1, owner="me", ack=5).seq == 6


class FlakyPeers:
    """Delivers into a mailbox; the first `fail` calls raise after (or before) delivering."""

    def __init__(self, box: Mailbox, fail: int, delivered_before_failing: bool) -> None:
        self.box, self.fail, self.before = box, fail, delivered_before_failing
        self.calls = 0

    def deliver_classical(self, node, msg, attached=None, *, deadline):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.fail and not self.before:
            self.fail -= 1
            raise PeerUnavailable("cut off")
        self.box.deliver(msg)
        if self.fail:
            self.fail -= 1
            raise PeerUnavailable("answer lost")


@pytest.mark.parametrize("before", [True, False])
def test_a_named_send_retried_after_an_error_arrives_exactly_once(before: bool):
    """Whether the first attempt reached the peer (its answer lost) or not, retries of a named message
    deliver it once, under one sequence number; an unnamed resend would be a second message."""
    topo = parse_topology({"nodes": ["alice", "bob"], "links": [["alice", "bob"]]})
    box = Mailbox()
    peers = FlakyPeers(box, fail=2, delivered_before_failing=before)
    ch = ClassicalChannels(topology=topo, name="alice", clock=VirtualClock(), peers=peers)
    seqs = []
    for _ in range(3):
        try:
            seqs.append(ch.send("bob", "c", b"pay bob 5", 1e12, message_id="m1", owner="app/s")[0])
        except PeerUnavailable:
            continue
    assert len(seqs) == 1
    assert ch.send("bob", "c", b"pay bob 5", 1e12, message_id="m1", owner="app/s")[0] == seqs[0]  # answered again
    got = box.receive("alice", "c", 0.1)
    assert got.payload == b"pay bob 5"
    with pytest.raises(ProtocolTimeout):
        box.receive("alice", "c", 0.05)  # once only
    # The same name from another session is another message.
    assert ch.send("bob", "c", b"x", 1e12, message_id="m1", owner="app/t")[0] != seqs[0]


def test_a_receive_waiting_for_a_session_that_ends_gives_up_at_once():
    """Per-session state includes pending waits: when the session ends, its waiting receive returns
    (long before its own timeout), and other owners' waits are unaffected."""
    import threading
    import time

    box = Mailbox()
    errors: dict[str, BaseException] = {}

    def wait(owner: str) -> None:
        try:
            box.receive("alice", "c", 30.0, owner=owner, ack=0)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions
            errors[owner] = exc

    threads = {o: threading.Thread(target=wait, args=(o,)) for o in ("dead/1", "live/2")}
    for t in threads.values():
        t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    box.session_ended("dead/1", requeue=True)
    threads["dead/1"].join(5)
    assert not threads["dead/1"].is_alive() and time.monotonic() - t0 < 2
    assert isinstance(errors["dead/1"], ProtocolTimeout) and "ended" in str(errors["dead/1"])
    box.deliver(_msg(3))
    threads["live/2"].join(5)
    assert "live/2" not in errors
