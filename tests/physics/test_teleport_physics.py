"""Teleportation over noisy links across real node processes: fidelity (2F + 1)/3 over a Werner resource,
and the virtual times the roles report."""

from __future__ import annotations

import math

import numpy as np
import pytest
from physics_harness import running

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.network.topology import parse_topology

WERNER = {"b1": 0.9, "b2": 0.75, "b3": 0.6}
LONG_KM = 20.0
NS_PER_KM = 1.468e9 / 299_792.458  # light in standard fiber: group index 1.468 / c (~4.897 us per km)

TOPOLOGY = parse_topology(
    {
        "name": "teleport",
        "seed": 3,
        "nodes": ["alice", *WERNER, "far"],
        "links": [
            *({"nodes": ["alice", b], "source_model": "werner", "source_fidelity": f} for b, f in WERNER.items()),
            {"nodes": ["alice", "far"], "length_km": LONG_KM},
        ],
    }
)


@pytest.fixture(scope="module")
def net():
    with running(TOPOLOGY) as n:
        yield n


def preparing_unitary(psi: np.ndarray) -> np.ndarray:
    """A unitary U with U|0> = psi."""
    a, b = psi
    return np.array([[a, -np.conj(b)], [b, np.conj(a)]])


def teleport(net, qubit: str, to: str, session: str) -> tuple[pr.ProtocolResult, pr.ProtocolResult]:
    send = pr.ProtocolRequest(session_id=session, timeout_s=20, teleport_send=pr.TeleportSend(peer=to, qubit=qubit))
    recv = pr.ProtocolRequest(session_id=session, timeout_s=20, teleport_receive=pr.TeleportReceive(peer="alice"))
    return tuple(net.concurrently(lambda: net["alice"].run(send), lambda: net[to].run(recv)))  # type: ignore[return-value]


@pytest.mark.parametrize("b", sorted(WERNER))
def test_teleportation_over_a_werner_pair_has_fidelity_2f_plus_1_over_3(net, b):
    """For every input |psi> (random, seeded) the received state is the depolarised
    lambda |psi><psi| + (1 - lambda) I/2 with lambda = (4F - 1)/3, so its fidelity is (2F + 1)/3 exactly."""
    f = WERNER[b]
    lam = (4 * f - 1) / 3
    rng = np.random.default_rng(17)
    for i in range(4):
        theta, phi = math.acos(1 - 2 * rng.random()), 2 * math.pi * rng.random()
        psi = np.array([math.cos(theta / 2), np.exp(1j * phi) * math.sin(theta / 2)])
        (q,) = net["alice"].alloc(1)
        net["alice"].gate(preparing_unitary(psi), q)
        _, got = teleport(net, q, b, f"tp-{b}-{i}")
        r = got.teleport_receive.qubit
        rho = net[b].inspect([r])
        np.testing.assert_allclose(rho, lam * np.outer(psi, psi.conj()) + (1 - lam) * np.eye(2) / 2, atol=1e-6)
        assert np.real(psi.conj() @ rho @ psi) == pytest.approx((2 * f + 1) / 3, abs=1e-6)
        net[b].free([r])


def test_protocol_results_report_virtual_time_of_herald_and_message(net):
    """Over L km: the sender finishes at its herald (a whole number of attempt periods after it started,
    period = 2 L n_g / c), the receiver when the corrections arrive, one latency L n_g / c after that
    (whole ns of virtual time)."""
    period = 2 * LONG_KM * NS_PER_KM
    for i in range(3):
        start = net["alice"].now()
        (q,) = net["alice"].alloc(1)
        net["alice"].gate("H", q)
        sent, got = teleport(net, q, "far", f"tl-{i}")
        elapsed = sent.virtual_time_ns - start
        periods = round(elapsed / period)
        assert elapsed > 0 and periods >= 1 and abs(elapsed - periods * period) <= 0.5
        assert got.virtual_time_ns == sent.virtual_time_ns + int(LONG_KM * NS_PER_KM)
        net["far"].free([got.teleport_receive.qubit])
