"""Traces across node processes: one swap chain over three node processes is one trace.

The nodes export to a JSON-lines file (``OTEL_TRACES_EXPORTER=jsonl``, one writer per process); the
test's own client spans go to an in-memory exporter. The chain's trace must hold a role span and
server spans from each of the three node processes (told apart by their process ids), every node
span's parent must be a span of the same trace, and with tracing off no interceptor is installed.
"""

from __future__ import annotations

import json

import grpc
import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.network.topology import chain_topology
from qemu_net.observability import tracing


@pytest.fixture
def client_spans():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    assert tracing.setup("test-client", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.reset()


def test_one_swap_chain_is_one_trace_across_three_processes(tmp_path, monkeypatch, client_spans):
    """Role and RPC spans from all three node processes share the client's trace id."""
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jsonl")
    monkeypatch.setenv("QNET_TRACES_FILE", str(spans_file))
    topo = chain_topology(3, length_km=1, name="traced")
    local = LocalNetwork.start(topo)
    try:
        with Network.connect(local.topology, timeout_s=30) as net:
            d = net.chain(["n0", "n1", "n2"], pairs=2, measure_bases="Z")
            assert list(d.outcomes[0]) == list(d.outcomes[1])
    finally:
        local.stop()  # nodes flush their exporters when they drain
    pids = {name: local.pid(name) for name in topo.node_names}

    runs = [s for s in client_spans.get_finished_spans() if s.name == "protocol run"]
    assert len(runs) == 1
    trace_id = f"{runs[0].get_span_context().trace_id:032x}"
    client_ids = {f"{s.get_span_context().span_id:016x}" for s in client_spans.get_finished_spans()
                  if f"{s.get_span_context().trace_id:032x}" == trace_id}

    node_spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    in_trace = [s for s in node_spans if s["trace_id"] == trace_id]
    by_pid: dict[int, list[dict]] = {}
    for s in in_trace:
        by_pid.setdefault(s["resource"]["process.pid"], []).append(s)
    assert set(by_pid) == set(pids.values()), f"processes in the trace: {sorted(by_pid)}, nodes: {pids}"
    for name, pid in pids.items():
        spans = by_pid[pid]
        assert {s["resource"]["qnet.node"] for s in spans} == {name}
        roles = [s for s in spans if s["name"] == "role chain_node"]
        assert len(roles) == 1 and roles[0]["attributes"]["qnet.session"]
        assert any(s["kind"] == "SERVER" and s["name"].endswith("NodeService/RunProtocol") for s in spans)
    # The middle node's swap talks to its neighbours over PeerService: client spans there, server spans at them.
    assert any(s["kind"] == "CLIENT" and "PeerService" in s["name"] for s in in_trace)
    assert any(s["kind"] == "SERVER" and "PeerService" in s["name"] for s in in_trace)
    # One tree: every span's parent is a span of this trace (in a node process or in the client).
    ids = {s["span_id"] for s in in_trace} | client_ids
    orphans = [s["name"] for s in in_trace if s["parent_id"] not in ids]
    assert not orphans, orphans
    # Same session in every role span.
    assert len({s["attributes"]["qnet.session"] for s in in_trace if s["name"] == "role chain_node"}) == 1


def test_tracing_off_installs_nothing(monkeypatch):
    """With OTEL_TRACES_EXPORTER unset or none: no interceptor, channels returned as they are."""
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert tracing.exporter_name() == "none"
    assert not tracing.setup("x")
    assert tracing.server_interceptors() == []
    ch = grpc.insecure_channel("127.0.0.1:1")
    try:
        assert tracing.intercept_channel(ch) is ch
    finally:
        ch.close()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.exporter_name() == "none"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER='zipkin'"):
        tracing.setup("x")


def test_asyncio_sdk_runs_are_traced_too(tmp_path, monkeypatch, client_spans):
    """A teleport through AsyncNetwork: both node processes' role spans join the client's trace."""
    import asyncio

    from qemu_net.client import AsyncNetwork
    from qemu_net.network.topology import parse_topology

    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jsonl")
    monkeypatch.setenv("QNET_TRACES_FILE", str(spans_file))
    topo = parse_topology({"name": "aiotrace", "nodes": ["alice", "bob"], "links": [["alice", "bob"]]})
    local = LocalNetwork.start(topo)

    async def main() -> int:
        async with AsyncNetwork.connect(local.topology) as net:
            q = await net["alice"].qubit()
            await q.x()
            r = await net.teleport(q, "bob")
            return await r.measure()

    try:
        assert asyncio.run(main()) == 1
    finally:
        local.stop()
    (run,) = [s for s in client_spans.get_finished_spans() if s.name == "protocol run"]
    trace_id = f"{run.get_span_context().trace_id:032x}"
    roles = {(s["resource"]["qnet.node"], s["name"]) for line in spans_file.read_text().splitlines()
             if (s := json.loads(line))["trace_id"] == trace_id and s["name"].startswith("role ")}
    assert roles == {("alice", "role teleport_send"), ("bob", "role teleport_receive")}
