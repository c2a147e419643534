"""The asyncio SDK against real node processes: same handles, same errors, context managers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from qemu_net.client import AsyncNetwork
from qemu_net.errors import QubitNotFound
from qemu_net.network.topology import parse_topology
from tests.conftest import running

TOPO = parse_topology({"name": "aio", "nodes": ["alice", "bob"], "links": [["alice", "bob"]]})


@pytest.fixture(scope="module")
def local():
    with running(TOPO, allow_inspect=True) as (launcher, _client):
        yield launcher


def test_async_api_runs_gates_pairs_and_teleportation(local):
    """Gates, EPR correlations, teleportation and a freed qubit through AsyncNetwork."""

    async def main() -> None:
        async with AsyncNetwork.connect(local.topology) as net:
            alice, bob = net["alice"], net["bob"]
            async with await alice.qubit() as q:
                await q.x()
                assert await q.measure(keep=True) == 1
            assert (await alice.info()).qubits_in_use == 0  # freed by the context manager
            pairs = await alice.epr("bob", count=20)
            for p in pairs:
                a, b = await asyncio.gather(p.local.measure("X"), p.remote.measure("X"))
                assert a == b
            q = await alice.qubit()
            await q.ry(1.0)
            r = await net.teleport(q, "bob")
            rho = await r.density_matrix()
            assert np.real(rho[1, 1]) == pytest.approx(np.sin(0.5) ** 2, abs=1e-9)
            await r.measure()
            with pytest.raises(QubitNotFound):
                await bob.measure("no-such-qubit")

    asyncio.run(main())
