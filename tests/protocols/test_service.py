"""Routing and the entanglement service ("a pair between X and Y with fidelity >= f"), and bad requests."""

from __future__ import annotations

import math

import pytest

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.protocols.routing import route

from .conftest import CHAIN_F, fidelity, gather


def dejmps_werner(f, rounds):
    c = (f, (1 - f) / 3, (1 - f) / 3, (1 - f) / 3)
    for _ in range(rounds):
        a, b, cc, d = c
        n = (a + b) ** 2 + (cc + d) ** 2
        c = ((a * a + b * b) / n, 2 * cc * d / n, (cc * cc + d * d) / n, 2 * a * b / n)
    return c[0]


def test_routing_by_hops_and_by_expected_fidelity(lab_net):
    topo = lab_net.topology
    assert route(topo, "r0", "r2", "hops") == ["r0", "r2"]
    assert route(topo, "r0", "r2", "fidelity") == ["r0", "r1", "r2"]


def test_service_without_purification_when_the_path_suffices(lab_net):
    p = lab_net.entangle("r0", "r2", min_fidelity=0.97)
    assert p.path == ("r0", "r1", "r2") and p.plan.rounds == 0
    assert p.expected_fidelity == pytest.approx(0.99 * 0.99 + 0.01 * 0.01 / 3)
    lab_net["r0"].free([p.a])
    lab_net["r2"].free([p.b])


def test_service_swaps_and_purifies_to_reach_the_target(lab_net):
    """e0..e3 (Werner 0.93 links) deliver 0.86; DEJMPS rounds lift it above 0.95, exactly as the map says."""
    f0 = 0.25 + 0.75 * ((4 * CHAIN_F - 1) / 3) ** 3
    p = lab_net.entangle("e0", "e3", min_fidelity=0.95)
    assert p.path == ("e0", "e1", "e2", "e3")
    rounds = next(r for r in range(1, 6) if dejmps_werner(f0, r) >= 0.95)
    assert p.plan.rounds == rounds
    assert p.epr_pairs == p.attempts * 3 * 2**rounds
    f = fidelity(gather(lab_net, [p.a, p.b]))
    assert f == pytest.approx(dejmps_werner(f0, rounds), abs=1e-6) and f >= 0.95


@pytest.mark.parametrize("target", [0.25, 0.2, 1.01, -1.0, math.nan])
def test_target_fidelity_outside_range_is_invalid(lab_net, target):
    with pytest.raises(InvalidOperation, match=r"\(0.25, 1\]"):
        lab_net.entangle("e0", "e3", min_fidelity=target)


def test_no_path_and_unreachable_targets_fail_with_reasons(lab_net):
    with pytest.raises(NotConnected, match="no path"):
        lab_net.entangle("r0", "r3", min_fidelity=0.9)
    with pytest.raises(NotConnected, match="unreachable.*cannot be purified"):
        lab_net.entangle("w0", "w1", min_fidelity=0.9, cost="hops")
    with pytest.raises(NotConnected, match="unreachable"):
        lab_net.entangle("u0", "u1", min_fidelity=0.9999, max_rounds=2)
    with pytest.raises(InvalidOperation, match="routing cost"):
        lab_net.entangle("u0", "u1", min_fidelity=0.9, cost="nope")


def test_unknown_protocol_and_unknown_nodes_get_clear_errors(lab_net):
    with pytest.raises(InvalidOperation, match="names no role"):
        lab_net["r0"].run_protocol(pr.ProtocolRequest(session_id="s", timeout_s=2))
    with pytest.raises(InvalidOperation, match="unknown node"):
        lab_net.chain(["r0", "mars"])
    with pytest.raises(InvalidOperation, match="unknown node"):
        lab_net.superdense("x0", "mars", [1])
