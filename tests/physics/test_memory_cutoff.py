"""The memory cut-off (`memory_cutoff_s`): an EPR half that waited in the receiving node's delivered pool
longer than the cut-off, on that node's own timeline, is discarded when the role takes it; the role fails
saying so and the discarded half leaves the memory. Checked against real node processes:

* teleportation, where the receiver's half waits exactly the sender's CNOT + H + two measurements
  (deterministic): a cut-off just below that discards every half, one just above none, and the surviving
  state is that of no cut-off: <+|rho|+> = (1 + exp(-d/T2)) / 2;
* a GHZ state rooted at bob, whose pair with alice waits while the bob--charlie pair is generated
  (k attempts, geometric with herald probability p, of one period each): with the cut-off at
  (n + 1/2) periods beyond the fusion's duration the fraction discarded is P(k > n) = (1 - p)^n.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from qemu_net.errors import ProtocolAborted
from qemu_net.network.topology import parse_topology

G1, G2, M = 1_000.0, 5_000.0, 2_000.0  # the sender's gate and readout durations (ns)
D_NS = G2 + G1 + 2 * M  # how long the receiver's half waits before the news of it leaves the sender
T2 = 2e-5
PLUS = np.array([1, 1]) / math.sqrt(2)


def teleport_topology(cutoff_s: float | None):
    return parse_topology({
        "name": "cutoff",
        "nodes": [{"name": "alice", "gate_1q_duration_ns": G1, "gate_2q_duration_ns": G2, "measure_duration_ns": M},
                  {"name": "bob", "t2_s": T2, "memory_cutoff_s": cutoff_s}],
        "links": [["alice", "bob"]],
    })


def teleport_plus(client) -> np.ndarray:
    q = client["alice"].qubit()
    q.h()
    out = client.teleport(q, "bob", timeout_s=60)
    rho = client["bob"].inspect([out.id])
    client["bob"].free([out])
    return rho


@pytest.mark.parametrize("cutoff_s", [None, (D_NS + 100) * 1e-9])
def test_a_half_younger_than_the_cutoff_is_kept_and_decays_as_without_one(start_network, cutoff_s):
    """Cut-off above the half's wait (or none): the teleported |+> is dephased for exactly d."""
    _, client = start_network(teleport_topology(cutoff_s), allow_inspect=True)
    for _ in range(2):
        rho = teleport_plus(client)
        assert float(np.real(PLUS @ rho @ PLUS)) == pytest.approx((1 + math.exp(-D_NS * 1e-9 / T2)) / 2, abs=1e-6)


def test_a_half_older_than_the_cutoff_is_discarded(start_network):
    """Cut-off just below the half's wait: every teleport fails naming the cut-off, and bob's memory is
    left empty (the discarded half, and the role's clean-up of the rest)."""
    _, client = start_network(teleport_topology((D_NS - 100) * 1e-9), allow_inspect=True)
    for _ in range(3):
        q = client["alice"].qubit()
        q.h()
        with pytest.raises(ProtocolAborted, match="memory cut-off at 'bob'"):
            client.teleport(q, "bob", timeout_s=60)
    assert client["bob"].info().qubits_in_use == 0
    assert client["alice"].info().qubits_in_use == 0


def test_the_fraction_discarded_follows_the_waiting_time_distribution(start_network):
    """GHZ bob(root) -> alice, charlie: alice's half waits k periods (the bob--charlie attempts) plus the
    fusion's CNOT and readout; cut-off (n + 1/2) periods beyond them: P(discard) = (1 - p)^n within 4 SE."""
    from qemu_net.client import protocols as P

    eta, rate_hz, n = 0.1, 1e6, 6
    period_ns = 1e9 / rate_hz
    cutoff_ns = G2 + M + (n + 0.5) * period_ns
    node = {"gate_2q_duration_ns": G2, "measure_duration_ns": M}
    link = {"detector_efficiency": eta, "attempt_rate_hz": rate_hz, "attenuation_db_per_km": 0.0}
    topo = parse_topology({
        "name": "cutoff-ghz", "seed": 7,
        "nodes": [{"name": "alice", "memory_cutoff_s": cutoff_ns * 1e-9}, {"name": "bob", **node}, "charlie"],
        "links": [{"nodes": ["alice", "bob"], **link}, {"nodes": ["bob", "charlie"], **link}],
    })
    _, client = start_network(topo)
    runs, discarded = 160, 0
    for _ in range(runs):
        try:
            P.ghz(client, ["bob", "alice", "charlie"], shots=1, bases=["ZZZ"], timeout_s=60)
        except ProtocolAborted as exc:
            assert "memory cut-off at 'alice'" in str(exc)
            discarded += 1
    want = (1 - eta) ** n
    se = math.sqrt(want * (1 - want) / runs)
    assert abs(discarded / runs - want) < 4 * se, (discarded, runs, want)
    # A run ends at its first failed role; the other roles finish on their own and free what they hold.
    deadline = time.monotonic() + 90  # beyond the roles' own 60 s deadline
    in_use = {name: client[name].info().qubits_in_use for name in ("alice", "bob", "charlie")}
    while any(in_use.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
        in_use = {name: client[name].info().qubits_in_use for name in in_use}
    assert in_use == {"alice": 0, "bob": 0, "charlie": 0}
