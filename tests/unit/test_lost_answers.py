"""A node-to-node call whose answer is lost changes nothing twice: the receiver commits only before the
request's deadline, and answers the sender's repeat with what it did (docs/design.md, "Whether the peer
heard of a far half is the receiver's decision"). In one process, with the calls made directly."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qemu_net.errors import PeerUnavailable, ProtocolTimeout
from qemu_net.network.topology import parse_topology
from qemu_net.node.core import NodeCore
from qemu_net.node.ops import GateOp, MeasureOp
from qemu_net.node.ownership import Moved
from qemu_net.node.transit import RecentAnswers, Shipment, Txn

X = np.array([[0, 1], [1, 0]], dtype=complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
TOPO = parse_topology({"nodes": ["a", "m", "far"], "links": [["a", "m"], ["a", "far"]]})
OLD, MID = Txn(1, "a", 1), Txn(2, "m", 1)


class FakePeers:
    def __init__(self) -> None:
        self.adopted: list = []

    def arrive(self, node, qubits, now_ns, state=None, adopt=(), *, deadline):
        pass

    def update_holder(self, node, qubits, holder, sizes, epochs):
        pass

    def adopt_group(self, node, shipment, *, deadline):
        self.adopted.append((node, shipment.qubits))


def soon(s: float = 5.0) -> float:
    return time.monotonic() + s


def test_a_repeated_forward_answers_the_same_outcomes_and_runs_once():
    """A batch with an id runs once: its repeat gets the outcomes of that run, and the state shows one X."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    (q,) = core.allocate(1)
    first = core.on_forward([GateOp(X, (q,)), MeasureOp(q, "Z", True)], {}, 0, deadline=soon(), request=("m", 7))
    again = core.on_forward([GateOp(X, (q,)), MeasureOp(q, "Z", True)], {}, 0, deadline=soon(), request=("m", 7),
                            repeat=True)
    assert first.outcomes == [1] and again is first
    assert core.apply([MeasureOp(q, "Z", True)]) == [1]  # X ran once: |1>, not |0>
    other = core.on_forward([GateOp(X, (q,)), MeasureOp(q, "Z", True)], {}, 0, deadline=soon(), request=("m", 8))
    assert other.outcomes == [0]  # another id is another batch


def test_a_forward_that_arrives_after_its_deadline_runs_nothing():
    core = NodeCore(TOPO, "a", peers=FakePeers())
    (q,) = core.allocate(1)
    with pytest.raises(ProtocolTimeout, match="deadline passed"):
        core.on_forward([GateOp(X, (q,))], {}, 0, deadline=time.monotonic() - 0.001, request=("m", 9))
    assert core.apply([MeasureOp(q, "Z", True)]) == [0]
    # Refused, it left nothing to answer a repeat with, and a repeat never runs a batch (whose deadline passed).
    with pytest.raises(ProtocolTimeout, match="did not run"):
        core.on_forward([GateOp(X, (q,))], {}, 0, deadline=soon(), request=("m", 9), repeat=True)
    assert core.apply([MeasureOp(q, "Z", True)]) == [0]


def test_a_group_handed_over_is_handed_over_again_to_the_same_operation_only():
    """The answer carrying a group may be lost: the same operation's repeat gets the same state once; any
    other request is sent on to the new holder."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    (h,) = core.create_epr("m")
    (r,) = core.remote_halves([h])
    shipment = core.on_take_group(r, "far", txn=OLD, deadline=soon())
    assert core.on_take_group(r, "far", txn=MID, deadline=soon()) == Moved("far", 1)
    again = core.on_take_group(r, "far", txn=OLD, deadline=soon())
    assert again.qubits == shipment.qubits and again.epochs == shipment.epochs
    np.testing.assert_allclose(again.state.tensor, shipment.state.tensor, atol=1e-12)
    assert core.on_take_group(r, "far", txn=OLD, deadline=soon()) == Moved("far", 1)  # once only


def test_a_group_is_handed_over_only_before_the_deadline():
    core = NodeCore(TOPO, "a", peers=FakePeers())
    (h,) = core.create_epr("m")
    (r,) = core.remote_halves([h])
    with pytest.raises(ProtocolTimeout, match="too late to hand it over"):
        core.on_take_group(r, "far", txn=OLD, deadline=time.monotonic() - 0.001)
    assert h.qubit in core.register and r in core.register


def _pushed_here(core: NodeCore) -> tuple[Shipment, list[str]]:
    """A Bell pair located at `core`, taken by "far" and coming back as far's push-back would send it."""
    qs = core.allocate(2)
    core.apply([GateOp(H, (qs[0],)), GateOp(CNOT, (qs[0], qs[1]))])
    out = core.on_take_group(qs[0], "far", txn=OLD, deadline=soon())
    back = Shipment(out.state, out.locations, tuple(e + 1 for e in out.epochs))
    return back, qs


