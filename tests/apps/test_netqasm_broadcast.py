"""netqasm's BroadcastChannel keeps the rounds of a protocol apart, however the role processes are
scheduled: a role that reads one broadcast from each of the others per round never takes a later
round's message for the current one, and never sees a broadcast before every other role's node has it.

Four roles (threads of this process, each bound to its own node process) run rounds of "broadcast my
round number, then read one message from each other role". One role is made slow on purpose: in the
first round its broadcast reaches two roles at once and the last one a second later, long enough for
the fast roles to finish that round and broadcast the next one (as a role descheduled on a busy
machine would be). netqasm's own anonymous-transmission example is such a protocol of rounds.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest

netqasm = pytest.importorskip("netqasm")

from qemu_net._proto.v1 import node_pb2 as n  # noqa: E402
from qemu_net._proto.v1 import node_pb2_grpc as ng  # noqa: E402
from qemu_net.netqasm import connection as nqc  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402

ROLES = ["alice", "bob", "charlie", "david"]
ROUNDS = 3


@pytest.fixture(scope="module")
def net():
    links = [[a, b] for i, a in enumerate(ROLES) for b in ROLES[i + 1:]]
    local = LocalNetwork.start(parse_topology({"name": "bcast", "nodes": ROLES, "links": links}))
    try:
        nqc.bind({r: r for r in ROLES}, local.addresses, timeout_s=60,
                 tls_dir=str(local.tls_dir) if local.tls_dir is not None else None)
        yield local.addresses
    finally:
        local.stop()


def _slow_to(channel: nqc.QnetBroadcastChannel, late: str, delay_s: float) -> None:
    """Make `channel`'s next message to role `late` leave `delay_s` after the others."""
    sock = channel._sockets[late]
    plain = sock._send_bytes
    state = {"delayed": False}

    def send(payload: bytes) -> None:
        if not state["delayed"]:
            state["delayed"] = True
            time.sleep(delay_s)
        plain(payload)

    sock._send_bytes = send  # type: ignore[method-assign]


def test_rounds_stay_apart_when_one_broadcast_is_late(net) -> None:
    channels = {r: nqc.QnetBroadcastChannel(r, [o for o in ROLES if o != r], socket_id=7) for r in ROLES}
    _slow_to(channels["charlie"], "david", 1.5)  # charlie's round-0 broadcast reaches david 1.5 s late
    got: dict[str, list[list[tuple[str, int]]]] = {r: [] for r in ROLES}
    errors: list[BaseException] = []

    def role(name: str) -> None:
        try:
            for rnd in range(ROUNDS):
                channels[name].send(str(rnd))
                heard = [channels[name].recv(timeout=30) for _ in range(len(ROLES) - 1)]
                got[name].append([(who, int(m)) for who, m in heard])
        except BaseException as exc:  # reported below, with the others' results
            errors.append(exc)

    threads = [threading.Thread(target=role, args=(r,)) for r in ROLES]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    assert time.monotonic() - t0 >= 1.5  # the late broadcast really held the round up
    for name in ROLES:
        assert len(got[name]) == ROUNDS
        for rnd, heard in enumerate(got[name]):
            # One message from each other role, all of this round.
            assert sorted(heard) == sorted((o, rnd) for o in ROLES if o != name), (name, rnd, got[name])


def test_receive_from_any_channel_refuses_bad_requests_with_invalid_argument(net) -> None:
    stub = ng.NodeServiceStub(nqc._channel("alice"))
    key = n.ChannelKey(sender="bob", channel="c")
    bad = [
        n.ReceiveClassicalRequest(any_of=[key], sender="bob", timeout_s=0.1),
        n.ReceiveClassicalRequest(any_of=[key], acknowledged=True, timeout_s=0.1),
        n.ReceiveClassicalRequest(any_of=[key, key], timeout_s=0.1),
        n.ReceiveClassicalRequest(any_of=[n.ChannelKey(sender="bob")], timeout_s=0.1),
        n.ReceiveClassicalRequest(any_of=[n.ChannelKey(sender="x" * 5000, channel="c")], timeout_s=0.1),
        n.ReceiveClassicalRequest(any_of=[n.ChannelKey(sender="bob", channel="_qnet/node/incarnation")],
                                  timeout_s=0.1),
        n.ReceiveClassicalRequest(any_of=[n.ChannelKey(sender="bob", channel=f"c{i}") for i in range(257)],
                                  timeout_s=0.1),
    ]
    for req in bad:
        with pytest.raises(grpc.RpcError) as info:
            stub.ReceiveClassical(req, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (req, info.value.details())
        assert info.value.details()
    with pytest.raises(grpc.RpcError) as info:  # nothing arrives: the caller's own bound, a clear timeout
        stub.ReceiveClassical(n.ReceiveClassicalRequest(any_of=[key], timeout_s=0.2), timeout=10)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "no message on any of 1 channels" in info.value.details()


def test_a_late_commit_is_waited_for_again_and_an_abandoned_broadcast_is_dropped(net) -> None:
    """A broadcast whose commit is late is not lost: the receive times out and the next one returns it. A
    broadcast its sender never committed (its send failed part way) is dropped for the sender's next."""
    alice = nqc.QnetBroadcastChannel("alice", ["bob"], socket_id=8)
    bob = nqc.QnetBroadcastChannel("bob", ["alice"], socket_id=8)
    to_bob = alice._sockets["bob"]
    to_bob._send_bytes(b"s1")  # the data, its commit still to come
    with pytest.raises(TimeoutError, match="commit of a broadcast from alice"):
        bob.recv(timeout=0.5)
    to_bob._send_bytes(b"c")
    assert bob.recv(timeout=10) == ("alice", "1")
    to_bob._send_bytes(b"s2")  # never committed: alice broadcast again instead
    alice.send("3")
    assert bob.recv(timeout=10) == ("alice", "3")
    with pytest.raises(TimeoutError):
        bob.recv(timeout=0.3)
