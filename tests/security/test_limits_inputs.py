"""Inputs that used to break a node are refused with INVALID_ARGUMENT at once, and the node stays healthy:
tiny pulse rates that overflowed the virtual clock, unknown enum values, NaN / inf / negative timeouts,
empty requests to waiting calls, and bytes that are not a message at all."""

from __future__ import annotations

import math

import grpc
import pytest

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.network.topology import parse_topology
from tests.conftest import running
from tests.security.limits_support import assert_healthy, channel, node_stub, peer_stub, status_of

TOPO = parse_topology({"name": "inputs", "nodes": ["alice", "bob"], "links": [["alice", "bob"]]})
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def local():
    with running(TOPO) as (local, _net):
        yield local


@pytest.mark.parametrize("rate", [1e-7, 1e-300, 0.0, -1.0, math.nan, math.inf])
def test_tiny_or_bad_pulse_rates_are_invalid_and_the_node_stays_usable(local, rate):
    """RunProtocol(bb84_alice, pulse_rate_hz=1e-7) once overflowed the clock and bricked the node (INTERNAL
    from then on); every such rate is INVALID_ARGUMENT now and GetInfo, Apply, CreateMeasureEpr still work."""
    stub = node_stub(local, "alice")
    req = pr.ProtocolRequest(session_id=f"rate-{rate}", timeout_s=5,
                             bb84_alice=pr.Bb84Alice(peer="bob", n_pulses=10_000, pulse_rate_hz=rate))
    code, details, took = status_of(stub.RunProtocol, req, timeout=20)
    assert code == INVALID, details
    assert "pulse_rate_hz" in details
    assert took < 2.0
    assert_healthy(local, "alice")
    got = stub.CreateMeasureEpr(n.CreateMeasureEprRequest(peer="bob", count=100), timeout=20)
    assert len(got.local_outcomes) == 100


def test_e91_pair_rate_is_checked_too(local):
    req = pr.ProtocolRequest(session_id="e91-rate", timeout_s=5,
                             e91_alice=pr.E91Alice(peer="bob", n_pairs=1000, pair_rate_hz=1e-300))
    code, details, _ = status_of(node_stub(local, "alice").RunProtocol, req, timeout=20)
    assert code == INVALID and "pair_rate_hz" in details


def test_unknown_enum_value_is_invalid(local):
    """`purify_end method=99` gave INTERNAL; an enum value the enum does not define is INVALID_ARGUMENT."""
    req = pr.ProtocolRequest(session_id="enum", timeout_s=5,
                             purify_end=pr.PurifyEnd(peer="bob", method=99, rounds=1, alice=True))
    code, details, took = status_of(node_stub(local, "alice").RunProtocol, req, timeout=20)
    assert code == INVALID and "method" in details and "99" in details, details
    assert took < 2.0
    assert_healthy(local, "alice")


def test_nan_anywhere_in_a_role_is_invalid(local):
    req = pr.ProtocolRequest(session_id="nan", timeout_s=5, ghz_node=pr.GhzNode(nodes=["alice", "bob"],
                                                                                 parents=["", "alice"],
                                                                                 depolarize=math.nan))
    code, details, _ = status_of(node_stub(local, "alice").RunProtocol, req, timeout=20)
    assert code == INVALID and "depolarize" in details


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -math.inf, -1.0, 1e9])
def test_bad_timeouts_are_refused_at_once(local, timeout):
    """NaN / inf / negative / absurd timeout_s on the waiting calls: INVALID_ARGUMENT at once, not a wait
    until the client's deadline."""
    stub = node_stub(local, "bob")
    calls = [
        (stub.ReceiveClassical, n.ReceiveClassicalRequest(sender="alice", channel="c", timeout_s=timeout)),
        (stub.FetchEprOutcomes, n.FetchEprOutcomesRequest(batch_id="b", timeout_s=timeout)),
        (stub.RunProtocol, pr.ProtocolRequest(session_id="t", timeout_s=timeout,
                                              teleport_receive=pr.TeleportReceive(peer="alice"))),
    ]
    for call, req in calls:
        code, details, took = status_of(call, req, timeout=20)
        assert code == INVALID, (call, details)
        assert "timeout_s" in details
        assert took < 2.0, (call, took)


def test_empty_requests_to_waiting_calls_are_refused_at_once(local):
    """Empty ReceiveClassical, FetchEprOutcomes and TakeGroup requests waited until the client's deadline."""
    stub, peer = node_stub(local, "bob"), peer_stub(local, "bob")
    for call, req in [(stub.ReceiveClassical, n.ReceiveClassicalRequest()),
                      (stub.FetchEprOutcomes, n.FetchEprOutcomesRequest()),
                      (peer.TakeGroup, p.TakeGroupRequest()),
                      (peer.TakeGroup, p.TakeGroupRequest(qubit="x", new_holder="nobody"))]:
        code, details, took = status_of(call, req, timeout=20)
        assert code == INVALID, (req, details)
        assert took < 2.0


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x0a" + b"\xff" * 10])
def test_bytes_that_are_no_message_are_invalid_not_internal(local, data):
    """gRPC's own answer to an undecodable request is INTERNAL; the node answers INVALID_ARGUMENT."""
    ch = channel(local, "alice")
    for path in ("/qemu_net.v1.NodeService/Apply", "/qemu_net.v1.NodeService/GetInfo", "/grpc.health.v1.Health/Check"):
        code, details, _ = status_of(ch.unary_unary(path), data, timeout=10)
        assert code == INVALID, (path, details)
    assert_healthy(local, "alice")