def test_an_adopted_group_is_taken_once_and_never_after_its_deadline():
    core = NodeCore(TOPO, "a", peers=FakePeers(), allow_inspect=True)
    back, qs = _pushed_here(core)
    with pytest.raises(ProtocolTimeout, match="came after its deadline; nothing was taken"):
        core.on_adopt_group(back, decide_by=time.monotonic() - 0.001)
    assert not any(q in core.register for q in qs)
    core.on_adopt_group(back, decide_by=soon())
    assert list(core.register.group_of(qs[0]).qubits) == qs
    core.on_adopt_group(back, decide_by=soon())  # a repeat: acknowledged, nothing added
    assert len(core.register) == 2
    rho = core.inspect(qs)
    bell = np.zeros(4, dtype=complex)
    bell[[0, 3]] = 1 / np.sqrt(2)
    np.testing.assert_allclose(rho, np.outer(bell, bell.conj()), atol=1e-6)
    # Measured since (and gone from the directory), a late repeat still adds nothing back.
    core.apply([MeasureOp(qs[0], "Z", False), MeasureOp(qs[1], "Z", False)])
    core.on_adopt_group(back, decide_by=soon())
    assert len(core.register) == 0 and core.info()["qubits_in_use"] == 0


class PushPeers(FakePeers):
    """A location that answers each push-back as `answers` says, in turn: "refuse", "silence" or "take"."""

    def __init__(self, *answers: str) -> None:
        super().__init__()
        self.answers = list(answers)
        self.hints: list = []
        self.hinted = threading.Event()

    def adopt_group(self, node, shipment, *, deadline):
        self.adopted.append((node, shipment.qubits))
        answer = self.answers.pop(0)
        if answer == "refuse":
            raise ProtocolTimeout("the group came after its deadline; nothing was taken")
        if answer == "silence":
            raise PeerUnavailable("node did not answer within its deadline", code="DEADLINE_EXCEEDED")

    def update_holder(self, node, qubits, holder, sizes, epochs):
        self.hints.append((node, qubits, holder, epochs))
        self.hinted.set()


def _push_candidate(peers: FakePeers) -> tuple[NodeCore, str, str]:
    core = NodeCore(TOPO, "a", peers=peers)
    (h,) = core.create_epr("m")
    (r,) = core.remote_halves([h])
    with core._cond:
        core.held.located_at[h.qubit] = "m"  # both halves located at m: a push-back candidate
    return core, h.qubit, r


def test_a_refused_push_back_is_kept_as_a_move_back_and_the_location_is_told():
    """While a push-back is on its way, a request may follow its tombstone to the location and wait there.
    If the location refuses the group, it is held here again at newer epochs and the location hears so,
    which is what sends that request back here (`Ownership.take_back`)."""
    peers = PushPeers("refuse")
    core, q, r = _push_candidate(peers)
    core.ownership.push_back([q], soon())
    assert q in core.register and r in core.register
    assert core.held.epoch[q] == core.held.epoch[r] == 2 and core.held.moved_since(r, 0) is None
    assert peers.hinted.wait(5) and peers.hints == [("m", [q, r], "a", {q: 2, r: 2})]


