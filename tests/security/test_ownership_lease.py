"""A session's lease: a client that is SIGKILLed while holding the whole memory leaves nothing behind once
its lease lapses (later pairs and teleports succeed); a live client keeps its qubits however long it
holds them (the SDK renews the lease); closing a client frees its qubits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qemu_net.client import Network
from qemu_net.network.topology import parse_topology

LEASE_S = 1.5
MEMORY = 64
TOPO = {"name": "lease", "nodes": [{"name": "alice", "memory_qubits": MEMORY}, {"name": "bob", "memory_qubits": MEMORY}],
        "links": [["alice", "bob"]]}

HOLDER = """
import json, sys, time
from qemu_net.client import Network
net = Network.connect(json.loads(sys.argv[1]), timeout_s=30)
qs = net["alice"].qubits({memory})
for q in qs[:8]:
    q.h()
print("HOLDING", len(qs), flush=True)
time.sleep(3600)
"""


def _wait_until(pred, timeout_s: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout_s
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def short_lease(monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("QNET_SESSION_LEASE_S", str(LEASE_S))  # forked nodes read it at start


def test_sigkilled_client_holding_the_whole_memory_is_freed_after_its_lease(start_network, short_lease):
    """64 of 64 qubits held by a client that is then SIGKILLed: within the lease (plus the reaper's
    margin) the memory is empty again and new EPR pairs and teleports succeed."""
    local, net = start_network(parse_topology(TOPO))
    addresses = {nd.name: nd.address for nd in local.topology.nodes}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    if local.tls_dir is not None:  # the holder is another process: it finds the network's certificates here
        env["QNET_TLS_DIR"] = str(local.tls_dir)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(memory=MEMORY), json.dumps(addresses)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "HOLDING" not in line:
            assert time.monotonic() < deadline and proc.poll() is None, line
            line = proc.stdout.readline()
        assert net["alice"].info().qubits_in_use == MEMORY
        # Its lease is renewed while it lives: after several leases it still holds everything.
        time.sleep(3 * LEASE_S)
        assert net["alice"].info().qubits_in_use == MEMORY
        with pytest.raises(Exception, match="full"):
            net["alice"].epr("bob")
        t_kill = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    _wait_until(lambda: net["alice"].info().qubits_in_use == 0, 30, "alice's memory freed")
    freed_after = time.monotonic() - t_kill
    assert freed_after >= LEASE_S * 0.5, freed_after  # freed by the lease, not by anything else
    # The memory is usable again: a full batch of pairs, and a teleport.
    pairs = net["alice"].epr("bob", MEMORY // 2)
    assert len(pairs) == MEMORY // 2
    for p in pairs:
        assert p.local.measure() == p.remote.measure()
    q = net["alice"].qubit()
    q.x()
    assert net.teleport(q, "bob").measure() == 1
    assert net["alice"].info().qubits_in_use == 0


def test_closing_a_client_frees_its_qubits_and_leaves_others_alone(start_network, short_lease):
    """Closing one client ends its session at every node it used: its qubits are freed at once; another
    client's qubits stay."""
    local, net = start_network(parse_topology(TOPO))
    keep = net["alice"].qubit()
    keep.x()
    other = Network.connect(local.topology, timeout_s=10)
    other["alice"].qubits(5)
    other["alice"].epr("bob")
    assert net["alice"].info().qubits_in_use == 7 and net["bob"].info().qubits_in_use == 1
    other.close()
    assert net["alice"].info().qubits_in_use == 1
    assert net["bob"].info().qubits_in_use == 0
    time.sleep(2 * LEASE_S)  # the live client's lease is renewed: its qubit is still there
    assert keep.measure() == 1


def test_the_asyncio_client_keeps_and_closes_its_session_too(start_network, short_lease):
    """The asyncio SDK renews its lease while it lives (its qubits outlast several leases) and frees them
    on close; another asyncio client may not touch them."""
    import asyncio

    from qemu_net.client.aio import AsyncNetwork
    from qemu_net.errors import PermissionDenied

    local, net = start_network(parse_topology(TOPO))
    addresses = {nd.name: nd.address for nd in local.topology.nodes}

    async def scenario() -> None:
        owner = AsyncNetwork.connect(addresses, timeout_s=10)  # with the network's certificates
        other = AsyncNetwork.connect(addresses, timeout_s=10)
        try:
            q = await owner["alice"].qubit()
            await q.x()
            await asyncio.sleep(3 * LEASE_S)
            with pytest.raises(PermissionDenied):
                await other["alice"].measure(q.id)
            assert net["alice"].info().qubits_in_use == 1
            assert await owner["alice"].measure(q.id, keep=True) == 1
        finally:
            await owner.close()
            await other.close()
        assert net["alice"].info().qubits_in_use == 0

    asyncio.run(scenario())
