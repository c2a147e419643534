"""A failure is clean and bounded: failed roles free what they made, a dead peer surfaces within the
caller's deadline, state held for a dead peer is reclaimed, and the other nodes keep serving."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.client import Network
from qemu_net.errors import MemoryFull, PeerUnavailable, ProtocolTimeout, QubitNotFound
from qemu_net.network.topology import parse_topology


def wait_until(predicate, timeout_s: float, what: str):
    """Poll a cheap read-only RPC until it holds (bounded in time)."""
    end = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.05)


def in_use(client, *names: str) -> dict[str, int]:
    return {n: client[n].info().qubits_in_use for n in names}


def test_failed_teleports_leak_nothing_and_the_next_one_runs(start_network):
    """bob's memory is full, so every teleport fails (MemoryFull) after alice made its EPR pair: alice's
    role frees the pair, the client frees its state qubit, and qubits in use go back to where they were.
    Five failures on a 4-qubit alice would exhaust her memory if anything leaked; then a teleport runs."""
    _, client = start_network(parse_topology({
        "name": "leaks",
        "nodes": [{"name": "alice", "memory_qubits": 4}, {"name": "bob", "memory_qubits": 1}],
        "links": [["alice", "bob"]],
    }))
    (blocker,) = client["bob"].qubits(1)
    for _ in range(5):
        q = client["alice"].qubit()
        with pytest.raises(MemoryFull):
            client.teleport(q, "bob", timeout_s=4)
        # The Bell measurement consumed q; the role freed its halves (bob never held one).
        assert in_use(client, "alice", "bob") == {"alice": 0, "bob": 1}
    client["bob"].free([blocker])
    wait_until(lambda: in_use(client, "alice", "bob") == {"alice": 0, "bob": 0}, 10, "both back to 0")
    q = client["alice"].qubit()
    client["alice"].gate("X", q)
    r = client.teleport(q, "bob", timeout_s=20)
    assert client["bob"].measure(r) == 1
    assert in_use(client, "alice", "bob") == {"alice": 0, "bob": 0}


def test_a_role_that_fails_frees_its_halves_at_both_ends(start_network):
    """The sender names a qubit that does not exist: its role fails after it created the EPR pair, frees
    both halves it holds, and the receiver (which never heard of the pair) times out holding nothing."""
    _, client = start_network(parse_topology({"name": "fails", "nodes": ["alice", "bob"],
                                              "links": [["alice", "bob"]]}))
    with pytest.raises(QubitNotFound):
        client.run_roles({"bob": {"teleport_receive": pr.TeleportReceive(peer="alice")},
                          "alice": {"teleport_send": pr.TeleportSend(peer="bob", qubit="alice.999999")}},
                         timeout_s=3)
    wait_until(lambda: in_use(client, "alice", "bob") == {"alice": 0, "bob": 0}, 10, "no qubit left")
    assert client["alice"].info().groups_held == 0


def test_killed_holder_surfaces_within_the_deadline_and_its_qubits_are_lost(start_network):
    """alice holds the pair whose far half is located at bob. After alice is SIGKILLed, an operation on
    bob's half fails with PeerUnavailable within the caller's deadline, then reports the qubit lost (never
    another qubit); bob and carol keep serving correct results."""
    local, client = start_network(parse_topology({
        "name": "killed", "nodes": ["alice", "bob", "carol"], "links": [["alice", "bob"], ["bob", "carol"]],
    }), allow_inspect=True)
    (pair,) = client["alice"].epr("bob")
    os.kill(local.pid("alice"), signal.SIGKILL)
    saved, client.timeout_s = client.timeout_s, 8  # the qubit is this client session's: same session
    try:
        t0 = time.monotonic()
        with pytest.raises((PeerUnavailable, QubitNotFound)):
            client["bob"].gate("X", pair.remote.id)
        assert time.monotonic() - t0 < 8
    finally:
        client.timeout_s = saved
    err = wait_until(lambda: _gate_error(client, pair.remote.id), 10, "bob reports the qubit lost")
    assert "lost" in str(err) and "alice" in str(err)
    assert client["bob"].info().qubits_in_use == 0
    # bob and carol still make correct pairs.
    (p2,) = client["bob"].epr("carol")
    rho = client["bob"].inspect([p2.local.id])
    np.testing.assert_allclose(rho, np.eye(2) / 2, atol=1e-6)
    assert client["carol"].measure(p2.remote.id) == client["bob"].measure(p2.local.id)


def test_state_held_for_a_dead_peer_is_reclaimed(start_network):
    """bob holds a pair whose far half is located at alice. When alice dies, bob traces that half out of
    the group without being asked anything: bob's half is left maximally mixed, in a group of its own."""
    local, client = start_network(parse_topology({"name": "reclaim", "nodes": ["alice", "bob"],
                                                  "links": [["alice", "bob"]]}), allow_inspect=True)
    (pair,) = client["bob"].epr("alice")
    assert client["bob"].info().groups_held == 1
    os.kill(local.pid("alice"), signal.SIGKILL)

    def reclaimed() -> bool:
        rho = client["bob"].inspect([pair.local.id])
        return client["bob"].info().groups_held == 1 and np.allclose(rho, np.eye(2) / 2, atol=1e-6)

    wait_until(reclaimed, 15, "bob traced out the half located at the dead node")
    # Still exactly one group (bob's half alone) and the qubit is usable.
    client["bob"].gate("H", pair.local.id)
    assert client["bob"].measure(pair.local.id) in (0, 1)
    assert client["bob"].info().qubits_in_use == 0


def _gate_error(client, qubit: str) -> QubitNotFound | None:
    """The QubitNotFound a gate on `qubit` at bob raises (None while bob still reports the peer as
    unreachable rather than the qubit as lost)."""
    try:
        client["bob"].gate("X", qubit)
    except QubitNotFound as exc:
        return exc
    except (PeerUnavailable, ProtocolTimeout):
        return None
    raise AssertionError(f"a gate on {qubit!r}, whose holder is dead, succeeded")