def test_a_push_back_without_an_answer_is_asked_again_and_kept_only_if_still_unanswered():
    taken = PushPeers("silence", "take")
    core, q, r = _push_candidate(taken)
    core.ownership.push_back([q], soon())  # returns at once: the repeat is asked in the background
    deadline = time.monotonic() + 5
    while len(taken.adopted) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert len(taken.adopted) == 2 and q not in core.register and not taken.hints  # adopted by m: gone here
    mute = PushPeers("silence", "silence")
    core, q, r = _push_candidate(mute)
    core.ownership.push_back([q], soon())
    assert mute.hinted.wait(5) and q in core.register and core.held.epoch[q] == 2


def test_no_push_back_leaves_when_the_request_has_no_time_for_its_answer():
    peers = PushPeers("take")
    core, q, r = _push_candidate(peers)
    core.ownership.push_back([q], soon(1.0))  # less than PUSH_DECIDE_S + PEER_ANSWER_S left
    assert peers.adopted == [] and q in core.register


def test_a_holder_asked_for_a_group_it_pushed_back_and_took_back_sends_the_request_on():
    """At the location: a TakeGroup waiting for a push-back that went back follows the newer hint."""
    core = NodeCore(TOPO, "m", peers=FakePeers())
    (q,) = core.allocate(1)
    core.on_take_group(q, "a", txn=OLD, deadline=soon())  # "a" holds it (epoch 1)
    with core._cond:
        core.directory.hint(q, "m", 1)  # a Moved answer said: pushed back here, epoch 1
    threading.Timer(0.2, core.on_update_holder, args=([q], "a", {q: 1}, {q: 2})).start()
    t0 = time.monotonic()
    assert core.on_take_group(q, "far", txn=MID, min_epoch=1, deadline=soon(10)) == Moved("a", 2)
    assert time.monotonic() - t0 < 5


def test_a_location_waiting_for_a_push_back_follows_the_hint_that_it_was_kept():
    """The location's side: a request waiting for a group it was told is on its way here (epoch 1) goes to
    the holder named by a newer hint (epoch 2) instead of waiting until its deadline."""
    core = NodeCore(TOPO, "m", peers=FakePeers())
    qs = core.allocate(1)
    (q,) = qs
    out = core.on_take_group(q, "a", txn=OLD, deadline=soon())  # "a" holds it now (epoch 1)
    asked: list = []

    def take_group(node, qubit, new_holder, *, txn, wait_unpinned, min_epoch, deadline):
        asked.append((node, min_epoch))
        return Shipment(out.state, out.locations, (3,))

    core.ownership._peers.take_group = take_group
    with core._cond:
        core.directory.hint(q, "m", 1)  # a Moved answer said: pushed back here, epoch 1
    threading.Timer(0.2, core.on_update_holder, args=([q], "a", {q: 1}, {q: 2})).start()
    t0 = time.monotonic()
    assert core.apply([MeasureOp(q, "Z", True)], deadline=soon(10)) == [0]
    assert asked == [("a", 2)] and time.monotonic() - t0 < 5


def test_recent_answers_forget_the_oldest_and_the_expired():
    ans: RecentAnswers[int, str] = RecentAnswers(keep_s=0.2, cap=3)
    for i in range(5):
        ans.put(i, f"v{i}")
    assert len(ans) == 3 and ans.get(0) is None and ans.get(4) == "v4"
    time.sleep(0.25)
    ans.put(9, "v9")
    assert len(ans) == 1 and ans.get(9) == "v9" and ans.pop(9) == "v9" and ans.get(9) is None


def test_a_group_pushed_before_the_news_of_its_qubits_is_taken():
    """A push-back may overtake the Arrive that tells the location of its qubits (another thread of the
    sender): it is adopted, not mistaken for a repeat."""
    back, qs = _pushed_here(NodeCore(TOPO, "a", peers=FakePeers()))
    fresh = NodeCore(TOPO, "a", peers=FakePeers())  # knows nothing of qs yet
    fresh.on_adopt_group(back, decide_by=soon())
    assert all(q in fresh.register for q in qs)


