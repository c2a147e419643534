"""A qubit waiting in memory (`Qubit.wait`, `Node.wait`): the location's clock advances by the wait and the
qubit decays with that node's T1/T2, whichever process holds its state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qemu_net.network.topology import parse_topology

T1, T2 = 1e-3, 4e-4
PHI = np.array([1, 0, 0, 1]) / math.sqrt(2)


def stored_half(t_s: float) -> float:
    """Bell fidelity after one half of |Phi+> spent t_s under amplitude damping T1 and dephasing T2."""
    return (1 + math.exp(-t_s / T1) + 2 * math.exp(-t_s / T2)) / 4


@pytest.fixture
def net(start_network):
    _, client = start_network(parse_topology({
        "name": "wait", "nodes": ["alice", {"name": "bob", "t1_s": T1, "t2_s": T2}], "links": [["alice", "bob"]],
    }), allow_inspect=True)
    return client


@pytest.mark.parametrize("wait_s", [0.0, 1e-4, 5e-4])
def test_a_remote_held_half_decays_over_its_wait(net, wait_s):
    """alice holds the pair; bob's half waits wait_s at bob: F = (1 + e^{-t/T1} + 2 e^{-t/T2}) / 4, and
    bob's clock moved by exactly the wait."""
    (pair,) = net["alice"].epr("bob")
    bob_before = net["bob"].info().virtual_time_ns
    start = max(bob_before, pair.ready_ns)
    pair.remote.wait(wait_s)
    bob_after = net["bob"].info().virtual_time_ns
    assert bob_after == start + round(wait_s * 1e9)
    # Pull the pair together to read it: send bob's half back to alice is not needed, inspect at the holder
    # needs co-location, so move alice's half to bob (an ideal, zero-length link: no loss, no delay noise).
    assert net["alice"].send_qubit(pair.local, "bob") is not None
    rho = net["bob"].inspect([pair.local.id, pair.remote.id])
    f = float(np.real(PHI @ rho @ PHI))
    assert f == pytest.approx(stored_half((bob_after - pair.ready_ns) * 1e-9), abs=1e-6)
    assert f == pytest.approx(stored_half(wait_s + (start - pair.ready_ns) * 1e-9), abs=1e-6)


def test_node_wait_moves_the_clock_once_for_every_qubit(net):
    """`Node.wait` on two qubits advances the clock once, and bad durations are refused."""
    from qemu_net.errors import InvalidOperation

    a, b = net["bob"].qubits(2)
    t0 = net["bob"].info().virtual_time_ns
    net["bob"].wait([a, b], 2e-4)
    assert net["bob"].info().virtual_time_ns == t0 + 200_000
    for bad in (-1.0, float("nan"), 1e9):
        with pytest.raises(InvalidOperation):
            net["bob"].wait([a], bad)
    net["bob"].free([a, b])
