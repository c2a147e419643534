"""Prometheus metrics of a node: RPC counts by status, EPR pairs, memory gauges (in-process, loopback)."""

from __future__ import annotations

import urllib.request

import grpc
import pytest

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net.network.topology import parse_topology
from qemu_net.node.metrics import serve_metrics
from qemu_net.node.server import NodeServer


def test_metrics_count_rpcs_and_show_memory():
    topo = parse_topology({"nodes": [{"name": "alice", "memory_qubits": 8}, "bob"], "links": [["alice", "bob"]]})
    server = NodeServer(topo, "alice", listen="127.0.0.1:0")
    ports = server.start()
    server.mark_serving()
    try:
        port = serve_metrics(server.core, 0, host="127.0.0.1")
        with grpc.insecure_channel(f"127.0.0.1:{ports.port}") as ch:
            stub = ng.NodeServiceStub(ch)
            stub.GetInfo(n.GetInfoRequest(), timeout=5)
            stub.Allocate(n.AllocateRequest(count=3), timeout=5)
            with pytest.raises(grpc.RpcError):
                stub.Allocate(n.AllocateRequest(count=99), timeout=5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert 'qnet_rpcs_total{code="OK",method="GetInfo",node="alice",service="NodeService"} 1.0' in text
        assert 'qnet_rpcs_total{code="RESOURCE_EXHAUSTED",method="Allocate",node="alice",service="NodeService"} 1.0' in text
        assert 'qnet_qubits_in_use{node="alice"} 3.0' in text
        assert 'qnet_memory_qubits{node="alice"} 8.0' in text
    finally:
        server.drain_and_stop()