class FakeContext:
    def time_remaining(self):
        return 10.0

    def set_trailing_metadata(self, md):
        self.md = md

    def abort(self, code, details):
        raise AssertionError(f"{code}: {details}")


def test_with_node_certificates_a_repeated_push_or_arrival_is_acknowledged_not_refused():
    """A node refuses a group it holds from anyone else (a forged hand-over), but the repeat of a push or
    an arrival it took holds exactly such groups: it is recognised first, and acknowledged."""
    from qemu_net._serde.quantum import group_to_proto
    from qemu_net.node.servicers import PeerServicer
    from qemu_net.security.peer_auth import PeerAuthorizer

    core = NodeCore(TOPO, "a", peers=FakePeers())
    back, qs = _pushed_here(core)
    auth = PeerAuthorizer("a", ["a", "m", "far"], required=True)
    auth.caller = lambda context, method: "far"  # what the caller's certificate proves
    servicer = PeerServicer(core, auth=auth)
    servicer.AdoptGroup(group_to_proto(back), FakeContext())
    servicer.AdoptGroup(group_to_proto(back), FakeContext())  # the repeat: acknowledged
    assert len(core.register) == 2
    forged = Shipment(back.state, back.locations, tuple(e + 1 for e in back.epochs))
    with pytest.raises(AssertionError, match="PERMISSION_DENIED"):  # not a repeat: a group a holds
        servicer.AdoptGroup(group_to_proto(forged), FakeContext())
    assert len(core.register) == 2


