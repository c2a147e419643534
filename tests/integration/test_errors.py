"""Bad input gets the right gRPC status and a clear message; a dead neighbour fails within a deadline."""

from __future__ import annotations

import os
import signal
import time

import grpc
import pytest

from qemu_net.client.credentials import channel_to
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.errors import (
    InvalidOperation,
    MemoryFull,
    NotColocated,
    NotConnected,
    PeerUnavailable,
    PermissionDenied,
    QubitNotFound,
    WrongLocation,
)
from qemu_net.network.topology import parse_topology
from tests.conftest import running

TOPO = parse_topology(
    {
        "name": "errs",
        "nodes": [{"name": "alice", "memory_qubits": 4}, "bob", "carol"],
        "links": [["alice", "bob"], ["bob", "carol"]],
    }
)


@pytest.fixture(scope="module")
def net():
    with running(TOPO, allow_inspect=False) as (local, client):
        yield local, client


def raw(address: str) -> ng.NodeServiceStub:
    return ng.NodeServiceStub(channel_to(address))


def status_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_unknown_qubit_is_not_found(net):
    _, client = net
    with pytest.raises(QubitNotFound, match="no qubit 'nope'"):
        client["alice"].measure("nope")
    code, _ = status_of(lambda: raw(client["alice"].address).Apply(
        n.ApplyRequest(operations=[t.Operation(qubits=["nope"], measure=t.Measure())]), timeout=5))
    assert code == grpc.StatusCode.NOT_FOUND


def test_operation_at_the_wrong_node_says_where_the_qubit_is(net):
    _, client = net
    (pair,) = client["alice"].epr("bob")
    with pytest.raises(WrongLocation, match="located at node 'bob'"):
        client["alice"].gate("H", pair.remote.id)
    code, details = status_of(lambda: raw(client["alice"].address).Apply(
        n.ApplyRequest(operations=[t.Operation(qubits=[pair.remote.id], gate=t.Gate(named=t.H))]), timeout=5))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "bob" in details
    client["alice"].free([pair.local])
    client["bob"].free([pair.remote])


def test_two_qubit_gate_across_nodes_is_refused(net):
    _, client = net
    (pair,) = client["alice"].epr("bob")
    with pytest.raises(NotColocated, match="at 'bob'"):
        client["alice"].gate("CNOT", pair.local, pair.remote.id)
    client["alice"].free([pair.local])
    client["bob"].free([pair.remote])


def test_memory_full_is_resource_exhausted(net):
    _, client = net
    qs = client["alice"].qubits(4)
    with pytest.raises(MemoryFull, match="full"):
        client["alice"].qubit()
    code, _ = status_of(lambda: raw(client["alice"].address).Allocate(n.AllocateRequest(count=1), timeout=5))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    client["alice"].free(qs)
    assert client["alice"].info().qubits_in_use == 0


@pytest.mark.parametrize(
    ("op", "needle"),
    [
        (t.Operation(qubits=["Q"], gate=t.Gate(matrix=t.Matrix(dim=2, real=[1, 1, 0, 1]))), "not unitary"),
        (t.Operation(qubits=["Q"], gate=t.Gate(matrix=t.Matrix(dim=3, real=[1] * 9))), "2x2 or 4x4"),
        (t.Operation(qubits=["Q"], gate=t.Gate(matrix=t.Matrix(dim=2, real=[1, 0]))), "needs 4"),
        (t.Operation(qubits=["Q"], gate=t.Gate(named=t.CNOT)), "cannot act on 1"),
        (t.Operation(qubits=["Q"], gate=t.Gate(rotation=t.Rotation(axis=t.RX, angle_rad=float("nan")))), "finite"),
        (t.Operation(qubits=["Q"], gate=t.Gate()), "no kind"),
        (t.Operation(qubits=["Q", "Q"], gate=t.Gate(named=t.CZ)), "same qubit twice"),
        (t.Operation(qubits=[], gate=t.Gate(named=t.H)), "no qubit"),
        (t.Operation(qubits=["Q"], gate=t.Gate(named=99)), "unknown gate"),
    ],
)
def test_malformed_gates_are_invalid_argument(net, op, needle):
    _, client = net
    q = client["bob"].qubit()
    op.qubits[:] = [q.id if x == "Q" else x for x in op.qubits]
    code, details = status_of(lambda: raw(client["bob"].address).Apply(n.ApplyRequest(operations=[op]), timeout=5))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in details
    q.measure()


def test_sdk_raises_typed_errors_for_bad_arguments(net):
    _, client = net
    with pytest.raises(InvalidOperation, match="unknown gate name"):
        client["bob"].gate("FOO", "x")
    with pytest.raises(NotConnected, match="no quantum link"):
        client["alice"].epr("carol")
    with pytest.raises(InvalidOperation, match="unknown node"):
        client["alice"].epr("mallory")
    with pytest.raises(PermissionDenied, match="--allow-inspect"):
        q = client["bob"].qubit()
        client["bob"].inspect([q])


def test_dead_neighbour_is_unavailable_within_a_deadline(start_network):
    local, client = start_network(parse_topology({"name": "dead", "nodes": ["alice", "bob"],
                                                  "links": [["alice", "bob"]]}))
    client["alice"].epr("bob")
    os.kill(local.pid("bob"), signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(PeerUnavailable):
        client["alice"].epr("bob")
    assert time.monotonic() - t0 < 12
    with pytest.raises(PeerUnavailable):
        client["bob"].info()
    # alice keeps serving
    assert client["alice"].info().name == "alice"
