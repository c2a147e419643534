"""Storage time comes from each qubit's own virtual timeline: the same EPR experiment with one node's clock
far ahead of the other's gives the same fidelity (density matrix, to 1e-6) as with the clocks together, and
both equal the closed form of the two halves' memory decay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qemu_net.network.topology import parse_topology

T1 = {"alice": 2e-3, "bob": 1e-3}
T2 = {"alice": 6e-4, "bob": 4e-4}
WAIT = {"alice": 1e-4, "bob": 3e-4}  # alice's half waits less, so sending it to bob adds no storage
OFFSET_S = 1.0
PHI = np.array([1, 0, 0, 1]) / math.sqrt(2)


def closed_form(ta: float, tb: float) -> float:
    """<Phi+| rho |Phi+> after amplitude damping (T1) and dephasing (T2) of each half for its own time:
    (1 + g_a g_b + (1 - g_a)(1 - g_b) + 2 exp(-ta/T2a - tb/T2b)) / 4 with g = 1 - exp(-t/T1)."""
    ga, gb = 1 - math.exp(-ta / T1["alice"]), 1 - math.exp(-tb / T1["bob"])
    coh = math.exp(-ta / T2["alice"] - tb / T2["bob"])
    return (1 + ga * gb + (1 - ga) * (1 - gb) + 2 * coh) / 4


def run(client, ahead: str | None) -> float:
    """Optionally put `ahead`'s clock OFFSET_S ahead (a qubit waits there), then make a pair, let each half
    wait its WAIT at its node, bring alice's half to bob and read the pair's Bell fidelity."""
    if ahead is not None:
        (q,) = client[ahead].qubits(1)
        q.wait(OFFSET_S)
        client[ahead].free([q])
    (pair,) = client["alice"].epr("bob")
    pair.local.wait(WAIT["alice"])
    pair.remote.wait(WAIT["bob"])
    assert client["alice"].send_qubit(pair.local, "bob") is not None
    rho = client["bob"].inspect([pair.local.id, pair.remote.id])
    return float(np.real(PHI @ rho @ PHI))


def topology():
    return parse_topology({
        "name": "skew",
        "nodes": [{"name": n, "t1_s": T1[n], "t2_s": T2[n]} for n in ("alice", "bob")],
        "links": [["alice", "bob"]],
    })


@pytest.mark.parametrize("ahead", ["bob", "alice"])
def test_clock_offset_does_not_change_the_stored_pair(start_network, ahead):
    """With `ahead`'s clock 1 s ahead the pair's fidelity is that of the clocks together, and both are the
    closed form of each half decaying for exactly its own wait (no second of skew charged as storage)."""
    want = closed_form(WAIT["alice"], WAIT["bob"])
    _, together = start_network(topology(), allow_inspect=True)
    f0 = run(together, None)
    _, offset = start_network(topology(), allow_inspect=True)
    f1 = run(offset, ahead)
    assert offset[ahead].info().virtual_time_ns >= OFFSET_S * 1e9
    assert f0 == pytest.approx(want, abs=1e-6)
    assert f1 == pytest.approx(f0, abs=1e-6)
    assert want < 0.8  # the decay is large enough that a second of skew would be seen


def test_skew_reaches_the_holder_once(start_network):
    """Several operations on the far half after the skewed herald: decay accumulates only over the waits."""
    _, c = start_network(topology(), allow_inspect=True)
    (q,) = c["bob"].qubits(1)
    q.wait(OFFSET_S)
    c["bob"].free([q])
    (pair,) = c["alice"].epr("bob")
    for _ in range(3):
        pair.remote.wait(WAIT["bob"] / 3)
        pair.remote.x()
        pair.remote.x()
    pair.local.wait(WAIT["alice"])
    assert c["alice"].send_qubit(pair.local, "bob") is not None
    rho = c["bob"].inspect([pair.local.id, pair.remote.id])
    assert float(np.real(PHI @ rho @ PHI)) == pytest.approx(closed_form(WAIT["alice"], WAIT["bob"]), abs=1e-6)