def test_an_arrival_that_brings_only_groups_is_taken_once():
    """Groups sent with a role's news (no qubits of their own) are recorded, so their repeat adds nothing."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    back, qs = _pushed_here(core)
    core.on_arrive("far", [], 0, None, [back], decide_by=soon())
    core.on_arrive("far", [], 0, None, [back], decide_by=soon())
    assert len(core.register) == 2 and core.repeats_an_arrival([], [back])


def test_recent_answers_are_bounded_by_weight_too():
    ans: RecentAnswers[int, bytes] = RecentAnswers(cap=100, max_weight=10, weigh=len)
    for i in range(4):
        ans.put(i, b"xxxx")
    assert len(ans) == 2 and ans.get(3) == b"xxxx" and ans.get(1) is None
    ans.pop(3)
    ans.put(5, b"x" * 6)
    assert len(ans) == 2


def test_a_full_mailbox_refuses_a_message_before_its_attached_qubits_are_taken():
    """A message refused for a full mailbox leaves its attachment with the sender (who then keeps the qubits);
    once there is room, message and qubits are taken together, once."""
    from qemu_net.errors import LimitExceeded
    from qemu_net.node import limits
    from qemu_net.node.outbox import Attachment
    from qemu_net.node.mailbox import Message

    core = NodeCore(TOPO, "a", peers=FakePeers())
    core.mailbox.max_queued = 1
    with limits.call_scope(soon()):
        core.on_deliver_classical(Message("far", "c", 1, b"first", 0, 0))
    back, qs = _pushed_here(core)
    news = Message("far", "c", 2, b"with qubits", 0, 0)
    with limits.call_scope(time.monotonic() + 0.5), pytest.raises(LimitExceeded, match="queue is full"):
        core.on_deliver_classical(news, Attachment([], [back], 0), decide_by=soon())
    assert not any(q in core.register for q in qs)  # refused before anything was taken
    assert not core.repeats_an_arrival([], [back])
    assert core.mailbox.receive("far", "c", 0).payload == b"first"
    with limits.call_scope(soon()):
        core.on_deliver_classical(news, Attachment([], [back], 0), decide_by=soon())
        core.on_deliver_classical(news, Attachment([], [back], 0), decide_by=soon())  # a resend: dropped
    assert list(core.register.group_of(qs[0]).qubits) == qs and len(core.register) == 2
    assert core.mailbox.receive("far", "c", 0).payload == b"with qubits"
    with pytest.raises(ProtocolTimeout):
        core.mailbox.receive("far", "c", 0)


def test_a_message_whose_attachment_is_refused_frees_its_room_in_the_mailbox():
    from qemu_net.node import limits
    from qemu_net.node.outbox import Attachment
    from qemu_net.node.mailbox import Message

    core = NodeCore(TOPO, "a", peers=FakePeers())
    core.mailbox.max_queued = 1
    back, qs = _pushed_here(core)
    with limits.call_scope(soon()), pytest.raises(ProtocolTimeout, match="after its deadline"):
        core.on_deliver_classical(Message("far", "c", 1, b"late", 0, 0), Attachment([], [back], 0),
                                  decide_by=time.monotonic() - 0.001)
    assert not any(q in core.register for q in qs)
    assert core.mailbox._held == {} and core.mailbox._held_bytes == 0 and core.mailbox._taking == {}
    with limits.call_scope(time.monotonic() + 0.5):  # the room held for the refused one is free again
        core.on_deliver_classical(Message("far", "c", 2, b"next", 0, 0))
    assert core.mailbox.receive("far", "c", 0).payload == b"next"


def test_a_repeat_that_comes_while_its_message_is_being_taken_waits_for_that_outcome():
    """The sender repeats a message whose first delivery is still taking its qubits (here: waiting for the
    node's lock) in a full channel. The repeat is not refused for the room the first one holds, which would
    make its sender restore the qubits the first one takes: it waits, and is dropped as a duplicate."""
    from qemu_net.errors import LimitExceeded
    from qemu_net.node import limits
    from qemu_net.node.mailbox import Message
    from qemu_net.node.outbox import Attachment

    core = NodeCore(TOPO, "a", peers=FakePeers())
    core.mailbox.max_queued = 1
    back, qs = _pushed_here(core)
    news = Message("far", "c", 1, b"with qubits", 0, 0)
    outcomes: dict[str, object] = {}

    def deliver(name: str, scope_s: float) -> None:
        try:
            with limits.call_scope(time.monotonic() + scope_s):
                core.on_deliver_classical(news, Attachment([], [back], 0), decide_by=soon())
            outcomes[name] = "ok"
        except (LimitExceeded, ProtocolTimeout) as exc:
            outcomes[name] = exc

    with core._cond:  # the node is busy: the first delivery waits for the lock inside its take
        first = threading.Thread(target=deliver, args=("first", 10.0))
        first.start()
        deadline = time.monotonic() + 5
        while not core.mailbox._taking and time.monotonic() < deadline:
            time.sleep(0.01)
        assert core.mailbox._taking == {("far", "c"): {1}}
        repeat = threading.Thread(target=deliver, args=("repeat", 1.5))
        repeat.start()
        time.sleep(1.2)  # past the point where a full channel refuses the repeat (0.8 of its time, less 0.2 s)
    first.join(10)
    repeat.join(10)
    assert outcomes == {"first": "ok", "repeat": "ok"}, outcomes
    assert list(core.register.group_of(qs[0]).qubits) == qs and len(core.register) == 2
    assert core.mailbox.receive("far", "c", 0).payload == b"with qubits"
    with pytest.raises(ProtocolTimeout):
        core.mailbox.receive("far", "c", 0)


def test_a_node_channel_refuses_attached_qubits_before_taking_them():
    from qemu_net.errors import InvalidOperation
    from qemu_net.node.core import INCARNATION_CHANNEL
    from qemu_net.node.mailbox import Message
    from qemu_net.node.outbox import Attachment

    core = NodeCore(TOPO, "a", peers=FakePeers())
    back, qs = _pushed_here(core)
    with pytest.raises(InvalidOperation, match="carries no qubits"):
        core.on_deliver_classical(Message("far", INCARNATION_CHANNEL, 1, b"x", 0, 0), Attachment([], [back], 0),
                                  decide_by=soon())
    assert not any(q in core.register for q in qs)
