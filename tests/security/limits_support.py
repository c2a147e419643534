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


def channel(local, name: str, *, peer: bool = False, options: list | None = None) -> grpc.Channel:
    """A channel to `name`'s public (or peer) port with the network's own credentials: plaintext on a
    plaintext network; on a TLS network (the launcher's ``tls_dir``) the ``client`` certificate on the
    public port and another node's certificate on the peer port (only nodes may call PeerService)."""
    address = str(local.nodes[name]["peer_address" if peer else "address"])
    opts = [*BIG, *(options or [])]
    tls_dir = getattr(local, "tls_dir", None)
    if tls_dir is None:
        return grpc.insecure_channel(address, options=opts)
    from qemu_net.client.credentials import open_channel  # present with TLS support
    from qemu_net.security.tls import load_credentials

    names = list(local.topology.node_names)
    other = names[(names.index(name) + 1) % len(names)]
    creds = load_credentials(tls_dir, node=other) if peer else load_credentials(tls_dir, app=None)
    return open_channel(address, name, creds, opts)


def node_stub(local, name: str) -> ng.NodeServiceStub:
    return ng.NodeServiceStub(channel(local, name))


def peer_stub(local, name: str) -> pg.PeerServiceStub:
    return pg.PeerServiceStub(channel(local, name, peer=True))


def health_stub(local, name: str) -> health_pb2_grpc.HealthStub:
    return health_pb2_grpc.HealthStub(channel(local, name))


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
