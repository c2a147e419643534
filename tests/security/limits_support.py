"""Helpers of the hard-limit regression tests: raw stubs, a node's RSS and CPU, health checks."""

from __future__ import annotations

import os
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import peer_pb2_grpc as pg
from qemu_net.node.limits import MiB

BIG = [("grpc.max_receive_message_length", 512 * MiB), ("grpc.max_send_message_length", 512 * MiB)]


def node_stub(local, name: str) -> ng.NodeServiceStub:
    return ng.NodeServiceStub(grpc.insecure_channel(local.addresses[name], options=BIG))


def peer_stub(local, name: str) -> pg.PeerServiceStub:
    return pg.PeerServiceStub(grpc.insecure_channel(str(local.nodes[name]["peer_address"]), options=BIG))


def health_stub(local, name: str) -> health_pb2_grpc.HealthStub:
    return health_pb2_grpc.HealthStub(grpc.insecure_channel(local.addresses[name]))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_of(call, *args, **kwargs) -> tuple[grpc.StatusCode, str, float]:
    """(status code, details, seconds taken) of a call expected to fail."""
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value.code(), info.value.details() or "", time.monotonic() - t0


def assert_healthy(local, name: str) -> None:
    """The node answers health (SERVING), GetInfo and a gate on a fresh qubit."""
    assert health_stub(local, name).Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
        health_pb2.HealthCheckResponse.SERVING
    stub = node_stub(local, name)
    stub.GetInfo(n.GetInfoRequest(), timeout=10)
    (q,) = stub.Allocate(n.AllocateRequest(count=1), timeout=10).qubits
    from qemu_net._proto.v1 import types_pb2 as t

    out = stub.Apply(n.ApplyRequest(operations=[
        t.Operation(qubits=[q], gate=t.Gate(named=t.X)), t.Operation(qubits=[q], measure=t.Measure())]), timeout=10)
    assert list(out.outcomes) == [1]
